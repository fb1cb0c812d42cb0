import Foundation
import VitEngine

/// Where a model's tensors come from while it is constructed: a timm checkpoint (safetensors,
/// keys exactly timm's `state_dict` keys) or deterministic random values for latency runs.
///
/// Modules read their tensors by timm's names inside `scope`s that mirror timm's module tree.
/// Nothing fails half-way: a missing or mis-shaped tensor is recorded (and a zero placeholder
/// returned) so that `finish()` can report every offending key at once, together with every
/// key of the file that no module read.
public final class Weights {
    enum Source {
        case tensors([String: Tensor], origin: String)
        case random(seed: UInt64)
        /// Every tensor a constant of its kind (zeros; ones for scales and variances): a model
        /// built only to count its parameters and MACs, with no random numbers drawn.
        case placeholder
    }

    let source: Source
    private var path: [String] = []
    private(set) var consumed: Set<String> = []
    private var missing: [(String, [Int])] = []
    private var mismatched: [(String, expected: [Int], actual: [Int])] = []

    /// Tensors of the file that hold NaN or ±Inf, by name (sorted), found when it was read.
    public private(set) var nonFinite: [(name: String, report: NonFiniteReport)] = []

    /// Reads every float tensor of a safetensors file (integer tensors such as
    /// `num_batches_tracked` are skipped). A tensor holding NaN or ±Inf is reported on stderr,
    /// naming it, and listed in `nonFinite`: it loads (a caller may want to inspect it) but would
    /// turn the model's outputs into NaN.
    public convenience init(file: String) throws {
        let st = try SafetensorsFile(path: file)
        let tensors = try st.allTensors()
        self.init(tensors: tensors, origin: file)
        nonFinite = tensors.keys.sorted().compactMap { name in NonFiniteReport.scan(tensors[name]!).map { (name, $0) } }
        for (name, report) in nonFinite {
            FileHandle.standardError.write(Data("warning: \(file): tensor '\(name)': \(report)\n".utf8))
        }
    }

    public init(tensors: [String: Tensor], origin: String = "weights") {
        source = .tensors(tensors, origin: origin)
    }

    /// Deterministic random weights: the same key gets the same values whatever the build order.
    public static func random(seed: UInt64 = 0) -> Weights { Weights(seed: seed) }

    /// Constant weights of the right shapes: for counting (`vitbench list`, `info`), where
    /// drawing hundreds of millions of random numbers took most of the time.
    public static var placeholder: Weights { Weights(placeholder: ()) }

    private init(placeholder: Void) { source = .placeholder }

    private init(seed: UInt64) { source = .random(seed: seed) }

    public var isRandom: Bool {
        if case .random = source { return true }
        return false
    }

    /// The full key of `name` in the current scope.
    public func key(_ name: String) -> String { (path + [name]).filter { !$0.isEmpty }.joined(separator: ".") }

    public func scope<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        path.append(name)
        defer { path.removeLast() }
        return try body()
    }

    /// Whether the source holds `name` (random weights hold nothing: modules then take their
    /// train-time form).
    public func contains(_ name: String) -> Bool {
        if case .tensors(let t, _) = source { return t[key(name)] != nil }
        return false
    }

    /// Whether the source holds any key under `prefix` (a sub-module).
    public func containsModule(_ prefix: String) -> Bool {
        guard case .tensors(let t, _) = source else { return false }
        let p = key(prefix) + "."
        return t.keys.contains { $0.hasPrefix(p) }
    }

    /// How random tensors are drawn; ignored when loading a file.
    public enum Initializer {
        /// N(0, 1/fanIn): keeps activations at unit scale through deep random networks.
        case fanIn(Int)
        case zeros, ones
        case constant(Float)
        case normal(Float)
        /// BatchNorm statistics: positive variances, modest means and affine terms.
        case bnWeight, bnBias, bnMean, bnVariance
    }

    public func read(_ name: String, shape: [Int], _ initializer: Initializer) -> Tensor {
        let full = key(name)
        switch source {
        case .tensors(let t, _):
            guard let tensor = t[full] else {
                missing.append((full, shape))
                return Tensor(zeros: shape)
            }
            consumed.insert(full)
            if tensor.shape != shape {
                // A 1-element tensor stored as a scalar or [1] is the same value.
                if product(shape) == tensor.count && (shape.isEmpty || tensor.shape.isEmpty) {
                    return tensor.reshaped(shape)
                }
                mismatched.append((full, shape, tensor.shape))
                return Tensor(zeros: shape)
            }
            return tensor
        case .random(let seed):
            var rng = SplitMix64(seed: seed ^ fnv1a(full))
            switch initializer {
            case .fanIn(let f): return Tensor(randomNormal: shape, scale: 1 / Float(max(f, 1)).squareRoot(), rng: &rng)
            case .zeros: return Tensor(zeros: shape)
            case .ones: return Tensor(repeating: 1, shape: shape)
            case .constant(let v): return Tensor(repeating: v, shape: shape)
            case .normal(let s): return Tensor(randomNormal: shape, scale: s, rng: &rng)
            case .bnWeight: return Tensor(randomUniform: shape, in: 0.8...1.2, rng: &rng)
            case .bnBias: return Tensor(randomNormal: shape, scale: 0.05, rng: &rng)
            case .bnMean: return Tensor(randomNormal: shape, scale: 0.05, rng: &rng)
            case .bnVariance: return Tensor(randomUniform: shape, in: 0.8...1.2, rng: &rng)
            }
        case .placeholder:
            switch initializer {
            case .ones, .bnWeight, .bnVariance: return Tensor(repeating: 1, shape: shape)
            case .constant(let v): return Tensor(repeating: v, shape: shape)
            case .fanIn, .zeros, .normal, .bnBias, .bnMean: return Tensor(zeros: shape)
            }
        }
    }

    /// Throws a `WeightLoadError` listing every missing, mis-shaped and unexpected key.
    public func finish() throws {
        guard case .tensors(let t, let origin) = source else { return }
        let unexpected = t.keys.filter { !consumed.contains($0) && !$0.hasSuffix("num_batches_tracked") }.sorted()
        if missing.isEmpty && mismatched.isEmpty && unexpected.isEmpty { return }
        throw WeightLoadError(
            origin: origin,
            missing: missing.map { "\($0.0) (expected shape \($0.1))" },
            mismatched: mismatched.map { "\($0.0): expected shape \($0.expected), file has \($0.actual)" },
            unexpected: unexpected.map { "\($0) (shape \(t[$0]!.shape))" })
    }
}

/// A checkpoint that does not fit the model: every offending key with its shapes.
public struct WeightLoadError: Error, CustomStringConvertible {
    public let origin: String
    public let missing: [String]
    public let mismatched: [String]
    public let unexpected: [String]

    public var description: String {
        var lines = ["\(origin): the weights do not fit the model"]
        if !missing.isEmpty { lines.append("missing \(missing.count) tensor(s):"); lines += missing.map { "  - \($0)" } }
        if !mismatched.isEmpty { lines.append("mis-shaped \(mismatched.count) tensor(s):"); lines += mismatched.map { "  - \($0)" } }
        if !unexpected.isEmpty { lines.append("unexpected \(unexpected.count) tensor(s):"); lines += unexpected.map { "  - \($0)" } }
        return lines.joined(separator: "\n")
    }
}

/// FNV-1a: a stable hash of a key (Swift's Hasher is seeded per process).
func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01B3
    }
    return h
}

@inline(__always) func product(_ s: [Int]) -> Int { s.reduce(1, *) }
