import ArgumentParser
import Foundation
import VitEngine
import VitHarness
import VitModels
import VitReports

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a benchmark suite (Suites/*.yaml): one CSV row per configuration, flushed as it finishes, then Markdown and JSON.",
        discussion: """
            Results go to Results/<machine-id>/<suite>.{csv,md,json} unless --out names a folder. An interrupted \
            run keeps every finished row; --resume skips the configurations already in the CSV. A configuration \
            that fails writes a row with its error and the run goes on.
            """)

    @Argument(help: "Suite file, e.g. Suites/mixers.yaml.")
    var suite: String

    @Option(help: "Folder for the results (default: Results/<machine-id>).")
    var out: String?

    @Option(help: "Only configurations whose key (model|form|resolution|batch|threads|backend|pinning|dim|kernel_isa|blas_threads) contains this text; repeat to narrow.")
    var filter: [String] = []

    @Flag(help: "Skip configurations already in the CSV (after an interruption).")
    var resume = false

    @Flag(help: "Replace an existing CSV instead of refusing to touch it.")
    var overwrite = false

    @Flag(help: "List the configurations, each with its memory estimate, and exit.")
    var dryRun = false

    @OptionGroup var kernelISA: KernelISAOption

    @OptionGroup var memoryLimit: MemoryLimitOption

    @OptionGroup var oversubscription: OversubscriptionOption

    func run() throws {
        try memoryLimit.apply()
        let suite = try Suite.load(self.suite)
        let environment = try RunEnvironment.current()
        // Pins and thread counts against this machine, with the suite's file and line.
        let oversubscribe = oversubscription.allowOversubscription || suite.allowOversubscription
        try suite.validate(on: environment.topology, allowOversubscription: oversubscribe)
        let all = try suite.configurations(threadCounts: { spec, pin in
            try ThreadSweep.parse(spec, policy: pin, topology: environment.topology, allowOversubscription: oversubscribe)
        }, defaultISA: kernelISA.isa ?? .best)
        oversubscription.warn(all.map(\.threads), topology: environment.topology)
        let configs = all.filter { c in filter.allSatisfy { c.key.contains($0) } }
        guard !configs.isEmpty else {
            throw ValidationError("no configuration of \(self.suite) matches the filter \(filter)")
        }
        if dryRun {
            try Run.printDryRun(configs)
            return
        }
        let folder = out ?? "Results/\(environment.machineID)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let csvPath = (folder as NSString).appendingPathComponent("\(suite.name).csv")
        if FileManager.default.fileExists(atPath: csvPath) && !resume {
            guard overwrite else {
                throw ValidationError("\(csvPath) exists: pass --resume to continue it or --overwrite to start anew")
            }
            try FileManager.default.removeItem(atPath: csvPath)
        }
        let context = [("suite", suite.name)] + environment.columns
        let runner = SuiteRunner(suite: suite, configurations: configs, context: context, makePool: environment.makePool(_:))
        let appender = try CSVAppender(path: csvPath, header: runner.header)
        if appender.droppedPartialRecord { SuiteRunner.stderrLine("\(csvPath): cut off a partial last row left by an interrupted run") }
        let done = Set((0..<appender.existing.rows.count).map { r in
            ResultColumns.key.map { appender.existing.value(r, $0) }.joined(separator: "|")
        })
        SuiteRunner.stderrLine("\(suite.name): \(configs.count) configuration(s) → \(csvPath)")
        try runner.run(skip: { done.contains($0.key) }, record: { try appender.append(fields: $0) })
        try RunEnvironment.render(csvPath: csvPath, baseline: suite.baselineMixer)
    }
}

extension Run {
    /// Each configuration's key and memory estimate (from shapes: nothing big is allocated),
    /// marked where it is over the budget and would be an error row.
    static func printDryRun(_ configs: [BenchConfiguration]) throws {
        let budget = MemoryBudget.current()
        var cache: [String: String] = [:]
        var over = 0
        for c in configs {
            let memoryKey = "\(c.model)|\(c.form)|\(c.resolution)|\(c.batch)|\(c.threads)|\(c.dim ?? 0)"
            let text: String
            if let cached = cache[memoryKey] {
                text = cached
            } else {
                do {
                    let e = try MemoryGuard.estimate(MemoryGuard.subject(named: c.model), dim: c.dim, reparameterized: c.form == .inference,
                                                     batch: c.batch, height: c.resolution, width: c.resolution, threads: c.threads,
                                                     budget: budget.bytes)
                    text = e.totalBytes > Double(budget.bytes)
                        ? "memory \(MemoryBudget.format(e.totalBytes)) OVER BUDGET (error row)"
                        : "memory \(MemoryBudget.format(e.totalBytes))"
                } catch {
                    text = "error: \(String(describing: error).split(separator: "\n").first ?? "")"
                }
                cache[memoryKey] = text
            }
            if text.contains("OVER BUDGET") || text.hasPrefix("error") { over += 1 }
            print("\(c.key)  \(text)")
        }
        print("\(configs.count) configuration(s); memory budget \(MemoryBudget.format(Double(budget.bytes))) (\(budget.source))"
              + (over > 0 ? "; \(over) would be error rows" : ""))
    }
}

/// What a run needs from the machine: its identity columns, thread counts and pinned pools.
struct RunEnvironment {
    let topology: Topology
    let machineID: String
    let columns: [(String, String)]

    static func current() throws -> RunEnvironment {
        let topology = try Topology.thisMachine()
        let info = try MachineInfo.collect(topology: topology)
        return RunEnvironment(topology: topology, machineID: info.machineID, columns: info.rowColumns)
    }

    /// `all` is every core of this machine (one worker per core).
    func makePool(_ c: BenchConfiguration) throws -> PinnedPool {
        try PinnedPool(threads: c.threads, pin: c.pin, topology: topology)
    }

    /// Markdown and JSON next to the CSV.
    static func render(csvPath: String, baseline: String) throws {
        let table = try ResultTable.read(contentsOf: csvPath)
        // The Markdown, and its figures beside it (NAME-<figure>.svg).
        try MarkdownReport(baselineMixer: baseline, published: Report.published).write(table, toMarkdown: MarkdownReport.path(forCSV: csvPath))
        let jsonPath = (csvPath as NSString).deletingPathExtension + ".json"
        try table.json().write(toFile: jsonPath, atomically: true, encoding: .utf8)
        SuiteRunner.stderrLine("wrote \(MarkdownReport.path(forCSV: csvPath)) and \(jsonPath)")
    }
}
