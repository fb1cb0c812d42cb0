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

    func validate() throws {
        // --out is the results folder. A name that reads as one of its files (`--out r.csv`)
        // made a folder of that name with r.csv/SUITE.csv inside, where the user looked for a file.
        var isFolder: ObjCBool = false
        if let out, !(FileManager.default.fileExists(atPath: out, isDirectory: &isFolder) && isFolder.boolValue),
           let ext = ["csv", "md", "json"].first(where: { out.lowercased().hasSuffix("." + $0) }) {
            let parent = (out as NSString).deletingLastPathComponent
            throw ValidationError("--out names the folder the results go into (SUITE.csv, .md and .json inside it); "
                + "'\(out)' reads as a .\(ext) file: pass a folder, e.g. --out \(parent.isEmpty ? "results" : parent)")
        }
    }

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
        // A suite of one engine ISA runs with OpenBLAS at its level; rows of a suite that mixes
        // them say where OpenBLAS's kernels are wider than theirs.
        let engineISAs = Set(configs.filter { !$0.backend.isExternalRuntime }.map(\.isa))
        if engineISAs.count == 1 { OpenBLASPairing.reexecIfNeeded(for: engineISAs.first) }
        let unpaired = engineISAs.filter { $0.openBLASMismatch != nil }.map(\.rawValue).sorted()
        if engineISAs.count > 1, let first = unpaired.first {
            FileHandle.standardError.write("""
                note: this suite runs several kernel ISAs in one process, so OpenBLAS keeps its \(OpenBLAS.coreName) kernels, \
                wider than the level of \(unpaired.joined(separator: ", ")); those rows say so in their notes (to pair them, \
                run one ISA at a time: --filter '|\(first)|', then the others with --resume)

                """.data(using: .utf8)!)
        }
        if dryRun {
            try Run.printDryRun(configs)
            return
        }
        let folder = out ?? "Results/\(environment.machineID)"
        try ResultsFolder.checkSuiteName(suite.name, file: self.suite)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure("cannot write results to \(folder): \(ResultsFolder.reason(error, path: folder))")
        }
        let csvPath = (folder as NSString).appendingPathComponent("\(suite.name).csv")
        let samplesPath = SampleColumns.path(forCSV: csvPath)
        // Held until the process exits: a second run writing the same results is refused
        // instead of interleaving its rows into them.
        let lock = try ResultsFolder.lock(folder: folder, suite: suite.name, csvPath: csvPath)
        defer { withExtendedLifetime(lock) {} }
        if FileManager.default.fileExists(atPath: csvPath) && !resume {
            guard overwrite else {
                throw ValidationError("\(csvPath) exists: pass --resume to continue it or --overwrite to start anew")
            }
            try FileManager.default.removeItem(atPath: csvPath)
            try? FileManager.default.removeItem(atPath: samplesPath)
        }
        let context = [("suite", suite.name)] + environment.columns
        let runner = SuiteRunner(suite: suite, configurations: configs, context: context, makePool: environment.makePool(_:))
        let appender: CSVAppender, samples: CSVAppender
        do {
            appender = try CSVAppender(path: csvPath, header: runner.header)
            samples = try CSVAppender(path: samplesPath, header: SampleColumns.header)
        } catch let error as CSVError {
            throw error
        } catch {
            throw CommandFailure("cannot write results to \(csvPath): \(ResultsFolder.reason(error, path: csvPath))")
        }
        if appender.droppedPartialRecord { SuiteRunner.stderrLine("\(csvPath): cut off a partial last row left by an interrupted run") }
        var measured: [String: Int] = [:]
        for r in appender.existing.rows.indices {
            measured[ResultColumns.keyString { appender.existing.value(r, $0) }, default: 0] += 1
        }
        SuiteRunner.stderrLine("\(suite.name): \(configs.count) configuration(s) → \(csvPath)")
        try runner.run(alreadyMeasured: measured, record: { fields, runs in
            // The samples first: a row in the results means its samples are written.
            if let runs {
                let values = Dictionary(fields, uniquingKeysWith: { a, _ in a })
                let key = ResultColumns.key.map { values[$0] ?? "" }, repetition = values["repetition"] ?? ""
                for (i, t) in runs.enumerated() {
                    try samples.append(key + [repetition, "\(i + 1)", String(format: "%.4f", t * 1e3)])
                }
            }
            try appender.append(fields: fields)
        })
        try RunEnvironment.render(csvPath: csvPath, baseline: suite.baselineMixer)
    }
}

/// Where a suite's results go, and who may write them.
enum ResultsFolder {
    /// A suite's name becomes file names: it must stay inside the results folder.
    static func checkSuiteName(_ name: String, file: String) throws {
        let bad = name.isEmpty || name.hasPrefix(".") || name.contains("/") || name.contains("\\")
            || name.unicodeScalars.contains { $0.value < 0x20 || $0 == "\u{7F}" } || name.utf8.count > 200
        if bad {
            throw CommandFailure("\(file): the suite's name '\(name)' cannot name its results files: use letters, digits, '-', '_' "
                + "and '.', not starting with '.', without '/' (at most 200 bytes)")
        }
    }

    /// An exclusive lock on `.SUITE.lock` in the folder (flock; released when the process ends,
    /// however it ends). The file stays: removing it would let a third run lock a new file while
    /// the second still holds the old one.
    static func lock(folder: String, suite: String, csvPath: String) throws -> FileHandle {
        let path = (folder as NSString).appendingPathComponent(".\(suite).lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CommandFailure("cannot write results to \(folder): \(String(cString: strerror(errno))) (creating \(path))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw CommandFailure("another vitbench run is writing \(csvPath) (it holds \(path)): wait for it to finish, or pass another --out")
        }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// A file-system error as a sentence, without Foundation's domain and code: what is in the
    /// way of `path`, found by walking up to the first part that exists.
    static func reason(_ error: Error, path: String) -> String {
        if let (ancestor, isFolder) = firstExisting(path) {
            if !isFolder { return "\(ancestor) is a file, not a folder" }
            if !FileManager.default.isWritableFile(atPath: ancestor) { return "\(ancestor) is not writable (permission denied)" }
        }
        return reason(error)
    }

    /// `path` or its nearest ancestor that exists, and whether it is a folder; nil when none
    /// below the root does.
    static func firstExisting(_ path: String) -> (path: String, isFolder: Bool)? {
        var ancestor = (path as NSString).standardizingPath
        var isFolder: ObjCBool = false
        while !ancestor.isEmpty && ancestor != "/" {
            if FileManager.default.fileExists(atPath: ancestor, isDirectory: &isFolder) { return (ancestor, isFolder.boolValue) }
            ancestor = (ancestor as NSString).deletingLastPathComponent
        }
        return FileManager.default.fileExists(atPath: ancestor, isDirectory: &isFolder) ? (ancestor, isFolder.boolValue) : nil
    }

    /// A file-system error as a sentence, without Foundation's domain and code.
    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
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
