import Foundation
import VitEngine

/// Runs a suite's configurations one after another: progress with an ETA on stderr, optional
/// cooldown, a failed configuration becomes a row with its error, and every finished row is
/// handed to `record` at once (the caller appends and flushes it), so an interrupted run keeps
/// everything it measured.
public struct SuiteRunner {
    public let suite: Suite
    public let configurations: [BenchConfiguration]
    /// Columns every row carries besides the measurement: suite, machine, commit, ...
    public let context: [(String, String)]
    /// Builds the engine's pool for a configuration, its workers pinned as the configuration
    /// says; its status goes into the row's `pinning_status` column.
    public let makePool: (BenchConfiguration) throws -> PinnedPool

    public init(suite: Suite, configurations: [BenchConfiguration], context: [(String, String)],
                makePool: @escaping (BenchConfiguration) throws -> PinnedPool) {
        self.suite = suite
        self.configurations = configurations
        self.context = context
        self.makePool = makePool
    }

    /// - Parameters:
    ///   - alreadyMeasured: rows already in the results file for each configuration key (resume):
    ///     that many of the configuration's repetitions are skipped, the rest measured.
    ///   - record: receives each finished row, in column order, and the run's samples in seconds
    ///     (nil when it failed).
    public func run(alreadyMeasured: [String: Int] = [:], progress: (String) -> Void = SuiteRunner.stderrLine,
                    record: ([(String, String)], [Double]?) throws -> Void) throws {
        // Repetition numbers follow the suite's order: the k-th occurrence of a configuration is
        // repetition k, whether it is measured now or was before an interruption.
        var seen: [String: Int] = [:], todo: [(configuration: BenchConfiguration, repetition: Int)] = []
        for c in configurations {
            let k = seen[c.key, default: 0] + 1
            seen[c.key] = k
            if k > alreadyMeasured[c.key, default: 0] { todo.append((c, k)) }
        }
        let skipped = configurations.count - todo.count
        if skipped > 0 { progress("resuming: \(skipped) of \(configurations.count) runs (configurations × repetitions) already measured") }
        let clock = ContinuousClock()
        let start = clock.now
        for (i, (c, repetition)) in todo.enumerated() {
            let elapsed = (clock.now - start).seconds
            let eta = i == 0 ? "?" : SuiteRunner.duration(elapsed / Double(i) * Double(todo.count - i))
            progress("[\(i + 1)/\(todo.count)] \(c.model) \(c.form.rawValue) \(c.resolution)px batch \(c.batch) "
                     + "\(c.threads) thread(s) pin \(c.pin) \(c.backend) — elapsed \(SuiteRunner.duration(elapsed)), ETA \(eta)")
            var status = ""
            let result: BenchResult
            let before = MachineLoad.snapshot()
            do {
                let pinned = try makePool(c)
                status = pinned.status
                if status.contains("NOT pinned") || status.contains("partly") { progress("  \(status)") }
                result = BenchmarkRunner.measure(c, protocol: suite.measurement, pool: pinned.pool, cpus: pinned.cpus)
                pinned.finish()
            } catch {
                result = BenchResult(configuration: c, measurement: nil, macs: 0, parameters: 0, error: "\(error)")
            }
            let load = MachineLoad.between(before, MachineLoad.snapshot())
            if load.busy { progress("  warning: the machine was busy (\(load.description)): the row is marked busy") }
            if let e = result.error { progress("  failed: \(e.split(separator: "\n").first ?? "")") }
            else if let m = result.measurement {
                let noisy = m.statistics.coefficientOfVariation > suite.measurement.noiseThreshold ? " (noisy)" : ""
                progress(String(format: "  median %.3f ms, CV %.3f%@", m.statistics.median * 1e3, m.statistics.coefficientOfVariation, noisy))
            }
            let timestamp = ISO8601DateFormatter().string(from: Date())
            try record(context + [("pinning_status", status), ("timestamp", timestamp), ("repetition", "\(repetition)"),
                                  ("cooldown_s", String(suite.cooldownSeconds)), ("interleaved", suite.interleave ? "yes" : "no")]
                       + result.fields(noiseThreshold: suite.measurement.noiseThreshold) + load.columns,
                       result.measurement?.samples)
            if suite.cooldownSeconds > 0 && i + 1 < todo.count { Thread.sleep(forTimeInterval: suite.cooldownSeconds) }
        }
        progress("done: \(todo.count) configurations in \(SuiteRunner.duration((clock.now - start).seconds))")
    }

    /// The columns of every row this runner writes, in order.
    public var header: [String] {
        let probe = BenchResult(configuration: BenchConfiguration(model: "", resolution: 1), measurement: nil, macs: 0,
                                parameters: 0, error: "")
        return context.map(\.0) + ["pinning_status", "timestamp", "repetition", "cooldown_s", "interleaved"]
            + probe.fields(noiseThreshold: 0).map(\.0) + MachineLoad.emptyColumns.map(\.0)
    }

    public static func stderrLine(_ s: String) {
        FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
    }

    static func duration(_ s: Double) -> String {
        s < 60 ? String(format: "%.0fs", s) : s < 3600 ? String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60)
            : String(format: "%dh%02dm", Int(s) / 3600, Int(s) % 3600 / 60)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
