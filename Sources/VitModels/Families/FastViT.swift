import VitEngine

/// FastViT (timm `fastvit.py`, `fastvit_t8 … fastvit_ma36`; not the MobileCLIP `mci` variants).
/// A stride-4 stem of three GELU MobileOneBlocks (3x3/2 dense, 3x3/2 depthwise, 1x1); stages of
/// RepMixer or attention blocks, each stage after the first opening with a stride-2 `PatchEmbed`
/// (a 7x7 `ReparamLargeKernelConv` with groups = input channels and a parallel 3x3 branch, no
/// activation — timm's `lkc_use_act=False` — then a 1x1 MobileOneBlock) and optionally a
/// `RepConditionalPosEnc`; then `final_conv` (3x3 MobileOneBlock, groups = C, out 2C, SE), global
/// average pool and `head.fc`.
///
/// `reparameterize()` is timm's `reparameterize_model`: every MobileOneBlock, RepMixer, RepCPE
/// and ReparamLargeKernelConv becomes one `reparam_conv`. The ConvMlp's depthwise conv+BN and the
/// attention block's BatchNorm are not branches: timm keeps (and counts) them, so the state dict
/// does too, and only the plan folds them (into the conv, into `qkv`).
///
/// Every stride-2 layer pads to ⌈n/2⌉, so any positive input size reaches the head, as in timm.
public final class FastViT: ImageClassifier {
    public struct Config: Codable, Sendable {
        public var layers: [Int]
        public var embedDims: [Int]
        public var mlpRatios: [Double]
        /// "repmixer" or "attention" per stage.
        public var tokenMixers: [String]
        public var downsamples: [Bool] = [false, true, true, true]
        /// timm's `pos_embs` per stage: the kernel size k of `partial(RepConditionalPosEnc,
        /// spatial_shape=(k, k))`, or nil for none.
        public var posEmbs: [Int?] = [nil, nil, nil, nil]
        public var repmixerKernelSize: Int = 3
        public var downPatchSize: Int = 7
        public var downStride: Int = 2
        /// nil: no layer scales (timm's `nn.Identity`, and no `gamma` tensors).
        public var layerScaleInitValue: Float? = 1e-5
        public var clsRatio: Double = 2
        public var numClasses: Int = 1000

        enum CodingKeys: String, CodingKey {
            case layers, embedDims = "embed_dims", mlpRatios = "mlp_ratios", tokenMixers = "token_mixers"
            case downsamples, posEmbs = "pos_embs", repmixerKernelSize = "repmixer_kernel_size"
            case downPatchSize = "down_patch_size", downStride = "down_stride"
            case layerScaleInitValue = "layer_scale_init_value", clsRatio = "cls_ratio", numClasses = "num_classes"
        }

        public init(layers: [Int], embedDims: [Int], mlpRatios: [Double], tokenMixers: [String], posEmbs: [Int?]) {
            self.layers = layers
            self.embedDims = embedDims
            self.mlpRatios = mlpRatios
            self.tokenMixers = tokenMixers
            self.posEmbs = posEmbs
        }
    }

    public let config: Config
    let stem: [MobileOneBlock]
    let stages: [Stage]
    let finalConv: MobileOneBlock
    let head: LinearLayer
    public var numClasses: Int { config.numClasses }

    public init(_ w: Weights, config: Config) throws {
        self.config = config
        let dims = config.embedDims, n = config.layers.count
        guard n > 0, [dims.count, config.mlpRatios.count, config.tokenMixers.count, config.downsamples.count,
                      config.posEmbs.count].allSatisfy({ $0 == n }) else {
            throw ModelInputError("fastvit: layers, embed_dims, mlp_ratios, token_mixers, downsamples and pos_embs need one entry per stage")
        }
        guard config.numClasses > 0 else { throw ModelInputError("fastvit: num_classes must be positive") }
        let gelu = Activation.gelu
        stem = w.scope("stem") {
            [w.scope("0") { MobileOneBlock(w, in: 3, out: dims[0], kernel: 3, stride: 2, activation: gelu) },
             w.scope("1") { MobileOneBlock(w, in: dims[0], out: dims[0], kernel: 3, stride: 2, groups: dims[0], activation: gelu) },
             w.scope("2") { MobileOneBlock(w, in: dims[0], out: dims[0], kernel: 1, activation: gelu) }]
        }
        var st: [Stage] = []
        for i in 0..<n {
            let prev = i == 0 ? dims[0] : dims[i - 1]
            st.append(try w.scope("stages") { try w.scope("\(i)") { try Stage(w, config: config, index: i, inDim: prev) } })
        }
        stages = st
        let c = dims[n - 1], features = Int(Double(c) * config.clsRatio)
        guard features % c == 0 else {
            throw ModelInputError("fastvit: final_conv has groups = \(c), which does not divide its \(features) outputs (cls_ratio \(config.clsRatio))")
        }
        // SE reduction as timm's SqueezeExcite(out_chs, rd_divisor=1): round(out / 16).
        finalConv = w.scope("final_conv") {
            MobileOneBlock(w, in: c, out: features, kernel: 3, groups: c, activation: gelu,
                           se: ("se", makeDivisible(Double(features) / 16, 1, roundLimit: 0)))
        }
        head = w.scope("head") { w.scope("fc") { LinearLayer(w, in: features, out: config.numClasses) } }
    }

    public var isReparameterizable: Bool { true }

    public func reparameterize() {
        stem.forEach { $0.reparameterize() }
        stages.forEach { $0.reparameterize() }
        finalConv.reparameterize()
    }

    public func checkInput(height: Int, width: Int) throws {
        var h = height, w = width
        for _ in 0..<2 {
            h = convOut(h, kernel: 3, stride: 2, padding: 1)
            w = convOut(w, kernel: 3, stride: 2, padding: 1)
        }
        let k = config.downPatchSize, s = config.downStride, p = timmPadding(k, stride: s)
        for stage in stages where stage.downsample != nil {
            h = convOut(h, kernel: k, stride: s, padding: p)
            w = convOut(w, kernel: k, stride: s, padding: p)
        }
        guard height >= 1, width >= 1, h >= 1, w >= 1 else {
            throw ModelInputError("fastvit needs an input of at least 1x1 that leaves a feature map after its strides, got \(height)x\(width)")
        }
    }

    public func collect(_ sd: inout StateDict) {
        sd.scope("stem") { sd in
            for (i, m) in stem.enumerated() { sd.scope("\(i)") { m.collect(&$0) } }
        }
        for (i, stage) in stages.enumerated() { sd.scope("stages") { sd in sd.scope("\(i)") { stage.collect(&$0) } } }
        sd.scope("final_conv") { finalConv.collect(&$0) }
        sd.scope("head") { sd in sd.scope("fc") { head.collect(&$0) } }
    }

    public func forward(_ b: PlanBuilder, _ input: Value) throws -> Value {
        var x = input
        for (i, m) in stem.enumerated() { x = try b.scope("stem") { try b.scope("\(i)") { try m.forward(b, x) } } }
        for (i, stage) in stages.enumerated() { x = try b.scope("stages") { try b.scope("\(i)") { try stage.forward(b, x) } } }
        x = try b.scope("final_conv") { try finalConv.forward(b, x) }
        return try b.scope("head") {
            let pooled = try b.apply(GlobalAvgPool(), [x], name: "global_pool")
            return try b.scope("fc") { try head.forward(b, pooled) }
        }
    }

    /// One stage: `downsample` (PatchEmbed), `pos_emb` (RepCPE), `blocks`.
    final class Stage: Module {
        let downsample: PatchEmbed?
        let posEmb: RepConditionalPosEnc?
        let blocks: [Block]

        init(_ w: Weights, config: Config, index i: Int, inDim: Int) throws {
            let dim = config.embedDims[i]
            if config.downsamples[i] || inDim != dim {
                guard dim % inDim == 0 else {
                    throw ModelInputError("fastvit: stage \(i) downsamples \(inDim) to \(dim) channels with groups = \(inDim), which must divide \(dim)")
                }
                downsample = w.scope("downsample") {
                    PatchEmbed(w, in: inDim, out: dim, patch: config.downPatchSize, stride: config.downStride)
                }
            } else {
                downsample = nil
            }
            posEmb = config.posEmbs[i].map { k in w.scope("pos_emb") { RepConditionalPosEnc(w, dim: dim, kernel: k) } }
            let hidden = Int(Double(dim) * config.mlpRatios[i]), ls = config.layerScaleInitValue
            let mixer = config.tokenMixers[i]
            guard mixer == "repmixer" || mixer == "attention" else {
                throw ModelInputError("fastvit: unknown token mixer '\(mixer)'; known: repmixer, attention")
            }
            if mixer == "attention" && dim % Attention.headDim != 0 {
                throw ModelInputError("fastvit: attention stage \(i) has width \(dim), not a multiple of the head dim \(Attention.headDim)")
            }
            blocks = (0..<config.layers[i]).map { j in
                w.scope("blocks") {
                    w.scope("\(j)") { () -> Block in
                        mixer == "repmixer"
                            ? RepMixerBlock(w, dim: dim, hidden: hidden, kernel: config.repmixerKernelSize, layerScaleInit: ls)
                            : AttentionBlock(w, dim: dim, hidden: hidden, layerScaleInit: ls)
                    }
                }
            }
        }

        func reparameterize() {
            downsample?.reparameterize()
            posEmb?.reparameterize()
            blocks.forEach { $0.reparameterize() }
        }

        func collect(_ sd: inout StateDict) {
            if let downsample { sd.scope("downsample") { downsample.collect(&$0) } }
            if let posEmb { sd.scope("pos_emb") { posEmb.collect(&$0) } }
            for (j, block) in blocks.enumerated() { sd.scope("blocks") { sd in sd.scope("\(j)") { block.collect(&$0) } } }
        }

        func forward(_ b: PlanBuilder, _ input: Value) throws -> Value {
            var x = input
            if let downsample { x = try b.scope("downsample") { try downsample.forward(b, x) } }
            if let posEmb { x = try b.scope("pos_emb") { try posEmb.forward(b, x) } }
            for (j, block) in blocks.enumerated() { x = try b.scope("blocks") { try b.scope("\(j)") { try block.forward(b, x) } } }
            return x
        }
    }

    /// `proj.0` (large-kernel conv, no activation) then `proj.1` (1x1 MobileOneBlock, GELU).
    final class PatchEmbed: Module {
        let conv: ReparamLargeKernelConv
        let mix: MobileOneBlock

        init(_ w: Weights, in cin: Int, out cout: Int, patch: Int, stride: Int) {
            conv = w.scope("proj") { w.scope("0") { ReparamLargeKernelConv(w, in: cin, out: cout, kernel: patch, stride: stride) } }
            mix = w.scope("proj") { w.scope("1") { MobileOneBlock(w, in: cout, out: cout, kernel: 1, activation: .gelu) } }
        }

        func reparameterize() {
            conv.reparameterize()
            mix.reparameterize()
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("proj") { sd in
                sd.scope("0") { conv.collect(&$0) }
                sd.scope("1") { mix.collect(&$0) }
            }
        }

        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            try b.scope("proj") {
                let y = try b.scope("0") { try conv.forward(b, x) }
                return try b.scope("1") { try mix.forward(b, y) }
            }
        }
    }

    /// RepLKNet's block (timm `ReparamLargeKernelConv`): `large_conv` (k×k conv+BN) plus
    /// `small_conv` (3x3 conv+BN), both grouped by input channel; after `reparameterize()` one
    /// k×k `reparam_conv` with the small kernel padded into its centre.
    final class ReparamLargeKernelConv: Module {
        let inChannels: Int, kernel: Int, stride: Int
        private(set) var largeConv: ConvNorm?
        private(set) var smallConv: ConvNorm?
        private(set) var reparamConv: Conv2dLayer?

        init(_ w: Weights, in cin: Int, out cout: Int, kernel k: Int, stride: Int, smallKernel: Int = 3) {
            inChannels = cin
            kernel = k
            self.stride = stride
            if w.containsModule("reparam_conv") {
                reparamConv = w.scope("reparam_conv") {
                    Conv2dLayer(w, in: cin, out: cout, kernel: k, stride: stride, padding: timmPadding(k, stride: stride), groups: cin)
                }
            } else {
                largeConv = w.scope("large_conv") {
                    ConvNorm(w, in: cin, out: cout, kernel: k, stride: stride, padding: timmPadding(k, stride: stride), groups: cin)
                }
                smallConv = w.scope("small_conv") {
                    ConvNorm(w, in: cin, out: cout, kernel: smallKernel, stride: stride,
                             padding: timmPadding(smallKernel, stride: stride), groups: cin)
                }
            }
        }

        func reparameterize() {
            guard reparamConv == nil, let largeConv, let smallConv else { return }
            let (wt, bias) = Reparameterization.sum([largeConv.fused, smallConv.fused], kernel: kernel)
            reparamConv = Conv2dLayer(weight: wt, bias: bias, stride: stride, padding: timmPadding(kernel, stride: stride),
                                      groups: inChannels)
            self.largeConv = nil
            self.smallConv = nil
        }

        func collect(_ sd: inout StateDict) {
            if let reparamConv { sd.scope("reparam_conv") { reparamConv.collect(&$0) } }
            if let largeConv { sd.scope("large_conv") { largeConv.collect(&$0) } }
            if let smallConv { sd.scope("small_conv") { smallConv.collect(&$0) } }
        }

        /// Train-time form: BN folded into each branch, the branches summed in the second
        /// conv's residual epilogue.
        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            if let reparamConv { return try b.scope("reparam_conv") { try reparamConv.forward(b, x) } }
            guard let largeConv, let smallConv else { throw PlanError(module: b.modulePath, "ReparamLargeKernelConv without branches") }
            let large = try b.scope("large_conv") { try b.apply(largeConv.foldedOp(), [x]) }
            return try b.scope("small_conv") { try b.apply(smallConv.foldedOp(residual: true), [x, large]) }
        }
    }

    /// Conditional positional encoding made reparameterisable (timm `RepConditionalPosEnc`):
    /// x + dwconv_k×k(x) (`pos_enc`, with bias); after `reparameterize()` one depthwise
    /// `reparam_conv` whose kernel holds the identity at its centre.
    final class RepConditionalPosEnc: Module {
        let dim: Int, kernel: Int
        private(set) var posEnc: Conv2dLayer?
        private(set) var reparamConv: Conv2dLayer?

        init(_ w: Weights, dim: Int, kernel k: Int) {
            self.dim = dim
            kernel = k
            if w.containsModule("reparam_conv") {
                reparamConv = w.scope("reparam_conv") { Conv2dLayer(w, in: dim, out: dim, kernel: k, groups: dim) }
            } else {
                posEnc = w.scope("pos_enc") { Conv2dLayer(w, in: dim, out: dim, kernel: k, groups: dim) }
            }
        }

        func reparameterize() {
            guard reparamConv == nil, let posEnc else { return }
            let id = Reparameterization.identityKernel(channels: dim, groups: dim, kernel: kernel)
            let (wt, bias) = Reparameterization.sum([(id, Tensor(zeros: [dim])), (posEnc.weight, posEnc.bias!)], kernel: kernel)
            reparamConv = Conv2dLayer(weight: wt, bias: bias, stride: 1, padding: kernel / 2, groups: dim)
            self.posEnc = nil
        }

        func collect(_ sd: inout StateDict) {
            if let reparamConv { sd.scope("reparam_conv") { reparamConv.collect(&$0) } }
            if let posEnc { sd.scope("pos_enc") { posEnc.collect(&$0) } }
        }

        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            if let reparamConv { return try b.scope("reparam_conv") { try reparamConv.forward(b, x) } }
            return try b.scope("pos_enc") { try posEnc!.forward(b, x, residual: x) }
        }
    }

    /// timm `ConvMlp`: depthwise 7x7 conv+BN (no activation), fc1, GELU, fc2 — all 1x1 convs.
    final class ConvMlp: Module {
        let conv: ConvNorm
        let fc1: Conv2dLayer, fc2: Conv2dLayer

        init(_ w: Weights, dim: Int, hidden: Int) {
            conv = w.scope("conv") { ConvNorm(w, in: dim, out: dim, kernel: 7, groups: dim) }
            fc1 = w.scope("fc1") { Conv2dLayer(w, in: dim, out: hidden, kernel: 1) }
            fc2 = w.scope("fc2") { Conv2dLayer(w, in: hidden, out: dim, kernel: 1) }
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("conv") { conv.collect(&$0) }
            sd.scope("fc1") { fc1.collect(&$0) }
            sd.scope("fc2") { fc2.collect(&$0) }
        }

        /// x + s·mlp(x): BN folded into the depthwise conv, GELU into fc1, the layer scale and the
        /// residual into fc2, and fc1 → fc2 one step (`PointwiseMlp`).
        func forward(_ b: PlanBuilder, _ x: Value, layerScale: LayerScale2d?) throws -> Value {
            let c = try b.scope("conv") { try b.apply(conv.foldedOp(), [x]) }
            let mlp = PointwiseMlp(fc1: fc1.op(activation: .gelu), fc2: fc2.op(residual: true, outputScale: layerScale?.values))
            return try b.apply(mlp, [c, x])
        }
    }

    /// A block of a stage, RepMixer or attention.
    protocol Block: Module {
        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value
    }

    /// x = token_mixer(x) (RepMixer: its skip is inside);  x = x + s·mlp(x).
    final class RepMixerBlock: Block {
        let tokenMixer: RepMixer
        let mlp: ConvMlp
        let layerScale: LayerScale2d?

        init(_ w: Weights, dim: Int, hidden: Int, kernel: Int, layerScaleInit: Float?) {
            tokenMixer = w.scope("token_mixer") { RepMixer(w, dim: dim, kernel: kernel, layerScaleInit: layerScaleInit) }
            mlp = w.scope("mlp") { ConvMlp(w, dim: dim, hidden: hidden) }
            layerScale = layerScaleInit.map { v in w.scope("layer_scale") { LayerScale2d(w, channels: dim, initValue: v) } }
        }

        func reparameterize() { tokenMixer.reparameterize() }

        func collect(_ sd: inout StateDict) {
            sd.scope("token_mixer") { tokenMixer.collect(&$0) }
            sd.scope("mlp") { mlp.collect(&$0) }
            if let layerScale { sd.scope("layer_scale") { layerScale.collect(&$0) } }
        }

        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            let mixed = try b.scope("token_mixer") { try tokenMixer.forward(b, x) }
            return try b.scope("mlp") { try mlp.forward(b, mixed, layerScale: layerScale) }
        }
    }

    /// timm fastvit `Attention`: MHSA over the H·W tokens, head dim 32, no qkv bias.
    final class Attention: Module {
        static let headDim = 32
        let dim: Int
        let qkv: LinearLayer, proj: LinearLayer

        init(_ w: Weights, dim: Int) {
            self.dim = dim
            qkv = w.scope("qkv") { LinearLayer(w, in: dim, out: 3 * dim, bias: false) }
            proj = w.scope("proj") { LinearLayer(w, in: dim, out: dim) }
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("qkv") { qkv.collect(&$0) }
            sd.scope("proj") { proj.collect(&$0) }
        }
    }

    /// x = x + s₁·attn(bn(x));  x = x + s₂·mlp(x).
    final class AttentionBlock: Block {
        let norm: BatchNorm2d
        let tokenMixer: Attention
        let layerScale1: LayerScale2d?
        let mlp: ConvMlp
        let layerScale2: LayerScale2d?

        init(_ w: Weights, dim: Int, hidden: Int, layerScaleInit: Float?) {
            norm = w.scope("norm") { BatchNorm2d(w, channels: dim) }
            tokenMixer = w.scope("token_mixer") { Attention(w, dim: dim) }
            layerScale1 = layerScaleInit.map { v in w.scope("layer_scale_1") { LayerScale2d(w, channels: dim, initValue: v) } }
            mlp = w.scope("mlp") { ConvMlp(w, dim: dim, hidden: hidden) }
            layerScale2 = layerScaleInit.map { v in w.scope("layer_scale_2") { LayerScale2d(w, channels: dim, initValue: v) } }
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("norm") { norm.collect(&$0) }
            sd.scope("token_mixer") { tokenMixer.collect(&$0) }
            if let layerScale1 { sd.scope("layer_scale_1") { layerScale1.collect(&$0) } }
            sd.scope("mlp") { mlp.collect(&$0) }
            if let layerScale2 { sd.scope("layer_scale_2") { layerScale2.collect(&$0) } }
        }

        /// The NHWC map viewed as [N, H·W, C] is timm's `flatten(2).transpose(-2, -1)` token
        /// order, so attention needs no copies. The BatchNorm folds exactly into `qkv` (a
        /// per-token linear map); the layer scale and the residual into `proj`.
        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            let shape = b.shape(of: x), dim = tokenMixer.dim
            let tokens = try b.reshape(x, [shape[0], shape[1] * shape[2], dim])
            let y = try b.scope("token_mixer") {
                let (scale, shift) = norm.params.scaleShift
                let q = try b.scope("qkv") { try b.apply(tokenMixer.qkv.folded(inputScale: scale, inputShift: shift), [tokens]) }
                let o = try b.apply(ScaledDotProductAttention.fusedQKV(heads: dim / Attention.headDim, headDim: Attention.headDim),
                                    [q], name: "attn")
                return try b.scope("proj") {
                    try b.apply(tokenMixer.proj.folded(outputScale: layerScale1?.values, residual: true), [o, tokens])
                }
            }
            let x1 = try b.reshape(y, shape)
            return try b.scope("mlp") { try mlp.forward(b, x1, layerScale: layerScale2) }
        }
    }
}

/// timm's `get_padding` for the static padding of `create_conv2d`.
private func timmPadding(_ kernel: Int, stride: Int) -> Int { ((stride - 1) + (kernel - 1)) / 2 }

extension ModelZoo {
    static var fastViT: [ModelInfo] {
        let rrrr = ["repmixer", "repmixer", "repmixer", "repmixer"], rrra = ["repmixer", "repmixer", "repmixer", "attention"]
        let none: [Int?] = [nil, nil, nil, nil], cpe4: [Int?] = [nil, nil, nil, 7]
        let variants: [(name: String, layers: [Int], dims: [Int], mlp: Double, mixers: [String], pos: [Int?],
                        top1: Double, params: Double, gmacs: Double)] = [
            // Published top-1 (non-distilled): apple/ml-fastvit README; params (M): timm's unfused
            // count; GMACs@256: timm's benchmark table — all listed in docs/published-figures.md.
            ("fastvit_t8", [2, 2, 4, 2], [48, 96, 192, 384], 3, rrrr, none, 76.2, 4.03, 0.70),
            ("fastvit_t12", [2, 2, 6, 2], [64, 128, 256, 512], 3, rrrr, none, 79.3, 7.55, 1.42),
            ("fastvit_s12", [2, 2, 6, 2], [64, 128, 256, 512], 4, rrrr, none, 79.9, 9.47, 1.82),
            ("fastvit_sa12", [2, 2, 6, 2], [64, 128, 256, 512], 4, rrra, cpe4, 80.9, 11.58, 1.96),
            ("fastvit_sa24", [4, 4, 12, 4], [64, 128, 256, 512], 4, rrra, cpe4, 82.7, 21.55, 3.80),
            ("fastvit_sa36", [6, 6, 18, 6], [64, 128, 256, 512], 4, rrra, cpe4, 83.6, 31.53, 5.64),
            ("fastvit_ma36", [6, 6, 18, 6], [76, 152, 304, 608], 4, rrra, cpe4, 83.9, 44.07, 7.88),
        ]
        return variants.map { v in
            let base = FastViT.Config(layers: v.layers, embedDims: v.dims, mlpRatios: [Double](repeating: v.mlp, count: 4),
                                      tokenMixers: v.mixers, posEmbs: v.pos)
            let attention = v.mixers.last == "attention" ? ", attention + RepCPE in stage 4" : ""
            return ModelInfo(
                name: v.name, family: "fastvit", resolution: 256,
                published: PublishedAccuracy(top1: v.top1, source: "apple/ml-fastvit README"),
                referenceParams: v.params, referenceGMACs: v.gmacs,
                summary: "FastViT, layers \(v.layers), widths \(v.dims.map(String.init).joined(separator: "/")), MLP ratio \(Int(v.mlp)), RepMixer\(attention)",
                make: { w, overrides in try FastViT(w, config: base.merged(with: overrides)) })
        }
    }
}

extension BlockZoo {
    static var fastViT: [BlockInfo] {
        [
            BlockInfo(name: "fastvit.repmixer",
                      summary: "FastViT RepMixer block (RepMixer token mixer + ConvFFN, MLP ratio 3) on an NHWC map; "
                          + "default: fastvit_t8 stage 1 at 256 (48 channels, 64x64)",
                      defaultDim: 48, defaultResolution: 64) { w, dim, _, _ in
                let block = FastViT.RepMixerBlock(w, dim: dim, hidden: 3 * dim, kernel: 3, layerScaleInit: 1e-5)
                return AdaptedBlock(block, layout: .featureMap, channels: dim, reparameterizable: true, forward: block.forward)
            },
            BlockInfo(name: "fastvit.attention",
                      summary: "FastViT attention block (BatchNorm + MHSA with head dim 32 + ConvFFN, MLP ratio 4) on an "
                          + "NHWC map; default: fastvit_sa12 stage 4 at 256 (512 channels, 8x8)",
                      defaultDim: 512, defaultResolution: 8) { w, dim, _, _ in
                guard dim % FastViT.Attention.headDim == 0 else {
                    throw ModelInputError("fastvit.attention: width \(dim) is not a multiple of the head dim \(FastViT.Attention.headDim)")
                }
                let block = FastViT.AttentionBlock(w, dim: dim, hidden: 4 * dim, layerScaleInit: 1e-5)
                return AdaptedBlock(block, layout: .featureMap, channels: dim, forward: block.forward)
            },
        ]
    }
}
