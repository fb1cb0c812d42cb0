import Foundation

/// How much memory a configuration may take: `--memory-limit SIZE` when given, otherwise the
/// memory available now — `MemAvailable` of /proc/meminfo, or what the process's cgroup still
/// allows (its limit less its usage, reclaimable file cache not counted as used), if lower.
///
/// Every configuration's memory is estimated from shapes before anything big is allocated
/// (`MemoryGuard` in VitModels; `PlanBuilder.memoryEstimate`), and one over the budget is refused
/// with an error saying how much it would need — in a suite, an error row, and the run goes on.
/// `PlanBuilder.build` checks its arena against the budget too, before allocating it.
public enum MemoryBudget {
    /// The budget set by `--memory-limit`, in bytes; nil: the memory available.
    public static var limit: Int? {
        get { lock.withLock { storedLimit } }
        set { lock.withLock { storedLimit = newValue } }
    }
    nonisolated(unsafe) private static var storedLimit: Int?
    private static let lock = NSLock()

    /// The budget in bytes and where it comes from (for messages).
    public static func current() -> (bytes: Int, source: String) {
        if let limit { return (limit, "--memory-limit") }
        if let available = available() { return available }
        return (Int.max, "unknown (no /proc/meminfo)")
    }

    /// The memory available to this process now, and what said so.
    public static func available() -> (bytes: Int, source: String)? {
        var best: (Int, String)? = nil
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = Int(line.split(separator: " ").dropFirst().first ?? "") {
            best = (kb.multipliedReportingOverflow(by: 1024).overflow ? Int.max : kb * 1024, "MemAvailable")
        }
        if let cgroup = cgroupAvailable(), cgroup < best?.0 ?? Int.max {
            best = (cgroup, "the cgroup's memory limit less its usage")
        }
        return best
    }

    /// cgroup v2 (`memory.max`, `memory.current`, `inactive_file` of `memory.stat`), else v1.
    static func cgroupAvailable() -> Int? {
        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func stat(_ path: String, _ key: String) -> Int {
            guard let text = read(path) else { return 0 }
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, parts[0] == key, let v = Int(parts[1]) { return v }
            }
            return 0
        }
        var v2Dirs = ["/sys/fs/cgroup"]
        if let groups = read("/proc/self/cgroup"),
           let line = groups.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) {
            let path = String(line.dropFirst(3))
            if path != "/" && !path.isEmpty { v2Dirs.insert("/sys/fs/cgroup" + path, at: 0) }
        }
        for dir in v2Dirs {
            guard let max = read(dir + "/memory.max") else { continue }
            guard let limit = Int(max) else { return nil }  // "max": no limit
            let used = Int(read(dir + "/memory.current") ?? "") ?? 0
            let reclaimable = stat(dir + "/memory.stat", "inactive_file")
            return Swift.max(0, limit - Swift.max(0, used - reclaimable))
        }
        let v1 = "/sys/fs/cgroup/memory"
        if let text = read(v1 + "/memory.limit_in_bytes"), let limit = Int(text), limit < 1 << 60 {
            let used = Int(read(v1 + "/memory.usage_in_bytes") ?? "") ?? 0
            let reclaimable = stat(v1 + "/memory.stat", "total_inactive_file")
            return Swift.max(0, limit - Swift.max(0, used - reclaimable))
        }
        return nil
    }

    /// `8G`, `512M`, `1.5G`, `64K`, `1T` (binary units: G = 2^30 bytes; a trailing `B`/`iB` is
    /// allowed) or a number of bytes.
    public static func parse(_ text: String) throws -> Int {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        var body = Substring(t)
        for suffix in ["IB", "B"] where body.hasSuffix(suffix) && body.count > suffix.count {
            body = body.dropLast(suffix.count)
            break
        }
        var scale: Double = 1
        if let last = body.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last)] {
            scale = pow(1024, Double(power))
            body = body.dropLast()
        }
        guard let value = Double(body), value.isFinite, value > 0 else {
            throw MemoryLimitSyntaxError(text: text)
        }
        let bytes = value * scale
        guard bytes >= 1, bytes < 9.0e18 else { throw MemoryLimitSyntaxError(text: text) }
        return Int(bytes)
    }

    /// `1.5 GiB`, `512.0 MiB`, `12 KiB`.
    public static func format(_ bytes: Double) -> String {
        guard bytes.isFinite else { return "more than can be counted" }
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = bytes, i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        if i == 0 { return "\(Int(v)) bytes" }
        return v >= 100 ? String(format: "%.0f %@", v, units[i]) : String(format: "%.1f %@", v, units[i])
    }
}

/// A `--memory-limit` value that is not a size.
public struct MemoryLimitSyntaxError: Error, CustomStringConvertible {
    public let text: String
    public var description: String {
        "invalid memory limit '\(text)': expected a positive size such as 8G, 512M, 1.5G or a number of bytes"
    }
}

/// A configuration refused because it would need more memory than the budget allows.
public struct MemoryLimitError: Error, CustomStringConvertible {
    /// What was refused (`fastvit_t8 at 16384x16384, batch 1`).
    public let subject: String
    /// Bytes it would need (an estimate from shapes; an upper bound where `breakdown` says so).
    public let neededBytes: Double
    /// What the estimate is made of (`weights 16 MiB, activations 60 GiB, ...`).
    public let breakdown: String
    public let budgetBytes: Int
    public let budgetSource: String

    public init(subject: String, neededBytes: Double, breakdown: String, budgetBytes: Int, budgetSource: String) {
        self.subject = subject
        self.neededBytes = neededBytes
        self.breakdown = breakdown
        self.budgetBytes = budgetBytes
        self.budgetSource = budgetSource
    }

    public var description: String {
        "out of memory budget: \(subject) would need about \(MemoryBudget.format(neededBytes))"
            + (breakdown.isEmpty ? "" : " (\(breakdown))")
            + ", more than the budget of \(MemoryBudget.format(Double(budgetBytes))) (\(budgetSource)); "
            + "lower the resolution, batch or width, or set --memory-limit"
    }
}
