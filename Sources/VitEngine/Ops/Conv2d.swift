import CKernels

/// 2-D convolution on NHWC activations with PyTorch's semantics (OIHW weights, zero padding,
/// groups), a fused epilogue (bias, activation, then an optional residual input added), and
/// three kernels chosen from the shape:
/// - pointwise (1x1, stride 1, no padding, one group): a plain GEMM on the NHWC rows — the
///   reason activations are channels-last;
/// - depthwise and channel-multiplier (one input channel per group): a direct register-tiled
///   kernel vectorised over channels;
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

    enum Path { case pointwise, depthwise, im2col }
    let path: Path
    /// pointwise: [cin, cout]; depthwise: [kh, kw, cout]; im2col: per group [kh*kw*cg, coutg].
    let packed: PackedWeights
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
        if kh == 1 && kw == 1 && stride == (1, 1) && padding == (0, 0) && groups == 1 {
            path = .pointwise
            packed = PackedWeights(weight.reshaped([co, cg]).permuted([1, 0]))
        } else if cg == 1 {
            path = .depthwise
            packed = PackedWeights(weight.reshaped([co, kh, kw]).permuted([1, 2, 0]))
        } else {
            path = .im2col
            // [G, coutg, cg, kh, kw] → [G, kh, kw, cg, coutg]
            packed = PackedWeights(weight.reshaped([groups, co / groups, cg, kh, kw]).permuted([0, 3, 4, 2, 1]))
        }
    }

    public var kind: String {
        switch path {
        case .pointwise: return "conv2d.1x1"
        case .depthwise: return groups == inChannels && outChannels == inChannels ? "conv2d.depthwise" : "conv2d.grouped"
        case .im2col: return groups == 1 ? "conv2d.dense" : "conv2d.grouped"
        }
    }

    public var parameterCount: Int { weight.count + (bias?.count ?? 0) }

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

    /// Small maps under large kernels are mostly border: there the depthwise kernel runs on a
    /// zero-padded copy, so that every pixel takes the register-tiled interior path. Measured
    /// with `vitbench kernels`: 7x7 at 8x8 and 16x16 gain 15–30%; 3x3 and larger maps do not.
    /// Channel-multiplier convs (FastViT's patch embedding and final conv) run the same way on
    /// a copy whose channels are repeated, so that they too take the vector path.
    func padsInput(_ input: [Int], outputWidth: Int) -> Bool {
        guard path == .depthwise else { return false }
        if outChannels != inChannels { return true }
        return (padding.h > 0 || padding.w > 0) && kernel.w >= 5 && outputWidth < 4 * kernel.w
    }

    public func scratchFloats(inputs: [[Int]], output: [Int], threads: Int) -> Int {
        switch path {
        case .im2col: return threads * im2colTile * kernel.h * kernel.w * (inChannels / groups)
        case .depthwise:
            let x = inputs[0]
            return padsInput(x, outputWidth: output[2])
                ? x[0] * (x[1] + 2 * padding.h) * (x[2] + 2 * padding.w) * outChannels : 0
        case .pointwise: return 0
        }
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, pool = c.pool, gemm = c.gemm
        let residual: UnsafePointer<Float>? = addsResidual ? UnsafePointer(c.inputs[1]) : nil
        let n = c.outputShape[0], oh = c.outputShape[1], ow = c.outputShape[2]
        let ih = c.inputShapes[0][1], iw = c.inputShapes[0][2]
        let cin = inChannels, cout = outChannels, kh = kernel.h, kw = kernel.w
        let sh = stride.h, sw = stride.w, ph = padding.h, pw = padding.w
        let wp = UnsafePointer(packed.pointer), bp = packedBias.map { UnsafePointer($0.pointer) }
        let act = activation.c, keep = (packed, packedBias)
        switch path {
        case .pointwise:
            let tiled = RowTiledGEMM(k: cin, n: cout, weight: packed, bias: packedBias, activation: activation)
            return tiled.bind(x: x, y: y, rows: n * oh * ow, residual: residual, pool: pool, gemm: gemm,
                              packsWeights: c.packsWeights)
        case .depthwise:
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
        case .im2col:
            let g = groups, cg = cin / g, coutg = cout / g, kcols = kh * kw * cg
            let tile = im2colTile, scratch = c.scratch
            let tilesPerImage = (oh * ow + tile - 1) / tile
            // The packed backend multiplies by weights packed once here; the BLAS one by the
            // [kh·kw·cg, coutg] weights of each group as they are.
            let groupPacks = c.packsWeights ? (0..<g).map { PackedMatrix(wp + $0 * kcols * coutg, k: kcols, n: coutg) } : []
            return {
                withExtendedLifetime((keep, groupPacks)) {
                    pool.parallelFor(n * tilesPerImage) { t, worker in
                        let img = t / tilesPerImage
                        let p0 = (t % tilesPerImage) * tile, p1 = min(oh * ow, p0 + tile)
                        let col = scratch + worker * tile * kcols
                        let xi = x + img * ih * iw * cin
                        let yt = y + (img * oh * ow + p0) * cout
                        for gi in 0..<g {
                            vb_im2col(xi, ih, iw, cin, gi * cg, cg, kh, kw, sh, sw, ph, pw, ow, p0, p1, col)
                            if groupPacks.isEmpty {
                                gemm.sgemm(transA: false, transB: false, m: p1 - p0, n: coutg, k: kcols, alpha: 1,
                                           a: col, lda: kcols, b: wp + gi * kcols * coutg, ldb: coutg,
                                           beta: 0, c: yt + gi * coutg, ldc: cout)
                            } else {
                                vb_gemm_packed(col, kcols, groupPacks[gi].pointer, kcols, coutg, yt + gi * coutg, cout, p1 - p0)
                            }
                        }
                        vb_bias_act_residual(yt, p1 - p0, cout, cout, bp, act,
                                             residual.map { $0 + (img * oh * ow + p0) * cout }, cout)
                    }
                }
            }
        }
    }
}
