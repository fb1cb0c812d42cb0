import CKernels

/// 2-D convolution on NHWC activations with PyTorch's semantics (OIHW weights, zero padding,
/// groups), a fused epilogue (bias, activation, then an optional residual input added), and
/// four kernels chosen from the shape:
/// - pointwise (1x1, stride 1, no padding, one group): a plain GEMM on the NHWC rows — the
///   reason activations are channels-last;
/// - few input channels, one group (stems, patch embeddings, early dense convs): a direct
///   kernel vectorised over output channels, which can also read an NCHW input
///   (`NCHWInputConv2d`);
/// - depthwise and channel-multiplier (one input channel per group): a direct register-tiled
///   kernel vectorised over channels;
/// - 3x3 at stride 1 or 2 with one pixel of padding, one group (MobileViT's local and fusion
///   convs, LeViT's stem): Winograd's minimal filtering on transformed 2x2 output tiles, 2.25x
///   (stride 1) or 1.44x (stride 2) fewer multiplies (`vb_winograd3x3_conv`) — on the packed
///   backend; a BLAS backend runs them by im2col;
/// - everything else: im2col of a tile of output pixels into scratch, then GEMM, per group.
public struct Conv2d: Operator {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: (h: Int, w: Int)
    public let stride: (h: Int, w: Int)
    public let padding: (h: Int, w: Int)
    public let groups: Int
    public let activation: Activation
    public let addsResidual: Bool
    /// PyTorch layout [out, in/groups, kh, kw], kept for the reference kernel.
    public let weight: [Float]
    public let bias: [Float]?

    enum Path { case pointwise, smallInput, depthwise, im2col, winograd }
    let path: Path
    /// smallInput: `vb_conv_small_pack`'s layout, bias included; depthwise: [kh, kw, cout];
    /// im2col and winograd: per group [kh*kw*cg, coutg] (what a BLAS backend multiplies by).
    /// Not pointwise: a 1x1 conv multiplies by `productWeights`.
    var packed: PackedWeights { packedConstant.value }
    private let packedConstant: LazyConstant<PackedWeights>
    /// pointwise: the weights in each backend's layout, made from `weight` as it is.
    private let productWeights: ProductWeights?
    /// im2col: the packed backend's panels of each group, packed from a transient copy of the
    /// BLAS layout, so that an operator holds one layout or the other, not both.
    private let im2colPanelsConstant: LazyConstant<[PackedMatrix]>?
    /// winograd: `vb_winograd3x3_pack`'s 16 transformed, packed matrices (the packed backend's).
    private let winogradConstant: LazyConstant<PackedWeights>?
    let packedBias: PackedWeights?

    public init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, groups: Int = 1,
                activation: Activation = .none, addsResidual: Bool = false) {
        self.init(weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding),
                  groups: groups, activation: activation, addsResidual: addsResidual)
    }

    public init(weight: Tensor, bias: Tensor?, stride: (h: Int, w: Int), padding: (h: Int, w: Int),
                groups: Int, activation: Activation = .none, addsResidual: Bool = false) {
        precondition(weight.rank == 4, "Conv2d weight must be [out, in/groups, kh, kw], got \(weight.shape)")
        let co = weight.shape[0], cg = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        precondition(groups >= 1 && co % groups == 0, "Conv2d: \(co) output channels do not split into \(groups) groups")
        precondition(bias == nil || bias!.count == co, "Conv2d bias must have \(co) entries")
        inChannels = cg * groups
        outChannels = co
        kernel = (kh, kw)
        self.stride = stride
        self.padding = padding
        self.groups = groups
        self.activation = activation
        self.addsResidual = addsResidual
        self.weight = weight.data
        self.bias = bias?.data
        packedBias = bias.map { PackedWeights($0) }
        let path: Path
        if kh == 1 && kw == 1 && stride == (1, 1) && padding == (0, 0) && groups == 1 {
            path = .pointwise
        } else if Conv2d.runsSmallInputKernel(inChannels: cg, groups: groups, kernelWidth: kw) {
            path = .smallInput
        } else if cg == 1 {
            path = .depthwise
        } else if Conv2d.runsWinograd(inChannels: cg, kernel: (kh, kw), stride: stride, padding: padding, groups: groups) {
            path = .winograd
        } else {
            path = .im2col
        }
        self.path = path
        let biasValues = bias?.data
        productWeights = path == .pointwise ? ProductWeights(outByIn: weight.data, k: cg, n: co) : nil
        // [G, coutg, cg, kh, kw] → [G, kh, kw, cg, coutg]
        let groupMajor = { weight.reshaped([groups, co / groups, cg, kh, kw]).permuted([0, 3, 4, 2, 1]) }
        im2colPanelsConstant = path != .im2col ? nil : LazyConstant {
            let kcols = kh * kw * cg, coutg = co / groups
            return groupMajor().data.withUnsafeBufferPointer { w in
                (0..<groups).map { PackedMatrix(w.baseAddress! + $0 * kcols * coutg, k: kcols, n: coutg) }
            }
        }
        winogradConstant = path != .winograd ? nil : LazyConstant {
            var values = [Float](repeating: 0, count: vb_winograd3x3_packed_size(cg, co))
            var work = [Float](repeating: 0, count: 16 * cg * co)
            values.withUnsafeMutableBufferPointer { out in
                work.withUnsafeMutableBufferPointer {
                    vb_winograd3x3_pack(weight.data, cg, co, stride.h, $0.baseAddress, out.baseAddress)
                }
            }
            return PackedWeights(values)
        }
        packedConstant = LazyConstant {
            switch path {
            case .pointwise:
                preconditionFailure("a 1x1 conv multiplies by its ProductWeights")
            case .smallInput:
                var values = [Float](repeating: 0, count: vb_conv_small_packed_size(co, cg, kh, kw))
                values.withUnsafeMutableBufferPointer {
                    vb_conv_small_pack(weight.data, biasValues, co, cg, kh, kw, $0.baseAddress)
                }
                return PackedWeights(values)
            case .depthwise:
                return PackedWeights(weight.reshaped([co, kh, kw]).permuted([1, 2, 0]))
            case .im2col, .winograd:
                return PackedWeights(groupMajor())
            }
        }
    }

    /// Dense convs with up to 32 input channels run the direct kernel. Measured against im2col +
    /// GEMM (one thread, AVX-512), 3x3/2 convs 3→16 run 4x faster, 3→48 3x, 16→32 1.4x, 32→64 as
    /// fast, 48→96 and 64→128 as fast, 80→160 20% slower; 16x16/16 patch embeddings 3→192 1.25x,
    /// 3→768 as fast. The kernel's table of one kernel row's taps bounds kw·cin.
    static let smallInputMaxChannels = 32

    static func runsSmallInputKernel(inChannels: Int, groups: Int, kernelWidth: Int) -> Bool {
        groups == 1 && inChannels <= smallInputMaxChannels
            && kernelWidth * inChannels <= Int(VB_CONV_SMALL_MAX_ROW_TAPS)
    }

    /// 3x3 convs with one pixel of padding and one group, wider than the small-input kernel takes:
    /// at stride 1, and at stride 2 from 48 input channels. Against im2col + GEMM (Zen 4, one
    /// core, the packed GEMM under both), stride 1: 1.9–2.1x faster at 32x32x192→96,
    /// 16x16x256→128 and 8x8x320→160 (MobileViT-S's fusion convs), 1.8x at 64x64x48→48 and
    /// 32x32x64→64, at avx512, avx2 and baseline alike. Stride 2 (LeViT-384's stem, inputs
    /// 112x112x48→96, 56x56x96→192, 28x28x192→384): 1.13x, 1.23x, 1.33x at avx512, 1.08x and
    /// 1.19x (the first two) at avx2, 1.27x and 1.32x at baseline; at 40 input channels a 16x16
    /// map ran 5% slower, where the transforms weigh more against shorter products.
    static func runsWinograd(inChannels: Int, kernel: (h: Int, w: Int), stride: (h: Int, w: Int),
                             padding: (h: Int, w: Int), groups: Int) -> Bool {
        guard kernel == (3, 3) && padding == (1, 1) && groups == 1 else { return false }
        return stride == (1, 1) || (stride == (2, 2) && inChannels >= 48)
    }

    public var kind: String {
        switch path {
        case .pointwise: return "conv2d.1x1"
        case .smallInput: return "conv2d.dense"
        case .depthwise: return groups == inChannels && outChannels == inChannels ? "conv2d.depthwise" : "conv2d.grouped"
        case .im2col: return groups == 1 ? "conv2d.dense" : "conv2d.grouped"
        case .winograd: return "conv2d.dense"
        }
    }

    public var parameterCount: Int { weight.count + (bias?.count ?? 0) }

    public var constantFloats: Int {
        let cg = inChannels / groups, b = bias?.count ?? 0
        switch path {
        case .pointwise: return vb_gemm_packed_size(inChannels, outChannels) + b
        case .smallInput: return vb_conv_small_packed_size(outChannels, cg, kernel.h, kernel.w) + b
        case .depthwise: return weight.count + b
        case .im2col: return groups * vb_gemm_packed_size(kernel.h * kernel.w * cg, outChannels / groups) + b
        case .winograd: return vb_winograd3x3_packed_size(inChannels, outChannels) + b
        }
    }

    /// pointwise: the product on each pixel's channels.
    var pointwiseGEMM: RowTiledGEMM {
        RowTiledGEMM(k: inChannels, n: outChannels, weights: productWeights!, bias: packedBias, activation: activation)
    }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == (addsResidual ? 2 : 1) else {
            throw ShapeError("expects \(addsResidual ? 2 : 1) inputs, got \(inputs.count)")
        }
        let x = inputs[0]
        guard x.count == 4 else { throw ShapeError("expects an NHWC input of rank 4, got \(x)") }
        guard x[3] == inChannels else {
            throw ShapeError("expects \(inChannels) input channels, got \(x[3]) (input \(x))")
        }
        let oh = (x[1] + 2 * padding.h - kernel.h) / stride.h + 1
        let ow = (x[2] + 2 * padding.w - kernel.w) / stride.w + 1
        guard x[1] + 2 * padding.h >= kernel.h, x[2] + 2 * padding.w >= kernel.w, oh > 0, ow > 0 else {
            throw ShapeError("input \(x[1])x\(x[2]) is too small for a \(kernel.h)x\(kernel.w) kernel with padding \(padding.h)")
        }
        let out = [x[0], oh, ow, outChannels]
        if addsResidual && inputs[1] != out {
            throw ShapeError("residual shape \(inputs[1]) does not match output \(out)")
        }
        return out
    }

    public func macs(inputs: [[Int]], output: [Int]) -> Int {
        product(output) * (inChannels / groups) * kernel.h * kernel.w
    }

    /// Output pixels per im2col tile.
    private var im2colTile: Int { 64 }

    /// Winograd tiles (2x2 output pixels) per task: up to 32 (measured 6–48 within 3% of each
    /// other at 16x16x256→128, 8–32 at 28x28x192→384 at stride 2), fewer where that leaves a
    /// worker under four tasks; 16·(cin + cout) floats of scratch each at stride 1, 25·(cin + cout)
    /// at stride 2.
    static func winogradTilesPerTask(tiles: Int, threads: Int) -> Int {
        min(32, max(8, (tiles + 4 * threads - 1) / (4 * threads)))
    }

    /// Small maps under large kernels are mostly border. Where the kernel's edge tiles take a
    /// row's borders (`vb_depthwise_edge_tiled`: 3/5/7-wide kernels at stride 1 or 2, 16
    /// channels or more), it runs on the input as it is: faster than a zero-padded copy even at
    /// 8x8 (7x7 kernels, Zen 4: 20 µs against 25.5 at 8x8x384, 43 against 50 at 16x16x192).
    /// Otherwise, under a kernel 5 wide or more, it runs on a zero-padded copy, so that every
    /// pixel takes the register-tiled interior path; 3x3 and larger maps gain nothing from one.
    /// Channel-multiplier convs (FastViT's patch embedding and final conv) run on a copy whose
    /// channels are repeated, so that they too take the vector path.
    func padsInput(_ input: [Int], outputWidth: Int) -> Bool {
        guard path == .depthwise else { return false }
        if outChannels != inChannels { return true }
        guard padding.h > 0 || padding.w > 0 else { return false }
        if vb_depthwise_edge_tiled(input[2], inChannels, kernel.w, stride.w, padding.w) != 0 { return false }
        return kernel.w >= 5 && outputWidth < 4 * kernel.w
    }

    public func scratchFloats(inputs: [[Int]], output: [Int], threads: Int) -> Int {
        switch path {
        case .im2col: return threads * im2colTile * kernel.h * kernel.w * (inChannels / groups)
        case .winograd:
            // Either kernel may run: Winograd on the packed backend, im2col on a BLAS one.
            let tiles = ((output[1] + 1) / 2) * ((output[2] + 1) / 2)
            let perTask = Conv2d.winogradTilesPerTask(tiles: tiles, threads: threads)
            return threads * max(im2colTile * 9 * inChannels,
                                 vb_winograd3x3_scratch_floats(inChannels, outChannels, min(perTask, tiles), stride.h))
        case .depthwise:
            let x = inputs[0]
            return padsInput(x, outputWidth: output[2])
                ? x[0] * (x[1] + 2 * padding.h) * (x[2] + 2 * padding.w) * outChannels : 0
        case .pointwise, .smallInput: return 0
        }
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, pool = c.pool, gemm = c.gemm
        let residual: UnsafePointer<Float>? = addsResidual ? UnsafePointer(c.inputs[1]) : nil
        let n = c.outputShape[0], oh = c.outputShape[1], ow = c.outputShape[2]
        let ih = c.inputShapes[0][1], iw = c.inputShapes[0][2]
        let cin = inChannels, cout = outChannels, kh = kernel.h, kw = kernel.w
        let sh = stride.h, sw = stride.w, ph = padding.h, pw = padding.w
        // Each path touches only the layout it multiplies by: the packed backend never makes the
        // BLAS layouts.
        switch path {
        case .pointwise:
            return pointwiseGEMM.bind(x: x, y: y, rows: n * oh * ow, residual: residual, pool: pool, gemm: gemm,
                                      packsWeights: c.packsWeights)
        case .smallInput:
            return bindSmallInput(c, height: ih, width: iw, inputStrides: (row: iw * cin, pixel: cin, channel: 1))
        case .winograd where c.packsWeights:
            return bindWinograd(c)
        case .im2col where c.packsWeights:
            return bindIm2col(c, panels: im2colPanelsConstant!.value)
        case .im2col, .winograd:
            // Winograd on a BLAS backend: im2col, so that the backend's own library is measured.
            return bindIm2col(c, panels: nil)
        case .depthwise:
            let wp = UnsafePointer(packed.pointer), bp = packedBias.map { UnsafePointer($0.pointer) }
            let act = activation.c, keep = (packed, packedBias)
            // Tasks are bands of output rows of one image.
            let band = max(1, oh / max(1, pool.threadCount * 4))
            let bands = (oh + band - 1) / band
            let padded = padsInput(c.inputShapes[0], outputWidth: ow)
            let (sih, siw) = padded ? (ih + 2 * ph, iw + 2 * pw) : (ih, iw)
            let (sph, spw) = padded ? (0, 0) : (ph, pw)
            let src: UnsafePointer<Float> = padded ? UnsafePointer(c.scratch) : UnsafePointer(x)
            // The prepared copy has cout channels, one per output channel.
            let (scin, mult) = padded ? (cout, 1) : (cin, cout / cin), expand = cout / cin
            let scratch = c.scratch
            return {
                withExtendedLifetime(keep) {
                    if padded {
                        pool.parallelRanges(n * sih, minChunk: 4) { r, _ in
                            for row in r {
                                let img = row / sih, pr = row % sih
                                vb_pad_nhwc(x + img * ih * iw * cin, ih, iw, cin, expand, ph, pw,
                                            scratch + img * sih * siw * cout, pr, pr + 1)
                            }
                        }
                    }
                    pool.parallelFor(n * bands) { t, _ in
                        let img = t / bands, b = t % bands
                        let oy0 = b * band, oy1 = min(oh, oy0 + band)
                        vb_depthwise_conv2d(src + img * sih * siw * scin, sih, siw, scin, mult, wp, kh, kw, bp,
                                            sh, sw, sph, spw, y + img * oh * ow * cout, oh, ow, oy0, oy1, act,
                                            residual.map { $0 + img * oh * ow * cout })
                    }
                }
            }
        }
    }
}

extension Conv2d {
    /// Tiles of output pixels per task: each gathered (`vb_im2col`) into the worker's scratch and
    /// multiplied by each group's weights — the packed backend's `panels`, or (nil) the BLAS
    /// layout [kh·kw·cg, coutg] of each group as it is.
    func bindIm2col(_ c: StepContext, panels: [PackedMatrix]?) -> () -> Void {
        let x = c.inputs[0], y = c.output, pool = c.pool, gemm = c.gemm, scratch = c.scratch
        let residual: UnsafePointer<Float>? = addsResidual ? UnsafePointer(c.inputs[1]) : nil
        let n = c.outputShape[0], oh = c.outputShape[1], ow = c.outputShape[2]
        let ih = c.inputShapes[0][1], iw = c.inputShapes[0][2]
        let cin = inChannels, cout = outChannels, kh = kernel.h, kw = kernel.w
        let sh = stride.h, sw = stride.w, ph = padding.h, pw = padding.w, act = activation.c
        let g = groups, cg = cin / g, coutg = cout / g, kcols = kh * kw * cg
        let blasWeights = panels == nil ? packed : nil
        let wp = blasWeights.map { UnsafePointer($0.pointer) }, bp = packedBias.map { UnsafePointer($0.pointer) }
        let tile = im2colTile, tilesPerImage = (oh * ow + tile - 1) / tile
        return {
            withExtendedLifetime((blasWeights, panels, packedBias)) {
                pool.parallelFor(n * tilesPerImage) { t, worker in
                    let img = t / tilesPerImage
                    let p0 = (t % tilesPerImage) * tile, p1 = min(oh * ow, p0 + tile)
                    let col = scratch + worker * tile * kcols
                    let xi = x + img * ih * iw * cin
                    let yt = y + (img * oh * ow + p0) * cout
                    let rt = residual.map { $0 + (img * oh * ow + p0) * cout }
                    for gi in 0..<g {
                        vb_im2col(xi, ih, iw, cin, gi * cg, cg, kh, kw, sh, sw, ph, pw, ow, p0, p1, col)
                        if let panels {
                            panels[gi].multiply(col, lda: kcols, rows: p1 - p0, columns: 0, coutg, into: yt + gi * coutg, ldc: cout,
                                                bias: bp.map { $0 + gi * coutg }, activation: act, residual: rt.map { $0 + gi * coutg })
                        } else {
                            gemm.sgemm(transA: false, transB: false, m: p1 - p0, n: coutg, k: kcols, alpha: 1,
                                       a: col, lda: kcols, b: wp! + gi * kcols * coutg, ldb: coutg,
                                       beta: 0, c: yt + gi * coutg, ldc: cout)
                        }
                    }
                    if panels == nil {
                        vb_bias_act_residual(yt, p1 - p0, cout, cout, bp, act, rt, cout)
                    }
                }
            }
        }
    }

    /// Winograd tiles of one image per task (`vb_winograd3x3_conv`), on weights transformed and
    /// packed once.
    func bindWinograd(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, pool = c.pool, scratch = c.scratch
        let residual: UnsafePointer<Float>? = addsResidual ? UnsafePointer(c.inputs[1]) : nil
        let n = c.outputShape[0], oh = c.outputShape[1], ow = c.outputShape[2]
        let ih = c.inputShapes[0][1], iw = c.inputShapes[0][2]
        let cin = inChannels, cout = outChannels, stride = self.stride.h, act = activation.c
        let u = winogradConstant!.value, up = UnsafePointer(u.pointer)
        let bp = packedBias.map { UnsafePointer($0.pointer) }, keep = (u, packedBias)
        let tiles = ((oh + 1) / 2) * ((ow + 1) / 2)
        let perTask = min(tiles, Conv2d.winogradTilesPerTask(tiles: tiles, threads: pool.threadCount))
        let tasksPerImage = (tiles + perTask - 1) / perTask
        let workerFloats = vb_winograd3x3_scratch_floats(cin, cout, perTask, stride)
        return {
            withExtendedLifetime(keep) {
                pool.parallelFor(n * tasksPerImage) { t, worker in
                    let img = t / tasksPerImage, t0 = (t % tasksPerImage) * perTask
                    vb_winograd3x3_conv(x + img * ih * iw * cin, ih, iw, cin, stride, up, cout, bp,
                                        y + img * oh * ow * cout, t0, min(tiles, t0 + perTask), act,
                                        residual.map { $0 + img * oh * ow * cout }, scratch + worker * workerFloats)
                }
            }
        }
    }

    /// The few-input-channels kernel over an input of `height`×`width` pixels whose value
    /// (iy, ix, c) of each image lies at row·iy + pixel·ix + channel·c: NHWC, or NCHW for
    /// `NCHWInputConv2d`.
    func bindSmallInput(_ c: StepContext, height ih: Int, width iw: Int,
                        inputStrides s: (row: Int, pixel: Int, channel: Int)) -> () -> Void {
        let x = c.inputs[0], y = c.output, pool = c.pool
        let residual: UnsafePointer<Float>? = addsResidual ? UnsafePointer(c.inputs[1]) : nil
        let n = c.outputShape[0], oh = c.outputShape[1], ow = c.outputShape[2]
        let cin = inChannels, cout = outChannels, kh = kernel.h, kw = kernel.w
        let sh = stride.h, sw = stride.w, ph = padding.h, pw = padding.w
        let wp = UnsafePointer(packed.pointer), act = activation.c, keep = packed
        let imageFloats = ih * iw * cin, outputFloats = oh * ow * cout
        // Tasks are bands of output rows of one image.
        let band = max(1, oh / max(1, pool.threadCount * 4))
        let bands = (oh + band - 1) / band
        return {
            withExtendedLifetime(keep) {
                pool.parallelFor(n * bands) { t, _ in
                    let img = t / bands, oy0 = (t % bands) * band, oy1 = min(oh, oy0 + band)
                    vb_conv_small(x + img * imageFloats, ih, iw, cin, s.row, s.pixel, s.channel, wp, cout,
                                  kh, kw, sh, sw, ph, pw, y + img * outputFloats, oh, ow, oy0, oy1, act,
                                  residual.map { $0 + img * outputFloats })
                }
            }
        }
    }
}

/// A `Conv2d` that reads an NCHW input — the layout images arrive in from PyTorch and numpy —
/// and writes NHWC, so that a plan need not transpose the image before its stem: `PlanBuilder`
/// substitutes it for a conv whose input is such a transpose and read by nothing else. Only a
/// conv that runs the few-input-channels kernel can, as that kernel reads its input by strides.
public struct NCHWInputConv2d: Operator {
    public let conv: Conv2d

    /// nil when `conv` does not run the few-input-channels kernel (more than 32 input
    /// channels, groups, or a pointwise conv).
    public init?(_ conv: Conv2d) {
        guard conv.path == .smallInput else { return nil }
        self.conv = conv
    }

    public var kind: String { conv.kind }
    public var parameterCount: Int { conv.parameterCount }
    public var constantFloats: Int { conv.constantFloats }

    /// The NHWC shape the wrapped conv sees for an NCHW input shape.
    static func nhwc(_ s: [Int]) -> [Int] { [s[0], s[2], s[3], s[1]] }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard let x = inputs.first, x.count == 4 else {
            throw ShapeError("expects an NCHW input of rank 4, got \(inputs.first ?? [])")
        }
        guard x[1] == conv.inChannels else {
            throw ShapeError("expects \(conv.inChannels) input channels, got \(x[1]) (NCHW input \(x))")
        }
        return try conv.outputShape(for: [Self.nhwc(x)] + inputs.dropFirst())
    }

    public func macs(inputs: [[Int]], output: [Int]) -> Int {
        conv.macs(inputs: [Self.nhwc(inputs[0])] + inputs.dropFirst(), output: output)
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let h = c.inputShapes[0][2], w = c.inputShapes[0][3]
        return conv.bindSmallInput(c, height: h, width: w, inputStrides: (row: w, pixel: 1, channel: h * w))
    }

    /// The reference twin: the image transposed to NHWC by plain loops into a copy this binding
    /// owns, then the reference conv.
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, inShape = c.inputShapes[0], outShape = c.outputShape
        let (n, ch, h, w) = (inShape[0], inShape[1], inShape[2], inShape[3])
        let conv = conv, res: UnsafePointer<Float>? = conv.addsResidual ? UnsafePointer(c.inputs[1]) : nil
        var nhwc = [Float](repeating: 0, count: n * h * w * ch)
        return {
            nhwc.withUnsafeMutableBufferPointer { t in
                for b in 0..<n {
                    for iy in 0..<h {
                        for ix in 0..<w {
                            for k in 0..<ch { t[((b * h + iy) * w + ix) * ch + k] = x[((b * ch + k) * h + iy) * w + ix] }
                        }
                    }
                }
                Reference.conv2d(x: t.baseAddress!, inShape: Self.nhwc(inShape), weight: conv.weight, bias: conv.bias,
                                 outChannels: conv.outChannels, kernel: conv.kernel, stride: conv.stride,
                                 padding: conv.padding, groups: conv.groups, y: y, outShape: outShape)
                Reference.epilogue(y, count: product(outShape), activation: conv.activation, residual: res)
            }
        }
    }
}
