/// A tensor that exists while a plan is being built: an id for its shape and, later, its buffer.
public struct Value: Hashable, Sendable {
    public let id: Int
}

/// Records the operators of one forward pass for one input shape, then lays out every buffer in
/// one arena (buffers whose lifetimes do not overlap share memory) and binds each step to its
/// pointers. Models describe themselves by calling ops on a builder inside named scopes, so each
/// step carries a timm-style module path ("stages.2.blocks.3.token_mixer").
public final class PlanBuilder {
    public let backend: Backend
    public let pool: ThreadPool

    struct Node {
        var name: String
        var op: Operator
        var inputs: [Int]
        var output: Int
    }

    private(set) var shapes: [[Int]] = []
    /// For views (reshape): the value whose memory this one reuses.
    private(set) var aliasOf: [Int?] = []
    private(set) var nodes: [Node] = []
    private(set) var inputIDs: [Int] = []
    private var scopes: [String] = []

    public init(backend: Backend = .default, pool: ThreadPool) {
        self.backend = backend
        self.pool = pool
        OpenBLAS.defaultToSingleThread()
    }

    /// The current module path.
    public var modulePath: String { scopes.joined(separator: ".") }

    /// Runs `body` with `name` appended to the module path.
    public func scope<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        scopes.append(name)
        defer { scopes.removeLast() }
        return try body()
    }

    public func shape(of value: Value) -> [Int] { shapes[value.id] }

    /// A tensor the caller fills before each run.
    public func input(_ shape: [Int]) -> Value {
        let v = newValue(shape)
        inputIDs.append(v.id)
        return v
    }

    /// Adds one step; `name` (if given) is appended to the module path for this step only.
    @discardableResult
    public func apply(_ op: Operator, _ inputs: [Value], name: String? = nil) throws -> Value {
        let path = [modulePath, name ?? ""].filter { !$0.isEmpty }.joined(separator: ".")
        let inShapes = inputs.map { shapes[$0.id] }
        let outShape: [Int]
        do {
            outShape = try op.outputShape(for: inShapes)
        } catch let e as ShapeError {
            throw PlanError(module: path, "\(op.kind): \(e.message)")
        }
        try PlanBuilder.checkSize(outShape, module: path, what: "\(op.kind) output")
        let out = newValue(outShape)
        nodes.append(Node(name: path, op: op, inputs: inputs.map(\.id), output: out.id))
        return out
    }

    /// The most elements one tensor of a plan may have (2^40: 4 TiB of floats). Larger shapes —
    /// or shapes whose element count overflows — are refused with a clear error, so that no
    /// size arithmetic downstream (in kernels built without overflow checks) can wrap around.
    public static let maximumElements = 1 << 40

    /// Element count of `shape`, or nil when it is negative, overflows or exceeds `maximumElements`.
    public static func checkedElements(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maximumElements else { return nil }
            n = p
        }
        return n
    }

    static func checkSize(_ shape: [Int], module: String, what: String) throws {
        guard checkedElements(shape) == nil else { return }
        throw PlanError(module: module, "\(what) of shape \(shape) is too large: more than 2^40 elements, "
                        + "or its size overflows; lower the resolution, batch or width")
    }

    /// MACs of the steps recorded so far (no memory is allocated: counting is cheap).
    public var totalMACs: Int {
        nodes.reduce(0) { $0 + $1.op.macs(inputs: $1.inputs.map { shapes[$0] }, output: shapes[$1.output]) }
    }

    /// A view of `value` with another shape of the same element count (no step, no copy).
    public func reshape(_ value: Value, _ shape: [Int]) throws -> Value {
        let old = shapes[value.id]
        try PlanBuilder.checkSize(shape, module: modulePath, what: "reshape")
        guard product(old) == product(shape), shape.allSatisfy({ $0 >= 0 }) else {
            throw PlanError(module: modulePath, "cannot reshape \(old) to \(shape)")
        }
        let v = newValue(shape)
        aliasOf[v.id] = root(value.id)
        return v
    }

    private func newValue(_ shape: [Int]) -> Value {
        shapes.append(shape)
        aliasOf.append(nil)
        return Value(id: shapes.count - 1)
    }

    private func root(_ id: Int) -> Int {
        var r = id
        while let a = aliasOf[r] { r = a }
        return r
    }

    /// The recorded nodes with the image's layout conversion folded into the stem: an
    /// NCHW→NHWC permute whose copy only a conv reads, and that conv able to read NCHW itself
    /// (`NCHWInputConv2d`), is dropped, and the conv reads the permute's input. That saves a
    /// pass over the image and a buffer its size.
    private func nodesWithLayoutFolded(outputs: [Value]) -> [Node] {
        let kept = Set(outputs.map { root($0.id) })
        var readers: [Int: [Int]] = [:]  // value (views resolved) → the nodes that read it
        for (i, node) in nodes.enumerated() {
            for input in node.inputs { readers[root(input), default: []].append(i) }
        }
        var folded = nodes
        var dropped = Set<Int>()
        for (i, node) in nodes.enumerated() {
            guard let permute = node.op as? Permute, permute.axes == [0, 2, 3, 1], !kept.contains(node.output),
                  let reader = readers[node.output], reader.count == 1,
                  nodes[reader[0]].inputs[0] == node.output,
                  let conv = nodes[reader[0]].op as? Conv2d, let fused = NCHWInputConv2d(conv) else { continue }
            folded[reader[0]].op = fused
            folded[reader[0]].inputs[0] = node.inputs[0]
            dropped.insert(i)
        }
        return folded.indices.filter { !dropped.contains($0) }.map { folded[$0] }
    }

    /// What a plan built now for `outputs` would allocate, from shapes alone (nothing is
    /// allocated): its arena and scratch, and the constants its operators hold (packed weights,
    /// bias tables, embeddings: already allocated by the operators recorded so far).
    public struct MemoryEstimate: Sendable {
        public var arenaBytes: Double
        public var scratchBytes: Double
        /// Floats the recorded operators hold, as bytes.
        public var constantBytes: Double
        /// The largest single constant: while an operator packs it, a transient copy exists.
        public var largestConstantBytes: Double
    }

    /// The arena, scratch and operator constants of the plan `build(outputs:)` would make, with
    /// `threads` workers (default: this builder's pool).
    public func memoryEstimate(outputs: [Value], threads: Int? = nil) throws -> MemoryEstimate {
        for id in inputIDs { try PlanBuilder.checkSize(shapes[id], module: "input", what: "input") }
        let nodes = nodesWithLayoutFolded(outputs: outputs), images = imageCounts(nodes)
        let arena = layout(nodes: nodes, images: images, outputs: outputs).arenaFloats
        let scratch = scratchFloats(nodes: nodes, images: images, threads: threads ?? pool.threadCount)
        // Each operator packs its constants once, however many images its step runs.
        var constants = 0.0, largest = 0.0
        for node in self.nodes {
            let n = Double(node.op.constantFloats)
            constants += n
            largest = max(largest, n)
        }
        return MemoryEstimate(arenaBytes: 4 * Double(arena), scratchBytes: 4 * Double(scratch),
                              constantBytes: 4 * constants, largestConstantBytes: 4 * largest)
    }

    private func scratchFloats(nodes: [Node], images: [Int], threads: Int) -> Int {
        var scratchFloats = 0
        for (node, n) in zip(nodes, images) {
            let s = node.op.scratchFloats(inputs: node.inputs.map { shape(shapes[$0], n) },
                                          output: shape(shapes[node.output], n), threads: threads)
            scratchFloats = max(scratchFloats, s)
        }
        return scratchFloats
    }

    /// Images each node runs on one at a time: the batch where it runs image by image
    /// (`runsImageByImage`), else 1.
    private func imageCounts(_ nodes: [Node]) -> [Int] {
        let batch = batch
        return nodes.map { runsImageByImage($0, batch: batch) ? batch : 1 }
    }

    /// The plan's batch: its inputs' first dimension, where they all share one.
    private var batch: Int {
        let firsts = Set(inputIDs.map { shapes[$0].first ?? 1 })
        return firsts.count == 1 ? max(firsts.first!, 1) : 1
    }

    /// A step of a batch whose tensors hold at least this many floats per image (256 KiB: one
    /// image's input and output fit a 1 MiB L2 together) runs image by image (see
    /// `runsImageByImage`)... At 512 KiB MobileOne-S0's 28x28x128 stage (400 KiB per image, 3.2
    /// MB for a batch of 8) ran whole, from L3, its depthwise convs 1.2-2.9x slower per image
    /// than at batch 1; at 256 KiB it runs image by image and MobileOne-S0 at batch 8 took 3%
    /// less time (Zen 4, alternated A/B).
    static let imageByImageFloats = 1 << 16
    /// ... if its weights are at most this many floats (256 KiB, a quarter of L2): a product
    /// over the whole batch streams larger weights through the cache once, image by image would
    /// stream them once per image. (Every operator packs its weights once, however many images
    /// its step runs.)
    static let imageByImageMaxParameters = 1 << 16

    /// Whether `node` runs on one image at a time: in a batch, a step whose per-image tensors
    /// are large (the high-resolution stages) runs the whole sequence of such steps on image 0,
    /// then on image 1, and so on, so that each image's activations stay in L2/L3 from one step
    /// to the next; the whole batch at once, each tensor is the batch times larger and goes
    /// through memory at every step. At batch 8 FastViT-T8's stage-0 steps (64x64x48 per image,
    /// 6.3 MB per tensor for the batch) ran 1.1-3.5x slower per image than at batch 1. Small
    /// per-image tensors (later stages, transformers' tokens) and large weights keep the whole
    /// batch in each product, where it amortises loading the weights. Every operator computes
    /// each image on its own (no batch statistics at inference), so only the shapes need
    /// checking: the batch first on every tensor the step touches. XNNPACK's operators are set
    /// up for one shape and run the whole batch.
    private func runsImageByImage(_ node: Node, batch: Int) -> Bool {
        guard batch > 1, !backend.delegatesToXNNPACK,
              node.op.parameterCount <= PlanBuilder.imageByImageMaxParameters else { return false }
        let touched = node.inputs.map { shapes[$0] } + [shapes[node.output]]
        guard touched.allSatisfy({ $0.count > 1 && $0[0] == batch }) else { return false }
        return touched.contains { product($0) / batch >= PlanBuilder.imageByImageFloats }
    }

    /// `shape` with its batch of `images` divided down to one image (`images` 1: unchanged).
    private func shape(_ shape: [Int], _ images: Int) -> [Int] { images > 1 ? [1] + shape.dropFirst() : shape }

    /// Lays out memory and binds every step. `outputs` stay readable after `run()`.
    /// Throws `MemoryLimitError` before allocating an arena and scratch larger than the memory
    /// budget (`MemoryBudget`).
    public func build(outputs: [Value]) throws -> Plan {
        for id in inputIDs { try PlanBuilder.checkSize(shapes[id], module: "input", what: "input") }
        let nodes = nodesWithLayoutFolded(outputs: outputs), images = imageCounts(nodes)
        let (offsets, arenaFloats, perImage) = layout(nodes: nodes, images: images, outputs: outputs)
        let scratchFloats = scratchFloats(nodes: nodes, images: images, threads: pool.threadCount)
        let needed = 4 * (Double(arenaFloats) + Double(scratchFloats))
        let budget = MemoryBudget.current()
        if needed > Double(budget.bytes) {
            throw MemoryLimitError(subject: "the plan's activations", neededBytes: needed,
                                   breakdown: "arena \(MemoryBudget.format(4 * Double(arenaFloats))), scratch \(MemoryBudget.format(4 * Double(scratchFloats)))",
                                   budgetBytes: budget.bytes, budgetSource: budget.source)
        }

        let plan = Plan(arenaFloats: arenaFloats, scratchFloats: scratchFloats)
        let xnnpack = backend.delegatesToXNNPACK ? try XNNPACKThreads(alongside: pool) : nil
        func pointer(_ id: Int) -> UnsafeMutablePointer<Float> { plan.arena + offsets[root(id)] }
        var steps: [Plan.Step] = []
        for (node, images) in zip(nodes, images) {
            let inShapes = node.inputs.map { shapes[$0] }
            // Image by image: one binding per image, on that image's slice of every tensor.
            // A tensor that lives only inside the run holds one image, which every image reuses.
            func slice(_ id: Int, _ i: Int) -> UnsafeMutablePointer<Float> {
                pointer(id) + (perImage.contains(root(id)) ? 0 : i * (product(shapes[id]) / images))
            }
            func context(image i: Int) -> StepContext {
                StepContext(inputs: node.inputs.map { slice($0, i) },
                            inputShapes: inShapes.map { shape($0, images) },
                            output: slice(node.output, i),
                            outputShape: shape(shapes[node.output], images),
                            scratch: plan.scratch, pool: pool, gemm: backend.gemm, packsWeights: backend.packsWeights)
            }
            var kind = node.op.kind
            var runs: [() -> Void] = []
            if images == 1, let xnnpack, let delegable = node.op as? XNNPACKDelegable,
               let delegated = try bindDelegated(delegable, context(image: 0), xnnpack, module: node.name) {
                runs = [delegated]
                kind = "xnnpack:" + kind
            } else {
                runs = (0..<images).map { i in
                    backend.kernels == .optimized ? node.op.bindOptimized(context(image: i)) : node.op.bindReference(context(image: i))
                }
            }
            steps.append(Plan.Step(name: node.name, kind: kind, inputShapes: inShapes,
                                   outputShape: shapes[node.output],
                                   macs: node.op.macs(inputs: inShapes, output: shapes[node.output]),
                                   parameterCount: node.op.parameterCount, runs: runs))
        }
        plan.finish(steps: steps,
                    inputs: inputIDs.map { (pointer($0), shapes[$0]) },
                    outputs: outputs.map { (pointer($0.id), shapes[$0.id]) },
                    backend: backend, pool: pool)
        return plan
    }

    /// Offsets of every buffer in one arena (greedy, largest buffers first; buffers whose
    /// lifetimes do not overlap share memory), the arena's size in floats, and the buffers that
    /// hold one image of a batch (`runInternalRoots`).
    private func layout(nodes: [Node], images: [Int], outputs: [Value])
        -> (offsets: [Int], arenaFloats: Int, perImage: Set<Int>) {
        let stepCount = nodes.count
        var first = [Int](repeating: Int.max, count: shapes.count)
        var last = [Int](repeating: -1, count: shapes.count)
        for id in inputIDs { first[root(id)] = -1 }
        // A run of steps that go image by image is one span of time: image 1 enters its first
        // step after image 0 has left its last, so a tensor that crosses the run's edges (the
        // batch's slices written or read there, one image at a time) is live from the run's
        // first step to its last. A tensor that lives only inside the run holds one image, which
        // each image overwrites in turn: its lifetime is its own steps', as in a plan of one
        // image, and its memory stays in cache from one image to the next. (Batch-sized, a
        // run's tensors made its working set the batch's: at batch 8 FastViT-T8 ran 4% and
        // MobileViT-XXS 3% slower than with one-image tensors; Zen 4, alternated A/B.)
        let perImage = runInternalRoots(nodes: nodes, images: images, outputs: outputs)
        var span = Array(nodes.indices.map { ($0, $0) })
        for run in Plan.imageByImageRuns(images) {
            for j in run { span[j] = (run.lowerBound, run.upperBound - 1) }
        }
        func lifetime(_ id: Int, _ i: Int) -> (Int, Int) { perImage.contains(id) ? (i, i) : span[i] }
        for (i, node) in nodes.enumerated() {
            let o = root(node.output), (start, end) = lifetime(o, i)
            first[o] = min(first[o], start)
            last[o] = max(last[o], end)
            for inp in node.inputs.map(root) { last[inp] = max(last[inp], lifetime(inp, i).1) }
        }
        for v in outputs { last[root(v.id)] = stepCount }
        for id in inputIDs { last[root(id)] = stepCount }  // callers may read inputs back

        // Greedy offset assignment, largest buffers first.
        let alignment = 16  // floats: 64 bytes
        let roots = (0..<shapes.count).filter { aliasOf[$0] == nil && first[$0] != Int.max }
        var offsets = [Int](repeating: 0, count: shapes.count)
        var placed: [(offset: Int, size: Int, first: Int, last: Int)] = []
        var arenaFloats = 0
        let batch = batch  // computed from the inputs' shapes: once, not per comparison of the sort
        func floats(_ id: Int) -> Int { product(shapes[id]) / (perImage.contains(id) ? batch : 1) }
        for id in roots.sorted(by: { floats($0) > floats($1) }) {
            let size = (max(floats(id), 1) + alignment - 1) / alignment * alignment
            let lo = first[id], hi = max(last[id], first[id])
            let conflicts = placed.filter { !($0.last < lo || $0.first > hi) }.sorted { $0.offset < $1.offset }
            var offset = 0
            for c in conflicts where offset + size > c.offset {
                offset = max(offset, c.offset + c.size)
            }
            offsets[id] = offset
            placed.append((offset, size, lo, hi))
            arenaFloats = max(arenaFloats, offset + size)
        }

        return (offsets, arenaFloats, perImage)
    }

    /// The buffers (roots) that only steps of one image-by-image run write and read — neither a
    /// plan input or output nor read outside the run: one image's worth each (see `layout`).
    private func runInternalRoots(nodes: [Node], images: [Int], outputs: [Value]) -> Set<Int> {
        var runOf = [Int?](repeating: nil, count: nodes.count)
        for (r, run) in Plan.imageByImageRuns(images).enumerated() {
            for j in run { runOf[j] = r }
        }
        // The one run each buffer's steps share; -1 where they do not all belong to one run.
        var shared: [Int: Int] = [:]
        for (i, node) in nodes.enumerated() {
            for id in [node.output] + node.inputs {
                let r = root(id), here = runOf[i] ?? -1
                shared[r] = shared[r].map { $0 == here ? here : -1 } ?? here
            }
        }
        let external = Set(inputIDs.map(root) + outputs.map { root($0.id) })
        return Set(shared.filter { $0.value >= 0 && !external.contains($0.key) }.keys)
    }

    private func bindDelegated(_ op: XNNPACKDelegable, _ ctx: StepContext, _ threads: XNNPACKThreads,
                               module: String) throws -> (() -> Void)? {
        do {
            return try op.bindXNNPACK(ctx, threads: threads)
        } catch let error as ShapeError {
            throw PlanError(module: module, error.message)
        }
    }
}
