import Foundation
import VitEngine

/// Per-step timing of a plan: every step's median over several passes, with the aggregates a
/// reader needs to find where time goes — per block, per stage, per op kind — and the profiler's
/// own overhead (a profiled pass reads the clock around every step).
public struct LayerProfile {
    public struct Step {
        public let name: String
        public let kind: String
        public let outputShape: [Int]
        public let macs: Int
        public let bytes: Int
        public let medianSeconds: Double
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

    public let steps: [Step]
    /// Median of whole profiled passes (sum of steps, as timed).
    public let profiledSeconds: Double
    /// Median of unprofiled passes under the same protocol.
    public let unprofiledSeconds: Double
    /// Start offsets and durations of the steps of one representative pass (for the trace).
    public let tracePass: [(start: Double, duration: Double)]

    public var totalSteps: Double { steps.reduce(0) { $0 + $1.medianSeconds } }
    public var overhead: Double { unprofiledSeconds > 0 ? profiledSeconds / unprofiledSeconds - 1 : 0 }

    /// Measures `plan`: `passes` profiled passes after `warmup` passes, then the unprofiled
    /// median under `proto`.
    public static func measure(_ plan: Plan, passes: Int = 20, warmup: Int = 3, protocol proto: MeasurementProtocol) -> LayerProfile {
        let n = plan.steps.count
        for _ in 0..<warmup { plan.run() }
        var times = [[Double]](repeating: [], count: n)
        var passTotals: [Double] = []
        var lastPass: [(Double, Double)] = []
        for _ in 0..<max(passes, 1) {
            var pass = [(Double, Double)](repeating: (0, 0), count: n)
            var offset = 0.0
            plan.run { i, ns in
                let s = Double(ns) * 1e-9
                times[i].append(s)
                pass[i] = (offset, s)
                offset += s
            }
            passTotals.append(offset)
            lastPass = pass
        }
        let unprofiled = Measurement.run(proto) { plan.run() }.statistics.median
        let steps = plan.steps.enumerated().map { i, st in
            Step(name: st.name, kind: st.kind, outputShape: st.outputShape, macs: st.macs, bytes: st.bytesMoved,
                 medianSeconds: times[i].isEmpty ? 0 : SampleStatistics(times[i]).median)
        }
        return LayerProfile(steps: steps, profiledSeconds: SampleStatistics(passTotals).median,
                            unprofiledSeconds: unprofiled, tracePass: lastPass)
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
        var out = "# \(title)\n\n"
        out += "Profiled pass: \(ms(profiledSeconds)) ms (sum of \(steps.count) steps, median of passes); "
        out += "unprofiled: \(ms(unprofiledSeconds)) ms; profiler overhead: \(String(format: "%+.1f%%", 100 * overhead)).\n\n"
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

    /// Chrome trace (chrome://tracing, Perfetto) of one profiled pass: one complete event per step.
    public func chromeTrace(process: String) -> String {
        var events: [String] = ["{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\(jsonString(process))}}"]
        for (i, s) in steps.enumerated() where i < tracePass.count {
            let (start, dur) = tracePass[i]
            events.append("{\"name\":\(jsonString(s.name)),\"cat\":\(jsonString(s.kind)),\"ph\":\"X\",\"pid\":1,\"tid\":1,"
                + String(format: "\"ts\":%.3f,\"dur\":%.3f,", start * 1e6, dur * 1e6)
                + "\"args\":{\"op\":\(jsonString(s.kind)),\"output\":\(jsonString(s.outputShape.map(String.init).joined(separator: "x"))),\"macs\":\(s.macs)}}")
        }
        return "{\"traceEvents\":[\n" + events.joined(separator: ",\n") + "\n],\"displayTimeUnit\":\"ms\"}\n"
    }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if ch.value < 0x20 { out += String(format: "\\u%04x", ch.value) } else { out.unicodeScalars.append(ch) }
        }
    }
    return out + "\""
}
