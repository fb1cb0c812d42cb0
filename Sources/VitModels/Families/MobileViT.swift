import VitEngine

/// MobileViT v1 (timm `mobilevit.py`, `mobilevit_xxs/xs/s`), which timm builds as a `ByobNet`
/// (`byobnet.py`): a 3x3/2 stem, five stages, a 1x1 `final_conv`, global average pooling and
/// `head.fc`. Convs are timm's `ConvNormAct` (conv without bias, BatchNorm, SiLU) unless said
/// otherwise.
///
/// Each stage opens with MobileNetV2 inverted residuals — timm's `BottleneckBlock` with
/// `bottle_in` and `linear_out`: 1x1 expansion to make_divisible(in·br), depthwise 3x3 (stride
/// on the stage's first block), 1x1 projection without activation, and an identity shortcut
/// only where the shape is kept (MobileViT's `downsample=''` gives the others none). The last
/// three stages end with a `MobileVitBlock`: 3x3 conv, plain 1x1 conv (no BN, no activation) to
/// the transformer width d, 2x2 patches unfolded into 4 sequences (one per position inside a
/// patch) of the (H/2)·(W/2) patches, ViT blocks (pre-norm LayerNorm, 4-head attention with a
/// fused qkv, MLP of 2d with SiLU), LayerNorm, fold, 1x1 `conv_proj` back to C, concatenation
/// with the block's input and a 3x3 `conv_fusion`.
///
/// timm names: `stem.{conv,bn}`, `stages.i.j.{conv1_1x1,conv2_kxk,conv3_1x1}.{conv,bn}`,
/// `stages.i.j.{conv_kxk, conv_1x1, transformer.k.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1,
/// mlp.fc2}, norm, conv_proj, conv_fusion}`, `final_conv.{conv,bn}`, `head.fc`.
///
/// Any input size: the strided 3x3 convs pad to ⌈n/2⌉, and where a MobileViT block's map is not
/// a multiple of the patch size, timm resizes it bilinearly up to the next multiple before
/// unfolding and back after folding — and so does the plan.
public final class MobileViT: ImageClassifier {
    /// One stage as timm's `model_cfgs` write it, with the argument names of its helpers:
    /// `_inverted_residual_block(d, c, s, br)`, or, with a transformer width,
    /// `_mobilevit_block(d, c, s, transformer_dim, transformer_depth, patch_size, br)`. Optional
    /// fields left out take those helpers' defaults.
    public struct Stage: Codable, Sendable {
        /// Inverted residual blocks; the first has stride `s`.
        public var d: Int
        /// Output channels, made a multiple of 8 by timm's `make_divisible(c)` (12 → 16, 10 → 16).
        public var c: Int
        public var s: Int
        /// Expansion ratio of the inverted residuals (default 4).
        public var br: Double?
        /// With a width, the stage ends with a MobileViT block of `transformer_depth` layers.
        public var transformerDim: Int?
        public var transformerDepth: Int?
        /// Side of the square patches (default 4; every timm model uses 2).
        public var patchSize: Int?

        enum CodingKeys: String, CodingKey {
            case d, c, s, br, transformerDim = "transformer_dim", transformerDepth = "transformer_depth",
                 patchSize = "patch_size"
        }
    }

    /// timm's `ByoModelCfg` fields that MobileViT sets, and `num_classes`.
    public struct Config: Codable, Sendable {
        public var blocks: [Stage]
        public var stemChs: Int = 16
        /// Width of `final_conv`; 0 for none (timm's `nn.Identity`).
        public var numFeatures: Int
        public var numClasses: Int = 1000

        enum CodingKeys: String, CodingKey {
            case blocks, stemChs = "stem_chs", numFeatures = "num_features", numClasses = "num_classes"
        }
    }

    /// `MobileVitBlock`'s fixed arguments (timm's defaults, which no model overrides).
    static let heads = 4
    static let mlpRatio = 2

    public let config: Config
    let stem: ConvNorm
    /// Per stage, timm's `Sequential`: inverted residuals, then the MobileViT block if any.
    let stages: [[StageBlock]]
    let finalConv: ConvNorm?
    let head: LinearLayer
    public var numClasses: Int { config.numClasses }

    public init(_ w: Weights, config: Config) throws {
        guard !config.blocks.isEmpty, config.stemChs >= 1, config.numFeatures >= 0, config.numClasses >= 1 else {
            throw ModelInputError("mobilevit: needs at least one stage, stem_chs and num_classes of at least 1 and "
                                  + "num_features ≥ 0; got \(config.blocks.count) stages, stem_chs \(config.stemChs), "
                                  + "num_features \(config.numFeatures), num_classes \(config.numClasses)")
        }
        self.config = config
        stem = w.scope("stem") { ConvNorm(w, in: 3, out: config.stemChs, kernel: 3, stride: 2) }
        var stages: [[StageBlock]] = [], width = config.stemChs
        for (i, stage) in config.blocks.enumerated() {
            let context = "mobilevit: stage \(i)"
            guard stage.d >= 1, stage.c >= 1, stage.s >= 1, (stage.br ?? 4) > 0 else {
                throw ModelInputError("\(context): d, c and s must be at least 1 and br positive")
            }
            let out = makeDivisible(Double(stage.c)), expansion = stage.br ?? 4
            var blocks: [StageBlock] = []
            for j in 0..<stage.d {
                let cin = width
                blocks.append(w.scope("stages.\(i).\(j)") {
                    InvertedResidual(w, in: cin, out: out, stride: j == 0 ? stage.s : 1, expansion: expansion)
                })
                width = out
            }
            if let dim = stage.transformerDim {
                guard let depth = stage.transformerDepth, depth >= 0 else {
                    throw ModelInputError("\(context): a MobileViT block needs transformer_depth ≥ 0")
                }
                let patch = stage.patchSize ?? 4
                guard dim >= 1, dim % Self.heads == 0, patch >= 1 else {
                    throw ModelInputError("\(context): transformer_dim must be a positive multiple of the \(Self.heads) "
                                          + "heads and patch_size at least 1")
                }
                let cin = width
                blocks.append(w.scope("stages.\(i).\(stage.d)") {
                    MobileViTBlock(w, in: cin, out: out, transformerDim: dim, depth: depth, patchSize: patch)
                })
            } else if stage.transformerDepth != nil || stage.patchSize != nil {
                throw ModelInputError("\(context): transformer_depth and patch_size need a transformer_dim")
            }
            stages.append(blocks)
        }
        self.stages = stages
        let features = config.numFeatures == 0 ? width : config.numFeatures
        finalConv = config.numFeatures == 0 ? nil : w.scope("final_conv") { ConvNorm(w, in: width, out: features, kernel: 1) }
        head = w.scope("head.fc") { LinearLayer(w, in: features, out: config.numClasses) }
    }

    /// Every strided conv is 3x3 with padding 1, so any positive size keeps at least one pixel.
    public func checkInput(height: Int, width: Int) throws {
        guard height >= 1, width >= 1 else {
            throw ModelInputError("mobilevit needs an input of at least 1x1 pixels, got \(height)x\(width)")
        }
    }

    public func notes(height: Int, width: Int) -> [String] {
        var h = convOut(height, kernel: 3, stride: 2, padding: 1), w = convOut(width, kernel: 3, stride: 2, padding: 1)
        var resized: [String] = []
        for (i, stage) in config.blocks.enumerated() {
            h = convOut(h, kernel: 3, stride: stage.s, padding: 1)
            w = convOut(w, kernel: 3, stride: stage.s, padding: 1)
            let p = stage.patchSize ?? 4
            if stage.transformerDim != nil && (h % p != 0 || w % p != 0) { resized.append("stages.\(i) (\(h)x\(w))") }
        }
        guard !resized.isEmpty else { return [] }
        return ["\(height)x\(width): the patches do not tile the maps of \(resized.joined(separator: ", ")); as in timm, "
                + "these are resized bilinearly to the next multiple of the patch size and back"]
    }

    public func collect(_ sd: inout StateDict) {
        sd.scope("stem") { stem.collect(&$0) }
        for (i, stage) in stages.enumerated() {
            for (j, block) in stage.enumerated() { sd.scope("stages.\(i).\(j)") { block.collect(&$0) } }
        }
        if let finalConv { sd.scope("final_conv") { finalConv.collect(&$0) } }
        sd.scope("head.fc") { head.collect(&$0) }
    }

    public func forward(_ b: PlanBuilder, _ input: Value) throws -> Value {
        var x = try b.scope("stem") { try b.apply(stem.foldedOp(activation: .silu), [input]) }
        for (i, stage) in stages.enumerated() {
            for (j, block) in stage.enumerated() { x = try b.scope("stages.\(i).\(j)") { try block.forward(b, x) } }
        }
        if let finalConv { x = try b.scope("final_conv") { try b.apply(finalConv.foldedOp(activation: .silu), [x]) } }
        return try b.scope("head") {
            let pooled = try b.apply(GlobalAvgPool(), [x], name: "global_pool")
            return try b.scope("fc") { try head.forward(b, pooled) }
        }
    }

    /// A block of a stage, inverted residual or MobileViT block.
    protocol StageBlock: Module {
        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value
    }

    /// MobileNetV2's inverted residual (timm `BottleneckBlock(bottle_in=True, linear_out=True)`,
    /// depthwise): 1x1 (SiLU), 3x3 depthwise (SiLU), 1x1 — each conv+BN one fused conv, the
    /// shortcut added in the last one's epilogue.
    final class InvertedResidual: StageBlock {
        let conv1: ConvNorm, conv2: ConvNorm, conv3: ConvNorm
        let hasShortcut: Bool

        init(_ w: Weights, in cin: Int, out cout: Int, stride: Int, expansion: Double) {
            let mid = makeDivisible(Double(cin) * expansion)
            conv1 = w.scope("conv1_1x1") { ConvNorm(w, in: cin, out: mid, kernel: 1) }
            conv2 = w.scope("conv2_kxk") { ConvNorm(w, in: mid, out: mid, kernel: 3, stride: stride, groups: mid) }
            conv3 = w.scope("conv3_1x1") { ConvNorm(w, in: mid, out: cout, kernel: 1) }
            hasShortcut = cin == cout && stride == 1
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("conv1_1x1") { conv1.collect(&$0) }
            sd.scope("conv2_kxk") { conv2.collect(&$0) }
            sd.scope("conv3_1x1") { conv3.collect(&$0) }
        }

        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            let expanded = try b.scope("conv1_1x1") { try b.apply(conv1.foldedOp(activation: .silu), [x]) }
            let mixed = try b.scope("conv2_kxk") { try b.apply(conv2.foldedOp(activation: .silu), [expanded]) }
            return try b.scope("conv3_1x1") {
                try b.apply(conv3.foldedOp(residual: hasShortcut), hasShortcut ? [mixed, x] : [mixed])
            }
        }
    }

    /// timm's `MobileVitBlock` (no `no_fusion`).
    final class MobileViTBlock: StageBlock {
        let channels: Int, dim: Int, patchSize: Int
        let convKxk: ConvNorm
        let conv1x1: Conv2dLayer
        let transformer: [VisionTransformerBlock]
        let norm: LayerNormLayer
        let convProj: ConvNorm
        let convFusion: ConvNorm

        init(_ w: Weights, in cin: Int, out cout: Int, transformerDim d: Int, depth: Int, patchSize: Int) {
            channels = cin
            dim = d
            self.patchSize = patchSize
            convKxk = w.scope("conv_kxk") { ConvNorm(w, in: cin, out: cin, kernel: 3) }
            conv1x1 = w.scope("conv_1x1") { Conv2dLayer(w, in: cin, out: d, kernel: 1, bias: false) }
            transformer = (0..<depth).map { k in w.scope("transformer.\(k)") { VisionTransformerBlock(w, dim: d, heads: MobileViT.heads, hidden: MobileViT.mlpRatio * d, activation: .silu, eps: 1e-5) } }
            norm = w.scope("norm") { LayerNormLayer(w, channels: d) }
            convProj = w.scope("conv_proj") { ConvNorm(w, in: d, out: cout, kernel: 1) }
            convFusion = w.scope("conv_fusion") { ConvNorm(w, in: cin + cout, out: cout, kernel: 3) }
        }

        var outChannels: Int { convProj.conv.outChannels }

        func collect(_ sd: inout StateDict) {
            sd.scope("conv_kxk") { convKxk.collect(&$0) }
            sd.scope("conv_1x1") { conv1x1.collect(&$0) }
            for (k, block) in transformer.enumerated() { sd.scope("transformer.\(k)") { block.collect(&$0) } }
            sd.scope("norm") { norm.collect(&$0) }
            sd.scope("conv_proj") { convProj.collect(&$0) }
            sd.scope("conv_fusion") { convFusion.collect(&$0) }
        }

        /// The two 1x1 convs around the transformer act on each pixel alone, so they run on the
        /// unfolded tokens as `Linear`s — the unfold and the fold then permute the narrower C
        /// channels instead of d. Resizing commutes with them too (it mixes pixels with weights
        /// that sum to 1, and `conv_1x1` has no bias, `conv_proj`'s BN only an affine map); only
        /// `conv_proj`'s SiLU has to wait until the map is back at its own size.
        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            let shape = b.shape(of: x), (h, w) = (shape[1], shape[2]), p = patchSize
            let grid = (h: (h + p - 1) / p, w: (w + p - 1) / p)
            let resized = grid.h * p != h || grid.w * p != w
            let local = try b.scope("conv_kxk") { try b.apply(convKxk.foldedOp(activation: .silu), [x]) }
            let tiled = resized
                ? try b.apply(BilinearResize(height: grid.h * p, width: grid.w * p), [local], name: "interpolate") : local
            var tokens = try b.unfoldPatches(tiled, patch: (p, p))
            tokens = try b.scope("conv_1x1") {
                try b.apply(Linear(weight: conv1x1.weight.reshaped([dim, channels])), [tokens])
            }
            for (k, block) in transformer.enumerated() {
                tokens = try b.scope("transformer.\(k)") { try block.forward(b, tokens) }
            }
            tokens = try b.scope("norm") { try norm.forward(b, tokens) }
            let (projWeight, projBias) = convProj.fused
            let proj = Linear(weight: projWeight.reshaped([outChannels, dim]), bias: projBias,
                              activation: resized ? .none : .silu)
            tokens = try b.scope("conv_proj") { try b.apply(proj, [tokens]) }
            var global = try b.foldPatches(tokens, patch: (p, p), grid: grid)
            if resized {
                global = try b.apply(BilinearResize(height: h, width: w), [global], name: "interpolate_back")
                global = try b.scope("conv_proj") { try b.apply(ActivationOp(.silu), [global], name: "act") }
            }
            let both = try b.apply(Concat(axis: 3), [x, global], name: "cat")
            return try b.scope("conv_fusion") { try b.apply(convFusion.foldedOp(activation: .silu), [both]) }
        }
    }
}

extension ConvNorm {
    /// timm's `ConvNormAct` as one conv: the BatchNorm folded in, the activation in the epilogue.
    fileprivate func foldedOp(activation: Activation) -> Conv2d {
        let (w, b) = fused
        return Conv2d(weight: w, bias: b, stride: conv.stride, padding: conv.padding, groups: conv.groups,
                      activation: activation)
    }
}

extension ModelZoo {
    static var mobileViT: [ModelInfo] {
        typealias Stage = MobileViT.Stage
        func ir(_ d: Int, _ c: Int, _ s: Int, _ br: Double) -> Stage { Stage(d: d, c: c, s: s, br: br) }
        func mv(_ c: Int, _ dim: Int, _ depth: Int, _ br: Double) -> Stage {
            Stage(d: 1, c: c, s: 2, br: br, transformerDim: dim, transformerDepth: depth, patchSize: 2)
        }
        let variants: [(name: String, channels: [Int], dims: [Int], br: Double, features: Int,
                        top1: Double, params: Double, gmacs: Double)] = [
            // timm model_cfgs: stage widths, transformer widths of stages 2-4 (depths 2, 4, 3), MV2
            // expansion, final_conv width. Top-1: the paper (arXiv 2110.02178); params (M): timm;
            // GMACs@256: timm's FlopCounterMode (scripts/goldens/reference_counts.py) — timm's
            // benchmark figures (0.42 / 1.05 / 2.03, docs/published-figures.md) also count 2 per
            // BatchNorm and 5 per LayerNorm element, which the plan folds away (they differ by
            // 2.6 / 2.5 / 1.6%).
            ("mobilevit_xxs", [16, 24, 48, 64, 80], [64, 80, 96], 2, 320, 69.0, 1.27, 0.407),
            ("mobilevit_xs", [32, 48, 64, 80, 96], [96, 120, 144], 4, 384, 74.8, 2.32, 1.026),
            ("mobilevit_s", [32, 64, 96, 128, 160], [144, 192, 240], 4, 640, 78.4, 5.58, 2.001),
        ]
        return variants.map { v in
            let c = v.channels, br = v.br
            let config = MobileViT.Config(
                blocks: [ir(1, c[0], 1, br), ir(3, c[1], 2, br), mv(c[2], v.dims[0], 2, br), mv(c[3], v.dims[1], 4, br),
                         mv(c[4], v.dims[2], 3, br)],
                numFeatures: v.features)
            return ModelInfo(
                name: v.name, family: "mobilevit", resolution: 256,
                published: PublishedAccuracy(top1: v.top1, source: "MobileViT paper, ICLR 2022 (arXiv 2110.02178)"),
                referenceParams: v.params, referenceGMACs: v.gmacs,
                summary: "MobileViT v1, widths \(c.map(String.init).joined(separator: "/")), transformer widths "
                    + "\(v.dims.map(String.init).joined(separator: "/")) (depths 2/4/3), MV2 expansion \(Int(br)), "
                    + "2x2 patches, SiLU",
                make: { w, overrides in try MobileViT(w, config: config.merged(with: overrides)) })
        }
    }
}

extension BlockZoo {
    static var mobileViT: [BlockInfo] {
        [
            BlockInfo(name: "mobilevit.block",
                      summary: "MobileViT block on an NHWC map [N, H, W, dim]: 3x3 conv, 1x1 to the transformer width "
                          + "dim + 16 (as in every mobilevit_xxs stage), 2x2 patches, 2 transformer layers (4 heads, MLP 2x, "
                          + "SiLU), fold, 1x1 back to dim, concat, 3x3 fusion; maps the patches do not tile are resized as "
                          + "in timm; default: mobilevit_xxs stages.2 at 256 (48 channels, 32x32)",
                      defaultDim: 48, defaultResolution: 32) { w, dim, _, _ in
                guard dim % MobileViT.heads == 0 else {
                    throw ModelInputError("mobilevit.block: the transformer width dim + 16 = \(dim + 16) must split into "
                                          + "\(MobileViT.heads) heads (dim a multiple of \(MobileViT.heads)), got dim \(dim)")
                }
                let block = MobileViT.MobileViTBlock(w, in: dim, out: dim, transformerDim: dim + 16, depth: 2, patchSize: 2)
                return AdaptedBlock(block, layout: .featureMap, channels: dim, forward: block.forward)
            },
            BlockInfo(name: "mobilevit.mv2",
                      summary: "MobileNetV2 inverted residual as MobileViT uses it, on an NHWC map [N, H, W, dim]: 1x1 to "
                          + "2·dim (SiLU), depthwise 3x3 (SiLU), 1x1 back, identity shortcut; default: mobilevit_xxs "
                          + "stages.1 blocks 1-2 at 256 (24 channels, 64x64)",
                      defaultDim: 24, defaultResolution: 64) { w, dim, _, _ in
                let block = MobileViT.InvertedResidual(w, in: dim, out: dim, stride: 1, expansion: 2)
                return AdaptedBlock(block, layout: .featureMap, channels: dim, forward: block.forward)
            },
        ]
    }
}
