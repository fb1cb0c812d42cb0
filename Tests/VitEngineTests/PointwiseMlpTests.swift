import XCTest
@testable import VitEngine

final class PointwiseMlpTests: XCTestCase {
    private func convMlp(dim: Int, hidden: Int, residual: Bool, rng: inout SplitMix64) -> PointwiseMlp {
        let fc1 = Conv2d(weight: randomTensor([hidden, dim, 1, 1], &rng, scale: 0.3), bias: randomTensor([hidden], &rng),
                         activation: .gelu)
        let fc2 = Conv2d(weight: randomTensor([dim, hidden, 1, 1], &rng, scale: 0.2), bias: randomTensor([dim], &rng),
                         addsResidual: residual)
        return PointwiseMlp(fc1: fc1, fc2: fc2)
    }

    /// Both paths against the reference on every kernel ISA, both optimised backends and XNNPACK
    /// (`assertMatchesReference` runs 1 and 3 threads): 126 rows are one row tile, so 3 threads
    /// run fc1 then fc2 in column blocks; 1152 rows are twelve tiles, enough for 3 threads to
    /// take whole row tiles through both products.
    func testMatchesReference() throws {
        var rng = makeRNG()
        for (shape, hidden) in [([2, 7, 9, 24], 40), ([2, 24, 24, 16], 48), ([1, 1, 1, 8], 8)] {
            for residual in [false, true] {
                let op = convMlp(dim: shape[3], hidden: hidden, residual: residual, rng: &rng)
                let inputs = [randomTensor(shape, &rng)] + (residual ? [randomTensor(shape, &rng)] : [])
                try assertMatchesReference(op, inputs)
            }
        }
        let tokens = PointwiseMlp(fc1: Linear(weight: randomTensor([56, 40], &rng, scale: 0.2), bias: randomTensor([56], &rng),
                                              activation: .hardswish),
                                  fc2: Linear(weight: randomTensor([40, 56], &rng, scale: 0.2), bias: nil, activation: .relu,
                                              addsResidual: true))
        try assertMatchesReference(tokens, [randomTensor([3, 197, 40], &rng), randomTensor([3, 197, 40], &rng)])
        // A pre-norm transformer's norm2 → fc1 → GELU → fc2 + residual: 197 tokens (3 threads: the
        // norm and fc1 as LayerNormLinear, then fc2) and 4 × 300 (3 threads: fused row tiles).
        for shape in [[1, 197, 24], [4, 300, 24]] {
            let op = prenormMlp(dim: 24, hidden: 64, rng: &rng)
            try assertMatchesReference(op, [randomTensor(shape, &rng, scale: 2), randomTensor(shape, &rng)])
        }
    }

    private func prenormMlp(dim: Int, hidden: Int, rng: inout SplitMix64) -> PointwiseMlp {
        PointwiseMlp(norm: LayerNorm(gamma: randomTensor([dim], &rng).data, beta: randomTensor([dim], &rng).data, eps: 1e-6),
                     fc1: Linear(weight: randomTensor([hidden, dim], &rng, scale: 0.2), bias: randomTensor([hidden], &rng), activation: .gelu),
                     fc2: Linear(weight: randomTensor([dim, hidden], &rng, scale: 0.2), bias: randomTensor([dim], &rng), addsResidual: true))
    }

    /// With a norm, the step computes what LayerNormLinear (norm2 → fc1) then fc2 compute.
    func testPrenormEqualsLayerNormLinearThenLinear() throws {
        var rng = makeRNG()
        for (shape, threads) in [([8, 197, 24], 2), ([1, 197, 24], 2), ([1, 197, 24], 1)] {
            let op = prenormMlp(dim: 24, hidden: 96, rng: &rng)
            let x = randomTensor(shape, &rng, scale: 2)
            let b = PlanBuilder(backend: .packed, pool: ThreadPool(threads: threads))
            let input = b.input(x.shape)
            let hidden = try b.apply(LayerNormLinear(norm: op.norm!, linear: op.fc1 as! Linear), [input])
            let out = try b.apply(op.fc2, [hidden, input])
            let plan = try b.build(outputs: [out])
            try plan.setInput(x)
            plan.run()
            let fused = try runOperator(op, [x, x], backend: .packed, threads: threads)
            XCTAssertLessThanOrEqual(fused.relativeError(to: plan.output()), 1e-6, "\(shape), \(threads) threads")
        }
    }

    /// Which path runs: row tiles through both products only when every worker gets several.
    func testRowTilesAreFusedOnlyWhenEveryWorkerHasSeveral() {
        XCTAssertTrue(PointwiseMlp.fusesRowTiles(rows: 4096, threads: 2))
        XCTAssertTrue(PointwiseMlp.fusesRowTiles(rows: 197, threads: 1))
        XCTAssertFalse(PointwiseMlp.fusesRowTiles(rows: 197, threads: 2))
        XCTAssertFalse(PointwiseMlp.fusesRowTiles(rows: 16, threads: 2))
    }

    /// The fused step computes what fc1 then fc2 compute as two steps, on both paths.
    func testEqualsTheTwoSteps() throws {
        var rng = makeRNG()
        for (shape, threads) in [([1, 40, 40, 24], 2), ([1, 5, 5, 24], 2), ([2, 12, 12, 24], 1)] {
            let op = convMlp(dim: 24, hidden: 72, residual: true, rng: &rng)
            let x = randomTensor(shape, &rng, scale: 2), r = randomTensor(shape, &rng)
            let b = PlanBuilder(backend: .packed, pool: ThreadPool(threads: threads))
            let input = b.input(x.shape), residual = b.input(r.shape)
            let hidden = try b.apply(op.fc1, [input])
            let out = try b.apply(op.fc2, [hidden, residual])
            let plan = try b.build(outputs: [out])
            try plan.setInput(x)
            try plan.setInput(r, at: 1)
            plan.run()
            let fused = try runOperator(op, [x, r], backend: .packed, threads: threads)
            XCTAssertLessThanOrEqual(fused.relativeError(to: plan.output()), 1e-6, "\(shape), \(threads) threads")
        }
    }

    func testWrongChannelsAndResidualAreShapeErrors() throws {
        var rng = makeRNG()
        let op = convMlp(dim: 8, hidden: 16, residual: true, rng: &rng)
        let b = PlanBuilder(backend: .packed, pool: ThreadPool(threads: 1))
        XCTAssertThrowsError(try b.apply(op, [b.input([1, 4, 4, 9]), b.input([1, 4, 4, 8])], name: "mlp")) { error in
            XCTAssertTrue("\(error)".contains("mlp"), "\(error)")
            XCTAssertTrue("\(error)".contains("8 input channels"), "\(error)")
        }
        XCTAssertThrowsError(try b.apply(op, [b.input([1, 4, 4, 8]), b.input([1, 4, 5, 8])], name: "mlp")) { error in
            XCTAssertTrue("\(error)".contains("residual shape"), "\(error)")
        }
        XCTAssertThrowsError(try b.apply(op, [b.input([1, 4, 4, 8])], name: "mlp")) { error in
            XCTAssertTrue("\(error)".contains("expects 2 inputs"), "\(error)")
        }
    }
}
