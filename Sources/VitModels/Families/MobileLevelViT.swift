import VitEngine

/// The mobile-level vision transformer of Chen et al., "Exploring and Improving Mobile Level
/// Vision Transformers" (arXiv 2108.13015): a plain DeiT encoder between an *irregular patch
/// embedding* (IPE) and an *adaptive patch fusion* (APF). The paper claims more than 9 points
/// top-1 over DeiT at the mobile level, and more than Swin and CoaT at that budget.
///
/// No code, config table, weights or FLOPs figure of the paper is available (only its text, arXiv
/// 2108.13015; see docs/published-figures.md), so this is a reconstruction from the text. What the
/// text fixes: a conv patch embedding of depthwise + pointwise convs; three parallel branches, each
/// an inverted-residual block with squeeze-excitation and its own stride, giving 7x7, 4x4 and 1x1
/// token grids that are concatenated (66 tokens at 224, instead of DeiT's 14x14 = 196); plain
/// transformer blocks; instead of a class token, per-token weights that are the product of a
/// learned global weight and input-dependent weights an MLP computes, fusing the tokens for the
/// classifier; and a learned position embedding the ablations find nearly superfluous. What is
/// ours, and why:
///
/// - Patch embedding (`patch_embed`): EfficientNet-style stem `conv_stem` 3x3/2 + `bn1`, then one
///   depthwise-separable block per further width (`blocks.i.{conv_dw 3x3/2, bn1, conv_pw, bn2}`),
///   BN + hard-swish (MobileNetV3's activation for mobile conv blocks) after every conv
///   (MobileNetV1 keeps the activation after the pointwise conv too). Four stride-2 steps reach stride 16: the 14x14 map at 224 that "the original 14x14
///   patches" refers to, and the uniform tokens of the no-IPE ablation.
/// - IPE (`ipe.branches.i`): timm's `InvertedResidual` names (`conv_pw` + `bn1`, `conv_dw` +
///   `bn2`, `se.{fc1, fc2}`, `conv_pwl` + `bn3`; no residual, as width and grid change), expansion
///   4, hard-swish, MobileNetV3's SE (ReLU, hard-sigmoid gate, reduction 1/4 of the expanded
///   width, divisor 8). The branches reach 7x7, 4x4 and 1x1 from the 14x14 map as: depthwise 3x3
///   stride 2, depthwise 5x5 stride 4 (kernel ≥ stride, so no pixel is skipped; ⌈14/4⌉ = 4), and
///   a 3x3 stride-1 depthwise conv followed by global average pooling. The last is the "stride
///   that reaches 1x1" at every resolution — a fixed 14-stride would leave several tokens at
///   larger inputs. Pooling before the SE is exact: SE gates each channel uniformly over space,
///   so pool(SE(x)) = SE(pool(x)), and the projection after it runs on one pixel. At other
///   resolutions every branch keeps its stride: an H×W input gives grids of ⌈⌈H/16⌉/2⌉,
///   ⌈⌈H/16⌉/4⌉ and 1 (any size ≥ 1 leaves at least one token per branch). Tokens are ordered
///   7x7, then 4x4, then the global token, each grid row-major.
/// - Encoder: timm's DeiT `Block` (pre-norm LayerNorm eps 1e-6, fused `attn.qkv` with bias,
///   GELU MLP), then `norm`.
/// - APF (`apf`): `global_weight` g [1, T] (one learned weight per token, shared by all images)
///   and `mlp.{fc1, GELU, fc2}` mapping each token to one score; the fused feature is
///   Σₜ gₜ · softmaxₜ(mlp(xₜ)) · xₜ. The softmax over tokens normalises the input-dependent
///   weights into an attention-pooling distribution; the global weight then rescales each
///   token's share (the learned prior of which tokens — fine, coarse, global — matter), which
///   is the literal "multiply the two weights". The MLP narrows to 1/4 of the width: it only
///   produces one score per token.
/// - Position embedding: learned absolute `pos_embed` [1, T, D] (timm's layout, the class token's
///   row first where there is one).
/// - Other resolutions: `pos_embed` and `apf.global_weight` are laid out for the token grids at
///   `img_size`; at another size each branch's grid is resampled bilinearly (PyTorch's
///   `interpolate(mode='bilinear', align_corners=False)`), the class token's row and the global
///   token's row kept as they are. Bilinear rather than timm's bicubic for `pos_embed`: no
///   checkpoint expects timm's choice, and bilinear keeps a 4x4 grid's values in their range.
///   `notes(height:width:)` says so.
///
/// Budget: the text gives none; "mobile level" is the classic mobile setting of ≤ 0.6 GMACs at
/// 224 (MobileViT-XS: 0.7 G by its paper's count; DeiT-Ti: 1.26 GMACs, 5.7 M parameters). Fewer
/// tokens buy width — the paper's own argument — so `mlvit_mobile` is DeiT-like at width 256,
/// depth 9, 4 heads, MLP ratio 4: 0.55 GMACs and 8.4 M parameters at 224, 88% of it in the
/// encoder.
///
/// Ablations (the paper's, as config switches and zoo variants): `use_ipe = false` — uniform
/// 14x14 tokens from the patch embedding and a 1x1 conv `patch_embed.proj` to the width (timm's
/// `HybridEmbed` projection; 196 tokens, 1.59 GMACs at 224); `use_apf = false` — a `cls_token`
/// prepended, and the head reads its final state; `use_pos_embed = false` — no position
/// embedding. Zoo names: `mlvit_mobile` and `mlvit_mobile:{no_ipe, no_apf, no_pos}`.
public final class MobileLevelViT: ImageClassifier {
    public struct Config: Codable, Sendable {
        /// The input size the token grids of `pos_embed` and `apf.global_weight` belong to.
        public var imgSize: Int = 224
        /// The patch embedding's widths: the stem conv's, then one depthwise-separable stride-2
        /// block per further entry (total stride 2^count).
        public var patchEmbedChs: [Int] = [16, 32, 64, 128]
        /// Each IPE branch's depthwise stride; nil for the global branch (stride 1, then global
        /// average pooling: one token at any resolution).
        public var ipeStrides: [Int?] = [2, 4, nil]
        /// Each IPE branch's depthwise kernel (odd, padded to keep ⌈n/stride⌉).
        public var ipeKernels: [Int] = [3, 5, 3]
        public var ipeExpRatio: Double = 4
        public var ipeSeRatio: Double = 0.25
        public var embedDim: Int = 256
        public var depth: Int = 9
        public var numHeads: Int = 4
        public var mlpRatio: Double = 4
        /// Hidden width of the APF scoring MLP, relative to `embed_dim`.
        public var apfMlpRatio: Double = 0.25
        public var useIpe: Bool = true
        public var useApf: Bool = true
        public var usePosEmbed: Bool = true
        public var numClasses: Int = 1000

        enum CodingKeys: String, CodingKey {
            case imgSize = "img_size", patchEmbedChs = "patch_embed_chs", ipeStrides = "ipe_strides"
            case ipeKernels = "ipe_kernels", ipeExpRatio = "ipe_exp_ratio", ipeSeRatio = "ipe_se_ratio"
            case embedDim = "embed_dim", depth, numHeads = "num_heads", mlpRatio = "mlp_ratio"
            case apfMlpRatio = "apf_mlp_ratio", useIpe = "use_ipe", useApf = "use_apf"
            case usePosEmbed = "use_pos_embed", numClasses = "num_classes"
        }

        public init() {}
    }

    public let config: Config
    let patchEmbed: ConvPatchEmbed
    let ipe: IrregularPatchEmbed?
    let clsToken: Tensor?
    let posEmbed: Tensor?
    let blocks: [VisionTransformerBlock]
    let norm: LayerNormLayer
    let apf: AdaptivePatchFusion?
    let head: LinearLayer
    /// The token layout `pos_embed` and `apf.global_weight` were learned for.
    let nativeLayout: TokenLayout
    public var numClasses: Int { config.numClasses }

    public init(_ w: Weights, config c: Config) throws {
        try Self.validate(c)
        config = c
        let dim = c.embedDim
        patchEmbed = w.scope("patch_embed") {
            ConvPatchEmbed(w, widths: c.patchEmbedChs, projection: c.useIpe ? nil : dim)
        }
        ipe = c.useIpe ? w.scope("ipe") {
            IrregularPatchEmbed(w, in: c.patchEmbedChs.last!, out: dim, strides: c.ipeStrides, kernels: c.ipeKernels,
                                expRatio: c.ipeExpRatio, seRatio: c.ipeSeRatio)
        } : nil
        nativeLayout = TokenLayout(prefix: c.useApf ? 0 : 1,
                                   grids: Self.grids(config: c, height: c.imgSize, width: c.imgSize))
        let tokens = nativeLayout.count
        clsToken = c.useApf ? nil : w.read("cls_token", shape: [1, 1, dim], .normal(0.02))
        posEmbed = c.usePosEmbed ? w.read("pos_embed", shape: [1, tokens, dim], .normal(0.02)) : nil
        let hidden = Int(Double(dim) * c.mlpRatio)
        blocks = (0..<c.depth).map { j in
            w.scope("blocks") { w.scope("\(j)") { VisionTransformerBlock(w, dim: dim, heads: c.numHeads, hidden: hidden) } }
        }
        norm = w.scope("norm") { LayerNormLayer(w, channels: dim, eps: 1e-6) }
        apf = c.useApf ? w.scope("apf") {
            AdaptivePatchFusion(w, dim: dim, hidden: Int(Double(dim) * c.apfMlpRatio), tokens: tokens)
        } : nil
        head = w.scope("head") { LinearLayer(w, in: dim, out: c.numClasses) }
    }

    static func validate(_ c: Config) throws {
        func fail(_ message: String) -> ModelInputError { ModelInputError("mlvit: \(message)") }
        guard c.imgSize >= 1 else { throw fail("img_size must be positive, got \(c.imgSize)") }
        guard !c.patchEmbedChs.isEmpty, c.patchEmbedChs.allSatisfy({ $0 >= 1 }) else {
            throw fail("patch_embed_chs needs at least one positive width, got \(c.patchEmbedChs)")
        }
        if c.useIpe {
            guard !c.ipeStrides.isEmpty, c.ipeStrides.count == c.ipeKernels.count else {
                throw fail("ipe_strides and ipe_kernels need one entry per IPE branch, got \(c.ipeStrides.count) and \(c.ipeKernels.count)")
            }
            for (i, (s, k)) in zip(c.ipeStrides, c.ipeKernels).enumerated() {
                if let s, s < 1 { throw fail("IPE branch \(i): stride must be positive (or null for global pooling), got \(s)") }
                guard k >= 1, k % 2 == 1 else { throw fail("IPE branch \(i): kernel must be odd and positive, got \(k)") }
            }
            let mid = Int(Double(c.patchEmbedChs.last!) * c.ipeExpRatio)
            guard mid >= 1 else { throw fail("ipe_exp_ratio \(c.ipeExpRatio) leaves no expanded channels") }
            guard c.ipeSeRatio > 0 else { throw fail("ipe_se_ratio must be positive, got \(c.ipeSeRatio)") }
        }
        guard c.embedDim >= 1, c.numHeads >= 1, c.embedDim % c.numHeads == 0 else {
            throw fail("embed_dim \(c.embedDim) does not split into num_heads \(c.numHeads) heads")
        }
        guard c.depth >= 1 else { throw fail("depth must be at least 1, got \(c.depth)") }
        guard Int(Double(c.embedDim) * c.mlpRatio) >= 1 else { throw fail("mlp_ratio \(c.mlpRatio) leaves no hidden units") }
        if c.useApf && Int(Double(c.embedDim) * c.apfMlpRatio) < 1 {
            throw fail("apf_mlp_ratio \(c.apfMlpRatio) leaves no hidden units in the APF MLP")
        }
        guard c.numClasses >= 1 else { throw fail("num_classes must be positive, got \(c.numClasses)") }
    }

    /// The patch grids of an H×W input: the IPE branches' grids, or the patch embedding's map.
    static func grids(config c: Config, height: Int, width: Int) -> [Grid] {
        let map = Grid(h: ConvPatchEmbed.outputSize(height, blocks: c.patchEmbedChs.count),
                       w: ConvPatchEmbed.outputSize(width, blocks: c.patchEmbedChs.count))
        guard c.useIpe else { return [map] }
        return zip(c.ipeStrides, c.ipeKernels).map { IrregularPatchEmbed.grid(of: map, stride: $0, kernel: $1) }
    }

    /// The token layout of an H×W input.
    public func tokenLayout(height: Int, width: Int) -> TokenLayout {
        TokenLayout(prefix: nativeLayout.prefix, grids: Self.grids(config: config, height: height, width: width))
    }

    public func checkInput(height: Int, width: Int) throws {
        guard height >= 1, width >= 1 else {
            throw ModelInputError("mlvit needs an input of at least 1x1, got \(height)x\(width)")
        }
    }

    public func notes(height: Int, width: Int) -> [String] {
        let layout = tokenLayout(height: height, width: width)
        let resampled = [posEmbed.map { _ in "pos_embed" }, apf.map { _ in "apf.global_weight" }].compactMap { $0 }
        guard layout != nativeLayout, !resampled.isEmpty else { return [] }
        return ["mlvit: \(resampled.joined(separator: " and ")) resampled (bilinear) from the \(nativeLayout) token grids of "
                + "\(config.imgSize)x\(config.imgSize) to \(layout) for \(height)x\(width)"]
    }

    public func collect(_ sd: inout StateDict) {
        sd.scope("patch_embed") { patchEmbed.collect(&$0) }
        if let ipe { sd.scope("ipe") { ipe.collect(&$0) } }
        if let clsToken { sd.add("cls_token", clsToken) }
        if let posEmbed { sd.add("pos_embed", posEmbed) }
        for (j, block) in blocks.enumerated() { sd.scope("blocks") { sd in sd.scope("\(j)") { block.collect(&$0) } } }
        sd.scope("norm") { norm.collect(&$0) }
        if let apf { sd.scope("apf") { apf.collect(&$0) } }
        sd.scope("head") { head.collect(&$0) }
    }

    public func forward(_ b: PlanBuilder, _ input: Value) throws -> Value {
        let inShape = b.shape(of: input)
        let layout = tokenLayout(height: inShape[1], width: inShape[2])
        let map = try b.scope("patch_embed") { try patchEmbed.forward(b, input) }
        let parts: [Value]
        if let ipe {
            parts = try b.scope("ipe") { try ipe.forward(b, map) }
        } else {
            let s = b.shape(of: map)
            parts = [try b.reshape(map, [s[0], s[1] * s[2], s[3]])]
        }
        var x = parts[0]
        if parts.count > 1 || clsToken != nil || posEmbed != nil {
            let positions = posEmbed.map { Self.resampleTokens($0, from: nativeLayout, to: layout) }
            x = try b.apply(AssembleTokens(channels: config.embedDim, prefix: clsToken?.reshaped([1, config.embedDim]),
                                           positions: positions), parts, name: "tokens")
        }
        for (j, block) in blocks.enumerated() { x = try b.scope("blocks") { try b.scope("\(j)") { try block.forward(b, x) } } }
        let pooled: Value
        if let apf {
            let normed = try b.scope("norm") { try norm.forward(b, x) }
            let weights = Self.resampleTokens(apf.globalWeight, from: nativeLayout, to: layout)
            pooled = try b.scope("apf") { try apf.forward(b, normed, globalWeight: weights.data) }
        } else {
            // The class token's final state. LayerNorm acts per token, so taking the token first
            // and normalising it alone equals timm's norm-then-`x[:, 0]`.
            let cls = try b.reshape(b.apply(SliceTokens(start: 0, count: 1), [x], name: "cls_token"), [b.shape(of: x)[0], config.embedDim])
            pooled = try b.scope("norm") { try norm.forward(b, cls) }
        }
        return try b.scope("head") { try head.forward(b, pooled) }
    }
}

// MARK: - Token layouts

extension MobileLevelViT {
    /// A grid of patch tokens, stored row-major.
    public struct Grid: Equatable, Sendable, CustomStringConvertible {
        public let h: Int, w: Int
        public var description: String { "\(h)x\(w)" }
    }

    /// Where each token of a sequence comes from: `prefix` learned tokens (a class token), then
    /// one grid per patch set.
    public struct TokenLayout: Equatable, Sendable, CustomStringConvertible {
        public let prefix: Int
        public let grids: [Grid]
        public var count: Int { prefix + grids.reduce(0) { $0 + $1.h * $1.w } }
        public var description: String {
            let patches = grids.map(\.description).joined(separator: "+")
            return prefix > 0 ? "\(prefix) prefix + \(patches)" : patches
        }
    }

    /// Per-token rows ([1, T, C] or [1, T]) laid out for `from`, resampled onto `to`: prefix rows
    /// kept, each grid bilinearly interpolated as PyTorch's `interpolate(mode='bilinear',
    /// align_corners=False)` does. Returns the tensor itself when the layouts agree.
    static func resampleTokens(_ rows: Tensor, from: TokenLayout, to: TokenLayout) -> Tensor {
        if from == to { return rows }
        precondition(from.prefix == to.prefix && from.grids.count == to.grids.count && rows.count % from.count == 0,
                     "token layouts \(from) and \(to) do not correspond")
        let ch = rows.count / from.count
        var out = Array(rows.data[0..<(from.prefix * ch)])
        var offset = from.prefix * ch
        for (g0, g1) in zip(from.grids, to.grids) {
            let src = Array(rows.data[offset..<(offset + g0.h * g0.w * ch)])
            offset += g0.h * g0.w * ch
            let ys = (0..<g1.h).map { bilinearSource($0, in: g0.h, out: g1.h) }
            let xs = (0..<g1.w).map { bilinearSource($0, in: g0.w, out: g1.w) }
            for (y0, y1, ly) in ys {
                for (x0, x1, lx) in xs {
                    for c in 0..<ch {
                        func at(_ y: Int, _ x: Int) -> Double { Double(src[(y * g0.w + x) * ch + c]) }
                        let top = (1 - lx) * at(y0, x0) + lx * at(y0, x1)
                        let bottom = (1 - lx) * at(y1, x0) + lx * at(y1, x1)
                        out.append(Float((1 - ly) * top + ly * bottom))
                    }
                }
            }
        }
        var shape = rows.shape
        shape[1] = to.count
        return Tensor(shape: shape, data: out)
    }

    /// The two source indices and the weight of the second for output index `i` of `m` over `n`
    /// inputs (half-pixel centres, clamped at the border).
    private static func bilinearSource(_ i: Int, in n: Int, out m: Int) -> (Int, Int, Double) {
        let s = max((Double(i) + 0.5) * Double(n) / Double(m) - 0.5, 0)
        let i0 = min(Int(s), n - 1)
        return (i0, min(i0 + 1, n - 1), s - Double(i0))
    }
}

// MARK: - Layers

/// conv (no bias) + BatchNorm + activation as the one conv step it folds into.
private func convBNAct(_ b: PlanBuilder, _ x: Value, conv: Conv2dLayer, bn: BatchNorm2d, activation: Activation) throws -> Value {
    let (weight, bias) = bn.params.fold(weight: conv.weight, bias: conv.bias)
    return try b.apply(Conv2d(weight: weight, bias: bias, stride: conv.stride, padding: conv.padding, groups: conv.groups,
                              activation: activation), [x])
}

extension MobileLevelViT {
    /// `conv_stem` 3x3/2 + `bn1`, then `blocks.i` = depthwise 3x3/2 (`conv_dw`, `bn1`) and
    /// pointwise (`conv_pw`, `bn2`), hard-swish after each; optionally `proj`, a 1x1 conv with
    /// bias to the token width (the no-IPE ablation).
    final class ConvPatchEmbed: Module {
        let convStem: Conv2dLayer, bn1: BatchNorm2d
        let blocks: [(convDw: Conv2dLayer, bn1: BatchNorm2d, convPw: Conv2dLayer, bn2: BatchNorm2d)]
        let proj: Conv2dLayer?

        init(_ w: Weights, widths: [Int], projection: Int?) {
            convStem = w.scope("conv_stem") { Conv2dLayer(w, in: 3, out: widths[0], kernel: 3, stride: 2, bias: false) }
            bn1 = w.scope("bn1") { BatchNorm2d(w, channels: widths[0]) }
            blocks = zip(widths, widths.dropFirst()).enumerated().map { i, io in
                w.scope("blocks") {
                    w.scope("\(i)") {
                        (w.scope("conv_dw") { Conv2dLayer(w, in: io.0, out: io.0, kernel: 3, stride: 2, groups: io.0, bias: false) },
                         w.scope("bn1") { BatchNorm2d(w, channels: io.0) },
                         w.scope("conv_pw") { Conv2dLayer(w, in: io.0, out: io.1, kernel: 1, bias: false) },
                         w.scope("bn2") { BatchNorm2d(w, channels: io.1) })
                    }
                }
            }
            proj = projection.map { d in w.scope("proj") { Conv2dLayer(w, in: widths.last!, out: d, kernel: 1) } }
        }

        /// The map's side for an input side n: every conv is 3x3/2 with padding 1, ⌈n/2⌉ each.
        static func outputSize(_ n: Int, blocks: Int) -> Int {
            (0..<blocks).reduce(n) { s, _ in convOut(s, kernel: 3, stride: 2, padding: 1) }
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("conv_stem") { convStem.collect(&$0) }
            sd.scope("bn1") { bn1.collect(&$0) }
            for (i, block) in blocks.enumerated() {
                sd.scope("blocks") { sd in
                    sd.scope("\(i)") { sd in
                        sd.scope("conv_dw") { block.convDw.collect(&$0) }
                        sd.scope("bn1") { block.bn1.collect(&$0) }
                        sd.scope("conv_pw") { block.convPw.collect(&$0) }
                        sd.scope("bn2") { block.bn2.collect(&$0) }
                    }
                }
            }
            if let proj { sd.scope("proj") { proj.collect(&$0) } }
        }

        func forward(_ b: PlanBuilder, _ input: Value) throws -> Value {
            var x = try b.scope("conv_stem") { try convBNAct(b, input, conv: convStem, bn: bn1, activation: .hardswish) }
            for (i, block) in blocks.enumerated() {
                x = try b.scope("blocks") {
                    try b.scope("\(i)") {
                        let d = try b.scope("conv_dw") { try convBNAct(b, x, conv: block.convDw, bn: block.bn1, activation: .hardswish) }
                        return try b.scope("conv_pw") { try convBNAct(b, d, conv: block.convPw, bn: block.bn2, activation: .hardswish) }
                    }
                }
            }
            if let proj { x = try b.scope("proj") { try proj.forward(b, x) } }
            return x
        }
    }

    /// IPE: parallel inverted-residual + SE branches (`branches.i`) over one feature map, each
    /// giving its own grid of tokens.
    final class IrregularPatchEmbed: Module {
        let branches: [Branch]

        init(_ w: Weights, in cin: Int, out cout: Int, strides: [Int?], kernels: [Int], expRatio: Double, seRatio: Double) {
            let mid = Int(Double(cin) * expRatio)
            let reduced = makeDivisible(Double(mid) * seRatio, 8, roundLimit: 0)
            branches = zip(strides, kernels).enumerated().map { i, sk in
                w.scope("branches") {
                    w.scope("\(i)") { Branch(w, in: cin, mid: mid, reduced: reduced, out: cout, kernel: sk.1, stride: sk.0) }
                }
            }
        }

        /// A branch's grid over an h×w map: its strided depthwise conv's output, or 1x1 when global.
        static func grid(of map: Grid, stride: Int?, kernel: Int) -> Grid {
            guard let stride else { return Grid(h: 1, w: 1) }
            return Grid(h: convOut(map.h, kernel: kernel, stride: stride, padding: kernel / 2),
                        w: convOut(map.w, kernel: kernel, stride: stride, padding: kernel / 2))
        }

        func collect(_ sd: inout StateDict) {
            for (i, branch) in branches.enumerated() { sd.scope("branches") { sd in sd.scope("\(i)") { branch.collect(&$0) } } }
        }

        /// The token sets [N, hᵢ·wᵢ, C], in branch order.
        func forward(_ b: PlanBuilder, _ x: Value) throws -> [Value] {
            try branches.enumerated().map { i, branch in try b.scope("branches") { try b.scope("\(i)") { try branch.forward(b, x) } } }
        }

        /// `conv_pw` + `bn1` (hard-swish), `conv_dw` + `bn2` (hard-swish), [global average pool],
        /// `se`, `conv_pwl` + `bn3`.
        final class Branch: Module {
            let convPw: Conv2dLayer, bn1: BatchNorm2d
            let convDw: Conv2dLayer, bn2: BatchNorm2d
            let se: SqueezeExciteLayer
            let convPwl: Conv2dLayer, bn3: BatchNorm2d
            let isGlobal: Bool

            init(_ w: Weights, in cin: Int, mid: Int, reduced: Int, out cout: Int, kernel: Int, stride: Int?) {
                isGlobal = stride == nil
                convPw = w.scope("conv_pw") { Conv2dLayer(w, in: cin, out: mid, kernel: 1, bias: false) }
                bn1 = w.scope("bn1") { BatchNorm2d(w, channels: mid) }
                convDw = w.scope("conv_dw") {
                    Conv2dLayer(w, in: mid, out: mid, kernel: kernel, stride: stride ?? 1, groups: mid, bias: false)
                }
                bn2 = w.scope("bn2") { BatchNorm2d(w, channels: mid) }
                se = w.scope("se") { SqueezeExciteLayer(w, channels: mid, reduced: reduced, gate: .hardsigmoid) }
                convPwl = w.scope("conv_pwl") { Conv2dLayer(w, in: mid, out: cout, kernel: 1, bias: false) }
                bn3 = w.scope("bn3") { BatchNorm2d(w, channels: cout) }
            }

            func collect(_ sd: inout StateDict) {
                sd.scope("conv_pw") { convPw.collect(&$0) }
                sd.scope("bn1") { bn1.collect(&$0) }
                sd.scope("conv_dw") { convDw.collect(&$0) }
                sd.scope("bn2") { bn2.collect(&$0) }
                sd.scope("se") { se.collect(&$0) }
                sd.scope("conv_pwl") { convPwl.collect(&$0) }
                sd.scope("bn3") { bn3.collect(&$0) }
            }

            func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
                let e = try b.scope("conv_pw") { try convBNAct(b, x, conv: convPw, bn: bn1, activation: .hardswish) }
                var d = try b.scope("conv_dw") { try convBNAct(b, e, conv: convDw, bn: bn2, activation: .hardswish) }
                if isGlobal { d = try b.apply(GlobalAvgPool(keepDims: true), [d], name: "global_pool") }
                let s = try b.scope("se") { try se.forward(b, d) }
                let y = try b.scope("conv_pwl") { try convBNAct(b, s, conv: convPwl, bn: bn3, activation: .none) }
                let shape = b.shape(of: y)
                return try b.reshape(y, [shape[0], shape[1] * shape[2], shape[3]])
            }
        }
    }

    /// APF: pooled = Σₜ gₜ · softmaxₜ(fc2(gelu(fc1(xₜ)))) · xₜ over tokens [N, T, C] → [N, C].
    final class AdaptivePatchFusion: Module {
        /// [1, T] for the native token layout.
        let globalWeight: Tensor
        let fc1: LinearLayer, fc2: LinearLayer

        init(_ w: Weights, dim: Int, hidden: Int, tokens: Int) {
            globalWeight = w.read("global_weight", shape: [1, tokens], .bnWeight)
            fc1 = w.scope("mlp") { w.scope("fc1") { LinearLayer(w, in: dim, out: hidden) } }
            fc2 = w.scope("mlp") { w.scope("fc2") { LinearLayer(w, in: hidden, out: 1) } }
        }

        func collect(_ sd: inout StateDict) {
            sd.add("global_weight", globalWeight)
            sd.scope("mlp") { sd in
                sd.scope("fc1") { fc1.collect(&$0) }
                sd.scope("fc2") { fc2.collect(&$0) }
            }
        }

        /// `globalWeight`: one weight per token of `x`, already resampled to its layout.
        func forward(_ b: PlanBuilder, _ x: Value, globalWeight g: [Float]) throws -> Value {
            let s = b.shape(of: x), (n, t, c) = (s[0], s[1], s[2])
            let h = try b.scope("mlp") { try b.scope("fc1") { try fc1.forward(b, x, activation: .gelu) } }
            let scores = try b.scope("mlp") { try b.scope("fc2") { try fc2.forward(b, h) } }
            let p = try b.apply(Softmax(), [try b.reshape(scores, [n, t])], name: "softmax")
            let weights = try b.apply(Binary(.mul, channelConstant: g), [p], name: "global_weight")
            let fused = try b.apply(MatMul(), [try b.reshape(weights, [n, 1, t]), x], name: "fuse")
            return try b.reshape(fused, [n, c])
        }
    }
}

// MARK: - Zoo

extension ModelZoo {
    /// `mlvit_mobile` and its ablations `mlvit_mobile:VARIANT` (the variant shows in the results'
    /// mixer column).
    static var mobileLevelViT: [ModelInfo] {
        let variants: [(suffix: String, summary: String, ablate: (inout MobileLevelViT.Config) -> Void)] = [
            ("", "IPE 7x7+4x4+1x1 (66 tokens at 224) + APF", { _ in }),
            (":no_ipe", "ablation without IPE: uniform 14x14 tokens from the conv patch embedding", { $0.useIpe = false }),
            (":no_apf", "ablation without APF: a class token (67 tokens at 224)", { $0.useApf = false }),
            (":no_pos", "ablation without position embedding", { $0.usePosEmbed = false }),
        ]
        return variants.map { v in
            ModelInfo(
                name: "mlvit_mobile\(v.suffix)", family: "mlvit", resolution: 224, published: nil,
                summary: "Mobile-level ViT (Chen et al., arXiv 2108.13015) reconstructed for a <= 0.6 GMACs budget at 224: "
                    + "dw/pw conv patch embedding to stride 16, DeiT encoder of width 256, depth 9, 4 heads; \(v.summary); "
                    + "no published weights",
                make: { w, overrides in
                    var c = MobileLevelViT.Config()
                    v.ablate(&c)
                    return try MobileLevelViT(w, config: c.merged(with: overrides))
                })
        }
    }
}

/// A block of this family behind `BenchmarkBlock`. Every block's H×W grid is the patch
/// embedding's map (14x14 at 224), the IPE's input, so that the token blocks see the token count
/// the model has for that map (66 at 14x14).
final class MobileLevelViTBlock: BenchmarkBlock {
    let module: Module
    let shape: (_ batch: Int, _ height: Int, _ width: Int) -> [Int]
    let lower: (PlanBuilder, Value) throws -> Value

    init(_ module: Module, shape: @escaping (_ batch: Int, _ height: Int, _ width: Int) -> [Int],
         forward: @escaping (PlanBuilder, Value) throws -> Value) {
        self.module = module
        self.shape = shape
        lower = forward
    }

    func inputShape(batch: Int, height: Int, width: Int) -> [Int] { shape(batch, height, width) }
    func forward(_ b: PlanBuilder, _ x: Value) throws -> Value { try lower(b, x) }
    func collect(_ sd: inout StateDict) { module.collect(&sd) }
}

extension BlockZoo {
    /// Defaults: the shapes of `mlvit_mobile` at 224.
    static var mobileLevelViT: [BlockInfo] {
        typealias Model = MobileLevelViT
        let c = Model.Config()
        let map = Model.ConvPatchEmbed.outputSize(c.imgSize, blocks: c.patchEmbedChs.count)
        /// The IPE tokens of an h×w map (no class token: the blocks are APF-model blocks).
        func layout(_ h: Int, _ w: Int) -> Model.TokenLayout {
            Model.TokenLayout(prefix: 0, grids: zip(c.ipeStrides, c.ipeKernels).map {
                Model.IrregularPatchEmbed.grid(of: Model.Grid(h: h, w: w), stride: $0, kernel: $1)
            })
        }
        let native = layout(map, map)
        return [
            BlockInfo(name: "mlvit.ipe",
                      summary: "Irregular patch embedding on an NHWC map [N, H, W, dim]: 3 inverted-residual + SE branches "
                          + "(expansion 4; dw 3x3/2, 5x5/4, 3x3 + global pool), concatenated with a position embedding into "
                          + "tokens [N, T, 2*dim] (66 at 14x14); default: mlvit_mobile at 224 (128 channels, 14x14)",
                      defaultDim: c.patchEmbedChs.last!, defaultResolution: map) { w, dim, h, wd in
                let ipe = w.scope("ipe") {
                    Model.IrregularPatchEmbed(w, in: dim, out: 2 * dim, strides: c.ipeStrides, kernels: c.ipeKernels,
                                              expRatio: c.ipeExpRatio, seRatio: c.ipeSeRatio)
                }
                let pos = w.read("pos_embed", shape: [1, native.count, 2 * dim], .normal(0.02))
                let positions = Model.resampleTokens(pos, from: native, to: layout(h, wd))
                return MobileLevelViTBlock(IPEWithPositions(ipe: ipe, posEmbed: pos), shape: { n, hh, ww in [n, hh, ww, dim] }) { b, x in
                    let parts = try b.scope("ipe") { try ipe.forward(b, x) }
                    return try b.apply(AssembleTokens(channels: 2 * dim, positions: positions), parts, name: "tokens")
                }
            },
            BlockInfo(name: "mlvit.apf",
                      summary: "Adaptive patch fusion of tokens [N, T, dim] into [N, dim] (T: the IPE tokens of an HxW map, "
                          + "66 at 14x14): per-token global weight x softmax over tokens of a GELU MLP score, weighted sum; "
                          + "default: mlvit_mobile at 224 (256 channels, 14x14 map)",
                      defaultDim: c.embedDim, defaultResolution: map) { w, dim, h, wd in
                let hidden = Int(Double(dim) * c.apfMlpRatio)
                guard hidden >= 1 else {
                    throw ModelInputError("mlvit.apf: width \(dim) leaves no hidden units at APF MLP ratio \(c.apfMlpRatio)")
                }
                let apf = Model.AdaptivePatchFusion(w, dim: dim, hidden: hidden, tokens: native.count)
                let weights = Model.resampleTokens(apf.globalWeight, from: native, to: layout(h, wd)).data
                return MobileLevelViTBlock(apf, shape: { n, hh, ww in [n, layout(hh, ww).count, dim] }) { b, x in
                    try apf.forward(b, x, globalWeight: weights)
                }
            },
            BlockInfo(name: "mlvit.block",
                      summary: "Encoder layer (DeiT block: pre-norm MHSA, head dim 64, + GELU MLP ratio 4) on tokens [N, T, dim] "
                          + "(T: the IPE tokens of an HxW map, 66 at 14x14); default: mlvit_mobile at 224 (256 channels, 14x14 map)",
                      defaultDim: c.embedDim, defaultResolution: map) { w, dim, _, _ in
                let headDim = c.embedDim / c.numHeads
                guard dim % headDim == 0 else {
                    throw ModelInputError("mlvit.block: width \(dim) is not a multiple of the head dim \(headDim)")
                }
                let block = VisionTransformerBlock(w, dim: dim, heads: dim / headDim, hidden: Int(Double(dim) * c.mlpRatio))
                return MobileLevelViTBlock(block, shape: { n, hh, ww in [n, layout(hh, ww).count, dim] }, forward: block.forward)
            },
        ]
    }
}

/// The IPE block's tensors: the branches under `ipe`, and `pos_embed`.
private final class IPEWithPositions: Module {
    let ipe: MobileLevelViT.IrregularPatchEmbed
    let posEmbed: Tensor

    init(ipe: MobileLevelViT.IrregularPatchEmbed, posEmbed: Tensor) {
        self.ipe = ipe
        self.posEmbed = posEmbed
    }

    func collect(_ sd: inout StateDict) {
        sd.scope("ipe") { ipe.collect(&$0) }
        sd.add("pos_embed", posEmbed)
    }
}
