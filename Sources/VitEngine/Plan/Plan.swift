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
        /// The bound step: one closure for the whole batch, or one per image for a step that runs
        /// image by image (`PlanBuilder.runsImageByImage`).
        let runs: [() -> Void]
        /// Images this step is run on one at a time (1: the whole batch at once).
        public var images: Int { runs.count }

        /// The step alone, every image.
        public func run() { for r in runs { r() } }

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

    /// The order of execution: single steps over the whole batch, and runs of consecutive steps
    /// that go image by image (each image through every step of the run before the next image).
    private enum Segment {
        case step(Int)
        case imageByImage(steps: Range<Int>, images: Int)
    }
    private var schedule: [Segment] = []

    /// The maximal runs of consecutive steps that go image by image (`images` > 1, all of one
    /// batch), given each step's image count.
    static func imageByImageRuns(_ images: [Int]) -> [Range<Int>] {
        var runs: [Range<Int>] = [], i = 0
        while i < images.count {
            var end = i + 1
            if images[i] > 1 {
                while end < images.count && images[end] == images[i] { end += 1 }
                runs.append(i..<end)
            }
            i = end
        }
        return runs
    }

    func finish(steps: [Step], inputs: [(UnsafeMutablePointer<Float>, [Int])],
                outputs: [(UnsafeMutablePointer<Float>, [Int])], backend: Backend, pool: ThreadPool) {
        self.steps = steps
        schedule = []
        var i = 0
        for run in Plan.imageByImageRuns(steps.map(\.images)) {
            schedule += (i..<run.lowerBound).map(Segment.step)
            schedule.append(.imageByImage(steps: run, images: steps[run.lowerBound].images))
            i = run.upperBound
        }
        schedule += (i..<steps.count).map(Segment.step)
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
        for segment in schedule {
            switch segment {
            case .step(let s):
                steps[s].runs[0]()
            case .imageByImage(let range, let images):
                for image in 0..<images {
                    for s in range { steps[s].runs[image]() }
                }
            }
        }
    }

    /// One forward pass that reports each step's wall time in nanoseconds, in the order the
    /// steps run: once per step, or once per image for a step that runs image by image
    /// (`Step.images`), so a step's time in the pass is the sum of its reports.
    public func run(timing: (Int, UInt64) -> Void) {
        func timed(_ s: Int, _ image: Int) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            steps[s].runs[image]()
            timing(s, DispatchTime.now().uptimeNanoseconds - t0)
        }
        for segment in schedule {
            switch segment {
            case .step(let s):
                timed(s, 0)
            case .imageByImage(let range, let images):
                for image in 0..<images {
                    for s in range { timed(s, image) }
                }
            }
        }
    }
}
