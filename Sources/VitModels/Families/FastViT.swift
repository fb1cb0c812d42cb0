import VitEngine

extension ModelZoo {
    /// FastViT variants (filled in by Families/FastViT.swift).
    static var fastViT: [ModelInfo] { [] }
}
