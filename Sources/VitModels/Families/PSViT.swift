import VitEngine

// Placeholder: the PSViT family is being written (issue 5).
extension ModelZoo {
    static var psViT: [ModelInfo] { [] }
}

extension BlockZoo {
    static var psViT: [BlockInfo] { [] }
}
