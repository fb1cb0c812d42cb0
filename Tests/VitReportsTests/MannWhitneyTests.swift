import XCTest
@testable import VitReports

/// Reference values from SciPy 1.17: `mannwhitneyu(x, y, alternative='two-sided', method=...)`.
final class MannWhitneyTests: XCTestCase {
    func testSmallSampleIsExact() throws {
        // U by hand: 19 beats 11, 12, 17; 22, 29, 24 beat all four; 16 beats 11, 12 → 3 + 4 + 2 + 4 + 4 = 17.
        // P(U ≥ 17) for sizes 5 and 4 counts 7 of C(9, 4) = 126 orderings; two-sided 14/126 = 0.1111.
        let r = try XCTUnwrap(MannWhitneyU.test([19, 22, 16, 29, 24], [20, 11, 17, 12]))
        XCTAssertEqual(r.u, 17)
        XCTAssertEqual(r.method, .exact)
        XCTAssertEqual(r.pValue, 0.1111111111111111, accuracy: 1e-12)  // scipy method='exact'
        XCTAssertEqual(MannWhitneyU.exactUpperTail(17, 5, 4) * 126, 7, accuracy: 1e-9)
    }

    func testExactMatchesSciPyForTwelveEach() throws {
        let x: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], y: [Double] = [5.5, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]
        let r = try XCTUnwrap(MannWhitneyU.test(x, y))
        XCTAssertEqual(r.u, 7)
        XCTAssertEqual(r.method, .exact)
        XCTAssertEqual(r.pValue, 3.328210354728055e-05, accuracy: 1e-15)
        // The statistic is of the first sample; the p-value is symmetric.
        let s = try XCTUnwrap(MannWhitneyU.test(y, x))
        XCTAssertEqual(s.u, 137)
        XCTAssertEqual(s.pValue, r.pValue, accuracy: 1e-15)
    }

    func testTiesUseTheCorrectedNormalApproximation() throws {
        let r = try XCTUnwrap(MannWhitneyU.test([1.1, 2.2, 2.2, 3.3, 4.4, 5.5, 5.5, 6.6],
                                                [2.2, 3.3, 3.3, 7.7, 8.8, 9.9, 9.9, 10.1, 12.0]))
        XCTAssertEqual(r.u, 15)
        XCTAssertEqual(r.method, .asymptotic)
        XCTAssertEqual(r.pValue, 0.04716530806571235, accuracy: 1e-12)  // scipy method='asymptotic'
    }

    func testLargeSamplesUseTheNormalApproximation() throws {
        let x = [10.3456, 10.8216, 10.3304, 8.6968, 10.9054, 10.4464, 9.463, 10.5811, 10.3646, 10.2941, 10.0284, 10.5467, 9.2635,
                 9.8371, 9.5179, 10.5988, 10.0397, 9.7075, 9.2181, 9.7428, 10.0081, 9.7244, 11.2941, 11.0067, 7.2888]
        let y = [9.111, 10.8252, 10.5778, 11.2136, 11.2173, 13.1178, 9.888, 10.6224, 13.0428, 11.6467, 11.6631, 10.486, 9.3519,
                 11.1675, 11.109, 9.7726, 10.3168, 10.928, 10.0552, 10.9017, 11.0955, 11.0356, 10.4937, 11.5937, 11.8912,
                 11.3208, 10.1818, 11.7317, 10.4986, 11.8792]
        let r = try XCTUnwrap(MannWhitneyU.test(x, y))
        XCTAssertEqual(r.u, 155)
        XCTAssertEqual(r.method, .asymptotic)
        XCTAssertEqual(r.pValue, 0.00020707334388571426, accuracy: 1e-12)
    }

    func testDegenerateSamples() throws {
        XCTAssertNil(MannWhitneyU.test([], [1]))
        let same = try XCTUnwrap(MannWhitneyU.test([5, 5, 5], [5, 5, 5]))
        XCTAssertEqual(same.u, 4.5)
        XCTAssertEqual(same.pValue, 1)
        // Three runs each, completely separated: still p = 0.1, the smallest there is.
        let three = try XCTUnwrap(MannWhitneyU.test([3, 4, 5], [6, 7, 8]))
        XCTAssertEqual(three.u, 0)
        XCTAssertEqual(three.pValue, 0.1, accuracy: 1e-12)
        XCTAssertEqual(MannWhitneyU.minimumPValue(3, 3), 0.1, accuracy: 1e-12)
        XCTAssertEqual(MannWhitneyU.minimumPValue(5, 4), 2.0 / 126, accuracy: 1e-12)
        XCTAssertEqual(MannWhitneyU.test([1], [2])?.pValue, 1)
    }
}
