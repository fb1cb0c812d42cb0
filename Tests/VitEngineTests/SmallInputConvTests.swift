import XCTest
@testable import VitEngine

/// The few-input-channels conv kernel (`Conv2d`'s small-input path) and its NCHW-reading form,
/// against the reference conv, and the plan builder's folding of the image transpose into it.
final class SmallInputConvTests: XCTestCase {
    /// (in channels, out channels, kernel, stride, padding, H, W). Out channels cover one, two
    /// and several 16-channel vectors, 64-channel panels and tails (17, 24, 80, 200); widths
    /// cover outputs narrower than a register tile of pixels and windows wider than the input.
    let cases: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (3, 16, 3, 2, 1, 17, 19),    // LeViT / MobileViT stem, odd size
        (3, 48, 3, 2, 1, 15, 13),    // MobileOne / FastViT stem
        (3, 64, 7, 4, 3, 31, 29),    // PoolFormer-like 7x7/4 stem
        (3, 24, 16, 16, 0, 32, 48),  // DeiT-like 16x16 patch embedding
        (3, 17, 4, 4, 0, 18, 13),    // patchify, 3 output columns, cout 17
        (1, 24, 3, 1, 1, 9, 7),
        (2, 17, 7, 1, 3, 6, 5),      // window wider than the input: every pixel is border
        (4, 48, 1, 2, 0, 9, 9),      // strided 1x1
        (4, 80, 3, 1, 1, 7, 30),     // 80 = a 64-channel panel and a 16-channel one
        (1, 200, 4, 2, 1, 10, 11),   // three full panels and an 8-channel tail
        (2, 8, 1, 1, 3, 4, 5),       // 1x1 with padding 3: the outer rings are bias only
        (3, 33, 16, 4, 3, 21, 37),   // 16x16 kernel, stride 4, padding 3
        (16, 32, 3, 2, 1, 12, 11),   // LeViT's second stem conv
        (32, 24, 3, 1, 1, 8, 9),     // the most input channels the path takes
    ]

    /// Case i runs activation i (cycling through all of them) and, for odd i, adds a residual.
    func conv(_ i: Int, _ rng: inout SplitMix64) -> Conv2d {
        let (ci, co, k, s, p, _, _) = cases[i]
        let activations = Activation.allCases
        return Conv2d(weight: randomTensor([co, ci, k, k], &rng, scale: 0.3), bias: randomTensor([co], &rng),
                      stride: s, padding: p, activation: activations[i % activations.count],
                      addsResidual: i % 2 == 1)
    }

    func inputs(_ i: Int, _ conv: Conv2d, batch: Int, _ rng: inout SplitMix64) -> [Tensor] {
        let (ci, co, k, s, p, h, w) = cases[i]
        let x = randomTensor([batch, h, w, ci], &rng)
        guard conv.addsResidual else { return [x] }
        return [x, randomTensor([batch, (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1, co], &rng)]
    }

    /// The optimised binding (every kernel ISA variant, both optimised backends, 1 and 2
    /// threads) against `expected`: each variant has its own tile shapes.
    func assertOptimized(_ op: Operator, _ inputs: [Tensor], equal expected: Tensor, _ what: String,
                         file: StaticString = #filePath, line: UInt = #line) throws {
        try forEachKernelISA { isa in
            for backend in [Backend.packed, .openblas] {
                for threads in [1, 2] {
                    let got = try runOperator(op, inputs, backend: backend, threads: threads)
                    XCTAssertEqual(got.shape, expected.shape, what, file: file, line: line)
                    let err = got.relativeError(to: expected)
                    XCTAssertLessThanOrEqual(err, 2e-5, "\(what), \(isa), \(backend.name), \(threads) threads: relative error \(err)",
                                             file: file, line: line)
                }
            }
        }
    }

    func testSmallInputConvMatchesReference() throws {
        var rng = makeRNG()
        for i in cases.indices {
            let conv = conv(i, &rng)
            XCTAssertEqual(conv.path, .smallInput, "case \(cases[i])")
            XCTAssertEqual(conv.kind, "conv2d.dense")
            let x = inputs(i, conv, batch: 2, &rng)
            let expected = try runOperator(conv, x, backend: .reference, threads: 1)
            try assertOptimized(conv, x, equal: expected, "case \(cases[i]), \(conv.activation)")
        }
    }

    /// The NCHW-reading conv, both bindings, against the NHWC reference conv on the transposed
    /// image.
    func testNCHWInputConvMatchesReferenceOnTheTransposedImage() throws {
        var rng = makeRNG()
        for i in cases.indices {
            let conv = conv(i, &rng)
            let nchw = try XCTUnwrap(NCHWInputConv2d(conv))
            var x = inputs(i, conv, batch: 2, &rng)
            let expected = try runOperator(conv, x, backend: .reference, threads: 1)
            let macs = conv.macs(inputs: x.map(\.shape), output: expected.shape)
            x[0] = x[0].permuted([0, 3, 1, 2])
            XCTAssertEqual(try nchw.outputShape(for: x.map(\.shape)), expected.shape)
            XCTAssertEqual(nchw.macs(inputs: x.map(\.shape), output: expected.shape), macs)
            let reference = try runOperator(nchw, x, backend: .reference, threads: 1)
            XCTAssertLessThanOrEqual(reference.relativeError(to: expected), 1e-6, "reference twin, case \(cases[i])")
            try assertOptimized(nchw, x, equal: expected, "NCHW case \(cases[i]), \(conv.activation)")
        }
    }

    func testOnlySmallInputConvsReadNCHW() {
        var rng = makeRNG()
        let wide = Conv2d(weight: randomTensor([8, 40, 3, 3], &rng), bias: nil, padding: 1)
        let grouped = Conv2d(weight: randomTensor([8, 2, 3, 3], &rng), bias: nil, padding: 1, groups: 2)
        let pointwise = Conv2d(weight: randomTensor([8, 3, 1, 1], &rng), bias: nil)
        for conv in [wide, grouped, pointwise] {
            XCTAssertNotEqual(conv.path, .smallInput)
            XCTAssertNil(NCHWInputConv2d(conv))
        }
    }

    /// With more than 32 input channels a dense conv stays on im2col + GEMM (which the shared
    /// convolution cases, mostly below 32 channels, no longer reach with one group).
    func testWideDenseConvStaysOnGEMMAndMatchesReference() throws {
        var rng = makeRNG()
        let conv = Conv2d(weight: randomTensor([24, 40, 3, 3], &rng, scale: 0.2), bias: randomTensor([24], &rng),
                          stride: 2, padding: 1, activation: .silu)
        XCTAssertEqual(conv.path, .im2col)
        try assertMatchesReference(conv, [randomTensor([2, 9, 11, 40], &rng)])
    }

    func testNCHWInputWithWrongChannelsIsAClearError() throws {
        var rng = makeRNG()
        let nchw = try XCTUnwrap(NCHWInputConv2d(Conv2d(weight: randomTensor([16, 3, 3, 3], &rng), bias: nil, stride: 2)))
        let b = PlanBuilder(pool: ThreadPool(threads: 1))
        // An NHWC image handed to the NCHW conv: 224 "channels".
        let x = b.input([1, 224, 224, 3])
        XCTAssertThrowsError(try b.apply(nchw, [x], name: "stem")) { error in
            XCTAssertTrue("\(error)".contains("stem"), "\(error)")
            XCTAssertTrue("\(error)".contains("expects 3 input channels, got 224"), "\(error)")
        }
    }

    // MARK: - Folding the image transpose into the stem

    /// A plan that transposes an NCHW image and runs `first` on it, then `rest` on the result.
    func buildImagePlan(_ first: Conv2d, then rest: [Operator] = [], alsoReadsTranspose: Bool = false,
                        backend: Backend, batch: Int = 2, size: (h: Int, w: Int) = (13, 18)) throws -> Plan {
        let b = PlanBuilder(backend: backend, pool: ThreadPool(threads: 2))
        let image = b.input([batch, first.inChannels, size.h, size.w])
        let nhwc = try b.apply(Permute([0, 2, 3, 1]), [image], name: "input_nhwc")
        var y = try b.apply(first, [nhwc], name: "stem")
        for op in rest { y = try b.apply(op, [y]) }
        let outputs = alsoReadsTranspose ? [y, try b.apply(ActivationOp(.relu), [nhwc])] : [y]
        return try b.build(outputs: outputs)
    }

    func run(_ plan: Plan, _ image: Tensor) throws -> Tensor {
        try plan.setInput(image)
        plan.run()
        return plan.output()
    }

    func testTransposeBeforeASmallInputStemIsFoldedIntoIt() throws {
        var rng = makeRNG()
        let stem = Conv2d(weight: randomTensor([48, 3, 3, 3], &rng, scale: 0.3), bias: randomTensor([48], &rng),
                          stride: 2, padding: 1, activation: .gelu)
        let next = Conv2d(weight: randomTensor([8, 48, 1, 1], &rng, scale: 0.2), bias: nil)
        let image = randomTensor([2, 3, 13, 18], &rng)
        let stemOutput = try runOperator(stem, [image.permuted([0, 2, 3, 1])], backend: .reference, threads: 1)
        let expected = try runOperator(next, [stemOutput], backend: .reference, threads: 1)
        for backend in [Backend.packed, .reference] {
            let plan = try buildImagePlan(stem, then: [next], backend: backend)
            XCTAssertEqual(plan.steps.map(\.name), ["stem", ""], backend.name)
            XCTAssertEqual(plan.steps[0].kind, "conv2d.dense")
            XCTAssertEqual(plan.steps[0].inputShapes, [[2, 3, 13, 18]])
            XCTAssertEqual(plan.totalMACs, 2 * 7 * 9 * 48 * 27 + 2 * 7 * 9 * 8 * 48)
            let got = try run(plan, image)
            XCTAssertLessThanOrEqual(got.relativeError(to: expected), 2e-5, backend.name)
        }
    }

    func testTransposeStaysWhenItCannotBeFolded() throws {
        var rng = makeRNG()
        let small = Conv2d(weight: randomTensor([16, 3, 3, 3], &rng), bias: nil, padding: 1)
        let wide = Conv2d(weight: randomTensor([16, 40, 3, 3], &rng), bias: nil, padding: 1)
        // Another step reads the NHWC image too.
        let shared = try buildImagePlan(small, alsoReadsTranspose: true, backend: .packed)
        XCTAssertEqual(shared.steps.map(\.kind), ["permute", "conv2d.dense", "act.relu"])
        // The first conv cannot read NCHW.
        let notSmall = try buildImagePlan(wide, backend: .packed)
        XCTAssertEqual(notSmall.steps.map(\.kind), ["permute", "conv2d.dense"])
        let image = randomTensor([2, 3, 13, 18], &rng)
        let expected = try run(try buildImagePlan(small, alsoReadsTranspose: true, backend: .reference), image)
        XCTAssertLessThanOrEqual(try run(shared, image).relativeError(to: expected), 2e-5)
    }
}
