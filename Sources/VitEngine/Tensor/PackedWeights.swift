/// Weights re-laid out for a kernel, in 64-byte-aligned memory that never moves, so that bound
/// steps can hold raw pointers to them. Immutable once built; shared by every plan of an operator.
public final class PackedWeights: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(_ values: [Float]) {
        count = values.count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        values.withUnsafeBufferPointer { if count > 0 { pointer.update(from: $0.baseAddress!, count: count) } }
    }

    public convenience init(_ tensor: Tensor) { self.init(tensor.data) }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    public subscript(i: Int) -> Float { pointer[i] }
}
