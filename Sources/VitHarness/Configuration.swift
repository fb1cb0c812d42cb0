import Foundation
import VitEngine
import VitModels
import VitReports

/// Train-time (multi-branch) or inference (reparameterised) form of a model.
public enum ModelForm: String, Codable, Sendable, CaseIterable {
    case train, inference
}

/// One thing to measure: a model (or a block) in one form at one input size, batch, thread count
/// and backend.
public struct BenchConfiguration: Codable, Sendable, Hashable {
    /// A zoo model (`vitbench list`) or a block (`family.block`, `vitbench list --blocks`).
    public var model: String
    public var form: ModelForm
    /// Side of the square input image; for a block, of its input grid (feature map or tokens).
    public var resolution: Int
    public var batch: Int
    public var threads: Int
    public var backend: BackendName
    /// Pinning policy of the engine's workers (`none`, `compact`, `scatter`, `cores=…`, `kind=…`),
    /// written to rows and keys in its canonical spelling (`Compact` and `compact` pair).
    public var pin: PinningPolicy
    /// A block's width (channels of its input); nil for whole models.
    public var dim: Int?
    /// The variant of the engine's kernels to run (`--isa`, a suite's `isas:`); the best this
    /// CPU supports unless asked. One the CPU cannot run makes the configuration an error row.
    public var isa: KernelISA
    /// Threads OpenBLAS itself may start inside each product (`--blas-threads`, a suite's
    /// `blas_threads:`): 1 (the default) leaves all parallelism to the engine's workers; more
    /// needs one engine worker, so that the two kinds of threads do not oversubscribe the cores.
    public var blasThreads: Int

    public init(model: String, form: ModelForm = .inference, resolution: Int, batch: Int = 1, threads: Int = 1,
                backend: BackendName = .packed, pin: PinningPolicy = .none, dim: Int? = nil, isa: KernelISA = .best,
                blasThreads: Int = 1) {
        self.model = model
        self.form = form
        self.resolution = resolution
        self.batch = batch
        self.threads = threads
        self.backend = backend
        self.pin = pin
        self.dim = dim
        self.isa = isa
        self.blasThreads = blasThreads
    }

    /// The zoo name's family part and mixer (`metaformer_s12:attention` → mixer "attention").
    public var mixer: String {
        if let i = model.firstIndex(of: ":") { return String(model[model.index(after: i)...]) }
        return ""
    }

    /// A stable key for pairing rows across runs (resume, compare): the values of
    /// `ResultColumns.key` as this configuration's row writes them, joined as
    /// ``ResultColumns/keyString(_:)`` joins a row's.
    public var key: String {
        let values: [String: String] = [
            "model": model, "form": form.rawValue, "resolution": "\(resolution)", "batch": "\(batch)", "threads": "\(threads)",
            "backend": backend.rawValue, "pinning": pin.description, "dim": dim.map(String.init) ?? "", "kernel_isa": isa.rawValue,
            "blas_threads": "\(blasThreads)",
        ]
        return ResultColumns.keyString { values[$0] ?? "" }
    }
}

/// What one configuration measured (or why it could not be measured).
public struct BenchResult: Sendable {
    public let configuration: BenchConfiguration
    public let measurement: Measurement?
    public let macs: Int
    public let parameters: Int
    public let error: String?
    /// Peak resident memory while this configuration was built and measured.
    public var peakRSSBytes: Int? = nil
    /// What the model said about this input size (e.g. LeViT's attention biases rebuilt for the
    /// grid): printed by the commands, kept in the `notes` column.
    public var notes: [String] = []
    /// What executed the network when it was not vitbench's engine: an external runtime's name,
    /// version and settings (the `runtime` column).
    public var runtime: String? = nil

    public var imagesPerSecond: Double? {
        measurement.map { Double(configuration.batch) / $0.statistics.median }
    }

    /// Achieved GFLOP/s (2 FLOPs per MAC, the whole batch) at the median.
    public var gflops: Double? {
        measurement.map { 2 * Double(macs) * Double(configuration.batch) / $0.statistics.median * 1e-9 }
    }

    /// The result as ordered (column, value) pairs: one CSV row, one JSON object.
    public func fields(noiseThreshold: Double) -> [(String, String)] {
        let c = configuration
        func ms(_ v: Double?) -> String { v.map { String(format: "%.4f", $0 * 1e3) } ?? "" }
        let st = measurement?.statistics
        // An engine backend's BLAS and runtime; nil for an external runtime (or one not installed).
        let backend = try? Backend.named(c.backend)
        let f: [(String, String)] = [
            ("model", c.model), ("mixer", c.mixer), ("form", c.form.rawValue), ("resolution", "\(c.resolution)"),
            ("dim", c.dim.map(String.init) ?? ""),
            ("batch", "\(c.batch)"), ("threads", "\(c.threads)"), ("pinning", c.pin.description), ("backend", c.backend.rawValue),
            ("kernel_isa", c.isa.rawValue),
            // The BLAS behind the backend's products, with version and kernel configuration.
            ("blas", backend?.gemm.identity ?? ""), ("blas_threads", "\(c.blasThreads)"),
            // What executed the network: vitbench's engine, or the library it delegated to.
            ("runtime", runtime ?? backend?.runtime ?? ""),
            ("median_ms", ms(st?.median)), ("min_ms", ms(st?.min)), ("mean_ms", ms(st?.mean)),
            ("stddev_ms", ms(st?.standardDeviation)), ("p90_ms", ms(st?.p90)), ("p99_ms", ms(st?.p99)),
            ("ci95_low_ms", ms(st?.medianCILow)), ("ci95_high_ms", ms(st?.medianCIHigh)),
            ("cv", st.map { String(format: "%.4f", $0.coefficientOfVariation) } ?? ""),
            ("runs", st.map { "\($0.count)" } ?? ""), ("cold_ms", ms(measurement?.coldSeconds)),
            ("images_per_s", imagesPerSecond.map { String(format: "%.2f", $0) } ?? ""),
            ("gflops", gflops.map { String(format: "%.2f", $0) } ?? ""),
            ("gmacs", error == nil ? String(format: "%.4f", Double(macs) * 1e-9) : ""),
            ("params_m", error == nil ? String(format: "%.4f", Double(parameters) * 1e-6) : ""),
            ("peak_rss_mb", peakRSSBytes.map { String(format: "%.1f", Double($0) / 1048576) } ?? ""),
            ("noisy", st.map { $0.coefficientOfVariation > noiseThreshold ? "yes" : "no" } ?? ""),
            ("error", error ?? ""),
            ("notes", notes.joined(separator: "; ")),
        ]
        return f
    }
}

public enum BenchmarkRunner {
    /// Builds the model (random weights) in the requested form, lowers it once, fills the input
    /// with random data, and measures `plan.run()` under `proto`. Failures become a result with
    /// an error, never a crash.
    /// An external runtime (`onnxruntime`, `openvino`) is timed by its runner on the engine's
    /// ONNX export, confined to `cpus` (the PUs the pinning policy gave the engine's workers).
    public static func measure(_ c: BenchConfiguration, protocol proto: MeasurementProtocol,
                               pool: ThreadPool? = nil, cpus: [Int]? = nil) -> BenchResult {
        if c.backend.isExternalRuntime { return ExternalRuntime.measure(c, protocol: proto, cpus: cpus) }
        ResidentMemory.resetPeak()
        var result = measureUnlessFailing(c, protocol: proto, pool: pool)
        result.peakRSSBytes = ResidentMemory.peakBytes()
        return result
    }

    private static func measureUnlessFailing(_ c: BenchConfiguration, protocol proto: MeasurementProtocol,
                                             pool: ThreadPool?) -> BenchResult {
        do {
            let backend = try Backend.named(c.backend)
            if c.blasThreads != 1 {
                guard c.blasThreads >= 1, c.blasThreads <= 1024 else {
                    throw ModelInputError("blas_threads must be between 1 and 1024 (got \(c.blasThreads))")
                }
                guard c.backend == .openblas || c.backend == .packed else {
                    throw ModelInputError("blas_threads applies to OpenBLAS's products (backends openblas and packed), not to \(c.backend.rawValue)")
                }
                guard c.threads == 1 else {
                    throw ModelInputError("blas_threads \(c.blasThreads) with \(c.threads) engine threads would oversubscribe the cores: OpenBLAS's threads replace the engine's, use threads 1")
                }
                OpenBLAS.setThreads(c.blasThreads)
            }
            defer { if c.blasThreads != 1 { OpenBLAS.setThreads(1) } }
            guard c.batch >= 1, c.threads >= 1, c.resolution >= 1 else {
                throw ModelInputError("batch, threads and resolution must be positive (got \(c.batch), \(c.threads), \(c.resolution))")
            }
            return try c.isa.whileSelected {
                let pool = try pool ?? ThreadPool(starting: c.threads)
                let lowered = try BenchmarkRunner.lower(c, backend: backend, pool: pool)
                let plan = lowered.plan
                var rng = SplitMix64(seed: 0x5EED)
                try plan.setInput(Tensor(randomNormal: plan.inputShapes[0], rng: &rng))
                let m = Measurement.run(proto) { plan.run() }
                let injected = Measurement.injectedSlowdown.map { ["TEST ONLY: VITBENCH_TEST_SLOWDOWN=\($0) slowed every pass"] } ?? []
                return BenchResult(configuration: c, measurement: m, macs: plan.totalMACs / c.batch, parameters: lowered.parameters,
                                   error: nil, notes: lowered.notes + injected)
            }
        } catch {
            return BenchResult(configuration: c, measurement: nil, macs: 0, parameters: 0, error: "\(error)")
        }
    }

    /// A configuration's model or block, built and lowered.
    public struct Lowered {
        public let plan: Plan
        /// Parameters of the lowered form.
        public let parameters: Int
        /// What the model says about running at this size (`ImageClassifier.notes`).
        public let notes: [String]
    }

    /// The configuration's model or block with deterministic random weights, in its form, lowered
    /// once for its input shape.
    /// Refuses (`MemoryLimitError`) a configuration whose estimated memory exceeds the budget
    /// (`MemoryBudget`: `--memory-limit`, or the memory available) before building anything big.
    /// Its notes include where OpenBLAS runs wider kernels than the engine's selected variant
    /// (`KernelISA.openBLASMismatch`), on a backend whose products go through OpenBLAS.
    public static func lower(_ c: BenchConfiguration, backend: Backend, pool: ThreadPool) throws -> Lowered {
        try checkMemory(c, threads: pool.threadCount)
        let blasNotes = backend.gemm is OpenBLASGEMM ? KernelISA.selected.openBLASMismatch.map { [$0] } ?? [] : []
        if BlockZoo.contains(c.model) {
            let block = try BlockZoo.named(c.model).random(dim: c.dim, height: c.resolution)
            if c.form == .inference { block.reparameterize() }
            let plan = try block.plan(batch: c.batch, height: c.resolution, width: c.resolution, backend: backend, pool: pool)
            return Lowered(plan: plan, parameters: block.parameterCount, notes: blasNotes)
        }
        if c.dim != nil {
            throw ModelInputError("\(c.model) is a model, not a block: a width (dim) applies to blocks only")
        }
        let model = try ModelZoo.named(c.model).random()
        if c.form == .inference { model.reparameterize() }
        let plan = try model.plan(batch: c.batch, height: c.resolution, width: c.resolution, backend: backend, pool: pool)
        return Lowered(plan: plan, parameters: model.parameterCount,
                       notes: model.notes(height: c.resolution, width: c.resolution) + blasNotes)
    }

    /// The configuration's estimated memory (`MemoryGuard`), checked against the budget: throws
    /// `MemoryLimitError` (an error row in a suite) when it would not fit.
    @discardableResult
    public static func checkMemory(_ c: BenchConfiguration, threads: Int? = nil) throws -> MemoryEstimate {
        if c.dim != nil && !BlockZoo.contains(c.model) {
            throw ModelInputError("\(c.model) is a model, not a block: a width (dim) applies to blocks only")
        }
        return try MemoryGuard.check(MemoryGuard.subject(named: c.model), dim: c.dim, reparameterized: c.form == .inference,
                                     batch: c.batch, height: c.resolution, width: c.resolution, threads: threads ?? c.threads)
    }

    /// The estimate alone, for `run --dry-run` and `info` (never throws for being over budget).
    public static func estimateMemory(_ c: BenchConfiguration) throws -> MemoryEstimate {
        try MemoryGuard.estimate(MemoryGuard.subject(named: c.model), dim: c.dim, reparameterized: c.form == .inference,
                                 batch: c.batch, height: c.resolution, width: c.resolution, threads: c.threads)
    }
}
