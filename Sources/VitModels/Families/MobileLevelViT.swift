import VitEngine

// Placeholder: the MobileLevelViT family is being written (issue 5).
extension ModelZoo {
    static var mobileLevelViT: [ModelInfo] { [] }
}

extension BlockZoo {
    static var mobileLevelViT: [BlockInfo] { [] }
}
