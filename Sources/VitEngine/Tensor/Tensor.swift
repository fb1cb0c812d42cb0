import CKernels
import Foundation

/// A dense float32 tensor with value semantics: weights, model inputs and outputs, test data.
///
/// Activations inside a plan do not live in `Tensor`s: the plan owns one arena and hands kernels
/// raw pointers into it, so that a timed forward pass allocates nothing. `Tensor` is the type at
/// the edges — what files are read into, what tests compare, what a user gets back.
///
/// Layout convention: weights keep PyTorch's layout as loaded (OIHW convs, [out, in] linears) and
/// operators re-lay them out once when a plan is built. Activations are channels-last
/// (NHWC, or [N, tokens, C]); see `Layout` in the README for the measurement behind that choice.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == data.count,
                     "shape \(shape) holds \(shape.reduce(1, *)) elements, data has \(data.count)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// Standard-normal entries times `scale`, from a deterministic generator (Marsaglia's polar
    /// method, two values per draw: random weights for whole model zoos must be cheap).
    public init(randomNormal shape: [Int], scale: Float = 1, rng: inout SplitMix64) {
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        var i = 0
        while i < n {
            var u: Float, v: Float, q: Float
            repeat {
                u = 2 * rng.nextUnitFloat() - 1
                v = 2 * rng.nextUnitFloat() - 1
                q = u * u + v * v
            } while q >= 1 || q == 0
            let f = (-2 * logf(q) / q).squareRoot() * scale
            d[i] = u * f
            if i + 1 < n { d[i + 1] = v * f }
            i += 2
        }
        self.init(shape: shape, data: d)
    }

    /// Uniform entries in `range`, from a deterministic generator.
    public init(randomUniform shape: [Int], in range: ClosedRange<Float>, rng: inout SplitMix64) {
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        for i in 0..<n { d[i] = range.lowerBound + (range.upperBound - range.lowerBound) * rng.nextUnitFloat() }
        self.init(shape: shape, data: d)
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    /// Reorders axes: `permuted([0, 2, 3, 1])` turns NCHW into NHWC.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<rank), "permutation \(axes) does not fit rank \(rank)")
        let outShape = axes.map { shape[$0] }
        let inStrides = Tensor.strides(shape)
        let permStrides = axes.map { inStrides[$0] }
        var out = [Float](repeating: 0, count: count)
        if count == 0 { return Tensor(shape: outShape, data: out) }
        // A (batched) transpose — every weight layout change of a plan ([out, in] → [in, out],
        // OIHW → HWIO) — runs the engine's blocked transpose: walking the source by a large
        // stride one element at a time was most of `vitbench list`'s time.
        let (cs, ca) = Permute.collapsed(shape, axes)
        if ca == [1, 0] || ca == [0, 2, 1] {
            let batch = ca.count == 3 ? cs[0] : 1, rows = cs[cs.count - 2], cols = cs[cs.count - 1]
            data.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for b in 0..<batch {
                        vb_transpose(src.baseAddress! + b * rows * cols, rows, cols, dst.baseAddress! + b * rows * cols)
                    }
                }
            }
            return Tensor(shape: outShape, data: out)
        }
        var index = [Int](repeating: 0, count: rank)
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                // Walk the output in order, moving the source offset by one stride per step.
                let inner = rank > 0 ? outShape[rank - 1] : 1, innerStride = rank > 0 ? permStrides[rank - 1] : 0
                var offset = 0, o = 0
                while o < count {
                    var off = offset
                    for _ in 0..<inner {
                        dst[o] = src[off]
                        off += innerStride
                        o += 1
                    }
                    var a = rank - 2
                    while a >= 0 {
                        index[a] += 1
                        offset += permStrides[a]
                        if index[a] < outShape[a] { break }
                        offset -= permStrides[a] * outShape[a]
                        index[a] = 0
                        a -= 1
                    }
                }
            }
        }
        return Tensor(shape: outShape, data: out)
    }

    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// NCHW (PyTorch, numpy files) to the engine's NHWC.
    public func nchwToNHWC() -> Tensor { permuted([0, 2, 3, 1]) }
    /// NHWC back to NCHW.
    public func nhwcToNCHW() -> Tensor { permuted([0, 3, 1, 2]) }

    /// max |a − b| / max |b|: the error measure of the goldens and kernel tests.
    public func relativeError(to reference: Tensor) -> Float {
        precondition(shape == reference.shape, "comparing \(shape) with \(reference.shape)")
        var maxDiff: Float = 0
        var maxRef: Float = 0
        for i in 0..<count {
            maxDiff = max(maxDiff, abs(data[i] - reference.data[i]))
            maxRef = max(maxRef, abs(reference.data[i]))
        }
        if maxDiff.isNaN { return .infinity }
        return maxRef > 0 ? maxDiff / maxRef : maxDiff
    }
}

/// SplitMix64: tiny, fast, deterministic across platforms — random weights for latency runs
/// must be the same on x86 and ARM so that both run the same numerics.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 24))
    }

    /// Standard normal (Box–Muller).
    public mutating func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / Double(1 << 53)), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / Double(1 << 53))
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

