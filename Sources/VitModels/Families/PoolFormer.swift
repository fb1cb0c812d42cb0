import VitEngine

/// PoolFormer v1 (timm `metaformer.py`, `poolformer_s12/s24/s36`): a MetaFormer whose token
/// mixer is pool(x) − x with 3x3 average pooling that does not count padding, GroupNorm with one
/// group, MLP ratio 4 with GELU, per-channel layer scales, 7x7/4 stem (padding 2), 3x3/2
/// downsampling, and a head of global pool → LayerNorm2d → Linear. timm names:
/// `stem.conv`, `stages.i.downsample.conv`, `stages.i.blocks.j.{norm1, layer_scale1.scale, norm2,
/// mlp.fc1, mlp.fc2, layer_scale2.scale}`, `head.norm`, `head.fc`.
public final class PoolFormer: ImageClassifier {
    public struct Config: Codable, Sendable {
        public var depths: [Int]
        public var dims: [Int] = [64, 128, 320, 512]
        public var layerScaleInit: Float = 1e-5
        public var numClasses: Int = 1000
        enum CodingKeys: String, CodingKey {
            case depths, dims, layerScaleInit = "layer_scale_init_values", numClasses = "num_classes"
        }
        public init(depths: [Int], layerScaleInit: Float = 1e-5) {
            self.depths = depths
            self.layerScaleInit = layerScaleInit
        }
    }

    public let config: Config
    let stages: MetaFormerStages<Block>
    let headNorm: LayerNormLayer
    let head: LinearLayer
    public var numClasses: Int { config.numClasses }

    public init(_ w: Weights, config: Config) {
        self.config = config
        let dims = config.dims
        // timm: a stage downsamples when its width differs from the previous one.
        stages = MetaFormerStages(w, dims: dims, depths: config.depths, stemPadding: 2,
                                  downsamples: { i in i > 0 && dims[i - 1] != dims[i] },
                                  block: { i, _ in Block(w, dim: dims[i], layerScaleInit: config.layerScaleInit) })
        headNorm = w.scope("head") { w.scope("norm") { LayerNormLayer(w, channels: dims.last!, eps: 1e-6) } }
        head = w.scope("head") { w.scope("fc") { LinearLayer(w, in: dims.last!, out: config.numClasses) } }
    }

    public func checkInput(height: Int, width: Int) throws {
        guard height >= 3, width >= 3, stages.outputSize(height) >= 1, stages.outputSize(width) >= 1 else {
            throw ModelInputError("PoolFormer needs at least 3x3 input, got \(height)x\(width)")
        }
    }

    public func collect(_ sd: inout StateDict) {
        stages.collect(&sd)
        sd.scope("head") { sd in
            sd.scope("norm") { headNorm.collect(&$0) }
            sd.scope("fc") { head.collect(&$0) }
        }
    }

    public func forward(_ b: PlanBuilder, _ input: Value) throws -> Value {
        let x = try stages.forward(b, input)
        return try b.scope("head") {
            let pooled = try b.apply(GlobalAvgPool(), [x], name: "global_pool")
            let normed = try b.scope("norm") { try headNorm.forward(b, pooled) }
            return try b.scope("fc") { try head.forward(b, normed) }
        }
    }

    /// x = x + s₁·(pool(gn₁(x)) − gn₁(x));  x = x + s₂·fc2(gelu(fc1(gn₂(x)))).
    final class Block: PlanBlock {
        let norm1: GroupNormLayer, norm2: GroupNormLayer
        let fc1: Conv2dLayer, fc2: Conv2dLayer
        let layerScale1: Tensor, layerScale2: Tensor

        init(_ w: Weights, dim: Int, layerScaleInit: Float) {
            norm1 = w.scope("norm1") { GroupNormLayer(w, groups: 1, channels: dim) }
            layerScale1 = w.scope("layer_scale1") { w.read("scale", shape: [dim], .constant(layerScaleInit)) }
            norm2 = w.scope("norm2") { GroupNormLayer(w, groups: 1, channels: dim) }
            fc1 = w.scope("mlp") { w.scope("fc1") { Conv2dLayer(w, in: dim, out: 4 * dim, kernel: 1) } }
            fc2 = w.scope("mlp") { w.scope("fc2") { Conv2dLayer(w, in: 4 * dim, out: dim, kernel: 1) } }
            layerScale2 = w.scope("layer_scale2") { w.read("scale", shape: [dim], .constant(layerScaleInit)) }
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("norm1") { norm1.collect(&$0) }
            sd.scope("layer_scale1") { $0.add("scale", layerScale1) }
            sd.scope("norm2") { norm2.collect(&$0) }
            sd.scope("mlp") { sd in
                sd.scope("fc1") { fc1.collect(&$0) }
                sd.scope("fc2") { fc2.collect(&$0) }
            }
            sd.scope("layer_scale2") { $0.add("scale", layerScale2) }
        }

        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            let n1 = try b.scope("norm1") { try norm1.forward(b, x) }
            let pooled = try b.scope("token_mixer") {
                try b.apply(Pool2d(.average, kernel: 3, stride: 1, padding: 1, countIncludePad: false), [n1], name: "pool")
            }
            let mixed = try b.scope("token_mixer") { try b.apply(Binary(.sub), [pooled, n1], name: "sub") }
            let x1 = try b.scope("layer_scale1") { try b.apply(ScaledResidual(scale: layerScale1.data), [x, mixed]) }
            let n2 = try b.scope("norm2") { try norm2.forward(b, x1) }
            let mlp = PointwiseMlp(fc1: fc1.op(activation: .gelu), fc2: fc2.op(residual: true, outputScale: layerScale2.data))
            return try b.scope("mlp") { try b.apply(mlp, [n2, x1]) }
        }
    }
}

extension ModelZoo {
    static var poolFormer: [ModelInfo] {
        let variants: [(String, [Int], Float, Double, Double, Double)] = [
            // Top-1: S12 from the sail-sg/poolformer README (docs/published-figures.md); S24/S36 from the same README (80.3 / 81.4; PaddleViT's
            // port of the released weights lists 80.33 / 81.43).
            // name, depths, layer scale init, published top-1 (PoolFormer README), timm params (M),
            // GMACs@224 (S12: docs/published-figures.md; S24/S36: timm FlopCounterMode, scripts/goldens/reference_counts.py)
            ("poolformer_s12", [2, 2, 6, 2], 1e-5, 77.2, 11.92, 1.82),
            ("poolformer_s24", [4, 4, 12, 4], 1e-5, 80.3, 21.39, 3.39),
            ("poolformer_s36", [6, 6, 18, 6], 1e-6, 81.4, 30.86, 4.97),
        ]
        return variants.map { v in
            ModelInfo(
                name: v.0, family: "poolformer", resolution: 224,
                published: PublishedAccuracy(top1: v.3, source: "sail-sg/poolformer README"),
                referenceParams: v.4, referenceGMACs: v.5,
                summary: "PoolFormer v1, depths \(v.1), widths 64/128/320/512, pool(x) - x mixer, GroupNorm(1)",
                make: { w, overrides in try PoolFormer(w, config: PoolFormer.Config(depths: v.1, layerScaleInit: v.2).merged(with: overrides)) })
        }
    }
}

extension BlockZoo {
    static var poolFormer: [BlockInfo] {
        [
            BlockInfo(name: "poolformer.block",
                      summary: "PoolFormer block (GroupNorm + pool(x) - x mixer + MLP ratio 4) on an NHWC map; "
                          + "default: poolformer_s12 stage 1 at 224 (64 channels, 56x56)",
                      defaultDim: 64, defaultResolution: 56) { w, dim, _, _ in
                let block = PoolFormer.Block(w, dim: dim, layerScaleInit: 1e-5)
                return AdaptedBlock(block, layout: .featureMap, channels: dim, forward: block.forward)
            },
        ]
    }
}
