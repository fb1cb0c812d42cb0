import VitEngine

// Placeholder: the LeViT family is being written (issue 5).
extension ModelZoo {
    static var levit: [ModelInfo] { [] }
}

extension BlockZoo {
    static var levit: [BlockInfo] { [] }
}
