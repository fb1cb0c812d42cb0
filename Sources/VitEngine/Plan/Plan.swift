import Foundation

/// A forward pass lowered for one input shape: every buffer allocated up front in one arena,
/// every step bound to its pointers. `run()` allocates nothing, which is what makes its timing
/// the engine's and not the allocator's.
public final class Plan {
    public struct Step {
        /// timm-style module path of the layer this step came from.
        public let name: String
        public let kind: String
        public let inputShapes: [[Int]]
        public let outputShape: [Int]
        public let macs: Int
        public let parameterCount: Int
        public let run: () -> Void

        /// Bytes read and written, assuming each input, the output and the weights move once.
        public var bytesMoved: Int {
            4 * (inputShapes.reduce(0) { $0 + product($1) } + product(outputShape) + parameterCount)
        }
    }

    public private(set) var steps: [Step] = []
    public private(set) var backendName = ""
    public private(set) var threads = 1
    /// The workers the steps were bound to (the profiler logs their tasks).
    public private(set) var pool = ThreadPool(threads: 1)
    let arena: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    public let arenaBytes: Int
    public let scratchBytes: Int
    private var inputs: [(UnsafeMutablePointer<Float>, [Int])] = []
    private var outputs: [(UnsafeMutablePointer<Float>, [Int])] = []

    init(arenaFloats: Int, scratchFloats: Int) {
        arenaBytes = arenaFloats * 4
        scratchBytes = scratchFloats * 4
        arena = Plan.allocate(max(arenaFloats, 16))
        scratch = Plan.allocate(max(scratchFloats, 16))
    }

    func finish(steps: [Step], inputs: [(UnsafeMutablePointer<Float>, [Int])],
                outputs: [(UnsafeMutablePointer<Float>, [Int])], backend: Backend, pool: ThreadPool) {
        self.steps = steps
        self.inputs = inputs
        self.outputs = outputs
        self.backendName = backend.name
        self.threads = pool.threadCount
        self.pool = pool
    }

    private static func allocate(_ floats: Int) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: floats * 4, alignment: 64)
        // Touch every page now, so that the first timed run does not pay for page faults.
        memset(raw, 0, floats * 4)
        return raw.bindMemory(to: Float.self, capacity: floats)
    }

    deinit {
        UnsafeMutableRawPointer(arena).deallocate()
        UnsafeMutableRawPointer(scratch).deallocate()
    }

    public var totalMACs: Int { steps.reduce(0) { $0 + $1.macs } }
    public var inputShapes: [[Int]] { inputs.map(\.1) }
    public var outputShapes: [[Int]] { outputs.map(\.1) }

    /// Copies `tensor` into input `index`; the shape must match the one the plan was built for.
    public func setInput(_ tensor: Tensor, at index: Int = 0) throws {
        let (ptr, shape) = inputs[index]
        guard tensor.shape == shape else {
            throw PlanError(module: "input", "expected shape \(shape), got \(tensor.shape)")
        }
        tensor.data.withUnsafeBufferPointer { ptr.update(from: $0.baseAddress!, count: tensor.count) }
    }

    /// The memory of input `index` (to fill in place, with no copy).
    public func inputPointer(_ index: Int = 0) -> UnsafeMutablePointer<Float> { inputs[index].0 }

    public func output(_ index: Int = 0) -> Tensor {
        let (ptr, shape) = outputs[index]
        return Tensor(shape: shape, data: Array(UnsafeBufferPointer(start: ptr, count: product(shape))))
    }

    /// One forward pass.
    public func run() {
        for step in steps { step.run() }
    }

    /// One forward pass that reports each step's wall time in nanoseconds.
    public func run(timing: (Int, UInt64) -> Void) {
        for (i, step) in steps.enumerated() {
            let t0 = DispatchTime.now().uptimeNanoseconds
            step.run()
            timing(i, DispatchTime.now().uptimeNanoseconds - t0)
        }
    }
}
