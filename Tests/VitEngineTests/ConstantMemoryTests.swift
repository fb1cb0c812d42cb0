import XCTest
@testable import VitEngine

/// The memory estimate counts each operator's `constantFloats` beside the model's weights; these
/// tests hold operators to it by counting the packed weights (`PackedWeights.liveFloats`) an
/// operator and its bound plan keep alive.
final class ConstantMemoryTests: XCTestCase {
    private struct Case {
        let name: String
        let inputs: [[Int]]
        let make: () -> Operator
    }

    private func cases() -> [Case] {
        var rng = makeRNG()
        func conv(_ ci: Int, _ co: Int, _ k: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1,
                  residual: Bool = false) -> () -> Operator {
            let w = randomTensor([co, ci / groups, k, k], &rng), b = randomTensor([co], &rng)
            return { Conv2d(weight: w, bias: b, stride: stride, padding: padding, groups: groups, addsResidual: residual) }
        }
        let linear = (randomTensor([70, 40], &rng), randomTensor([70], &rng))
        let mlp = (randomTensor([56, 40], &rng), randomTensor([56], &rng), randomTensor([40, 56], &rng))
        let norm = (randomTensor([40], &rng).data, randomTensor([40], &rng).data)
        let se = (randomTensor([8, 32], &rng), randomTensor([8], &rng), randomTensor([32, 8], &rng), randomTensor([32], &rng))
        return [
            // 40 output columns: the panels pad to 48.
            Case(name: "1x1 conv", inputs: [[1, 8, 8, 24]], make: conv(24, 40, 1)),
            // Batch 2 of 64x64x32 maps runs image by image: one packed copy all the same.
            Case(name: "1x1 conv, image by image", inputs: [[2, 64, 64, 32]], make: conv(32, 32, 1)),
            Case(name: "small-input conv", inputs: [[1, 16, 16, 3]], make: conv(3, 16, 3, stride: 2, padding: 1)),
            Case(name: "depthwise conv", inputs: [[1, 8, 8, 16]], make: conv(16, 16, 3, padding: 1, groups: 16)),
            Case(name: "im2col conv", inputs: [[1, 8, 8, 40]], make: conv(40, 20, 5, padding: 2, groups: 2)),
            Case(name: "Winograd conv", inputs: [[1, 8, 8, 40], [1, 8, 8, 24]], make: conv(40, 24, 3, padding: 1, residual: true)),
            Case(name: "linear", inputs: [[1, 5, 40]], make: { Linear(weight: linear.0, bias: linear.1) }),
            Case(name: "pre-norm MLP", inputs: [[1, 5, 40]], make: {
                PointwiseMlp(norm: LayerNorm(gamma: norm.0, beta: norm.1), fc1: Linear(weight: mlp.0, bias: mlp.1, activation: .gelu),
                             fc2: Linear(weight: mlp.2))
            }),
            Case(name: "layernorm + linear", inputs: [[1, 5, 40]], make: {
                LayerNormLinear(norm: LayerNorm(gamma: norm.0, beta: norm.1), linear: Linear(weight: linear.0, bias: linear.1))
            }),
            Case(name: "squeeze-excite", inputs: [[1, 4, 4, 32]], make: {
                SqueezeExcite(reduceWeight: se.0, reduceBias: se.1, expandWeight: se.2, expandBias: se.3)
            }),
        ]
    }

    /// Packed floats alive once the operator is made and bound on `backend`, over those before,
    /// with the operator's promise.
    private func held(_ c: Case, backend: Backend) throws -> (held: Int, promised: Int) {
        let before = PackedWeights.liveFloats.load(ordering: .relaxed)
        let op = c.make()
        let b = PlanBuilder(backend: backend, pool: ThreadPool(threads: 1))
        let y = try b.apply(op, c.inputs.map { b.input($0) })
        let plan = try b.build(outputs: [y])
        let held = PackedWeights.liveFloats.load(ordering: .relaxed) - before
        withExtendedLifetime(plan) {}
        return (held, op.constantFloats)
    }

    /// On the packed backend an operator holds exactly what it promises: its kernel's layout
    /// only, packed once (the layout a BLAS backend multiplies by is never made).
    func testPackedBackendHoldsWhatTheEstimateCounts() throws {
        for c in cases() {
            let (held, promised) = try held(c, backend: .packed)
            XCTAssertEqual(held, promised, c.name)
        }
    }

    /// A BLAS backend holds its own layout only, never more than the packed backend's count.
    func testBLASBackendHoldsNoMoreThanTheEstimate() throws {
        for c in cases() {
            let (held, promised) = try held(c, backend: .openblas)
            XCTAssertGreaterThan(held, 0, c.name)
            XCTAssertLessThanOrEqual(held, promised, c.name)
        }
    }
}
