import XCTest
import VitEngine

/// The `xnnpack` backend: which operators go to XNNPACK (the plan's step kinds say so), that
/// each one computes what the reference twin does on random data, and that what XNNPACK has no
/// operator for stays on the engine's kernels. Skipped, with the package to install, where
/// XNNPACK is missing; CI installs it, and there a missing XNNPACK fails.
final class XNNPACKTests: XCTestCase {
    /// The step kinds of a one-operator plan on `backend`, and its output.
    private func run(_ op: Operator, _ inputs: [Tensor], _ backend: Backend, threads: Int) throws -> (kind: String, output: Tensor) {
        let b = PlanBuilder(backend: backend, pool: ThreadPool(threads: threads))
        let values = inputs.map { b.input($0.shape) }
        let out = try b.apply(op, values, name: "op")
        let plan = try b.build(outputs: [out])
        for (i, t) in inputs.enumerated() { try plan.setInput(t, at: i) }
        plan.run()
        return (plan.steps.map(\.kind).joined(separator: ","), plan.output())
    }

    private func check(_ op: Operator, _ inputs: [Tensor], delegated: Bool, tolerance: Float = 2e-5,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        guard let xnnpack = xnnpackBackend() else { return }
        let expected = try runOperator(op, inputs, backend: .reference, threads: 1)
        for threads in [1, 2, 4] {
            let (kind, got) = try run(op, inputs, xnnpack, threads: threads)
            XCTAssertEqual(kind.hasPrefix("xnnpack:"), delegated, "\(op.kind) ran as \(kind)", file: file, line: line)
            let err = got.relativeError(to: expected)
            XCTAssertLessThanOrEqual(err, tolerance, "\(kind), \(threads) threads, inputs \(inputs.map(\.shape)): \(err)", file: file, line: line)
        }
    }

    func testConvolutionsOfEveryShapeRunOnXNNPACK() throws {
        var rng = makeRNG()
        let x = randomTensor([2, 13, 11, 16], &rng)
        let cases: [(String, Conv2d)] = [
            ("1x1 with GELU and a residual", Conv2d(weight: randomTensor([16, 16, 1, 1], &rng, scale: 0.3), bias: randomTensor([16], &rng),
                                                    activation: .gelu, addsResidual: true)),
            ("3x3/2 dense with ReLU", Conv2d(weight: randomTensor([24, 16, 3, 3], &rng, scale: 0.2), bias: randomTensor([24], &rng),
                                             stride: 2, padding: 1, activation: .relu)),
            ("7x7 depthwise", Conv2d(weight: randomTensor([16, 1, 7, 7], &rng, scale: 0.2), bias: randomTensor([16], &rng),
                                     padding: 3, groups: 16)),
            ("3x3 grouped", Conv2d(weight: randomTensor([32, 4, 3, 3], &rng, scale: 0.2), bias: nil, padding: 1, groups: 4,
                                   activation: .hardswish)),
            ("channel multiplier 2, stride 2", Conv2d(weight: randomTensor([32, 1, 3, 3], &rng, scale: 0.2), bias: randomTensor([32], &rng),
                                                      stride: 2, padding: 1, groups: 16)),
            ("1x3 asymmetric", Conv2d(weight: randomTensor([8, 16, 1, 3], &rng, scale: 0.2), bias: randomTensor([8], &rng),
                                      stride: (1, 1), padding: (0, 1), groups: 1, activation: .silu)),
        ]
        for (what, conv) in cases {
            let inputs = conv.addsResidual ? [x, randomTensor([2, 13, 11, 16], &rng)] : [x]
            try check(conv, inputs, delegated: true)
            _ = what
        }
    }

    func testLinearsAndNormedLinearsRunOnXNNPACK() throws {
        var rng = makeRNG()
        let linear = Linear(weight: randomTensor([40, 24], &rng, scale: 0.3), bias: randomTensor([40], &rng), activation: .gelu,
                            addsResidual: true)
        try check(linear, [randomTensor([3, 7, 24], &rng), randomTensor([3, 7, 40], &rng)], delegated: true)
        let plain = Linear(weight: randomTensor([10, 24], &rng, scale: 0.3))
        try check(plain, [randomTensor([5, 24], &rng)], delegated: true)
        let norm = LayerNorm(gamma: randomTensor([24], &rng).data, beta: randomTensor([24], &rng).data, eps: 1e-6)
        let normed = LayerNormLinear(norm: norm, linear: Linear(weight: randomTensor([48, 24], &rng, scale: 0.3),
                                                                bias: randomTensor([48], &rng), activation: .relu))
        try check(normed, [randomTensor([2, 37, 24], &rng)], delegated: true)
    }

    func testPoolingAndElementwiseRunOnXNNPACKWhereItHasThem() throws {
        var rng = makeRNG()
        let x = randomTensor([2, 9, 10, 12], &rng)
        // PoolFormer's pooling leaves padding out of the divisor, as XNNPACK does.
        try check(Pool2d(.average, kernel: 3, stride: 1, padding: 1, countIncludePad: false), [x], delegated: true)
        try check(Pool2d(.average, kernel: 2, stride: 2), [x], delegated: true)
        try check(Pool2d(.max, kernel: 3, stride: 2, padding: 1), [x], delegated: true)
        // Counting padding in the divisor is not XNNPACK's: the engine's kernel runs it.
        try check(Pool2d(.average, kernel: 3, stride: 1, padding: 1, countIncludePad: true), [x], delegated: false)
        // A 1x1 window (LeViT's subsample) is below XNNPACK's smallest pooling.
        try check(Pool2d(.max, kernel: 1, stride: 2), [x], delegated: false)
        try check(GlobalAvgPool(), [x], delegated: true)
        try check(GlobalAvgPool(keepDims: true), [x], delegated: true)
        for op in [Binary.Op.add, .mul, .sub] {
            try check(Binary(op), [x, randomTensor([2, 9, 10, 12], &rng)], delegated: true)
            try check(Binary(op), [x, randomTensor([2, 12], &rng)], delegated: true)
            try check(Binary(op), [randomTensor([2, 5, 12], &rng), randomTensor([2, 1, 12], &rng)], delegated: true)
            try check(Binary(op, channelConstant: randomTensor([12], &rng).data), [x], delegated: true)
        }
        for a in [Activation.relu, .hardswish, .sigmoid] {
            try check(ActivationOp(a), [randomTensor([3, 17, 8], &rng, scale: 4)], delegated: true, tolerance: 1e-5)
        }
        // XNNPACK of 2022 has no GELU: the engine's kernel.
        try check(ActivationOp(.gelu), [randomTensor([3, 17, 8], &rng, scale: 4)], delegated: false)
    }

    func testBackendIsNamedAndSaysWhatRan() throws {
        guard let xnnpack = xnnpackBackend() else { return }
        XCTAssertEqual(try Backend.named("xnnpack").name, "xnnpack")
        XCTAssertTrue(xnnpack.delegatesToXNNPACK)
        XCTAssertTrue(Backend.names.contains("xnnpack"))
        // The package manager's version and the file this process mapped.
        XCTAssertTrue(XNNPACK.identity.hasPrefix("XNNPACK "), XNNPACK.identity)
        XCTAssertTrue(XNNPACK.identity.contains("libXNNPACK"), XNNPACK.identity)
        XCTAssertEqual(xnnpack.runtime, XNNPACK.identity)
        XCTAssertEqual(Backend.packed.runtime, "vitbench")
    }
}
