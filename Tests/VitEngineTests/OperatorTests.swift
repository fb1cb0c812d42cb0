import CKernels
import XCTest
@testable import VitEngine

final class ConvolutionTests: XCTestCase {
    /// (in channels, out channels, kernel, stride, padding, groups, H, W)
    let cases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
        (8, 12, 1, 1, 0, 1, 5, 7),      // pointwise
        (16, 16, 3, 1, 1, 16, 9, 11),   // depthwise 3x3
        (20, 20, 7, 1, 3, 20, 13, 10),  // depthwise 7x7, channel tail (20 = 16 + 4)
        (48, 48, 3, 2, 1, 48, 17, 17),  // depthwise stride 2, odd size
        (83, 83, 3, 1, 1, 83, 9, 10),   // 64 + 16 + 3 channels: every channel path of the kernel
        (83, 83, 5, 1, 2, 83, 6, 7),    // small map under a large kernel: edge tiles
        (12, 12, 5, 1, 2, 12, 6, 7),    // the same under one vector of channels: zero-padded copy
        (76, 76, 3, 2, 1, 76, 15, 13),  // FastViT-MA36's 76 = 4·16 + 12 channels, stride 2
        (12, 12, 3, 1, 1, 12, 7, 9),    // fewer channels than one vector
        (32, 32, 7, 2, 3, 32, 14, 15),  // large-kernel stride 2 (FastViT patch embedding)
        (6, 12, 3, 1, 1, 6, 6, 6),      // channel multiplier 2 (FastViT final conv)
        (3, 16, 7, 4, 3, 1, 31, 29),    // stem 7x7 stride 4
        (12, 24, 3, 2, 1, 1, 11, 12),   // dense 3x3 stride 2
        (12, 18, 3, 1, 1, 3, 7, 8),     // grouped, 4 channels per group
        (8, 16, 1, 2, 0, 1, 9, 9),      // strided 1x1
        (5, 7, 2, 2, 0, 1, 8, 8),       // 2x2 patchify
        // Rows wide enough for several specialised depthwise tiles (8 pixels on AVX-512, 4
        // elsewhere) and 4-wide tail tiles, the last one shifted back over the one before:
        // 3/5/7 wide, stride 1 and 2 (rows of 29, 21, 27, 19, 30, 23, 18 and 14 pixels; the 3-wide
        // kernels' rows keep one-pixel borders, the 5- and 7-wide ones take edge tiles).
        (32, 32, 3, 1, 1, 32, 4, 29),
        (24, 24, 3, 2, 1, 24, 5, 41),
        (40, 40, 5, 1, 2, 40, 3, 27),
        (20, 20, 5, 2, 2, 20, 4, 37),
        (16, 16, 7, 1, 3, 16, 8, 30),
        (36, 36, 7, 2, 3, 36, 3, 45),
        (17, 17, 3, 1, 0, 17, 3, 20),   // no padding, channel tail of one
        (24, 24, 3, 1, 1, 24, 3, 14),   // 14x14 maps: border pixels around 8 + 4, no shifted tile
        // Rows planned as edge tiles (padding columns skipped) at both ends around the interior
        // tiles: 28 wide (edge, 8 + 8 + 4, edge), 12 at stride 2 under 5x5 (edge, 4, edge; 3x3
        // at stride 2 keeps one-pixel borders), 10 under 7x7 (three edge tiles, the middle one
        // overlapping), 8 under 7x7 (two), 7 (two overlapping), 4 (one), and 64 under 7x7 with
        // a channel tail.
        (32, 32, 3, 1, 1, 32, 3, 28),
        (24, 24, 5, 2, 2, 24, 4, 23),
        (16, 16, 7, 1, 3, 16, 3, 10),
        (16, 16, 7, 1, 3, 16, 5, 8),
        (32, 32, 3, 1, 1, 32, 3, 7),
        (16, 16, 5, 1, 2, 16, 3, 4),
        (20, 20, 7, 1, 3, 20, 2, 64),
        // Dense 3x3 with one pixel of padding, at stride 1 and 2: Winograd on the packed backend.
        // Odd output heights and widths (half-used last tiles), channel tails on both sides
        // (37 = 2·16 + 5 and 53 = 3·16 + 5 in, 21 = 16 + 5 out), one row of pixels, and maps of
        // 64 tiles (several tasks per worker at 3 threads).
        (48, 40, 3, 1, 1, 1, 9, 7),
        (37, 21, 3, 1, 1, 1, 6, 5),
        (33, 16, 3, 1, 1, 1, 1, 3),
        (64, 96, 3, 1, 1, 1, 16, 16),
        (48, 40, 3, 2, 1, 1, 9, 7),
        (53, 21, 3, 2, 1, 1, 8, 10),
        (48, 16, 3, 2, 1, 1, 1, 4),
        (64, 96, 3, 2, 1, 1, 30, 30),
    ]

    /// Every case with GELU (a pass after the kernel), ReLU (applied in the kernels' stores) and
    /// no activation, in turn.
    func testConvolutionsMatchReference() throws {
        var rng = makeRNG()
        let activations: [Activation] = [.gelu, .relu, .none]
        for (i, (ci, co, k, s, p, g, h, w)) in cases.enumerated() {
            for batch in [1, 2] {
                let weight = randomTensor([co, ci / g, k, k], &rng, scale: 0.3)
                let bias = randomTensor([co], &rng)
                let x = randomTensor([batch, h, w, ci], &rng)
                let conv = Conv2d(weight: weight, bias: bias, stride: s, padding: p, groups: g,
                                  activation: activations[(i + batch) % activations.count])
                try assertMatchesReference(conv, [x])
            }
        }
    }

    /// Where the kernel's edge tiles take a row's borders, a small map under a large kernel runs
    /// on the input as it is; under one vector of channels (no edge tiles) it still runs on a
    /// zero-padded copy, and a channel-multiplier conv always does.
    func testDepthwisePadsItsInputOnlyWithoutEdgeTiles() {
        var rng = makeRNG()
        func scratch(_ c: Int, _ mult: Int, _ k: Int, _ side: Int) -> Int {
            let conv = Conv2d(weight: randomTensor([c * mult, 1, k, k], &rng), bias: nil, padding: k / 2, groups: c)
            return conv.scratchFloats(inputs: [[1, side, side, c]], output: [1, side, side, c * mult], threads: 1)
        }
        XCTAssertEqual(scratch(384, 1, 7, 8), 0)
        XCTAssertEqual(scratch(192, 1, 5, 16), 0)
        XCTAssertEqual(scratch(12, 1, 7, 8), 14 * 14 * 12)
        XCTAssertEqual(scratch(16, 2, 3, 8), 10 * 10 * 32)
    }

    /// Winograd takes exactly the dense 3x3 convs with one pixel of padding at stride 1, and at
    /// stride 2 from 48 input channels, that the small-input kernel does not; the cases above
    /// check it against the reference.
    func testWinogradTakesDense3x3ConvsAtStride1() {
        func path(_ ci: Int, _ co: Int, _ k: Int, stride: Int = 1, padding: Int = 1, groups: Int = 1) -> Conv2d.Path {
            Conv2d(weight: Tensor(zeros: [co, ci / groups, k, k]), bias: nil, stride: stride, padding: padding, groups: groups).path
        }
        XCTAssertEqual(path(48, 48, 3), .winograd)
        XCTAssertEqual(path(320, 160, 3), .winograd)
        XCTAssertEqual(path(48, 96, 3, stride: 2), .winograd)
        XCTAssertEqual(path(40, 40, 3, stride: 2), .im2col)
        XCTAssertEqual(path(48, 48, 3, stride: 3), .im2col)
        XCTAssertEqual(path(48, 48, 3, padding: 0), .im2col)
        XCTAssertEqual(path(48, 48, 3, groups: 2), .im2col)
        XCTAssertEqual(path(48, 48, 5, padding: 2), .im2col)
        XCTAssertEqual(path(16, 48, 3), .smallInput)
    }

    func testResidualIsAddedAfterActivation() throws {
        var rng = makeRNG()
        for (ci, co, k, s, p, g) in [(16, 16, 3, 1, 1, 16), (8, 8, 1, 1, 0, 1), (8, 8, 3, 1, 1, 1), (40, 24, 3, 1, 1, 1)] {
            let conv = Conv2d(weight: randomTensor([co, ci / g, k, k], &rng), bias: randomTensor([co], &rng),
                              stride: s, padding: p, groups: g, activation: .relu, addsResidual: true)
            let x = randomTensor([2, 6, 5, ci], &rng), r = randomTensor([2, 6, 5, co], &rng)
            try assertMatchesReference(conv, [x, r])
            // And the reference itself: relu(conv) + r, checked against a bias-only conv.
            let plain = Conv2d(weight: Tensor(shape: [co, ci / g, k, k], data: conv.weight), bias: Tensor(shape: [co], data: conv.bias!),
                               stride: s, padding: p, groups: g)
            let y0 = try runOperator(plain, [x], backend: .reference, threads: 1)
            let y1 = try runOperator(conv, [x, r], backend: .reference, threads: 1)
            for i in 0..<y0.count { XCTAssertEqual(y1.data[i], max(y0.data[i], 0) + r.data[i], accuracy: 1e-5) }
        }
    }

    func testReferenceConvolutionOnAKnownCase() throws {
        // 3x3 box filter of ones over a 3x3 image of 1...9, padding 1: the centre is the sum 45,
        // the corner 1+2+4+5 = 12.
        let x = Tensor(shape: [1, 3, 3, 1], data: (1...9).map(Float.init))
        let conv = Conv2d(weight: Tensor(repeating: 1, shape: [1, 1, 3, 3]), bias: nil, padding: 1)
        for backend in [Backend.reference, .openblas] {
            let y = try runOperator(conv, [x], backend: backend, threads: 1)
            XCTAssertEqual(y.data, [12, 21, 16, 27, 45, 33, 24, 39, 28])
        }
    }

    func testBatchNormFoldsIntoConvolution() throws {
        var rng = makeRNG()
        let weight = randomTensor([6, 4, 3, 3], &rng), bias = randomTensor([6], &rng)
        let bn = BatchNormParameters(gamma: randomTensor([6], &rng).data, beta: randomTensor([6], &rng).data,
                                     mean: randomTensor([6], &rng).data,
                                     variance: Tensor(randomUniform: [6], in: 0.5...2, rng: &rng).data)
        let x = randomTensor([1, 7, 7, 4], &rng)
        let conv = try runOperator(Conv2d(weight: weight, bias: bias, padding: 1), [x], backend: .reference, threads: 1)
        let unfused = try runOperator(ChannelAffine(batchNorm: bn), [conv], backend: .reference, threads: 1)
        let (fw, fb) = bn.fold(weight: weight, bias: bias)
        let fused = try runOperator(Conv2d(weight: fw, bias: fb, padding: 1), [x], backend: .openblas, threads: 1)
        XCTAssertLessThan(fused.relativeError(to: unfused), 1e-5)
    }

    func testImpossibleShapesAreClearErrors() throws {
        let conv = Conv2d(weight: Tensor(zeros: [4, 3, 7, 7]), bias: nil, stride: 2)
        let pool = ThreadPool(threads: 1)
        let b = PlanBuilder(pool: pool)
        try b.scope("stem") {
            let x = b.input([1, 5, 5, 3])
            XCTAssertThrowsError(try b.apply(conv, [x], name: "conv")) { error in
                XCTAssertTrue("\(error)".contains("stem.conv"), "\(error)")
                XCTAssertTrue("\(error)".contains("too small"), "\(error)")
            }
            let y = b.input([1, 9, 9, 4])
            XCTAssertThrowsError(try b.apply(conv, [y])) { error in
                XCTAssertTrue("\(error)".contains("3 input channels"), "\(error)")
            }
        }
    }
}

final class LinearAlgebraTests: XCTestCase {
    func testLinearWithActivationAndResidual() throws {
        var rng = makeRNG()
        for (rows, k, n) in [(1, 5, 3), (37, 64, 96), (1000, 17, 33), (16, 40, 200)] {
            let lin = Linear(weight: randomTensor([n, k], &rng, scale: 0.2), bias: randomTensor([n], &rng),
                             activation: .geluTanh, addsResidual: true)
            try assertMatchesReference(lin, [randomTensor([rows, k], &rng), randomTensor([rows, n], &rng)])
        }
        let lin3 = Linear(weight: randomTensor([8, 6], &rng), bias: nil)
        try assertMatchesReference(lin3, [randomTensor([2, 5, 6], &rng)])
        // Bias, ReLU and residual are applied in the micro-kernel's stores, full panels and a
        // partial last one (n = 100: 2+2+3 panels, the last 4 columns wide), and row tails split
        // 4 + 3 and 4 + 4 (49 = 6·7 + 7 rows, 14 = 6 + 8).
        for (rows, k, n, bias, act) in [(13, 24, 100, true, Activation.none), (7, 9, 48, true, .relu), (20, 16, 37, false, .none),
                                         (49, 24, 100, true, .relu), (14, 16, 48, false, .relu)] {
            let lin = Linear(weight: randomTensor([n, k], &rng, scale: 0.2), bias: bias ? randomTensor([n], &rng) : nil,
                             activation: act, addsResidual: true)
            try assertMatchesReference(lin, [randomTensor([rows, k], &rng), randomTensor([rows, n], &rng)])
        }
    }

    func testBatchedMatMul() throws {
        var rng = makeRNG()
        try assertMatchesReference(MatMul(), [randomTensor([3, 7, 5], &rng), randomTensor([3, 5, 9], &rng)])
        try assertMatchesReference(MatMul(transposeB: true, alpha: 0.5), [randomTensor([2, 6, 4], &rng), randomTensor([2, 8, 4], &rng)])
    }

    /// The packed-weight micro-kernels of every kernel ISA variant against the triple loop: every
    /// row-remainder kernel (1 to 5 rows after whole 6- or 4-row tiles), the 1-, 2- and 3-panel
    /// tiles (odd panel counts: 48, 80, 100, 144 columns), column counts off the 16-column
    /// panels, strided A and C.
    func testPackedWeightGEMM() throws {
        var rng = makeRNG()
        try forEachKernelISA { isa in
            for (k, n) in [(1, 1), (7, 16), (48, 144), (33, 47), (64, 32), (5, 100), (9, 80)] {
                for m in [1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 14, 16, 17, 49] {
                    let lda = k + 3, ldc = n + 5
                    let a = randomTensor([m * lda], &rng), b = randomTensor([k * n], &rng)
                    var got = [Float](repeating: -7, count: m * ldc), want = got
                    b.data.withUnsafeBufferPointer { bp in
                        let packed = [Float](repeating: 0, count: vb_gemm_packed_size(k, n))
                        var pk = packed
                        pk.withUnsafeMutableBufferPointer { vb_gemm_pack_b(bp.baseAddress!, n, k, n, $0.baseAddress!) }
                        a.data.withUnsafeBufferPointer { ap in
                            got.withUnsafeMutableBufferPointer { vb_gemm_packed(ap.baseAddress!, lda, pk, k, n, $0.baseAddress!, ldc, m) }
                            want.withUnsafeMutableBufferPointer {
                                ReferenceGEMM().sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: ap.baseAddress!,
                                                      lda: lda, b: bp.baseAddress!, ldb: n, beta: 0, c: $0.baseAddress!, ldc: ldc)
                            }
                        }
                    }
                    for r in 0..<m {
                        for c in 0..<ldc {
                            let i = r * ldc + c
                            if c >= n { XCTAssertEqual(got[i], -7, "wrote past column \(n)"); continue }
                            XCTAssertEqual(got[i], want[i], accuracy: 1e-4 * max(1, abs(want[i])), "\(isa): m \(m) k \(k) n \(n) at \(r),\(c)")
                        }
                    }
                }
            }
        }
    }

    /// The panel packing every variant runs (weights once per plan; attention's K, transposed and
    /// scaled, and V on every pass) against the layout it promises, written out element by
    /// element: panel p, row kk, column c holds scale·B[kk][16p + c], 0 past n. Sizes cover
    /// whole and partial 8×8 transpose blocks in both directions (k and n off multiples of 8 and
    /// 16), a single column and a single row, and leading dimensions wider than the matrix.
    func testPanelPackingMatchesTheLayout() throws {
        var rng = makeRNG()
        try forEachKernelISA { isa in
            for (k, n) in [(1, 1), (8, 16), (7, 3), (24, 197), (64, 49), (17, 33), (36, 20), (3, 8)] {
                let ld = max(k, n) + 5, scale: Float = 0.125
                let src = randomTensor([max(k, n) * ld], &rng).data
                let size = vb_gemm_packed_size(k, n)
                var plain = [Float](repeating: .nan, count: size), scaledT = plain
                src.withUnsafeBufferPointer { sp in
                    plain.withUnsafeMutableBufferPointer { vb_gemm_pack_b(sp.baseAddress!, ld, k, n, $0.baseAddress!) }
                    scaledT.withUnsafeMutableBufferPointer { vb_gemm_pack_bt_scaled(sp.baseAddress!, ld, k, n, scale, $0.baseAddress!) }
                }
                let panels = (n + 15) / 16
                XCTAssertEqual(size, panels * 16 * k)
                for p in 0..<panels {
                    for kk in 0..<k {
                        for c in 0..<16 {
                            let i = (p * k + kk) * 16 + c, col = p * 16 + c
                            let b = col < n ? src[kk * ld + col] : 0, bt = col < n ? scale * src[col * ld + kk] : 0
                            XCTAssertEqual(plain[i], b, "\(isa): pack_b k \(k) n \(n) panel \(p) row \(kk) column \(c)")
                            XCTAssertEqual(scaledT[i], bt, "\(isa): pack_bt_scaled k \(k) n \(n) panel \(p) row \(kk) column \(c)")
                        }
                    }
                }
            }
        }
    }

    /// Every BLAS library a backend can load (OpenBLAS, BLIS, the netlib reference BLAS) against
    /// the triple loop. CI installs them all; elsewhere a missing one is skipped with the package
    /// to install.
    func testGEMMBackendsAgree() throws {
        var rng = makeRNG()
        var libraries: [GEMMBackend] = []
        for library in BLASLibrary.allCases {
            do { libraries.append(try library.load()) } catch {
                if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("\(error)") } else { print("skipped: \(error)") }
            }
        }
        XCTAssertTrue(libraries.allSatisfy { !$0.identity.isEmpty })
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let (m, n, k) = (13, 29, 41)
            let a = randomTensor([m * k], &rng), b = randomTensor([k * n], &rng), c0 = randomTensor([m * n], &rng)
            var results: [[Float]] = []
            for gemm in [ReferenceGEMM()] as [GEMMBackend] + libraries {
                var c = c0.data
                a.data.withUnsafeBufferPointer { ap in
                    b.data.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            gemm.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.7, a: ap.baseAddress!,
                                       lda: ta ? m : k, b: bp.baseAddress!, ldb: tb ? k : n, beta: 0.3,
                                       c: cp.baseAddress!, ldc: n)
                        }
                    }
                }
                results.append(c)
            }
            for (gemm, got) in zip(libraries, results.dropFirst()) {
                let err = Tensor(shape: [m * n], data: got).relativeError(to: Tensor(shape: [m * n], data: results[0]))
                XCTAssertLessThan(err, 1e-5, "\(gemm.identity): transA \(ta) transB \(tb)")
            }
        }
    }
}

/// The backends whose products go through a BLAS loaded at run time run the same operators.
final class SqueezeExciteTests: XCTestCase {
    /// Both squeeze FCs run as one-row packed products: channel counts off the 16-column panels
    /// (40 → 10 → 40), a reduction below one panel, and MobileOne-S4's ReLU/sigmoid pair.
    func testSqueezeExciteMatchesReference() throws {
        var rng = makeRNG()
        for (c, cr, h, w) in [(40, 10, 5, 3), (16, 4, 2, 2), (96, 6, 7, 7)] {
            let se = SqueezeExcite(reduceWeight: randomTensor([cr, c], &rng, scale: 0.3), reduceBias: randomTensor([cr], &rng),
                                   expandWeight: randomTensor([c, cr], &rng, scale: 0.3), expandBias: randomTensor([c], &rng))
            try assertMatchesReference(se, [randomTensor([2, h, w, c], &rng)])
        }
    }
}

final class LoadedBLASBackendTests: XCTestCase {
    func testBLISAndNetlibBackendsMatchReference() throws {
        var rng = makeRNG()
        let conv = Conv2d(weight: randomTensor([24, 40, 3, 3], &rng, scale: 0.2), bias: randomTensor([24], &rng), stride: 2, padding: 1,
                          activation: .gelu)
        let linear = Linear(weight: randomTensor([33, 17], &rng, scale: 0.3), bias: randomTensor([33], &rng))
        let cases: [(Operator, [Tensor])] = [(conv, [randomTensor([2, 9, 11, 40], &rng)]), (linear, [randomTensor([2, 50, 17], &rng)]),
                                             (MatMul(transposeB: true, alpha: 0.5), [randomTensor([2, 6, 4], &rng), randomTensor([2, 8, 4], &rng)])]
        for name in ["blis", "netlib"] {
            let backend: Backend
            do { backend = try Backend.named(name) } catch {
                if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("\(error)") } else { print("skipped: \(error)") }
                continue
            }
            XCTAssertEqual(backend.name, name)
            for (op, inputs) in cases {
                let expected = try runOperator(op, inputs, backend: .reference, threads: 1)
                let got = try runOperator(op, inputs, backend: backend, threads: 2)
                XCTAssertLessThanOrEqual(got.relativeError(to: expected), 2e-5, "\(op.kind) on \(name)")
            }
        }
        XCTAssertThrowsError(try Backend.named("mkl")) { error in
            XCTAssertEqual("\(error)", "unknown backend 'mkl'; known: packed, openblas, blis, netlib, xnnpack, reference, onnxruntime, openvino")
        }
    }
}

final class ElementwiseAndNormTests: XCTestCase {
    func testActivations() throws {
        var rng = makeRNG()
        let x = randomTensor([3, 1001], &rng, scale: 4)
        for a in Activation.allCases {
            try assertMatchesReference(ActivationOp(a), [x], tolerance: 1e-6)
        }
        // Known values, so that the oracle itself is pinned down.
        let known = Tensor(shape: [3], data: [-1, 0, 2])
        let gelu = try runOperator(ActivationOp(.gelu), [known], backend: .reference, threads: 1)
        XCTAssertEqual(gelu.data[0], -0.158655254, accuracy: 1e-6)
        XCTAssertEqual(gelu.data[2], 1.954499736, accuracy: 1e-6)
        let hs = try runOperator(ActivationOp(.hardswish), [known], backend: .reference, threads: 1)
        let hardswishOfKnown: [Float] = [-1.0 / 3.0, 0, 5.0 / 3.0]
        XCTAssertEqual(hs.data, hardswishOfKnown)
    }

    func testExtremeActivationInputsStayFinite() throws {
        let x = Tensor(shape: [6], data: [-1000, -90, -20, 20, 90, 1000])
        for a in Activation.allCases {
            let y = try runOperator(ActivationOp(a), [x], backend: .openblas, threads: 1)
            let r = try runOperator(ActivationOp(a), [x], backend: .reference, threads: 1)
            for i in 0..<6 { XCTAssertEqual(y.data[i], r.data[i], accuracy: max(1e-6, abs(r.data[i]) * 1e-6), "\(a) at \(x.data[i])") }
        }
    }

    func testNormalisations() throws {
        var rng = makeRNG()
        let x = randomTensor([2, 5, 7, 24], &rng, scale: 3)
        try assertMatchesReference(LayerNorm(gamma: randomTensor([24], &rng).data, beta: randomTensor([24], &rng).data, eps: 1e-6), [x])
        for groups in [1, 4] {
            try assertMatchesReference(GroupNorm(groups: groups, gamma: randomTensor([24], &rng).data,
                                                 beta: randomTensor([24], &rng).data), [x])
        }
        let bn = BatchNormParameters(gamma: randomTensor([24], &rng).data, beta: randomTensor([24], &rng).data,
                                     mean: randomTensor([24], &rng).data, variance: Tensor(randomUniform: [24], in: 0.1...3, rng: &rng).data)
        try assertMatchesReference(ChannelAffine(batchNorm: bn, activation: .silu), [x])
        try assertMatchesReference(Softmax(), [randomTensor([7, 300], &rng, scale: 5)])
        // Two spikes, +500 and +450, side by side in each row, in each part of the vectorised max
        // (the 64-wide loop, the 16-wide one, the scalar tail). Softmax does not depend on the
        // maximum it subtracts unless exp saturates: a max that missed both would saturate both
        // to the same value and give them half each, where the right answer is 1 and e^-50.
        var spiked = randomTensor([6, 300], &rng)
        for (r, at) in [1, 63, 65, 250, 290, 299].enumerated() {
            spiked.data[r * 300 + at] += 500
            spiked.data[r * 300 + at - 1] += 450
        }
        try assertMatchesReference(Softmax(), [spiked])
    }

    func testBinaryOpsAndBroadcasts() throws {
        var rng = makeRNG()
        let a = randomTensor([2, 3, 4, 10], &rng)
        for op in [Binary.Op.add, .mul, .sub] {
            try assertMatchesReference(Binary(op), [a, randomTensor([2, 3, 4, 10], &rng)])
            try assertMatchesReference(Binary(op, channelConstant: randomTensor([10], &rng).data), [a])
            try assertMatchesReference(Binary(op), [a, randomTensor([2, 1, 1, 10], &rng)])
        }
        try assertMatchesReference(ScaledResidual(scale: randomTensor([10], &rng).data), [a, randomTensor([2, 3, 4, 10], &rng)])
        XCTAssertThrowsError(try runOperator(Binary(.add), [a, randomTensor([3, 10], &rng)], backend: .openblas, threads: 1))
    }

    func testPooling() throws {
        var rng = makeRNG()
        let x = randomTensor([2, 9, 8, 20], &rng)
        for include in [true, false] {
            try assertMatchesReference(Pool2d(.average, kernel: 3, stride: 1, padding: 1, countIncludePad: include), [x])
            try assertMatchesReference(Pool2d(.average, kernel: 3, stride: 2, padding: 1, countIncludePad: include), [x])
        }
        try assertMatchesReference(Pool2d(.max, kernel: 3, stride: 2, padding: 1), [x])
        try assertMatchesReference(Pool2d(.average, kernel: 2, stride: 2), [x])
        try assertMatchesReference(GlobalAvgPool(), [x])
        try assertMatchesReference(GlobalAvgPool(keepDims: true), [x])
        // PoolFormer's pooling does not count padding: a corner averages 4 values, not 9.
        let ones = Tensor(repeating: 1, shape: [1, 4, 4, 1])
        let excl = try runOperator(Pool2d(.average, kernel: 3, stride: 1, padding: 1, countIncludePad: false), [ones], backend: .openblas, threads: 1)
        let incl = try runOperator(Pool2d(.average, kernel: 3, stride: 1, padding: 1, countIncludePad: true), [ones], backend: .openblas, threads: 1)
        XCTAssertEqual(excl.data[0], 1, accuracy: 1e-7)
        XCTAssertEqual(incl.data[0], 4.0 / 9.0, accuracy: 1e-7)
    }

    func testSqueezeExcite() throws {
        var rng = makeRNG()
        let se = SqueezeExcite(reduceWeight: randomTensor([4, 16, 1, 1], &rng), reduceBias: randomTensor([4], &rng),
                               expandWeight: randomTensor([16, 4, 1, 1], &rng), expandBias: randomTensor([16], &rng))
        try assertMatchesReference(se, [randomTensor([2, 5, 6, 16], &rng)])
    }
}

final class LayoutTests: XCTestCase {
    func testPermuteAndConcat() throws {
        var rng = makeRNG()
        let x = randomTensor([2, 3, 5, 7], &rng)
        for axes in [[0, 2, 3, 1], [0, 3, 1, 2], [3, 2, 1, 0], [1, 0, 2, 3]] {
            try assertMatchesReference(Permute(axes), [x], tolerance: 0)
        }
        let nchw = randomTensor([1, 3, 4, 5], &rng)
        let nhwc = try runOperator(Permute([0, 2, 3, 1]), [nchw], backend: .openblas, threads: 2)
        XCTAssertEqual(nhwc, nchw.nchwToNHWC())
        for axis in [1, 3] {
            var other = x.shape
            other[axis] = 2
            try assertMatchesReference(Concat(axis: axis), [x, randomTensor(other, &rng), x], tolerance: 0)
        }
    }

    func testPatchUnfoldAndFold() throws {
        var rng = makeRNG()
        let (n, h, w, c, ph, pw) = (2, 6, 4, 3, 2, 2)
        let x = randomTensor([n, h, w, c], &rng)
        let pool = ThreadPool(threads: 2)
        let b = PlanBuilder(pool: pool)
        let v = b.input(x.shape)
        let unfolded = try b.unfoldPatches(v, patch: (ph, pw))
        let folded = try b.foldPatches(unfolded, patch: (ph, pw), grid: (h / ph, w / pw))
        let plan = try b.build(outputs: [unfolded, folded])
        try plan.setInput(x)
        plan.run()
        let u = plan.output(0)
        XCTAssertEqual(u.shape, [n * ph * pw, (h / ph) * (w / pw), c])
        // timm: patch position (i, j) inside a patch, patch index (py, px).
        for img in 0..<n {
            for i in 0..<ph {
                for j in 0..<pw {
                    for py in 0..<h / ph {
                        for px in 0..<w / pw {
                            for ch in 0..<c {
                                let got = u.data[((img * ph * pw + i * pw + j) * (h / ph * w / pw) + py * (w / pw) + px) * c + ch]
                                let want = x.data[((img * h + py * ph + i) * w + px * pw + j) * c + ch]
                                XCTAssertEqual(got, want)
                            }
                        }
                    }
                }
            }
        }
        XCTAssertEqual(plan.output(1), x)
    }
}

final class AttentionTests: XCTestCase {
    func testFusedQKVAttentionAcrossBlockBoundaries() throws {
        var rng = makeRNG()
        // 7 tokens (one block), 300 (several query blocks, one key block), batch 2, and three key
        // blocks (the online softmax's rescaling, a partial last block).
        let keyBlocks = 2 * ScaledDotProductAttention.keyBlock + 52
        for (n, t, heads, d) in [(1, 7, 2, 8), (2, 300, 3, 16), (1, 600, 1, 32), (1, keyBlocks, 1, 8)] {
            let qkv = randomTensor([n, t, 3 * heads * d], &rng)
            try assertMatchesReference(ScaledDotProductAttention.fusedQKV(heads: heads, headDim: d), [qkv], tolerance: 1e-5)
        }
    }

    func testAttentionWithBiasAndLeViTPacking() throws {
        var rng = makeRNG()
        // LeViT packs [q (16) | k (16) | v (32)] per head; queries may come from another tensor
        // with fewer tokens (shrink attention).
        let heads = 4, dk = 16, dv = 32, t = 49, tq = 16
        let kv = randomTensor([2, t, heads * (dk + dv)], &rng)
        let q = randomTensor([2, tq, heads * dk], &rng)
        let bias = randomTensor([heads, tq, t], &rng)
        let op = ScaledDotProductAttention(
            heads: heads, keyDim: dk, valueDim: dv, scale: 0.25,
            q: HeadView(input: 1, offset: 0, headStride: dk),
            k: HeadView(input: 0, offset: 0, headStride: dk + dv),
            v: HeadView(input: 0, offset: dk, headStride: dk + dv), bias: bias)
        try assertMatchesReference(op, [kv, q], tolerance: 1e-5)
    }

    func testAttentionOfIdenticalKeysAveragesValues() throws {
        // All keys equal: softmax is uniform, the output is the mean of the values.
        let heads = 1, d = 4, t = 300
        var data = [Float](repeating: 0, count: t * 3 * d)
        for i in 0..<t {
            for j in 0..<d {
                data[i * 3 * d + j] = Float(i % 5)  // queries vary
                data[i * 3 * d + d + j] = 1          // keys equal
                data[i * 3 * d + 2 * d + j] = Float(i)
            }
        }
        let y = try runOperator(ScaledDotProductAttention.fusedQKV(heads: heads, headDim: d), [Tensor(shape: [1, t, 3 * d], data: data)],
                                backend: .openblas, threads: 2)
        for v in y.data { XCTAssertEqual(v, Float(t - 1) / 2, accuracy: 1e-3) }
    }
}

final class PlanTests: XCTestCase {
    func testBuffersAreReusedAndResultsUnchanged() throws {
        var rng = makeRNG()
        let ops: [Operator] = (0..<6).map { _ in Conv2d(weight: randomTensor([8, 8, 3, 3], &rng, scale: 0.2), bias: randomTensor([8], &rng), padding: 1, activation: .relu) }
        let x = randomTensor([1, 10, 10, 8], &rng)
        let pool = ThreadPool(threads: 2)
        let b = PlanBuilder(pool: pool)
        var v = b.input(x.shape)
        for (i, op) in ops.enumerated() { v = try b.scope("layers") { try b.apply(op, [v], name: "\(i)") } }
        let plan = try b.build(outputs: [v])
        // Input + output + at most two intermediates alive at once.
        XCTAssertLessThanOrEqual(plan.arenaBytes, 4 * 800 * 4 + 4 * 64)
        XCTAssertEqual(plan.steps.map(\.name), (0..<6).map { "layers.\($0)" })
        XCTAssertEqual(plan.totalMACs, 6 * 100 * 8 * 8 * 9)
        try plan.setInput(x)
        plan.run()
        var expected = x
        for op in ops { expected = try runOperator(op, [expected], backend: .reference, threads: 1) }
        XCTAssertLessThan(plan.output().relativeError(to: expected), 1e-5)
        // Running twice gives the same answer (no state leaks between passes).
        let first = plan.output()
        plan.run()
        XCTAssertEqual(plan.output(), first)
    }

    func testThreadPoolRunsEveryTaskOnce() {
        let pool = ThreadPool(threads: 4)
        for count in [1, 3, 17, 1000] {
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { h in
                let p = h.baseAddress!
                pool.parallelFor(count) { t, _ in p[t] += 1 }
            }
            XCTAssertEqual(hits, [Int](repeating: 1, count: count))
        }
    }

    /// Thousands of back-to-back jobs on more threads than cores (workers are descheduled at
    /// random), some of whose tasks sleep as a descheduled worker would: every task of every job
    /// runs once, in its own job, and no job returns before its tasks are done. A late worker must
    /// never run a task of a job that has ended, nor a task of the next job twice.
    func testThreadPoolUnderOversubscriptionAndStragglers() {
        let pool = ThreadPool(threads: 6)
        var rng = makeRNG()
        for job in 0..<3000 {
            let count = 1 + Int(rng.next() % 40)
            let sleeper = job % 50 == 0 ? Int(rng.next() % UInt64(count)) : -1
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { h in
                let p = h.baseAddress!
                pool.parallelFor(count) { t, _ in
                    if t == sleeper { usleep(2000) }
                    p[t] += 1
                }
            }
            if hits != [Int](repeating: 1, count: count) {
                XCTFail("job \(job): \(hits)")
                return
            }
        }
    }

    /// With a task log set, every task's interval is logged once, by the worker that ran it.
    func testTaskLogRecordsEveryTask() {
        let pool = ThreadPool(threads: 3)
        let log = TaskLog(workers: 3)
        pool.taskLog = log
        var workerOf = [Int](repeating: -1, count: 64)
        workerOf.withUnsafeMutableBufferPointer { w in
            let p = w.baseAddress!
            pool.parallelFor(64) { t, worker in p[t] = worker }
        }
        pool.taskLog = nil
        XCTAssertEqual(log.workers.map(\.intervals.count).reduce(0, +), 64)
        for (w, worker) in log.workers.enumerated() {
            XCTAssertEqual(worker.intervals.count, workerOf.filter { $0 == w }.count)
            XCTAssertTrue(worker.intervals.allSatisfy { $0.start <= $0.end })
        }
    }
}

final class PermuteCollapseTests: XCTestCase {
    func testAdjacentAxesMerge() {
        XCTAssertTrue(Permute.collapsed([2, 3, 4, 5], [0, 2, 3, 1]) == ([2, 3, 20], [0, 2, 1]))
        XCTAssertTrue(Permute.collapsed([2, 3, 4, 5], [0, 3, 1, 2]) == ([2, 12, 5], [0, 2, 1]))
        XCTAssertTrue(Permute.collapsed([2, 3, 4, 5], [0, 1, 2, 3]) == ([120], [0]))
        XCTAssertTrue(Permute.collapsed([2, 3, 4, 5], [3, 2, 1, 0]) == ([2, 3, 4, 5], [3, 2, 1, 0]))
    }
}
