import VitEngine

extension ModelZoo {
    /// MobileOne variants (filled in by Families/MobileOne.swift).
    static var mobileOne: [ModelInfo] { [] }
}
