import XCTest
@testable import VitEngine

final class LayerNormLinearTests: XCTestCase {
    private func makeOp(k: Int, n: Int, activation: Activation = .none, residual: Bool = false, bias: Bool = true,
                        rng: inout SplitMix64) -> LayerNormLinear {
        let norm = LayerNorm(gamma: randomTensor([k], &rng).data, beta: randomTensor([k], &rng).data, eps: 1e-6)
        let linear = Linear(weight: randomTensor([n, k], &rng, scale: 0.2), bias: bias ? randomTensor([n], &rng) : nil,
                            activation: activation, addsResidual: residual)
        return LayerNormLinear(norm: norm, linear: linear)
    }

    /// One row, rows within one tile, and 197 rows (two full tiles of 96 and a remainder), with
    /// and without bias, activation and residual, on rank 2 and rank 3 inputs.
    func testMatchesReference() throws {
        var rng = makeRNG()
        for (rows, k, n) in [(1, 5, 3), (37, 64, 96), (197, 48, 144)] {
            let plain = makeOp(k: k, n: n, bias: false, rng: &rng)
            try assertMatchesReference(plain, [randomTensor([rows, k], &rng)])
            let fused = makeOp(k: k, n: n, activation: .gelu, residual: true, rng: &rng)
            try assertMatchesReference(fused, [randomTensor([rows, k], &rng), randomTensor([rows, n], &rng)])
        }
        try assertMatchesReference(makeOp(k: 24, n: 40, activation: .hardswish, rng: &rng), [randomTensor([2, 99, 24], &rng)])
    }

    /// The fused step computes what LayerNorm then Linear compute as two steps.
    func testEqualsTheTwoSteps() throws {
        var rng = makeRNG()
        let op = makeOp(k: 40, n: 56, activation: .gelu, rng: &rng)
        let x = randomTensor([3, 65, 40], &rng, scale: 3)
        let b = PlanBuilder(backend: .packed, pool: ThreadPool(threads: 2))
        let input = b.input(x.shape)
        let normed = try b.apply(op.norm, [input])
        let out = try b.apply(op.linear, [normed])
        let plan = try b.build(outputs: [out])
        try plan.setInput(x)
        plan.run()
        let fused = try runOperator(op, [x], backend: .packed, threads: 2)
        XCTAssertLessThanOrEqual(fused.relativeError(to: plan.output()), 1e-6)
    }

    func testWrongWidthIsAShapeError() throws {
        var rng = makeRNG()
        let b = PlanBuilder(backend: .packed, pool: ThreadPool(threads: 1))
        XCTAssertThrowsError(try b.apply(makeOp(k: 8, n: 4, rng: &rng), [b.input([2, 9])], name: "qkv")) { error in
            XCTAssertTrue("\(error)".contains("qkv"), "\(error)")
            XCTAssertTrue("\(error)".contains("last dimension 8"), "\(error)")
        }
    }
}
