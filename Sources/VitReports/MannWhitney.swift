import Foundation

/// The Mann–Whitney U test (Wilcoxon rank-sum), two-sided: do two samples of run times come from
/// the same distribution? It assumes nothing about the shape of the distributions, which suits
/// latencies — skewed, with outliers and several modes — where a t-test does not.
///
/// Small samples without ties get the exact p-value (the distribution of U under the null,
/// counted); otherwise the normal approximation with the tie correction of the variance and a
/// continuity correction — the same numbers as SciPy's `mannwhitneyu(x, y, alternative='two-sided',
/// method='exact' / 'asymptotic')`.
public struct MannWhitneyU: Sendable, Equatable {
    public enum Method: String, Sendable {
        case exact, asymptotic
    }

    /// U of the first sample: the number of pairs (x, y) with x > y, ties counting ½.
    public let u: Double
    /// Two-sided p-value.
    public let pValue: Double
    public let method: Method
    /// The standardised statistic of the normal approximation (nil for the exact test).
    public let z: Double?
    public let n1: Int, n2: Int

    /// The exact distribution is used up to this many values in all, when there are no ties;
    /// beyond it the normal approximation is good and the counts grow large.
    public static let exactLimit = 40

    /// Tests `x` against `y`; nil when either is empty.
    public static func test(_ x: [Double], _ y: [Double]) -> MannWhitneyU? {
        let n1 = x.count, n2 = y.count
        guard n1 > 0, n2 > 0 else { return nil }
        // Midranks of the pooled sample, and the tie groups' sizes.
        let pooled = (x.map { ($0, true) } + y.map { ($0, false) }).sorted { $0.0 < $1.0 }
        var rankSumX = 0.0, tieTerm = 0.0
        var i = 0
        while i < pooled.count {
            var j = i
            while j + 1 < pooled.count && pooled[j + 1].0 == pooled[i].0 { j += 1 }
            let midrank = Double(i + j) / 2 + 1, t = Double(j - i + 1)
            for k in i...j where pooled[k].1 { rankSumX += midrank }
            tieTerm += t * t * t - t
            i = j + 1
        }
        let u1 = rankSumX - Double(n1 * (n1 + 1)) / 2
        let u2 = Double(n1 * n2) - u1
        let uMax = max(u1, u2)
        if tieTerm == 0 && n1 + n2 <= exactLimit {
            let p = min(1, 2 * exactUpperTail(Int(uMax.rounded()), n1, n2))
            return MannWhitneyU(u: u1, pValue: p, method: .exact, z: nil, n1: n1, n2: n2)
        }
        let n = Double(n1 + n2)
        let mean = Double(n1 * n2) / 2
        let variance = Double(n1 * n2) / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else {
            // Every value equal: no evidence of any difference.
            return MannWhitneyU(u: u1, pValue: 1, method: .asymptotic, z: 0, n1: n1, n2: n2)
        }
        let z = (uMax - mean - 0.5) / variance.squareRoot()
        let p = min(1, max(0, erfc(z / 2.squareRoot())))  // 2 · P(Z > z)
        return MannWhitneyU(u: u1, pValue: p, method: .asymptotic, z: z, n1: n1, n2: n2)
    }

    /// P(U ≥ u) under the null hypothesis for sample sizes m and n: the number of orderings of
    /// m x's and n y's with exactly k (x > y) pairs satisfies c(m, n, k) = c(m−1, n, k−n) + c(m, n−1, k)
    /// (the largest value is an x, beating all n y's, or a y).
    static func exactUpperTail(_ u: Int, _ m: Int, _ n: Int) -> Double {
        // counts[j] holds c(i, j, ·) for the current i.
        precondition(m > 0 && n > 0)
        var counts: [[Double]] = (0...n).map { _ in [1] }  // c(0, j, 0) = 1
        for i in 1...m {
            var next: [[Double]] = [[1]]  // c(i, 0, 0) = 1
            for j in 1...n {
                var c = [Double](repeating: 0, count: i * j + 1)
                for (k, v) in counts[j].enumerated() { c[k + j] += v }
                for (k, v) in next[j - 1].enumerated() { c[k] += v }
                next.append(c)
            }
            counts = next
        }
        let dist = counts[n]
        let total = dist.reduce(0, +)
        let tail = dist.indices.filter { $0 >= u }.reduce(0.0) { $0 + dist[$1] }
        return tail / total
    }

    /// The smallest two-sided p-value any result can reach with these sample sizes,
    /// 2 / C(n1 + n2, n1): with 3 runs each it is 0.1, so nothing can be significant at 0.05.
    public static func minimumPValue(_ n1: Int, _ n2: Int) -> Double {
        var logC = 0.0
        for k in 0..<min(n1, n2) { logC += log(Double(n1 + n2 - k)) - log(Double(k + 1)) }
        return min(1, 2 * exp(-logC))
    }
}
