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
    let blocks: [VisionTransformerBlock]
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
            w.scope("blocks") { w.scope("\(i)") { VisionTransformerBlock(w, dim: c, heads: config.numHeads, hidden: hidden) } }
        }
        norm = w.scope("norm") { LayerNormLayer(w, channels: c, eps: 1e-6) }
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
        return [positionEmbeddingNote(grid: g, to: height / p, width / p)]
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
        return try b.apply(LayerNormLinear.fusing(norm, head), [cls], name: "head")
    }

    /// The position embedding [1 + gh·gw, C] for a gh×gw patch grid.
    func positionsForGrid(height gh: Int, width gw: Int) -> Tensor {
        positionEmbedding(posEmbed, prefix: 1, grid: config.grid, for: gh, gw)
    }
}

extension ModelZoo {
    static var deit: [ModelInfo] {
        // Published top-1: facebookresearch/deit README_deit.md; params (M) and GMACs at 224: timm's
        // benchmark table (pytorch-image-models results/) — see docs/published-figures.md.
        let variants: [(name: String, dim: Int, heads: Int, top1: Double, params: Double, gmacs: Double)] = [
            ("deit_tiny_patch16_224", 192, 3, 72.2, 5.72, 1.26),
            ("deit_small_patch16_224", 384, 6, 79.9, 22.05, 4.61),
            ("deit_base_patch16_224", 768, 12, 81.8, 86.57, 17.58),
        ]
        return variants.map { v in
            let base = DeiT.Config(embedDim: v.dim, numHeads: v.heads)
            return ModelInfo(
                name: v.name, family: "deit", resolution: 224,
                published: PublishedAccuracy(top1: v.top1, source: "facebookresearch/deit README_deit.md"),
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
                let block = VisionTransformerBlock(w, dim: dim, heads: dim / 64, hidden: 4 * dim)
                return AdaptedBlock(block, layout: .tokens, channels: dim, forward: block.forward)
            },
        ]
    }
}
