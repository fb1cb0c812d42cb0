import Foundation
import VitReports
import VitEngine

/// Per-step timing of a plan: every step's median over several passes, with the aggregates a
/// reader needs to find where time goes — per block, per stage, per op kind — and the profiler's
/// own overhead (a profiled pass reads the clock around every step).
///
/// The tables add up: their total is the sum of the step medians, and the header leads with that
/// same total (the median of whole passes is shown beside it, and a warning when the two part,
/// which happens when the machine is busy). The overhead comes from profiled and unprofiled
/// passes alternated in pairs, so that both see the same drift of a shared machine, as the median
/// of the pairs' ratios with a distribution-free 95% confidence interval.
public struct LayerProfile {
    public struct Step {
        public let name: String
        public let kind: String
        public let outputShape: [Int]
        public let macs: Int
        public let bytes: Int
        public let medianSeconds: Double
        /// Images the step ran on one at a time in a pass (1: the whole batch at once); its time
        /// is the sum over them.
        public var images: Int = 1
        public var gflops: Double { medianSeconds > 0 ? 2 * Double(macs) / medianSeconds * 1e-9 : 0 }
        /// FLOPs per byte moved (inputs + output + weights once).
        public var arithmeticIntensity: Double { bytes > 0 ? 2 * Double(macs) / Double(bytes) : 0 }
    }

    public struct Group {
        public let name: String
        public let steps: Int
        public let seconds: Double
        public let macs: Int
    }

    /// One task a worker ran during the traced pass, in seconds from the pass's start.
    public struct TraceTask {
        public let worker: Int
        public let step: Int
        public let start: Double
        public let duration: Double
    }

    public let steps: [Step]
    /// Median of whole profiled passes (each the sum of its steps, as timed).
    public let profiledSeconds: Double
    /// Median of the unprofiled passes alternated with them.
    public let unprofiledSeconds: Double
    /// Profiled ÷ unprofiled time of each alternated pair.
    public let overheadRatios: SampleStatistics
    /// Every run of a step in one traced pass, in order: its step's index, start offset and
    /// duration (a step that runs image by image has one per image).
    public let tracePass: [(step: Int, start: Double, duration: Double)]
    /// Every task of the traced pass, per worker (empty for a one-thread pool's inline steps).
    public let traceTasks: [TraceTask]
    public let threads: Int

    /// The tables' total: the sum of the steps' medians.
    public var totalSteps: Double { steps.reduce(0) { $0 + $1.medianSeconds } }
    /// Median relative overhead of profiling, with its 95% confidence interval.
    public var overhead: Double { overheadRatios.median - 1 }
    public var overheadInterval: (low: Double, high: Double) { (overheadRatios.medianCILow - 1, overheadRatios.medianCIHigh - 1) }
    /// How far the tables' total is from the median whole pass (0 on a quiet machine).
    public var passDisagreement: Double { profiledSeconds > 0 ? totalSteps / profiledSeconds - 1 : 0 }

    /// Measures `plan`: `warmup` passes, then profiled and unprofiled passes alternated in pairs
    /// until there are at least `passes` pairs and `proto.minSeconds` have gone by (never past
    /// `proto.maxSeconds` once `passes` pairs are in), then one traced pass that logs every task of
    /// every worker.
    public static func measure(_ plan: Plan, passes: Int = 20, warmup: Int = 3, protocol proto: MeasurementProtocol) -> LayerProfile {
        let n = plan.steps.count
        for _ in 0..<warmup { plan.run() }
        var times = [[Double]](repeating: [], count: n)
        var passTotals: [Double] = [], unprofiled: [Double] = [], ratios: [Double] = []
        func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
        let start = now()
        while true {
            let elapsed = Double(now() - start) * 1e-9
            if passTotals.count >= max(passes, 1) && (elapsed >= proto.minSeconds || elapsed >= proto.maxSeconds) { break }
            let t0 = now()
            plan.run()
            let plain = Double(now() - t0) * 1e-9
            // A step that runs image by image reports once per image: its time is the sum.
            var pass = [Double](repeating: 0, count: n)
            plan.run { i, ns in pass[i] += Double(ns) * 1e-9 }
            for i in 0..<n { times[i].append(pass[i]) }
            let total = pass.reduce(0, +)
            unprofiled.append(plain)
            passTotals.append(total)
            ratios.append(plain > 0 ? total / plain : 1)
        }
        // The traced pass: step intervals on the caller, task intervals on every worker.
        let log = TaskLog(workers: plan.pool.threadCount)
        plan.pool.taskLog = log
        // Every run of a step, in order: a step that runs image by image has one per image.
        var stepIntervals: [(step: Int, start: UInt64, end: UInt64)] = []
        let passStart = now()
        plan.run { i, ns in
            let end = now()
            stepIntervals.append((i, end - min(ns, end), end))
        }
        plan.pool.taskLog = nil
        func seconds(_ t: UInt64) -> Double { Double(Int64(bitPattern: t &- passStart)) * 1e-9 }
        var tasks: [TraceTask] = []
        for (w, worker) in log.workers.enumerated() {
            for iv in worker.intervals {
                // The step whose interval holds the task's start (steps run one after another).
                var lo = 0, hi = stepIntervals.count - 1
                while lo < hi {
                    let mid = (lo + hi + 1) / 2
                    if stepIntervals[mid].start <= iv.start { lo = mid } else { hi = mid - 1 }
                }
                tasks.append(TraceTask(worker: w, step: stepIntervals.isEmpty ? 0 : stepIntervals[lo].step, start: seconds(iv.start),
                                       duration: Double(iv.end - iv.start) * 1e-9))
            }
        }
        let steps = plan.steps.enumerated().map { i, st in
            Step(name: st.name, kind: st.kind, outputShape: st.outputShape, macs: st.macs, bytes: st.bytesMoved,
                 medianSeconds: times[i].isEmpty ? 0 : SampleStatistics(times[i]).median, images: st.images)
        }
        return LayerProfile(steps: steps, profiledSeconds: SampleStatistics(passTotals).median,
                            unprofiledSeconds: SampleStatistics(unprofiled).median, overheadRatios: SampleStatistics(ratios),
                            tracePass: stepIntervals.map { ($0.step, seconds($0.start), Double($0.end - $0.start) * 1e-9) },
                            traceTasks: tasks, threads: plan.pool.threadCount)
    }

    /// `stages.2` for `stages.2.blocks.3.token_mixer`; the first component otherwise.
    public static func stage(of path: String) -> String {
        let parts = path.split(separator: ".").map(String.init)
        guard let first = parts.first else { return "" }
        if parts.count > 1, Int(parts[1]) != nil { return "\(first).\(parts[1])" }
        return first
    }

    /// The block a step belongs to: the stage plus the next numbered module
    /// (`stages.2.blocks.3`, `stages.1.4` in MobileOne, `stem.0`), or the stage itself.
    public static func block(of path: String) -> String {
        let parts = path.split(separator: ".").map(String.init)
        let stageParts = stage(of: path).split(separator: ".").count
        var i = stageParts
        while i < parts.count {
            if Int(parts[i]) != nil { return parts[0...i].joined(separator: ".") }
            i += 1
        }
        return stage(of: path)
    }

    public func grouped(by key: (Step) -> String) -> [Group] {
        var order: [String] = []
        var acc: [String: (Int, Double, Int)] = [:]
        for s in steps {
            let k = key(s)
            if acc[k] == nil { order.append(k) }
            let a = acc[k, default: (0, 0, 0)]
            acc[k] = (a.0 + 1, a.1 + s.medianSeconds, a.2 + s.macs)
        }
        return order.map { Group(name: $0, steps: acc[$0]!.0, seconds: acc[$0]!.1, macs: acc[$0]!.2) }
    }

    public var byStage: [Group] { grouped { LayerProfile.stage(of: $0.name) } }
    public var byBlock: [Group] { grouped { LayerProfile.block(of: $0.name) } }
    /// Op kinds, slowest first ("all depthwise convs" is `conv2d.depthwise`).
    public var byKind: [Group] { grouped { $0.kind }.sorted { $0.seconds > $1.seconds } }

    // MARK: - Rendering

    public func markdown(title: String, top: Int) -> String {
        let total = totalSteps
        func ms(_ s: Double) -> String { String(format: "%.3f", s * 1e3) }
        func pct(_ s: Double) -> String { String(format: "%.1f%%", total > 0 ? 100 * s / total : 0) }
        func signedPct(_ v: Double) -> String { String(format: "%+.1f%%", 100 * v) }
        var out = "# \(title)\n\n"
        out += "Steps: \(ms(total)) ms — the sum of the \(steps.count) steps' medians over \(overheadRatios.count) passes; "
        out += "every table below adds up to it.\n"
        out += "Whole passes (medians): profiled \(ms(profiledSeconds)) ms, unprofiled \(ms(unprofiledSeconds)) ms; "
        out += "profiler overhead \(signedPct(overhead)) (95% CI \(signedPct(overheadInterval.low)) … \(signedPct(overheadInterval.high)), "
        out += "\(overheadRatios.count) alternated pairs).\n"
        let byImage = steps.filter { $0.images > 1 }
        if let images = byImage.first?.images {
            out += "\(byImage.count) of the \(steps.count) steps ran image by image (their tensors are large per image: the batch "
            out += "goes through them one image at a time, each image's activations staying in cache); each one's time is the "
            out += "sum over its \(images) images.\n"
        }
        if abs(passDisagreement) > 0.1 {
            out += "\n**Warning:** the steps' total is \(signedPct(passDisagreement)) off the median profiled pass: passes varied "
            out += "widely (a busy or throttled machine); treat the split with care, or profile again with more `--passes`.\n"
        }
        out += "\n"
        out += "## Slowest \(min(top, steps.count)) steps\n\n"
        out += "| module | op | output | MACs (M) | MB moved | median ms | % | GFLOP/s | FLOP/byte |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n"
        for s in steps.sorted(by: { $0.medianSeconds > $1.medianSeconds }).prefix(top) {
            out += "| \(s.name) | \(s.kind) | \(s.outputShape.map(String.init).joined(separator: "x")) | "
            out += String(format: "%.2f | %.2f | ", Double(s.macs) / 1e6, Double(s.bytes) / 1e6)
            out += "\(ms(s.medianSeconds)) | \(pct(s.medianSeconds)) | \(String(format: "%.1f", s.gflops)) | \(String(format: "%.2f", s.arithmeticIntensity)) |\n"
        }
        for (heading, groups) in [("stage", byStage), ("op kind", byKind)] {
            out += "\n## Per \(heading)\n\n| \(heading) | steps | ms | % | GMACs | GFLOP/s |\n|---|---:|---:|---:|---:|---:|\n"
            for g in groups {
                let gf = g.seconds > 0 ? 2 * Double(g.macs) / g.seconds * 1e-9 : 0
                out += "| \(g.name) | \(g.steps) | \(ms(g.seconds)) | \(pct(g.seconds)) | \(String(format: "%.3f", Double(g.macs) / 1e9)) | \(String(format: "%.1f", gf)) |\n"
            }
        }
        out += "\n## Per block\n\n| block | steps | ms | % |\n|---|---:|---:|---:|\n"
        for g in byBlock { out += "| \(g.name) | \(g.steps) | \(ms(g.seconds)) | \(pct(g.seconds)) |\n" }
        return out
    }

    /// One row per step.
    public func csv() -> String {
        var out = "index,module,op,output_shape,macs,bytes,median_ms,percent,gflops,flop_per_byte\n"
        let total = totalSteps
        for (i, s) in steps.enumerated() {
            out += "\(i),\(s.name),\(s.kind),\(s.outputShape.map(String.init).joined(separator: "x")),\(s.macs),\(s.bytes),"
            out += String(format: "%.5f,%.3f,%.3f,%.4f\n", s.medianSeconds * 1e3, total > 0 ? 100 * s.medianSeconds / total : 0,
                          s.gflops, s.arithmeticIntensity)
        }
        return out
    }

    /// Chrome trace (chrome://tracing, Perfetto) of the traced pass: a "plan steps" track with one
    /// complete event per step, and one track per worker with an event per task it ran (named by
    /// its step), so that idle workers, stragglers and serial steps show.
    public func chromeTrace(process: String) -> String {
        var events: [String] = ["{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\(JSON.string(process))}}",
                                "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":1,\"args\":{\"name\":\"plan steps\"}}"]
        for w in 0..<threads {
            let name = w == 0 ? "worker 0 (calling thread)" : "worker \(w)"
            events.append("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":\(w + 2),\"args\":{\"name\":\(JSON.string(name))}}")
        }
        func event(_ s: Step, tid: Int, start: Double, duration: Double) -> String {
            "{\"name\":\(JSON.string(s.name)),\"cat\":\(JSON.string(s.kind)),\"ph\":\"X\",\"pid\":1,\"tid\":\(tid),"
                + String(format: "\"ts\":%.3f,\"dur\":%.3f,", start * 1e6, duration * 1e6)
                + "\"args\":{\"op\":\(JSON.string(s.kind)),\"output\":\(JSON.string(s.outputShape.map(String.init).joined(separator: "x"))),\"macs\":\(s.macs)}}"
        }
        for run in tracePass where run.step < steps.count {
            events.append(event(steps[run.step], tid: 1, start: run.start, duration: run.duration))
        }
        for t in traceTasks where t.step < steps.count {
            events.append(event(steps[t.step], tid: t.worker + 2, start: t.start, duration: t.duration))
        }
        return "{\"traceEvents\":[\n" + events.joined(separator: ",\n") + "\n],\"displayTimeUnit\":\"ms\"}\n"
    }
}
