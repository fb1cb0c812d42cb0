import VitEngine

// Placeholder: the MobileViT family is being written (issue 5).
extension ModelZoo {
    static var mobileViT: [ModelInfo] { [] }
}

extension BlockZoo {
    static var mobileViT: [BlockInfo] { [] }
}
