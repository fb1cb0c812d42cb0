import XCTest
@testable import VitEngine

final class SliceTokensTests: XCTestCase {
    func testMatchesReference() throws {
        var rng = makeRNG()
        try assertMatchesReference(SliceTokens(start: 0, count: 1), [randomTensor([3, 197, 24], &rng)], tolerance: 0)
        try assertMatchesReference(SliceTokens(start: 2, count: 5), [randomTensor([2, 7, 5], &rng)], tolerance: 0)
    }

    func testKnownCase() throws {
        let x = Tensor(shape: [2, 3, 2], data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        let y = try runOperator(SliceTokens(start: 1, count: 1), [x], backend: .packed, threads: 2)
        XCTAssertEqual(y.shape, [2, 1, 2])
        XCTAssertEqual(y.data, [3, 4, 9, 10])
    }

    func testRangePastTheTokensIsAShapeError() throws {
        let b = PlanBuilder(backend: .packed, pool: ThreadPool(threads: 1))
        XCTAssertThrowsError(try b.apply(SliceTokens(start: 5, count: 3), [b.input([1, 7, 4])], name: "pool")) { error in
            XCTAssertTrue("\(error)".contains("pool") && "\(error)".contains("5..<8"), "\(error)")
        }
    }
}
