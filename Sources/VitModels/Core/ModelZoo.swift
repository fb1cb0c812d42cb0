import Foundation
import VitEngine

/// A published accuracy figure with where it comes from.
public struct PublishedAccuracy: Sendable {
    public let top1: Double
    public let source: String
    public init(top1: Double, source: String) {
        self.top1 = top1
        self.source = source
    }
}

/// One model the suite knows: how to build it and what was published about it.
public struct ModelInfo {
    /// timm's name, or `metaformer_s12:MIXER` for the mixer skeleton.
    public let name: String
    public let family: String
    /// The resolution its published numbers refer to.
    public let resolution: Int
    public let published: PublishedAccuracy?
    /// timm's parameter count for the train-time (unfused) form, and GMACs at `resolution`,
    /// as docs/published-figures.md lists them — what `vitbench info` and the tests compare to.
    public let referenceParams: Double?
    public let referenceGMACs: Double?
    public let summary: String
    /// Builds the model; the dictionary overrides fields of its config (JSON names, e.g. timm's
    /// constructor arguments `embed_dims`, `layers`) — how goldens describe small variants.
    let make: (Weights, [String: Any]) throws -> ImageClassifier

    public init(name: String, family: String, resolution: Int, published: PublishedAccuracy?,
                referenceParams: Double? = nil, referenceGMACs: Double? = nil, summary: String,
                make: @escaping (Weights, [String: Any]) throws -> ImageClassifier) {
        self.name = name
        self.family = family
        self.resolution = resolution
        self.published = published
        self.referenceParams = referenceParams
        self.referenceGMACs = referenceGMACs
        self.summary = summary
        self.make = make
    }

    /// Builds the model from `weights` and checks that every tensor fit.
    public func load(_ weights: Weights, overrides: [String: Any] = [:]) throws -> ImageClassifier {
        let model = try make(weights, overrides)
        try weights.finish()
        return model
    }

    /// Builds the model with deterministic random weights (latency runs).
    public func random(seed: UInt64 = 0) throws -> ImageClassifier { try load(.random(seed: seed)) }

    /// Builds the model with constant weights: to count parameters and MACs, fast.
    public func placeholder() throws -> ImageClassifier { try load(.placeholder) }
}

/// Every model, in one list: a new family adds its entries here.
public enum ModelZoo {
    public static var all: [ModelInfo] {
        fastViT + mobileOne + poolFormer + MetaFormerS12.zoo + deit + levit + mobileViT + psViT + mobileLevelViT
    }

    public static func named(_ name: String) throws -> ModelInfo {
        if let m = all.first(where: { $0.name == name }) { return m }
        throw UnknownModelError(name: name, known: all.map(\.name))
    }
}

public struct UnknownModelError: Error, CustomStringConvertible {
    public let name: String
    public let known: [String]
    /// "model" or "block".
    public var kind = "model"
    public var description: String {
        "unknown \(kind) '\(name)'. Known \(kind)s:\n" + known.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// Model configs are Codable structs with timm's argument names; overrides replace fields.
extension Decodable where Self: Encodable {
    public func merged(with overrides: [String: Any]) throws -> Self {
        if overrides.isEmpty { return self }
        var dict = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as? [String: Any] ?? [:]
        for (k, v) in overrides {
            guard dict[k] != nil else {
                throw ModelInputError("unknown config field '\(k)'; known: \(dict.keys.sorted().joined(separator: ", "))")
            }
            dict[k] = v
        }
        do {
            return try JSONDecoder().decode(Self.self, from: JSONSerialization.data(withJSONObject: dict))
        } catch {
            throw ModelInputError("config overrides \(overrides) do not fit: \(error)")
        }
    }
}
