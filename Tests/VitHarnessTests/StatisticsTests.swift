import Foundation
import XCTest
import VitHarness

final class StatisticsTests: XCTestCase {
    func testSummaryOfAKnownSample() {
        let s = SampleStatistics([5, 1, 4, 2, 3])
        XCTAssertEqual(s.min, 1)
        XCTAssertEqual(s.max, 5)
        XCTAssertEqual(s.median, 3)
        XCTAssertEqual(s.mean, 3)
        XCTAssertEqual(s.standardDeviation, 2.5.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(s.p90, 4.6, accuracy: 1e-12)  // numpy.percentile([1..5], 90)
        XCTAssertEqual(s.coefficientOfVariation, 2.5.squareRoot() / 3, accuracy: 1e-12)
    }

    /// Ranks from the standard tables of distribution-free median intervals (e.g. Conover,
    /// Practical Nonparametric Statistics): n = 6 → (1, 6), 10 → (2, 9), 20 → (6, 15),
    /// 100 → (40, 61), 1-based.
    func testMedianConfidenceRanksMatchTables() {
        XCTAssertEqual(SampleStatistics.medianConfidenceRanks(5).0, 0)
        XCTAssertEqual(SampleStatistics.medianConfidenceRanks(5).1, 4)
        for (n, l, u) in [(6, 1, 6), (10, 2, 9), (20, 6, 15), (100, 40, 61)] {
            let (lo, hi) = SampleStatistics.medianConfidenceRanks(n)
            XCTAssertEqual(lo + 1, l, "n = \(n)")
            XCTAssertEqual(hi + 1, u, "n = \(n)")
        }
    }

    /// The interval covers the true median about 95% of the time (or more) on a skewed
    /// distribution: exponential with rate 1, median ln 2.
    func testMedianIntervalCoverageOnExponentialSamples() {
        var g = SystemRandomNumberGenerator()
        var covered = 0
        let trials = 2000
        for _ in 0..<trials {
            let xs = (0..<30).map { _ in -log(1 - Double.random(in: 0..<1, using: &g)) }
            let s = SampleStatistics(xs)
            if s.medianCILow <= log(2) && log(2) <= s.medianCIHigh { covered += 1 }
        }
        let rate = Double(covered) / Double(trials)
        // Exact coverage for n = 30 is 0.957; 2000 trials put the estimate within ±0.02 with
        // overwhelming probability.
        XCTAssertGreaterThan(rate, 0.93, "coverage \(rate)")
        XCTAssertLessThan(rate, 0.985, "coverage \(rate)")
    }

    func testNormalSamplesGiveTheirMoments() {
        var g = SystemRandomNumberGenerator()
        let xs = (0..<20000).map { _ -> Double in
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &g), u2 = Double.random(in: 0..<1, using: &g)
            return 10 + 2 * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
        let s = SampleStatistics(xs)
        XCTAssertEqual(s.mean, 10, accuracy: 0.1)
        XCTAssertEqual(s.standardDeviation, 2, accuracy: 0.1)
        XCTAssertEqual(s.median, 10, accuracy: 0.1)
        XCTAssertEqual(s.p90, 10 + 2 * 1.2816, accuracy: 0.15)
    }
}
