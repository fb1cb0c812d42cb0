import VitEngine

/// PSViT: a vision transformer with token Pooling and attention Sharing (Chen et al., "PSViT:
/// Better Vision Transformer via Token Pooling and Attention Sharing", arXiv 2108.03428). No code
/// and no configuration table of the paper could be retrieved, so the architecture is built from
/// the paper's text and every choice the text leaves open is made here and said here. The paper
/// claims up to +6.6% ImageNet top-1 over DeiT (for its searched architectures, not for these
/// configurations); no weights were published.
///
/// From the paper:
/// - Three stages (the configuration takes any number); tokens fall and width rises with depth
///   (its "Dimension2" design, the best in its Table 1), and compute is spread evenly over the
///   stages (its design principle).
/// - Token pooling between stages. PSViT-2D drops the class token, keeps the patches as a 2D
///   map and pools with a stride-2 2D convolution (as ResNet does). PSViT-1D keeps a class token
///   and treats the patches as a sequence: a 1D convolution changes the width, then 1D max
///   pooling reduces the count.
/// - Attention sharing: a sharing layer reuses the attention map of the layer before it, so it
///   computes neither Q nor K nor the softmax — only its values V, the map applied to them, and
///   the output projection. The paper's supernet cell is a basic layer followed by a sharing
///   layer; the shipped configurations are made of such pairs.
///
/// Chosen here (not in the paper):
/// - DeiT's layer: pre-norm, LayerNorm eps 1e-6, multi-head attention with qkv bias, MLP ratio 4
///   with exact GELU; a sharing layer has `attn.v` (C→C) in place of `attn.qkv` (C→3C).
/// - Patch embedding: an 8x8 stride-8 convolution (`patch_embed.proj`), a 28x28 grid at 224,
///   plus a learned absolute position embedding (`pos_embed`, DeiT's; with the class token's
///   position first in PSViT-1D). At 224 the stages hold 784, 196 and 49 tokens. A 16x16 patch
///   (14x14 grid, stages of 196/49/16 tokens) would need widths of about 192/384/768 to spend
///   DeiT-Ti's 1.26 GMACs, and 25-45 M parameters; the 28x28 grid spends it at widths
///   96/192/384 and about 10 M.
/// - 2D token pooling (`stages.i.pool.conv`): a 3x3 convolution, stride 2, padding 1, with bias,
///   widening C to the next stage's width: ⌈H/2⌉x⌈W/2⌉ tokens.
/// - 1D token pooling (`stages.i.pool.conv`, `stages.i.pool.fc`): the class token is kept apart
///   and widened by a linear layer (`fc`, as timm's PiT does); the patch tokens, in row-major
///   order, go through a 1D convolution of kernel 3, padding 1, with bias (weight [out, in, 3]),
///   then a 1D max pooling of window 7, stride 4, padding 3 — exactly two ResNet-style 3/2/1 max
///   poolings in one, so that PSViT-1D reduces tokens by 4 as PSViT-2D does and both variants of
///   a size have the same token counts. T tokens become ⌈T/4⌉; every token lies in some window,
///   and a window that runs past the end of the sequence takes the maximum of the tokens it
///   holds (padding never wins), so a count that is not a multiple of 4 loses nothing.
/// - Heads: PSViT-2D averages the tokens, then `norm` and `head`; PSViT-1D applies `norm` and
///   `head` to the class token (DeiT's).
/// - Sizes (`psvit_{1d,2d}_{tiny,small}`), for DeiT-Ti's and DeiT-S's compute at 224 (1.26 and
///   4.61 GMACs): widths 96/192/384 (Tiny) and 192/384/768 (Small), doubling as tokens quarter so
///   that a layer's projections cost the same in every stage; heads 3/6/12 (head dim 32 in Tiny,
///   DeiT's 64 in Small); depths 2/6/4 — DeiT's 12 layers, deepest in the middle as in ResNet —
///   made of 1, 3 and 2 basic+sharing pairs. The stages then take about 28/45/27% of the
///   compute. GMACs at 224: 1.315 (1D) and 1.283 (2D) for Tiny, 4.729 and 4.603 for Small; the
///   1D variants carry a class token and convolve the patches before pooling them. Parameters:
///   10.0/10.5 M (Tiny) and 39.0/40.8 M (Small), above DeiT's 5.7/22 M: Dimension2 spends the
///   same compute on wider, later stages.
/// - Sharing is given per layer (`share_attention`, one flag per layer of each stage). The first
///   layer of a stage cannot share: the previous layer's map belongs to other tokens (another
///   count after pooling; for the first stage there is no previous layer). A sharing layer after
///   a sharing layer reuses the same map again.
///
/// Other resolutions: any input of at least one patch (8x8). The patch grid is ⌊H/8⌋x⌊W/8⌋
/// (pixels past the last whole patch are not seen) and the position embedding is resampled to
/// it as DeiT's is (bicubic with antialiasing, timm's `resample_abs_pos_embed`); every pooling
/// keeps at least one token.
///
/// Lowering: a basic layer whose map the next layer reuses computes it with `AttentionMap` and
/// applies it with `ApplyAttentionMap`; the sharing layer applies the same map to its own values.
/// Every other basic layer runs the flash-style `ScaledDotProductAttention`, which never holds
/// the map. A kept map is [N, heads, T, T] floats, O(T²) memory: `notes` says when that is large.
public final class PSViT: ImageClassifier {
    public struct Config: Codable, Sendable {
        /// "2d" (stride-2 conv on the token map, no class token) or "1d" (class token, 1D conv
        /// and max pooling on the token sequence).
        public var tokenPooling: String
        /// The resolution the position embedding is for (its grid: imgSize / patchSize).
        public var imgSize = 224
        public var patchSize = 8
        public var embedDims: [Int]
        public var depths: [Int]
        public var numHeads: [Int]
        /// One flag per layer of each stage: whether the layer reuses the previous layer's map.
        public var shareAttention: [[Bool]]
        public var mlpRatio = 4.0
        public var numClasses = 1000

        enum CodingKeys: String, CodingKey {
            case tokenPooling = "token_pooling", imgSize = "img_size", patchSize = "patch_size"
            case embedDims = "embed_dims", depths, numHeads = "num_heads", shareAttention = "share_attention"
            case mlpRatio = "mlp_ratio", numClasses = "num_classes"
        }

        public init(tokenPooling: String, embedDims: [Int], depths: [Int], numHeads: [Int], shareAttention: [[Bool]]) {
            self.tokenPooling = tokenPooling
            self.embedDims = embedDims
            self.depths = depths
            self.numHeads = numHeads
            self.shareAttention = shareAttention
        }

        /// The position embedding's patch grid, one side.
        var grid: Int { imgSize / patchSize }
        var hasClassToken: Bool { tokenPooling == "1d" }

        /// Throws a `ModelInputError` naming the first field that cannot build a model.
        func validate() throws {
            guard tokenPooling == "1d" || tokenPooling == "2d" else {
                throw ModelInputError("psvit: unknown token_pooling '\(tokenPooling)'; known: 1d, 2d")
            }
            guard patchSize > 0, grid > 0, mlpRatio > 0, numClasses > 0 else {
                throw ModelInputError("psvit: img_size must be at least patch_size, and patch_size, mlp_ratio and num_classes positive; "
                                      + "got img_size \(imgSize), patch_size \(patchSize), mlp_ratio \(mlpRatio), num_classes \(numClasses)")
            }
            let stages = embedDims.count
            guard stages > 0, [depths.count, numHeads.count, shareAttention.count].allSatisfy({ $0 == stages }) else {
                throw ModelInputError("psvit: embed_dims, depths, num_heads and share_attention need one entry per stage, got "
                                      + "\(embedDims.count), \(depths.count), \(numHeads.count) and \(shareAttention.count)")
            }
            for i in 0..<stages {
                guard embedDims[i] > 0, depths[i] > 0, numHeads[i] > 0 else {
                    throw ModelInputError("psvit: stage \(i) needs a positive width, depth and head count, got "
                                          + "\(embedDims[i]), \(depths[i]) and \(numHeads[i])")
                }
                guard embedDims[i] % numHeads[i] == 0 else {
                    throw ModelInputError("psvit: stage \(i) width \(embedDims[i]) does not split into \(numHeads[i]) heads")
                }
                guard shareAttention[i].count == depths[i] else {
                    throw ModelInputError("psvit: stage \(i) has \(depths[i]) layers but share_attention gives \(shareAttention[i].count) flags")
                }
                if shareAttention[i][0] {
                    let why = i == 0 ? "no layer comes before it"
                        : "the token pooling before it changes the token count and width, so the previous layer's map does not fit"
                    throw ModelInputError("psvit: layer 0 of stage \(i) cannot share attention: \(why)")
                }
            }
        }
    }

    public let config: Config
    let patchEmbed: Conv2dLayer
    /// [1, 1, C₀] in PSViT-1D; nil in PSViT-2D.
    let clsToken: Tensor?
    /// [1, (1 +) grid², C₀]: the class token's position (PSViT-1D), then the patches' in
    /// row-major order.
    let posEmbed: Tensor
    let stages: [Stage]
    let norm: LayerNormLayer
    let head: LinearLayer
    public var numClasses: Int { config.numClasses }

    public init(_ w: Weights, config: Config) throws {
        try config.validate()
        self.config = config
        let dims = config.embedDims, c0 = dims[0], p = config.patchSize, g = config.grid
        patchEmbed = w.scope("patch_embed") { w.scope("proj") { Conv2dLayer(w, in: 3, out: c0, kernel: p, stride: p, padding: 0) } }
        clsToken = config.hasClassToken ? w.read("cls_token", shape: [1, 1, c0], .normal(0.02)) : nil
        posEmbed = w.read("pos_embed", shape: [1, (config.hasClassToken ? 1 : 0) + g * g, c0], .normal(0.02))
        stages = dims.indices.map { i in
            w.scope("stages") { w.scope("\(i)") { Stage(w, config: config, index: i) } }
        }
        norm = w.scope("norm") { LayerNormLayer(w, channels: dims.last!, eps: Layer.eps) }
        head = w.scope("head") { LinearLayer(w, in: dims.last!, out: config.numClasses) }
    }

    public func checkInput(height: Int, width: Int) throws {
        let p = config.patchSize
        guard height >= p, width >= p else {
            throw ModelInputError("psvit: the input must be at least one \(p)x\(p) patch, got \(height)x\(width)")
        }
    }

    public func notes(height: Int, width: Int) -> [String] {
        let p = config.patchSize, g = config.grid, (gh, gw) = (height / p, width / p)
        var notes: [String] = []
        if height % p != 0 || width % p != 0 {
            notes.append("the patch grid is \(gh)x\(gw): the last \(height % p) pixel rows and \(width % p) columns fall outside "
                         + "the \(p)x\(p) patches and are not seen")
        }
        if (gh, gw) != (g, g) {
            notes.append(positionEmbeddingNote(grid: g, to: gh, gw))
        }
        // The largest map a sharing layer reuses, stage by stage through the poolings.
        var (h, w) = (gh, gw), patches = gh * gw, largest: (mib: Double, note: String)?
        for i in config.embedDims.indices {
            if i > 0 && config.hasClassToken {
                patches = (patches + 3) / 4
            } else if i > 0 {
                (h, w) = ((h + 1) / 2, (w + 1) / 2)
                patches = h * w
            }
            let tokens = patches + (config.hasClassToken ? 1 : 0), heads = config.numHeads[i]
            let mib = Double(heads * tokens * tokens) * 4 / 1_048_576
            if config.shareAttention[i].contains(true) && mib > (largest?.mib ?? 0) {
                largest = (mib, "attention sharing keeps stage \(i)'s attention maps: \(heads) heads x \(tokens)x\(tokens) tokens "
                                + "= \(Int(mib)) MiB per image")
            }
        }
        if let largest, largest.mib >= 256 { notes.append(largest.note) }
        return notes
    }

    public func collect(_ sd: inout StateDict) {
        if let clsToken { sd.add("cls_token", clsToken) }
        sd.add("pos_embed", posEmbed)
        sd.scope("patch_embed") { sd in sd.scope("proj") { patchEmbed.collect(&$0) } }
        for (i, stage) in stages.enumerated() { sd.scope("stages") { sd in sd.scope("\(i)") { stage.collect(&$0) } } }
        sd.scope("norm") { norm.collect(&$0) }
        sd.scope("head") { head.collect(&$0) }
    }

    /// PSViT-2D carries NHWC maps [N, H, W, C] from stage to stage, PSViT-1D token sequences
    /// [N, 1 + T, C]; the layers see either as [N, tokens, C].
    public func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
        let n = b.shape(of: x)[0], c0 = config.embedDims[0]
        let patches = try b.scope("patch_embed") { try b.scope("proj") { try patchEmbed.forward(b, x) } }
        let (gh, gw) = (b.shape(of: patches)[1], b.shape(of: patches)[2])
        let embedded = try b.apply(AssembleTokens(channels: c0, prefix: clsToken?.reshaped([1, c0]),
                                                  positions: positionsForGrid(height: gh, width: gw)),
                                   [b.reshape(patches, [n, gh * gw, c0])], name: "pos_embed")
        var y = config.hasClassToken ? embedded : try b.reshape(embedded, [n, gh, gw, c0])
        for (i, stage) in stages.enumerated() {
            y = try b.scope("stages") { try b.scope("\(i)") { try stage.forward(b, y) } }
        }
        let c = config.embedDims.last!
        let features = config.hasClassToken
            ? try b.reshape(b.apply(SliceTokens(start: 0, count: 1), [y], name: "cls"), [n, c])
            : try b.apply(GlobalAvgPool(), [y], name: "global_pool")
        // The final norm runs on the one vector the head reads, fused with the head's GEMM.
        return try b.scope("head") { try b.apply(LayerNormLinear.fusing(norm, head), [features]) }
    }

    /// The position embedding [(1 +) gh·gw, C₀] for a gh×gw patch grid.
    func positionsForGrid(height gh: Int, width gw: Int) -> Tensor {
        positionEmbedding(posEmbed, prefix: config.hasClassToken ? 1 : 0, grid: config.grid, for: gh, gw)
    }

    /// One stage: `pool` (every stage but the first), then `blocks`.
    final class Stage: Module {
        let pool: TokenPooling?
        let layers: [Layer]

        init(_ w: Weights, config: Config, index i: Int) {
            let dim = config.embedDims[i]
            if i == 0 {
                pool = nil
            } else {
                let inDim = config.embedDims[i - 1]
                pool = w.scope("pool") {
                    config.hasClassToken ? TokenPooling1d(w, in: inDim, out: dim) as TokenPooling : TokenPooling2d(w, in: inDim, out: dim)
                }
            }
            let hidden = Int(Double(dim) * config.mlpRatio)
            layers = config.shareAttention[i].enumerated().map { j, shares in
                w.scope("blocks") {
                    w.scope("\(j)") { Layer(w, dim: dim, heads: config.numHeads[i], hidden: hidden, sharesAttention: shares) }
                }
            }
        }

        func collect(_ sd: inout StateDict) {
            if let pool { sd.scope("pool") { pool.collect(&$0) } }
            for (j, layer) in layers.enumerated() { sd.scope("blocks") { sd in sd.scope("\(j)") { layer.collect(&$0) } } }
        }

        /// `x` is an NHWC map (2D) or a token sequence (1D); the result has the same form.
        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            let pooled = try pool.map { p in try b.scope("pool") { try p.forward(b, x) } } ?? x
            let shape = b.shape(of: pooled)
            var tokens = shape.count == 4 ? try b.reshape(pooled, [shape[0], shape[1] * shape[2], shape[3]]) : pooled
            var map: Value?
            for (j, layer) in layers.enumerated() {
                let keepsMap = j + 1 < layers.count && layers[j + 1].sharesAttention
                (tokens, map) = try b.scope("blocks") {
                    try b.scope("\(j)") { try layer.forward(b, tokens, sharedMap: map, keepsMap: keepsMap) }
                }
            }
            return shape.count == 4 ? try b.reshape(tokens, shape) : tokens
        }
    }

    /// One transformer layer, DeiT's: x = x + proj(attn(norm1(x))); x = x + mlp(norm2(x)). A
    /// basic layer projects norm1(x) to Q, K and V (`attn.qkv`); a sharing layer only to V
    /// (`attn.v`) and takes its attention map from the layer before it.
    final class Layer: Module {
        static let eps: Float = 1e-6
        let heads: Int
        let sharesAttention: Bool
        let norm1: LayerNormLayer, norm2: LayerNormLayer
        /// `attn.qkv` (C→3C, packed (3, heads, d) as timm packs it) or, sharing, `attn.v` (C→C).
        let inputProjection: LinearLayer
        let proj: LinearLayer
        let fc1: LinearLayer, fc2: LinearLayer

        init(_ w: Weights, dim: Int, heads: Int, hidden: Int, sharesAttention: Bool) {
            self.heads = heads
            self.sharesAttention = sharesAttention
            norm1 = w.scope("norm1") { LayerNormLayer(w, channels: dim, eps: Self.eps) }
            inputProjection = w.scope("attn") {
                w.scope(sharesAttention ? "v" : "qkv") { LinearLayer(w, in: dim, out: (sharesAttention ? 1 : 3) * dim) }
            }
            proj = w.scope("attn") { w.scope("proj") { LinearLayer(w, in: dim, out: dim) } }
            norm2 = w.scope("norm2") { LayerNormLayer(w, channels: dim, eps: Self.eps) }
            fc1 = w.scope("mlp") { w.scope("fc1") { LinearLayer(w, in: dim, out: hidden) } }
            fc2 = w.scope("mlp") { w.scope("fc2") { LinearLayer(w, in: hidden, out: dim) } }
        }

        var dim: Int { proj.weight.shape[0] }

        func collect(_ sd: inout StateDict) {
            sd.scope("norm1") { norm1.collect(&$0) }
            sd.scope("attn") { sd in
                sd.scope(sharesAttention ? "v" : "qkv") { inputProjection.collect(&$0) }
                sd.scope("proj") { proj.collect(&$0) }
            }
            sd.scope("norm2") { norm2.collect(&$0) }
            sd.scope("mlp") { sd in
                sd.scope("fc1") { fc1.collect(&$0) }
                sd.scope("fc2") { fc2.collect(&$0) }
            }
        }

        /// `x`: tokens [N, T, C]. A sharing layer needs `sharedMap` (the previous layer's
        /// [N, heads, T, T]); a basic layer returns its map when `keepsMap` (the next layer
        /// shares it) and otherwise runs flash-style attention that never holds it. Returns the
        /// layer's output and the map a following sharing layer would reuse.
        func forward(_ b: PlanBuilder, _ x: Value, sharedMap: Value?, keepsMap: Bool) throws -> (tokens: Value, map: Value?) {
            let d = dim / heads
            let (attended, map): (Value, Value?) = try b.scope("attn") {
                let o: Value, kept: Value?
                if sharesAttention {
                    guard let sharedMap else {
                        throw PlanError(module: b.modulePath, "a sharing layer needs the attention map of the layer before it")
                    }
                    let v = try b.scope("v") { try b.apply(LayerNormLinear.fusing(norm1, inputProjection), [x]) }
                    o = try b.apply(ApplyAttentionMap.values(heads: heads, headDim: d), [sharedMap, v], name: "apply_map")
                    kept = sharedMap
                } else {
                    let qkv = try b.scope("qkv") { try b.apply(LayerNormLinear.fusing(norm1, inputProjection), [x]) }
                    if keepsMap {
                        let m = try b.apply(AttentionMap.fusedQKV(heads: heads, headDim: d), [qkv], name: "map")
                        o = try b.apply(ApplyAttentionMap.fusedQKV(heads: heads, headDim: d), [m, qkv], name: "apply_map")
                        kept = m
                    } else {
                        o = try b.apply(ScaledDotProductAttention.fusedQKV(heads: heads, headDim: d), [qkv])
                        kept = nil
                    }
                }
                return (try b.scope("proj") { try proj.forward(b, o, residual: x) }, kept)
            }
            let y = try b.scope("mlp") { try b.apply(PointwiseMlp.fusing(norm2, fc1, fc2, activation: .gelu), [attended, attended]) }
            return (y, map)
        }
    }

    /// A basic layer followed by a sharing layer (the paper's sharing cell), under `0` and `1`:
    /// what `psvit.shared_attention` measures.
    final class SharingPair: Module {
        let basic: Layer, sharing: Layer

        init(_ w: Weights, dim: Int, heads: Int, hidden: Int) {
            basic = w.scope("0") { Layer(w, dim: dim, heads: heads, hidden: hidden, sharesAttention: false) }
            sharing = w.scope("1") { Layer(w, dim: dim, heads: heads, hidden: hidden, sharesAttention: true) }
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("0") { basic.collect(&$0) }
            sd.scope("1") { sharing.collect(&$0) }
        }

        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            let first = try b.scope("0") { try basic.forward(b, x, sharedMap: nil, keepsMap: true) }
            return try b.scope("1") { try sharing.forward(b, first.tokens, sharedMap: first.map, keepsMap: false) }.tokens
        }
    }
}

/// Token pooling between stages: fewer tokens, more channels.
protocol TokenPooling: Module {
    func forward(_ b: PlanBuilder, _ x: Value) throws -> Value
}

/// PSViT-2D's pooling (`conv`): a 3x3 stride-2 convolution with padding 1 on the NHWC token
/// map, [N, H, W, Cin] → [N, ⌈H/2⌉, ⌈W/2⌉, Cout].
final class TokenPooling2d: TokenPooling {
    let conv: Conv2dLayer

    init(_ w: Weights, in cin: Int, out cout: Int) {
        conv = w.scope("conv") { Conv2dLayer(w, in: cin, out: cout, kernel: 3, stride: 2, padding: 1) }
    }

    func collect(_ sd: inout StateDict) { sd.scope("conv") { conv.collect(&$0) } }

    func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
        try b.scope("conv") { try conv.forward(b, x) }
    }
}

/// PSViT-1D's pooling on [N, 1 + T, Cin] (class token first) → [N, 1 + ⌈T/4⌉, Cout]: the class
/// token through `fc`; the patch tokens through the 1D convolution `conv` (kernel 3, padding 1)
/// and a 1D max pooling of window 7, stride 4, padding 3.
final class TokenPooling1d: TokenPooling {
    static let convKernel = 3, poolWindow = 7, poolStride = 4
    /// PyTorch Conv1d layout [out, in, 3].
    let convWeight: Tensor
    let convBias: Tensor
    let fc: LinearLayer

    init(_ w: Weights, in cin: Int, out cout: Int) {
        let k = Self.convKernel
        (convWeight, convBias) = w.scope("conv") {
            (w.read("weight", shape: [cout, cin, k], .fanIn(cin * k)), w.read("bias", shape: [cout], .normal(0.02)))
        }
        fc = w.scope("fc") { LinearLayer(w, in: cin, out: cout) }
    }

    func collect(_ sd: inout StateDict) {
        sd.scope("conv") { sd in
            sd.add("weight", convWeight)
            sd.add("bias", convBias)
        }
        sd.scope("fc") { fc.collect(&$0) }
    }

    /// The sequence, viewed as an NHWC map one token wide, runs the 1D operations as 2D ones: the
    /// convolution with a 3x1 kernel, the max pooling with a square 7x7 window whose columns
    /// beyond the single real one are padding (which never wins a max).
    func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
        let s = b.shape(of: x), (n, t, cin) = (s[0], s[1] - 1, s[2]), cout = convBias.count
        let cls = try b.apply(SliceTokens(start: 0, count: 1), [x], name: "cls")
        let patches = try b.apply(SliceTokens(start: 1, count: t), [x], name: "patches")
        let conv = Conv2d(weight: convWeight.reshaped([cout, cin, Self.convKernel, 1]), bias: convBias,
                          stride: (1, 1), padding: (Self.convKernel / 2, 0), groups: 1)
        let widened = try b.apply(conv, [b.reshape(patches, [n, t, 1, cin])], name: "conv")
        let pooled = try b.apply(Pool2d(.max, kernel: Self.poolWindow, stride: Self.poolStride, padding: Self.poolWindow / 2),
                                 [widened], name: "max_pool")
        let kept = b.shape(of: pooled)[1]
        let clsOut = try b.scope("fc") { try fc.forward(b, cls) }
        return try b.apply(Concat(axis: 1), [clsOut, b.reshape(pooled, [n, kept, cout])], name: "concat")
    }
}

extension ModelZoo {
    static var psViT: [ModelInfo] {
        // Not the paper's (its tables are not retrievable): three stages of 784/196/49 tokens at 224,
        // widths doubling as tokens quarter, depths 2/6/4 in basic+sharing pairs, sized to DeiT-Ti's
        // (1.26 GMACs) and DeiT-S's (4.61 GMACs) compute at 224. Heads 3/6/12 in both sizes: head dim
        // 32 in Tiny, 64 (DeiT's) in Small.
        let pairs: [[Bool]] = [[false, true], [false, true, false, true, false, true], [false, true, false, true]]
        let sizes: [(size: String, dims: [Int], budget: String)] = [
            ("tiny", [96, 192, 384], "DeiT-Ti's 1.26 GMACs"),
            ("small", [192, 384, 768], "DeiT-S's 4.61 GMACs"),
        ]
        let poolings: [(pooling: String, text: String)] = [
            ("1d", "class token kept apart; 1D token pooling: conv k3 to the next width, max pool window 7 stride 4 "
                + "(T → ⌈T/4⌉); class-token head"),
            ("2d", "no class token; 2D token pooling: 3x3 stride-2 conv; average-pool head"),
        ]
        return sizes.flatMap { s in
            poolings.map { p in
                let config = PSViT.Config(tokenPooling: p.pooling, embedDims: s.dims, depths: [2, 6, 4], numHeads: [3, 6, 12],
                                          shareAttention: pairs)
                return ModelInfo(
                    name: "psvit_\(p.pooling)_\(s.size)", family: "psvit", resolution: 224, published: nil,
                    summary: "PSViT-\(p.pooling.uppercased()) \(s.size.capitalized), our configuration (the paper's tables are not retrievable; "
                        + "sized to \(s.budget) at 224): 8x8 patches, stages of 784/196/49 tokens, widths "
                        + "\(s.dims.map(String.init).joined(separator: "/")), depths 2/6/4, heads 3/6/12, MLP ratio 4; "
                        + "every second layer reuses the previous layer's attention map; \(p.text); no published weights",
                    make: { w, overrides in try PSViT(w, config: config.merged(with: overrides)) })
            }
        }
    }
}

extension BlockZoo {
    static var psViT: [BlockInfo] {
        let where0 = "default: psvit_2d_tiny stage 0 at 224 (96 channels, 28x28 tokens)"
        // The attention blocks keep psvit_2d_tiny's head dim at any width.
        let headDim = 32
        func heads(_ block: String, _ dim: Int) throws -> Int {
            guard dim % headDim == 0 else {
                throw ModelInputError("\(block): width \(dim) is not a multiple of the head dim \(headDim)")
            }
            return dim / headDim
        }
        return [
            BlockInfo(name: "psvit.attention",
                      summary: "PSViT basic layer (pre-norm MHSA with head dim 32 + MLP ratio 4) on tokens [N, H·W, C]; " + where0,
                      defaultDim: 96, defaultResolution: 28) { w, dim, _, _ in
                let layer = PSViT.Layer(w, dim: dim, heads: try heads("psvit.attention", dim), hidden: 4 * dim, sharesAttention: false)
                return AdaptedBlock(layer, layout: .tokens, channels: dim) { b, x in
                    try layer.forward(b, x, sharedMap: nil, keepsMap: false).tokens
                }
            },
            BlockInfo(name: "psvit.shared_attention",
                      summary: "PSViT sharing cell: a basic layer that keeps its attention map, then a sharing layer that applies it to "
                          + "its own values (no Q, K or softmax), on tokens [N, H·W, C]; compare with two psvit.attention; " + where0,
                      defaultDim: 96, defaultResolution: 28) { w, dim, _, _ in
                let pair = PSViT.SharingPair(w, dim: dim, heads: try heads("psvit.shared_attention", dim), hidden: 4 * dim)
                return AdaptedBlock(pair, layout: .tokens, channels: dim, forward: pair.forward)
            },
            BlockInfo(name: "psvit.token_pooling_2d",
                      summary: "PSViT-2D token pooling: 3x3 stride-2 conv from C to 2C channels on an NHWC map; "
                          + "default: psvit_2d_tiny between stages 0 and 1 at 224 (96 channels, 28x28)",
                      defaultDim: 96, defaultResolution: 28) { w, dim, _, _ in
                let pool = TokenPooling2d(w, in: dim, out: 2 * dim)
                return AdaptedBlock(pool, layout: .featureMap, channels: dim, forward: pool.forward)
            },
            BlockInfo(name: "psvit.token_pooling_1d",
                      summary: "PSViT-1D token pooling on a class token and H·W patch tokens [N, 1 + H·W, C]: class token through a "
                          + "linear layer, patches through a 1D conv (k3, C to 2C) and max pooling (window 7, stride 4); "
                          + "default: psvit_1d_tiny between stages 0 and 1 at 224 (96 channels, 28x28 patches)",
                      defaultDim: 96, defaultResolution: 28) { w, dim, _, _ in
                ClassTokenSequenceBlock(TokenPooling1d(w, in: dim, out: 2 * dim), channels: dim)
            },
        ]
    }
}

/// A block whose input is a class token followed by H·W patch tokens, [N, 1 + H·W, C].
final class ClassTokenSequenceBlock: BenchmarkBlock {
    let pooling: TokenPooling1d
    let channels: Int

    init(_ pooling: TokenPooling1d, channels: Int) {
        self.pooling = pooling
        self.channels = channels
    }

    func inputShape(batch: Int, height: Int, width: Int) -> [Int] { [batch, 1 + height * width, channels] }
    func forward(_ b: PlanBuilder, _ x: Value) throws -> Value { try pooling.forward(b, x) }
    func collect(_ sd: inout StateDict) { pooling.collect(&sd) }
}
