import XCTest
@testable import VitEngine

final class AssembleTokensTests: XCTestCase {
    /// Every combination of prefix and positions, one or three parts (one of them a single
    /// token), against the reference twin on both optimised backends.
    func testMatchesReference() throws {
        var rng = makeRNG()
        let c = 20
        for parts in [[9], [49, 16, 1]] {
            for batch in [1, 3] {
                let inputs = parts.map { randomTensor([batch, $0, c], &rng) }
                for prefixTokens in [0, 1, 2] {
                    let prefix = prefixTokens > 0 ? randomTensor([prefixTokens, c], &rng) : nil
                    let total = prefixTokens + parts.reduce(0, +)
                    for positions in [nil, randomTensor([total, c], &rng)] {
                        try assertMatchesReference(AssembleTokens(channels: c, prefix: prefix, positions: positions), inputs,
                                                   tolerance: 0)
                    }
                }
            }
        }
    }

    /// [cls; a; b] + pos on a hand-checked case, two images.
    func testKnownCase() throws {
        let a = Tensor(shape: [2, 2, 1], data: [1, 2, 10, 20]), b = Tensor(shape: [2, 1, 1], data: [3, 30])
        let op = AssembleTokens(channels: 1, prefix: Tensor(shape: [1, 1], data: [-1]),
                                positions: Tensor(shape: [4, 1], data: [0.5, 0, 100, 0]))
        for backend in [Backend.reference, .packed] {
            let y = try runOperator(op, [a, b], backend: backend, threads: 2)
            XCTAssertEqual(y.shape, [2, 4, 1])
            XCTAssertEqual(y.data, [-0.5, 1, 102, 3, -0.5, 10, 120, 30])
        }
    }

    func testMismatchedShapesAreClearErrors() throws {
        let op = AssembleTokens(channels: 4, positions: Tensor(zeros: [5, 4]))
        let b = PlanBuilder(pool: ThreadPool(threads: 1))
        XCTAssertThrowsError(try b.apply(op, [b.input([1, 4, 4])], name: "assemble")) { error in
            XCTAssertTrue("\(error)".contains("position embedding holds 5 tokens, the sequence has 4"), "\(error)")
        }
        XCTAssertThrowsError(try b.apply(op, [b.input([1, 2, 4]), b.input([2, 3, 4])], name: "assemble")) { error in
            XCTAssertTrue("\(error)".contains("one batch size"), "\(error)")
        }
        XCTAssertThrowsError(try b.apply(op, [b.input([1, 5, 3])], name: "assemble")) { error in
            XCTAssertTrue("\(error)".contains("[N, T, 4]"), "\(error)")
        }
    }
}
