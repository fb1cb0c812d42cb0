import VitEngine

// Placeholder: the DeiT family is being written (issue 5).
extension ModelZoo {
    static var deit: [ModelInfo] { [] }
}

extension BlockZoo {
    static var deit: [BlockInfo] { [] }
}
