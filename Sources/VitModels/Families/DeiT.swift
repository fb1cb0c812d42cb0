import VitEngine

/// DeiT (timm `deit.py`: `deit_tiny/small/base_patch16_224`), which is timm's plain
/// `VisionTransformer` without the distillation token: a 16x16 stride-16 patch projection
/// (`patch_embed.proj`), a class token, learned absolute position embeddings for the class token
/// and the 14x14 patch grid, `depth` pre-norm blocks (LayerNorm eps 1e-6, MHSA with qkv bias,
/// MLP ratio 4 with exact GELU), the final `norm` and a linear `head` on the class token.
///
/// Other resolutions: any H×W whose sides are multiples of the patch size. The position
/// embedding is then resampled to the new grid as timm's `dynamic_img_size=True` does
/// (`resample_abs_pos_embed`: bicubic with antialiasing, the class token's position kept apart),
/// once per plan, in double precision.
public final class DeiT: ImageClassifier {
    public struct Config: Codable, Sendable {
        /// The resolution the position embedding was trained for (its grid: imgSize / patchSize).
        public var imgSize = 224
        public var patchSize = 16
        public var embedDim: Int
        public var depth = 12
        public var numHeads: Int
        public var mlpRatio = 4.0
        public var numClasses = 1000

        enum CodingKeys: String, CodingKey {
            case imgSize = "img_size", patchSize = "patch_size", embedDim = "embed_dim", depth
            case numHeads = "num_heads", mlpRatio = "mlp_ratio", numClasses = "num_classes"
        }

        public init(embedDim: Int, numHeads: Int) {
            self.embedDim = embedDim
            self.numHeads = numHeads
        }

        /// The checkpoint's patch grid, one side (timm: img_size // patch_size).
        var grid: Int { imgSize / patchSize }
    }

    public let config: Config
    let patchEmbed: Conv2dLayer
    /// [1, 1, C].
    let clsToken: Tensor
    /// [1, 1 + grid², C]: the class token's position, then the patches' in row-major order.
    let posEmbed: Tensor
    let blocks: [Block]
    let norm: LayerNormLayer
    let head: LinearLayer
    public var numClasses: Int { config.numClasses }

    public init(_ w: Weights, config: Config) throws {
        self.config = config
        let c = config.embedDim
        guard config.patchSize > 0, c > 0, config.depth > 0, config.numHeads > 0, config.mlpRatio > 0, config.numClasses > 0 else {
            throw ModelInputError("deit: patch_size, embed_dim, depth, num_heads, mlp_ratio and num_classes must be positive")
        }
        guard config.grid > 0 else {
            throw ModelInputError("deit: img_size \(config.imgSize) is smaller than patch_size \(config.patchSize)")
        }
        guard c % config.numHeads == 0 else {
            throw ModelInputError("deit: embed_dim \(c) does not split into \(config.numHeads) heads")
        }
        let p = config.patchSize, hidden = Int(Double(c) * config.mlpRatio)
        guard hidden >= 1 else { throw ModelInputError("deit: embed_dim · mlp_ratio (the MLP width) must be at least 1") }
        patchEmbed = w.scope("patch_embed") {
            w.scope("proj") { Conv2dLayer(w, in: 3, out: c, kernel: p, stride: p, padding: 0) }
        }
        clsToken = w.read("cls_token", shape: [1, 1, c], .normal(0.02))
        posEmbed = w.read("pos_embed", shape: [1, 1 + config.grid * config.grid, c], .normal(0.02))
        blocks = (0..<config.depth).map { i in
            w.scope("blocks") { w.scope("\(i)") { Block(w, dim: c, heads: config.numHeads, hidden: hidden) } }
        }
        norm = w.scope("norm") { LayerNormLayer(w, channels: c, eps: Block.eps) }
        head = w.scope("head") { LinearLayer(w, in: c, out: config.numClasses) }
    }

    public func checkInput(height: Int, width: Int) throws {
        let p = config.patchSize
        guard height >= p, width >= p, height % p == 0, width % p == 0 else {
            throw ModelInputError("deit: the input must be a positive multiple of the patch size \(p) on both sides "
                                  + "(timm's patch embedding asserts it), got \(height)x\(width)")
        }
    }

    public func notes(height: Int, width: Int) -> [String] {
        let p = config.patchSize, g = config.grid
        guard (height / p, width / p) != (g, g) else { return [] }
        return ["position embedding: resampled from the checkpoint's \(g)x\(g) grid to \(height / p)x\(width / p) "
                + "(bicubic with antialiasing, timm's resample_abs_pos_embed), once at plan time in double precision"]
    }

    public func collect(_ sd: inout StateDict) {
        sd.add("cls_token", clsToken)
        sd.add("pos_embed", posEmbed)
        sd.scope("patch_embed") { sd in sd.scope("proj") { patchEmbed.collect(&$0) } }
        for (i, block) in blocks.enumerated() { sd.scope("blocks") { sd in sd.scope("\(i)") { block.collect(&$0) } } }
        sd.scope("norm") { norm.collect(&$0) }
        sd.scope("head") { head.collect(&$0) }
    }

    /// The final norm runs on the class token alone (the only token the head reads), fused with
    /// the head's GEMM.
    public func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
        let n = b.shape(of: x)[0], c = config.embedDim
        let patches = try b.scope("patch_embed") { try b.scope("proj") { try patchEmbed.forward(b, x) } }
        let (gh, gw) = (b.shape(of: patches)[1], b.shape(of: patches)[2])
        let positions = positionsForGrid(height: gh, width: gw)
        var tokens = try b.apply(AssembleTokens(channels: c, prefix: clsToken.reshaped([1, c]), positions: positions),
                                 [b.reshape(patches, [n, gh * gw, c])], name: "pos_embed")
        for (i, block) in blocks.enumerated() {
            tokens = try b.scope("blocks") { try b.scope("\(i)") { try block.forward(b, tokens) } }
        }
        let cls = try b.reshape(b.apply(SliceTokens(start: 0, count: 1), [tokens], name: "pool"), [n, c])
        return try b.apply(normThenLinear(norm, head), [cls], name: "head")
    }

    /// The position embedding [1 + gh·gw, C] for a gh×gw patch grid.
    func positionsForGrid(height gh: Int, width gw: Int) -> Tensor {
        let g = config.grid, c = config.embedDim
        guard (gh, gw) != (g, g) else { return posEmbed.reshaped([1 + g * g, c]) }
        let resampled = resampleBicubicAntialiased(Array(posEmbed.data[c...]), channels: c, from: (g, g), to: (gh, gw))
        return Tensor(shape: [1 + gh * gw, c], data: Array(posEmbed.data[..<c]) + resampled)
    }

    /// timm `Block` as DeiT configures it: x = x + attn(norm1(x)); x = x + mlp(norm2(x)), on
    /// tokens [N, T, C].
    final class Block: Module {
        static let eps: Float = 1e-6
        let heads: Int
        let norm1: LayerNormLayer, norm2: LayerNormLayer
        let qkv: LinearLayer, proj: LinearLayer
        let fc1: LinearLayer, fc2: LinearLayer

        init(_ w: Weights, dim: Int, heads: Int, hidden: Int) {
            self.heads = heads
            norm1 = w.scope("norm1") { LayerNormLayer(w, channels: dim, eps: Self.eps) }
            qkv = w.scope("attn") { w.scope("qkv") { LinearLayer(w, in: dim, out: 3 * dim) } }
            proj = w.scope("attn") { w.scope("proj") { LinearLayer(w, in: dim, out: dim) } }
            norm2 = w.scope("norm2") { LayerNormLayer(w, channels: dim, eps: Self.eps) }
            fc1 = w.scope("mlp") { w.scope("fc1") { LinearLayer(w, in: dim, out: hidden) } }
            fc2 = w.scope("mlp") { w.scope("fc2") { LinearLayer(w, in: hidden, out: dim) } }
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("norm1") { norm1.collect(&$0) }
            sd.scope("attn") { sd in
                sd.scope("qkv") { qkv.collect(&$0) }
                sd.scope("proj") { proj.collect(&$0) }
            }
            sd.scope("norm2") { norm2.collect(&$0) }
            sd.scope("mlp") { sd in
                sd.scope("fc1") { fc1.collect(&$0) }
                sd.scope("fc2") { fc2.collect(&$0) }
            }
        }

        /// Four steps and the attention: norm1 fused into qkv, attention reading Q, K and V by
        /// stride from the qkv output (timm's (3, heads, d) packing), the residual fused into
        /// proj; norm2 and GELU fused into fc1, the residual into fc2.
        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            let dim = qkv.weight.shape[1]
            let attended = try b.scope("attn") {
                let q = try b.scope("qkv") { try b.apply(normThenLinear(norm1, qkv), [x]) }
                let o = try b.apply(ScaledDotProductAttention.fusedQKV(heads: heads, headDim: dim / heads), [q])
                return try b.scope("proj") { try proj.forward(b, o, residual: x) }
            }
            return try b.scope("mlp") {
                let h = try b.scope("fc1") { try b.apply(normThenLinear(norm2, fc1, activation: .gelu), [attended]) }
                return try b.scope("fc2") { try fc2.forward(b, h, residual: attended) }
            }
        }
    }
}

/// `norm` then `linear` as one engine step, with `activation` in the GEMM's epilogue.
private func normThenLinear(_ norm: LayerNormLayer, _ linear: LinearLayer, activation: Activation = .none) -> LayerNormLinear {
    LayerNormLinear(norm: LayerNorm(gamma: norm.weight.data, beta: norm.bias.data, eps: norm.eps),
                    linear: Linear(weight: linear.weight, bias: linear.bias, activation: activation))
}

/// PyTorch's `F.interpolate(mode='bicubic', antialias=True, align_corners=False)` of a
/// channels-last grid [h·w, C] to another size, in double: per axis, the Keys cubic (a = −0.5)
/// stretched by the scale when shrinking (that is the antialiasing), taps clipped at the border
/// and renormalised (ATen's `_compute_indices_min_size_weights_aa`); rows, then columns.
func resampleBicubicAntialiased(_ grid: [Float], channels c: Int, from: (h: Int, w: Int), to: (h: Int, w: Int)) -> [Float] {
    let rows = antialiasedBicubicTaps(input: from.h, output: to.h)
    let cols = antialiasedBicubicTaps(input: from.w, output: to.w)
    var out = [Float](repeating: 0, count: to.h * to.w * c)
    var acc = [Double](repeating: 0, count: c)
    for (oy, ry) in rows.enumerated() {
        for (ox, rx) in cols.enumerated() {
            for i in 0..<c { acc[i] = 0 }
            for (dy, wy) in ry.weights.enumerated() {
                for (dx, wx) in rx.weights.enumerated() {
                    let base = ((ry.first + dy) * from.w + rx.first + dx) * c, wt = wy * wx
                    for i in 0..<c { acc[i] += wt * Double(grid[base + i]) }
                }
            }
            for i in 0..<c { out[(oy * to.w + ox) * c + i] = Float(acc[i]) }
        }
    }
    return out
}

/// Per output index: the first input index it reads and the normalised weights of its taps.
private func antialiasedBicubicTaps(input: Int, output: Int) -> [(first: Int, weights: [Double])] {
    func keys(_ t: Double) -> Double {
        let a = -0.5, x = abs(t)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
    }
    let scale = Double(input) / Double(output)
    let support = scale >= 1 ? 2 * scale : 2, invScale = scale >= 1 ? 1 / scale : 1
    return (0..<output).map { i in
        let center = scale * (Double(i) + 0.5)
        // Truncation toward zero, as ATen's int64 casts.
        let first = max(Int(center - support + 0.5), 0), end = min(Int(center + support + 0.5), input)
        var weights = (first..<max(first, end)).map { keys((Double($0) - center + 0.5) * invScale) }
        let total = weights.reduce(0, +)
        if total != 0 { weights = weights.map { $0 / total } }
        return (first, weights)
    }
}

extension ModelZoo {
    static var deit: [ModelInfo] {
        // Published top-1: facebookresearch/deit README_deit.md; params (M) and GMACs at 224: the
        // timm benchmark (T-BM) — both from ../shared/reference/models.md §6.
        let variants: [(name: String, dim: Int, heads: Int, top1: Double, params: Double, gmacs: Double)] = [
            ("deit_tiny_patch16_224", 192, 3, 72.2, 5.72, 1.26),
            ("deit_small_patch16_224", 384, 6, 79.9, 22.05, 4.61),
            ("deit_base_patch16_224", 768, 12, 81.8, 86.57, 17.58),
        ]
        return variants.map { v in
            let base = DeiT.Config(embedDim: v.dim, numHeads: v.heads)
            return ModelInfo(
                name: v.name, family: "deit", resolution: 224,
                published: PublishedAccuracy(top1: v.top1, source: "facebookresearch/deit README_deit.md (DT-R in ../shared/reference/models.md)"),
                referenceParams: v.params, referenceGMACs: v.gmacs,
                summary: "DeiT (ViT without distillation token), patch 16, width \(v.dim), 12 blocks, \(v.heads) heads, MLP ratio 4; "
                    + "other resolutions resample the position embedding",
                make: { w, overrides in try DeiT(w, config: base.merged(with: overrides)) })
        }
    }
}

extension BlockZoo {
    static var deit: [BlockInfo] {
        [
            BlockInfo(name: "deit.block",
                      summary: "DeiT pre-norm transformer block (LayerNorm, MHSA with head dim 64, MLP ratio 4 with GELU) on "
                          + "tokens [N, H·W, C]; default: deit_tiny_patch16_224 at 224 (192 channels, 14x14 patches)",
                      defaultDim: 192, defaultResolution: 14) { w, dim, _, _ in
                guard dim % 64 == 0 else {
                    throw ModelInputError("deit.block: width \(dim) is not a multiple of the head dim 64")
                }
                let block = DeiT.Block(w, dim: dim, heads: dim / 64, hidden: 4 * dim)
                return AdaptedBlock(block, layout: .tokens, channels: dim, forward: block.forward)
            },
        ]
    }
}
