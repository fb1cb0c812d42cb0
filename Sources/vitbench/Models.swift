import ArgumentParser
import Foundation
import VitEngine
import VitHarness
import VitModels

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every model: parameters (train-time and reparameterised), GMACs and published top-1; or every block.",
        discussion: """
            With --json, one JSON array with an object per entry (models: model, family, resolution, \
            params, params_reparameterized, gmacs, published_top1, source; null where nothing was \
            published), for scripts: e.g. scripts/peers/compare.py --models zoo reads the models with \
            published weights, each at its published resolution.
            """)

    @Flag(help: "List the blocks that can be measured alone (`bench --block`) instead of the models.")
    var blocks = false

    @Flag(help: "Print one JSON array (an object per model or block) instead of the Markdown table.")
    var json = false

    func run() throws {
        if blocks { return try listBlocks() }
        // Each model is built (constant weights, nothing packed) to be counted; the models are
        // independent, so they are counted on every core and printed in the zoo's order.
        let models = ModelZoo.all
        let summaries = ResultSlots<ModelSummary>(count: models.count)
        DispatchQueue.concurrentPerform(iterations: models.count) { i in
            summaries[i] = Result { try ModelSummary(models[i], resolution: models[i].resolution) }
        }
        if json {
            let rows = try models.indices.map { i -> JSONValue in
                let s = try summaries[i]!.get(), info = models[i]
                return .object([
                    ("model", .string(info.name)), ("family", .string(info.family)), ("resolution", .int(info.resolution)),
                    ("params", .int(s.paramsTrain)), ("params_reparameterized", .int(s.paramsFused)),
                    ("gmacs", .number(s.gmacs)),
                    ("published_top1", info.published.map { .number($0.top1) } ?? .null),
                    ("source", info.published.map { .string($0.source) } ?? .null),
                ])
            }
            print(JSONValue.array(rows).rendered)
            return
        }
        print("| model | family | params (M) train / fused | GMACs @res (fused) | published top-1 | source |")
        print("|---|---|---|---|---|---|")
        for (i, info) in models.enumerated() {
            let s = try summaries[i]!.get()
            print("| \(info.name) | \(info.family) | \(s.paramsText) | \(String(format: "%.3f", s.gmacs)) @\(info.resolution) | \(s.top1Text) | \(info.published?.source ?? "no published weights") |")
        }
    }

    private func listBlocks() throws {
        if json {
            let rows = try BlockZoo.all.map { info -> JSONValue in
                let s = try BlockSummary(info, dim: info.defaultDim, resolution: info.defaultResolution)
                return .object([
                    ("block", .string(info.name)), ("dim", .int(info.defaultDim)), ("resolution", .int(info.defaultResolution)),
                    ("params", .int(s.paramsTrain)), ("params_reparameterized", .int(s.paramsFused)),
                    ("gmacs", .number(s.gmacs)), ("summary", .string(info.summary)),
                ])
            }
            print(JSONValue.array(rows).rendered)
            return
        }
        print("| block | default dim @grid | params (M) train / fused | GMACs (fused) | what it is |")
        print("|---|---|---|---|---|")
        for info in BlockZoo.all {
            let s = try BlockSummary(info, dim: info.defaultDim, resolution: info.defaultResolution)
            print("| \(info.name) | \(info.defaultDim) @\(info.defaultResolution) | \(s.paramsText) | \(String(format: "%.4f", s.gmacs)) | \(info.summary) |")
            fflush(stdout)
        }
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe one model or block: structure, counts, published accuracy.")

    @Argument(help: "Model name (see `vitbench list`) or block name (`vitbench list --blocks`).")
    var model: String

    @Option(help: "Resolution for the MAC count (default: the model's published one); for a block, its input grid.")
    var resolution: Int?

    @Option(help: "A block's width (default: the block's own).")
    var dim: Int?

    @Option(help: "Batch for the memory estimate.")
    var batch = 1

    @Option(help: "Worker threads for the memory estimate (scratch grows with them).")
    var threads = 1

    func validate() throws {
        if let resolution, resolution < 1 { throw ValidationError("--resolution must be positive") }
        if let dim, dim < 1 { throw ValidationError("--dim must be positive") }
        guard batch >= 1 else { throw ValidationError("--batch must be positive") }
        guard (1...ThreadPool.maximumThreads).contains(threads) else {
            throw ValidationError("--threads must be between 1 and \(ThreadPool.maximumThreads)")
        }
    }

    /// The memory a run would take in both forms, and whether it fits the memory available.
    private func printMemory(_ subject: MemoryGuard.Subject, dim: Int?, resolution res: Int) throws {
        let budget = MemoryBudget.current()
        for (form, fused) in [("inference", true), ("train", false)] {
            let e = try MemoryGuard.estimate(subject, dim: dim, reparameterized: fused, batch: batch, height: res, width: res,
                                             threads: threads, budget: budget.bytes)
            let verdict = e.totalBytes > Double(budget.bytes)
                ? "over the budget of \(MemoryBudget.format(Double(budget.bytes))) (\(budget.source)): bench and run refuse it"
                : "fits the budget of \(MemoryBudget.format(Double(budget.bytes))) (\(budget.source))"
            print("memory (\(form) form, batch \(batch), \(threads) thread(s)): \(e); \(verdict)")
        }
    }

    /// Counting builds the model at this size: refused first when that alone would not fit.
    private func refuseUncountable(_ subject: MemoryGuard.Subject, dim: Int?, resolution res: Int, what: String) throws {
        let budget = MemoryBudget.current()
        let e = try MemoryGuard.estimate(subject, dim: dim, reparameterized: false, batch: 1, height: res, width: res, threads: 1,
                                         budget: budget.bytes)
        if e.extrapolated {
            throw MemoryLimitError(subject: what, neededBytes: e.totalBytes, breakdown: e.breakdown,
                                   budgetBytes: budget.bytes, budgetSource: budget.source)
        }
    }

    func run() throws {
        if BlockZoo.contains(model) { return try describeBlock(BlockZoo.named(model)) }
        if dim != nil { throw ValidationError("--dim applies to blocks; \(model) is a model") }
        let info = try ModelZoo.named(model)
        let res = resolution ?? info.resolution
        try refuseUncountable(.model(info), dim: nil, resolution: res, what: "\(info.name) at \(res)x\(res)")
        let s = try ModelSummary(info, resolution: res)
        print("\(info.name) (\(info.family)): \(info.summary)")
        print("parameters: \(s.paramsText) M (train-time / reparameterised)")
        if let p = info.referenceParams { print("  timm (train-time form): \(p) M") }
        print("MACs at \(res)x\(res): \(String(format: "%.3f", s.gmacs)) G (reparameterised form), \(String(format: "%.3f", s.gmacsTrain)) G (train-time form)")
        if let g = info.referenceGMACs, res == info.resolution { print("  reference: \(g) G at \(info.resolution)") }
        if let p = info.published { print("published top-1: \(p.top1)% (\(p.source))") } else { print("published top-1: no published weights") }
        for note in try info.random().notes(height: res, width: res) { print("note at \(res)x\(res): \(note)") }
        try printMemory(.model(info), dim: nil, resolution: res)
    }

    private func describeBlock(_ info: BlockInfo) throws {
        let d = dim ?? info.defaultDim, res = resolution ?? info.defaultResolution
        try refuseUncountable(.block(info), dim: d, resolution: res, what: "\(info.name) of width \(d) at \(res)x\(res)")
        let s = try BlockSummary(info, dim: d, resolution: res)
        print("\(info.name) (block of \(info.family)): \(info.summary)")
        print("input: \(s.inputShape) (batch 1, dim \(d), grid \(res)x\(res))")
        print("parameters: \(s.paramsText) M (train-time / reparameterised)")
        print("MACs: \(String(format: "%.4f", s.gmacs)) G (reparameterised form), \(String(format: "%.4f", s.gmacsTrain)) G (train-time form)")
        try printMemory(.block(info), dim: d, resolution: res)
    }
}

/// Counts of one block in both forms, from deterministic random weights.
struct BlockSummary {
    let paramsTrain: Int, paramsFused: Int
    let gmacs: Double, gmacsTrain: Double
    let inputShape: [Int]

    init(_ info: BlockInfo, dim: Int, resolution: Int) throws {
        let block = try info.random(dim: dim, height: resolution)
        inputShape = block.inputShape(batch: 1, height: resolution, width: resolution)
        paramsTrain = block.parameterCount
        gmacsTrain = Double(try block.macs(height: resolution, width: resolution)) / 1e9
        block.reparameterize()
        paramsFused = block.parameterCount
        gmacs = Double(try block.macs(height: resolution, width: resolution)) / 1e9
    }

    var paramsText: String { formatParams(paramsTrain, paramsFused) }
}

/// "train / fused" in millions, or one number when reparameterisation changes nothing.
func formatParams(_ train: Int, _ fused: Int) -> String {
    let t = String(format: "%.3f", Double(train) / 1e6), f = String(format: "%.3f", Double(fused) / 1e6)
    return train == fused ? t : "\(t) / \(f)"
}

/// One result per index, written from concurrent iterations (each index by one iteration only).
final class ResultSlots<Value>: @unchecked Sendable {
    private var slots: [Result<Value, Error>?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    subscript(i: Int) -> Result<Value, Error>? {
        get { lock.lock(); defer { lock.unlock() }; return slots[i] }
        set { lock.lock(); defer { lock.unlock() }; slots[i] = newValue }
    }
}

/// Counts of one model in both forms, from deterministic random weights.
struct ModelSummary {
    let paramsTrain: Int, paramsFused: Int
    let gmacs: Double, gmacsTrain: Double
    let info: ModelInfo

    init(_ info: ModelInfo, resolution: Int) throws {
        self.info = info
        // Counting needs shapes only: constant weights build the same model without drawing
        // random numbers, and operators pack their weights only when bound into a plan
        // (`LazyConstant`): `vitbench list` went from 8 s to 2 s to 0.6 s.
        let model = try info.placeholder()
        paramsTrain = model.parameterCount
        gmacsTrain = Double(try model.macs(height: resolution, width: resolution)) / 1e9
        model.reparameterize()
        paramsFused = model.parameterCount
        gmacs = Double(try model.macs(height: resolution, width: resolution)) / 1e9
    }

    var paramsText: String { formatParams(paramsTrain, paramsFused) }

    var top1Text: String { info.published.map { String(format: "%.1f", $0.top1) } ?? "—" }
}

struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model on an NCHW float32 batch (.npy) and write its logits (.npy).")

    @Option(help: "Model name (see `vitbench list`).")
    var model: String

    @Option(help: "Weights: a safetensors file with timm's state_dict keys (train-time or reparameterised). Random weights if omitted.")
    var weights: String?

    @Option(help: "Input batch: float32 .npy of shape [N, 3, H, W].")
    var input: String

    @Option(help: "Where to write the logits: float32 .npy of shape [N, classes].")
    var output: String

    @Flag(help: "Fuse train-time branches (structural reparameterisation) before running.")
    var reparameterize = false

    @Option(name: .shortAndLong, help: "Worker threads.")
    var threads = 1

    @Option(help: "Pinning of the engine's workers: \(PinningPolicy.syntax). (default: none)", transform: PinningPolicy.init(parsing:))
    var pin = PinningPolicy.none

    @Option(help: "Backend (see README, \"Backends\").")
    var backend = BackendName.packed

    @OptionGroup var kernelISA: KernelISAOption
    @OptionGroup var memoryLimit: MemoryLimitOption
    @OptionGroup var oversubscription: OversubscriptionOption

    @Flag(help: "Exit 0 even when the input, the weights or the logits hold NaN or ±Inf (they are still reported on stderr).")
    var allowNonfinite = false

    func run() throws {
        try OutputFile.prepare(output, option: "--output")
        let backend = try parseBackend(backend)
        try kernelISA.apply()
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        let info = try ModelZoo.named(model)
        let x = try Npy.read(input)
        guard x.rank == 4, x.shape[1] == 3 else {
            throw CommandFailure("\(input): expected an NCHW batch [N, 3, H, W], got shape \(x.shape)")
        }
        try memoryLimit.apply()
        try oversubscription.check(threads: threads, topology: Topology.thisMachine())
        // NaN or ±Inf anywhere turns the logits into NaN: each place is reported as it is found,
        // the logits are still written, and the exit status says the run is not to be trusted.
        var nonFinite: [String] = []
        if let report = NonFiniteReport.scan(x) {
            warn("warning: input \(input): \(report)")
            nonFinite.append("input")
        }
        let classifier: ImageClassifier
        if let weights {
            let loaded = try Weights(file: weights)  // warns per tensor holding NaN or ±Inf
            classifier = try info.load(loaded)
            if !loaded.nonFinite.isEmpty {
                warn("warning: weights \(weights): \(loaded.nonFinite.count) tensor(s) hold NaN or ±Inf, the first '\(loaded.nonFinite[0].name)'")
                nonFinite.append("weights")
            }
        } else {
            warn("vitbench: no --weights given: using deterministic random weights")
            classifier = try info.random()
        }
        if reparameterize { classifier.reparameterize() }
        try classifier.checkInput(height: x.shape[2], width: x.shape[3])
        // A zoo model's weights are a fixed size (and a file's are in memory already); what grows
        // with the input is checked before the plan builds its tables and arena.
        try MemoryGuard.check(.model(info), reparameterized: reparameterize, batch: x.shape[0],
                              height: x.shape[2], width: x.shape[3], threads: threads)
        for note in classifier.notes(height: x.shape[2], width: x.shape[3]) { warn("note: \(note)") }
        let pinned = try PinnedPool(threads: threads, pin: pin, topology: Topology.thisMachine())
        defer { pinned.finish() }
        let plan = try classifier.plan(batch: x.shape[0], height: x.shape[2], width: x.shape[3], backend: backend,
                                       pool: pinned.pool)
        try plan.setInput(x)
        plan.run()
        let logits = plan.output()
        try Npy.write(logits, to: output)
        if let report = NonFiniteReport.scan(logits) {
            warn("warning: logits (written to \(output)): \(report)")
            nonFinite.append("logits")
        }
        if !nonFinite.isEmpty && !allowNonfinite {
            warn("vitbench: non-finite values in the \(nonFinite.joined(separator: ", ")): exit status 1 (--allow-nonfinite accepts them)")
            throw ExitCode(1)
        }
    }

    private func warn(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
