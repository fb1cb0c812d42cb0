import ArgumentParser
import Foundation
import VitEngine
import VitHarness
import VitModels
import VitReports

/// Protocol options shared by every command that measures.
struct ProtocolOptions: ParsableArguments {
    @Option(help: "Warm-up runs (at least), after the cold first run.")
    var warmupRuns: Int?
    @Option(help: "Warm-up time in seconds (at least).")
    var warmupSeconds: Double?
    @Option(help: "Measured runs (at least).")
    var minRuns: Int?
    @Option(help: "Measured time in seconds (at least).")
    var minSeconds: Double?
    @Option(help: "Stop measuring after this many seconds.")
    var maxSeconds: Double?
    @Option(help: "Flag a result noisy above this coefficient of variation.")
    var noiseThreshold: Double?

    func apply(to base: MeasurementProtocol) throws -> MeasurementProtocol {
        var p = base
        if let v = warmupRuns { p.warmupRuns = v }
        if let v = warmupSeconds { p.warmupSeconds = v }
        if let v = minRuns { p.minRuns = v }
        if let v = minSeconds { p.minSeconds = v }
        if let v = maxSeconds { p.maxSeconds = v }
        if let v = noiseThreshold { p.noiseThreshold = v }
        // As suites: finite durations of at most a day, run counts of at most Suite.maximumRuns.
        for (flag, v) in [("--warmup-seconds", p.warmupSeconds), ("--min-seconds", p.minSeconds), ("--max-seconds", p.maxSeconds),
                          ("--noise-threshold", p.noiseThreshold)] {
            guard v.isFinite else { throw ValidationError("\(flag) must be a finite number, got \(v)") }
        }
        guard p.minRuns >= 1, p.warmupRuns >= 0, p.minSeconds >= 0, p.maxSeconds > 0, p.warmupSeconds >= 0, p.noiseThreshold >= 0 else {
            throw ValidationError("protocol values must be positive")
        }
        for (flag, v) in [("--warmup-seconds", p.warmupSeconds), ("--min-seconds", p.minSeconds), ("--max-seconds", p.maxSeconds)]
        where v > Suite.maximumSeconds {
            throw ValidationError("\(flag) must be at most \(Int(Suite.maximumSeconds)) seconds (a day), got \(v)")
        }
        for (flag, v) in [("--warmup-runs", p.warmupRuns), ("--min-runs", p.minRuns)] where v > Suite.maximumRuns {
            throw ValidationError("\(flag) must be at most \(Suite.maximumRuns), got \(v)")
        }
        return p
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure one configuration: a model (or mixer) or a block at one resolution, batch and thread count.")

    @OptionGroup var selection: ModelSelection
    @OptionGroup var backendOption: BackendOption

    @Option(name: .shortAndLong, help: "Worker threads, or a sweep: 4, 1,2,all, 1..N, 1..all*2 (one row each).")
    var threads = "1"

    @Option(help: "Pinning of the engine's workers: \(PinningPolicy.syntax). (default: none)", transform: PinningPolicy.init(parsing:))
    var pin = PinningPolicy.none

    @Flag(help: "Print one JSON object per configuration (the fields of a CSV row, and every run's time as samples_ms) instead of the summary.")
    var json = false

    @Flag(help: "Print the CSV rows (with a header) instead of the summary.")
    var csv = false

    @OptionGroup var protocolOptions: ProtocolOptions

    @OptionGroup var kernelISA: KernelISAOption

    @OptionGroup var memoryLimit: MemoryLimitOption

    @OptionGroup var oversubscription: OversubscriptionOption

    @Option(help: "Threads OpenBLAS itself starts inside each product (openblas and packed backends; needs --threads 1). Not pinned by vitbench.")
    var blasThreads = 1

    func run() throws {
        OpenBLASPairing.reexecIfNeeded(for: kernelISA.isa)
        let proto = try protocolOptions.apply(to: MeasurementProtocol())
        let environment = try RunEnvironment.current()
        let policy = pin
        try memoryLimit.apply()
        let counts: [Int]
        do {
            counts = try ThreadSweep.parse(threads, policy: policy, topology: environment.topology,
                                           allowOversubscription: oversubscription.allowOversubscription)
        } catch {
            throw ValidationError("--threads: \(error)")
        }
        oversubscription.warn(counts, topology: environment.topology)
        var failures: [String] = []
        for (i, t) in counts.enumerated() {
            let config = try selection.configuration(threads: t, backend: backendOption.backend, pin: policy, isa: kernelISA.isa ?? .best,
                                                     blasThreads: blasThreads)
            let pinned = try environment.makePool(config)
            if !json && !csv || i == 0 { FileHandle.standardError.write("pinning: \(pinned.status)\n".data(using: .utf8)!) }
            let before = MachineLoad.snapshot()
            let result = BenchmarkRunner.measure(config, protocol: proto, pool: pinned.pool, cpus: pinned.cpus)
            let load = MachineLoad.between(before, MachineLoad.snapshot())
            pinned.finish()
            if i == 0 { for note in result.notes { FileHandle.standardError.write("note: \(note)\n".data(using: .utf8)!) } }
            if load.busy { FileHandle.standardError.write("warning: the machine was busy (\(load.description)): the timing is suspect\n".data(using: .utf8)!) }
            let fields = environment.columns + [("pinning_status", pinned.status)] + result.fields(noiseThreshold: proto.noiseThreshold)
                + load.columns
            if json {
                let samples = result.measurement.map { "[" + $0.samples.map { String(format: "%.4f", $0 * 1e3) }.joined(separator: ", ") + "]" } ?? "[]"
                print("{" + fields.map { "\(JSON.string($0.0)): \(JSON.value($0.1, column: $0.0))" }.joined(separator: ", ")
                      + ", \"samples_ms\": \(samples)}")
            } else if csv {
                if i == 0 { print(CSV.record(fields.map(\.0)), terminator: "") }
                print(CSV.record(fields.map(\.1)), terminator: "")
            } else {
                print(result.summary(load: load, noiseThreshold: proto.noiseThreshold))
            }
            if let error = result.error { failures.append(error) }
        }
        if !failures.isEmpty { throw CommandFailure(failures.joined(separator: "\n")) }
    }
}

