import Foundation
import Synchronization

/// Weights re-laid out for a kernel, in 64-byte-aligned memory that never moves, so that bound
/// steps can hold raw pointers to them. Immutable once built; shared by every plan of an operator.
public final class PackedWeights: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// Floats held by all live instances: what operators' `constantFloats` promise the memory
    /// estimate, checked against what their bindings really keep.
    static let liveFloats = Atomic<Int>(0)

    public init(_ values: [Float]) {
        count = values.count
        PackedWeights.liveFloats.add(count, ordering: .relaxed)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        values.withUnsafeBufferPointer { if count > 0 { pointer.update(from: $0.baseAddress!, count: count) } }
    }

    public convenience init(_ tensor: Tensor) { self.init(tensor.data) }

    deinit {
        PackedWeights.liveFloats.subtract(count, ordering: .relaxed)
        UnsafeMutableRawPointer(pointer).deallocate()
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    public subscript(i: Int) -> Float { pointer[i] }
}

/// Memory a binding allocates once, at plan time, zeroed, and frees with its closure: a fused
/// step's intermediate on a path that cannot use the plan's scratch.
final class OwnedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(count: Int) {
        pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { pointer.deallocate() }
}

/// A constant an operator computes on first use: its packed weights are needed only when the
/// operator is bound into a plan, so building a model to count it (`vitbench list`, `info`,
/// the memory estimate) transposes and packs nothing. Plans are bound on one thread; the lock
/// only keeps a misuse from packing twice.
public final class LazyConstant<Value>: @unchecked Sendable {
    private var stored: Value?
    private var make: (() -> Value)?
    private let lock = NSLock()

    public init(_ make: @escaping () -> Value) { self.make = make }

    public var value: Value {
        lock.lock()
        defer { lock.unlock() }
        if let v = stored { return v }
        let v = make!()
        stored = v
        make = nil
        return v
    }
}
