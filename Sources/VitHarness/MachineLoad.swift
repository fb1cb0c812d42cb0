import Foundation

/// How busy the machine was around a measurement, from `/proc`: the load average before it, and
/// during it the CPU time other processes used and the time the hypervisor stole. A shared CI
/// runner or server changes a latency by tens of percent; a row that says so can be discounted
/// (`compare` treats a busy row as noisy) instead of passing for a regression.
public struct MachineLoad: Sendable, Equatable {
    /// One-minute load average when the configuration started (it includes vitbench's own
    /// earlier configurations, so it is context, not the verdict).
    public var loadAverage: Double?
    /// CPUs' worth of time used by other processes while the configuration ran: all CPUs' busy
    /// time less this process's own, over the wall time. 0.5 = half a core busy elsewhere.
    public var otherCPUs: Double?
    /// Percentage of all CPU time stolen by the hypervisor while the configuration ran.
    public var stealPercent: Double?

    /// Above these, a row is `busy`: another process used half a core, or the hypervisor stole 5%.
    public static let busyOtherCPUs = 0.5
    public static let busyStealPercent = 5.0

    public var busy: Bool {
        (otherCPUs ?? 0) >= MachineLoad.busyOtherCPUs || (stealPercent ?? 0) >= MachineLoad.busyStealPercent
    }

    /// What a warning about a busy machine says.
    public var description: String {
        var parts: [String] = []
        if let o = otherCPUs { parts.append(String(format: "other processes used %.2f CPUs", o)) }
        if let s = stealPercent { parts.append(String(format: "%.1f%% of CPU time stolen", s)) }
        if let l = loadAverage { parts.append(String(format: "load average %.2f before", l)) }
        return parts.joined(separator: ", ")
    }

    /// The row's columns: `load` (other processes' CPUs during), `load_avg_1m`, `steal_pct`, `busy`.
    public var columns: [(String, String)] {
        [("load", otherCPUs.map { String(format: "%.2f", $0) } ?? ""),
         ("load_avg_1m", loadAverage.map { String(format: "%.2f", $0) } ?? ""),
         ("steal_pct", stealPercent.map { String(format: "%.1f", $0) } ?? ""),
         ("busy", otherCPUs == nil && stealPercent == nil ? "" : busy ? "yes" : "no")]
    }

    /// The columns of a row measured elsewhere or not at all.
    public static let emptyColumns = MachineLoad().columns

    /// The counters at one moment.
    public struct Snapshot: Sendable {
        let wall: Double
        let loadAverage: Double?
        /// Summed over all CPUs, in clock ticks: busy (user+nice+system+irq+softirq), steal, total.
        let busyTicks: Double?, stealTicks: Double?, totalTicks: Double?
        /// This process's user+system CPU seconds, with its waited-for children's (an external
        /// runtime's runner is the measurement, not another process).
        let ownSeconds: Double
    }

    public static func snapshot(procRoot: String = "/proc") -> Snapshot {
        let loadavg = (try? String(contentsOfFile: procRoot + "/loadavg", encoding: .utf8))
            .flatMap { $0.split(separator: " ").first }.flatMap { Double($0) }
        var busy: Double?, steal: Double?, total: Double?
        if let stat = try? String(contentsOfFile: procRoot + "/stat", encoding: .utf8),
           let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) {
            // cpu user nice system idle iowait irq softirq steal guest guest_nice
            let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            if v.count >= 8 {
                busy = v[0] + v[1] + v[2] + v[5] + v[6]
                steal = v[7]
                total = v[0..<8].reduce(0, +)
            }
        }
        func cpuSeconds(_ who: Int32) -> Double {
            var usage = rusage()
            getrusage(who, &usage)
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
        }
        let own = cpuSeconds(RUSAGE_SELF.rawValue) + cpuSeconds(RUSAGE_CHILDREN.rawValue)
        return Snapshot(wall: Date().timeIntervalSince1970, loadAverage: loadavg, busyTicks: busy, stealTicks: steal,
                        totalTicks: total, ownSeconds: own)
    }

    /// The load between two snapshots of this process.
    public static func between(_ a: Snapshot, _ b: Snapshot) -> MachineLoad {
        var load = MachineLoad(loadAverage: a.loadAverage)
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let wall = b.wall - a.wall
        if let b0 = a.busyTicks, let b1 = b.busyTicks, wall > 0.05, ticksPerSecond > 0 {
            let busySeconds = (b1 - b0) / ticksPerSecond, own = b.ownSeconds - a.ownSeconds
            // Tick accounting is coarse (10 ms): small negatives are rounding.
            load.otherCPUs = max(0, (busySeconds - own) / wall)
        }
        if let s0 = a.stealTicks, let s1 = b.stealTicks, let t0 = a.totalTicks, let t1 = b.totalTicks, t1 > t0 {
            load.stealPercent = max(0, (s1 - s0) / (t1 - t0) * 100)
        }
        return load
    }
}
