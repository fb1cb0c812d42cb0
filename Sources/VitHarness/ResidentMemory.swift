import Foundation

/// Peak resident memory of this process, per configuration: Linux lets a process reset its
/// high-water mark (`echo 5 > /proc/self/clear_refs`) and read it back (`VmHWM` in
/// /proc/self/status). Where either is unavailable the figure is the peak since start, or nil.
public enum ResidentMemory {
    public static func resetPeak() {
        if let fh = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            fh.write("5".data(using: .ascii)!)
            try? fh.close()
        }
    }

    /// Peak resident set size in bytes.
    public static func peakBytes() -> Int? {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") {
            return kb * 1024
        }
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return nil }
        return Int(usage.ru_maxrss) * 1024
    }
}
