import Foundation

/// Summary statistics of a sample of run times, with a distribution-free 95% confidence interval
/// of the median (order statistics: the ranks whose binomial(n, ½) probability brackets 95%),
/// which holds for the skewed, multi-modal distributions latency really has.
public struct SampleStatistics: Sendable, Equatable {
    public let count: Int
    public let min: Double, max: Double
    public let median: Double
    public let mean: Double
    /// Sample standard deviation (n − 1).
    public let standardDeviation: Double
    public let p90: Double, p99: Double
    public let medianCILow: Double, medianCIHigh: Double

    public var coefficientOfVariation: Double { mean > 0 ? standardDeviation / mean : 0 }

    public init(_ samples: [Double]) {
        precondition(!samples.isEmpty, "no samples")
        let s = samples.sorted()
        count = s.count
        min = s.first!
        max = s.last!
        median = SampleStatistics.quantile(s, 0.5)
        p90 = SampleStatistics.quantile(s, 0.9)
        p99 = SampleStatistics.quantile(s, 0.99)
        mean = s.reduce(0, +) / Double(count)
        let m = mean
        standardDeviation = count > 1 ? (s.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(count - 1)).squareRoot() : 0
        let (lo, hi) = SampleStatistics.medianConfidenceRanks(count)
        medianCILow = s[lo]
        medianCIHigh = s[hi]
    }

    /// Linear interpolation between closest ranks (numpy's default, "type 7").
    public static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = q * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down)), hi = Swift.min(lo + 1, sorted.count - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
    }

    /// 0-based ranks (l, u) with P(X_(l) ≤ median ≤ X_(u)) ≥ 95% for n samples; the whole range
    /// when n is too small for 95% (n < 6).
    public static func medianConfidenceRanks(_ n: Int, confidence: Double = 0.95) -> (Int, Int) {
        if n < 6 { return (0, n - 1) }
        // Binomial(n, 1/2) CDF, in log space for large n.
        var logp = [Double](repeating: 0, count: n + 1)
        let ln2n = Double(n) * log(2.0)
        for k in 0...n { logp[k] = lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1)) - ln2n }
        // The largest 1-based rank l with P(B ≤ l − 1) ≤ (1 − confidence) / 2 gives the interval
        // [X_(l), X_(n+1−l)], whose coverage is 1 − 2·P(B ≤ l − 1).
        var cdf = 0.0
        var l = 0
        while l < n / 2 {
            cdf += exp(logp[l])
            if cdf > (1 - confidence) / 2 { break }
            l += 1
        }
        return l == 0 ? (0, n - 1) : (l - 1, n - l)
    }
}
