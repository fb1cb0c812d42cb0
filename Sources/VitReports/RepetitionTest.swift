import Foundation

/// A t-test on the logarithms of per-repetition medians — paired by round, or Welch's on two
/// groups: is NEW slower (or faster) than
/// BASE, judged on independent repetitions rather than on the runs inside one repetition?
///
/// Why repetitions: the runs of one repetition share a process, a memory layout, a frequency
/// state and the neighbours of that minute, so they are correlated; a test that treats them as
/// independent (Mann–Whitney U on pooled runs) finds "significant" differences between two runs
/// of the same binary. Each repetition's median is one observation; between repetitions the
/// things that drift are re-drawn, so their spread is what a difference has to beat.
///
/// Why logarithms: latencies vary multiplicatively (a busy neighbour costs a fraction, not a
/// fixed number of milliseconds), and a ratio NEW/BASE is what the gate thresholds. Why Welch:
/// the two sides' spreads need not be equal (a noisy minute on one side only).
public struct RepetitionTest: Sendable, Equatable {
    /// t of mean(log NEW) − mean(log BASE).
    public let t: Double
    /// Welch–Satterthwaite degrees of freedom.
    public let degreesOfFreedom: Double
    /// One-sided p-value of "NEW is slower" (small when NEW's repetitions are consistently slower).
    public let pSlower: Double
    /// One-sided p-value of "NEW is faster".
    public let pFaster: Double
    public let baseCount: Int, newCount: Int
    /// Whether repetitions were paired (the k-th of each side, measured next to each other in an
    /// interleaved job) rather than compared as two independent groups.
    public var paired: Bool = false

    /// The test the gate uses: paired when both sides have the same number of repetitions (their
    /// order is the rounds of an interleaved job, or a suite's repetitions in order), so that
    /// whatever the machine did in one round — the 1.4x drifts of a shared runner — cancels;
    /// Welch's two-group test otherwise.
    public static func test(base: [Double], new: [Double], pairing: Bool) -> RepetitionTest? {
        pairing && base.count == new.count ? paired(base: base, new: new) : test(base: base, new: new)
    }

    /// The paired t-test on d_k = log NEW_k − log BASE_k (one-sample t, n − 1 degrees of freedom).
    public static func paired(base: [Double], new: [Double]) -> RepetitionTest? {
        guard base.count >= 2, base.count == new.count, (base + new).allSatisfy({ $0 > 0 && $0.isFinite }) else { return nil }
        let d = zip(base, new).map { log($1) - log($0) }, n = Double(d.count)
        let mean = d.reduce(0, +) / n
        let variance = d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        var r: RepetitionTest
        if variance <= 0 {
            let t = mean == 0 ? 0 : mean > 0 ? Double.infinity : -Double.infinity
            r = RepetitionTest(t: t, degreesOfFreedom: n - 1, pSlower: mean > 0 ? 0 : mean < 0 ? 1 : 0.5,
                               pFaster: mean < 0 ? 0 : mean > 0 ? 1 : 0.5, baseCount: base.count, newCount: new.count)
        } else {
            let t = mean / (variance / n).squareRoot()
            let upper = StudentT.upperTail(t, degreesOfFreedom: n - 1)
            r = RepetitionTest(t: t, degreesOfFreedom: n - 1, pSlower: upper, pFaster: 1 - upper, baseCount: base.count, newCount: new.count)
        }
        r.paired = true
        return r
    }

    /// Welch's two-group test on per-repetition medians (positive, finite); nil with fewer than two on a side.
    public static func test(base: [Double], new: [Double]) -> RepetitionTest? {
        guard base.count >= 2, new.count >= 2, (base + new).allSatisfy({ $0 > 0 && $0.isFinite }) else { return nil }
        let x = base.map(log), y = new.map(log)
        func meanVariance(_ v: [Double]) -> (Double, Double) {
            let m = v.reduce(0, +) / Double(v.count)
            return (m, v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1))
        }
        let (mx, vx) = meanVariance(x), (my, vy) = meanVariance(y)
        let sx = vx / Double(x.count), sy = vy / Double(y.count), se2 = sx + sy
        let difference = my - mx
        guard se2 > 0 else {
            // Both sides without spread: only an exact tie is "no difference".
            let t = difference == 0 ? 0 : difference > 0 ? Double.infinity : -Double.infinity
            return RepetitionTest(t: t, degreesOfFreedom: Double(x.count + y.count - 2),
                                  pSlower: difference > 0 ? 0 : difference < 0 ? 1 : 0.5,
                                  pFaster: difference < 0 ? 0 : difference > 0 ? 1 : 0.5, baseCount: x.count, newCount: y.count)
        }
        let df = se2 * se2 / (sx * sx / Double(x.count - 1) + sy * sy / Double(y.count - 1))
        let t = difference / se2.squareRoot()
        let upper = StudentT.upperTail(t, degreesOfFreedom: df)
        return RepetitionTest(t: t, degreesOfFreedom: df, pSlower: upper, pFaster: 1 - upper, baseCount: x.count, newCount: y.count)
    }

    /// Holm's step-down correction: which of `pValues` stay significant when all of them are
    /// tested at once at family-wise level `alpha`. A gate over dozens of configurations at
    /// α each would fail on some configuration of almost every run of identical binaries.
    public static func holm(_ pValues: [Double], alpha: Double) -> [Bool] {
        let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
        var rejected = [Bool](repeating: false, count: pValues.count)
        for (rank, i) in order.enumerated() {
            guard pValues[i] <= alpha / Double(pValues.count - rank) else { break }
            rejected[i] = true
        }
        return rejected
    }
}

/// Student's t distribution.
public enum StudentT {
    /// P(T > t) for T with `degreesOfFreedom` (any positive real, as Welch's df is).
    public static func upperTail(_ t: Double, degreesOfFreedom v: Double) -> Double {
        guard t.isFinite else { return t > 0 ? 0 : 1 }
        let tail = 0.5 * regularizedIncompleteBeta(v / (v + t * t), v / 2, 0.5)
        return t >= 0 ? tail : 1 - tail
    }

    /// I_x(a, b) by its continued fraction (modified Lentz), using the symmetry
    /// I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
    static func regularizedIncompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logNormaliser: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logFront: Double = logNormaliser + a * log(x) + b * log(1 - x)
        if x > (a + 1) / (a + b + 2) { return 1 - regularizedIncompleteBeta(1 - x, b, a) }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...500 {
            let m = Double(m)
            let evenDenominator: Double = (a + 2 * m - 1) * (a + 2 * m)
            let even: Double = m * (b - m) * x / evenDenominator
            d = 1 + even * d
            if abs(d) < tiny { d = tiny }
            c = 1 + even / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            let oddDenominator: Double = (a + 2 * m) * (a + 2 * m + 1)
            let odd: Double = -(a + m) * (a + b + m) * x / oddDenominator
            d = 1 + odd * d
            if abs(d) < tiny { d = tiny }
            c = 1 + odd / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return exp(logFront) * h / a
    }
}
