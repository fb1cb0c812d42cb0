/// NaN and ±Inf in data that crosses the program's edges (inputs, weights, logits): one such value
/// in a weight turns every logit into NaN, and a run that writes NaNs and exits 0 looks like success.
public struct NonFiniteReport: Equatable, Sendable, CustomStringConvertible {
    /// How many values are NaN or ±Inf.
    public let count: Int
    /// How many of them are NaN (the rest are ±Inf).
    public let nanCount: Int
    /// Flat (row-major) index of the first one.
    public let firstIndex: Int
    /// Its index per axis, for a tensor of the scanned shape.
    public let firstPosition: [Int]
    /// The first one's value (NaN, inf or -inf).
    public let firstValue: Float
    /// Number of values scanned.
    public let total: Int

    /// Scans `values` (of `shape`, row-major); nil when every value is finite.
    public static func scan(_ values: [Float], shape: [Int]) -> NonFiniteReport? {
        values.withUnsafeBufferPointer { scan($0, shape: shape) }
    }

    public static func scan(_ tensor: Tensor) -> NonFiniteReport? { scan(tensor.data, shape: tensor.shape) }

    public static func scan(_ values: UnsafeBufferPointer<Float>, shape: [Int]) -> NonFiniteReport? {
        // A finite float's exponent field is not all ones: one integer compare per value, and a
        // loop the compiler vectorises, so checking a 100 MB checkpoint costs milliseconds.
        var bad = 0
        values.withMemoryRebound(to: UInt32.self) { bits in
            for b in bits where b & 0x7F80_0000 == 0x7F80_0000 { bad += 1 }
        }
        guard bad > 0, let first = values.firstIndex(where: { !$0.isFinite }) else { return nil }
        var nans = 0
        for v in values where v.isNaN { nans += 1 }
        var position = [Int](repeating: 0, count: shape.count)
        var rest = first
        for axis in shape.indices.reversed() where shape[axis] > 0 {
            position[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return NonFiniteReport(count: bad, nanCount: nans, firstIndex: first, firstPosition: position,
                               firstValue: values[first], total: values.count)
    }

    /// "3 of 150528 values are not finite (2 NaN, 1 ±Inf); the first, nan, at [0, 1, 4, 7]".
    public var description: String {
        let kinds = nanCount == count ? "NaN" : nanCount == 0 ? "±Inf" : "\(nanCount) NaN, \(count - nanCount) ±Inf"
        return "\(count) of \(total) values are not finite (\(kinds)); the first, \(firstValue), at index \(firstPosition) (flat \(firstIndex))"
    }
}
