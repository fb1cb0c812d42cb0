import VitEngine

/// One MetaFormer-S12 skeleton with a swappable token mixer — FastViT's RepMixer-vs-pooling
/// experiment extended to pooling, RepMixer, attention, depthwise conv and identity. The
/// definition is the docstring of `scripts/peers/metaformer_s12.py`, which
/// `scripts/peers/peer_mixers.py` hands to ONNX Runtime and OpenVINO, so the peers time the very
/// same network: 7x7/4 stem (padding 3), stages of depths 2,2,6,2 and widths 64,128,320,512,
/// 3x3/2 downsampling convs, BatchNorm, MLP ratio 4 with GELU, per-channel layer scales, global
/// average pool + Linear head.
///
/// Names (our own, timm-style; scripts/peers/metaformer_s12.py uses the very same ones):
/// `stem.conv`, `stages.i.downsample.conv`, `stages.i.blocks.j.token_mixer.*`,
/// `stages.i.blocks.j.{norm, mlp.fc1, mlp.fc2, layer_scale}`, `head.fc`. Token mixers:
/// - `pooling`   x + s·(avgpool3x3(bn(x)) − bn(x)) (padding not counted): `norm`, `layer_scale`
/// - `repmixer`  FastViT's `RepMixer` (timm names `norm`, `mixer`, `layer_scale.gamma`; after
///               reparameterisation one depthwise 3x3 `reparam_conv`, no skip)
/// - `attention` x + s·proj(MHSA(bn(x))), head dim 32: `norm`, `qkv`, `proj`, `layer_scale`
/// - `dwconv`    x + s·dwconv7x7(bn(x)): `norm`, `conv`, `layer_scale`
/// - `identity`  x (no mixing: the MLP-only floor)
public final class MetaFormerS12: ImageClassifier {
    public enum Mixer: String, CaseIterable, Sendable {
        case pooling, repmixer, attention, dwconv, identity
    }

    public struct Config: Codable, Sendable {
        public var mixer: String = "pooling"
        public var dims: [Int] = [64, 128, 320, 512]
        public var depths: [Int] = [2, 2, 6, 2]
        public var headDim: Int = 32
        public var numClasses: Int = 1000
        enum CodingKeys: String, CodingKey { case mixer, dims, depths, headDim = "head_dim", numClasses = "num_classes" }
        public init() {}
    }

    public let config: Config
    public let mixer: Mixer
    let stages: MetaFormerStages<Block>
    let head: LinearLayer
    public var numClasses: Int { config.numClasses }

    public init(_ w: Weights, config: Config) throws {
        guard let mixer = Mixer(rawValue: config.mixer) else {
            throw ModelInputError("unknown mixer '\(config.mixer)'; known: \(Mixer.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.config = config
        self.mixer = mixer
        let dims = config.dims
        stages = try MetaFormerStages(w, dims: dims, depths: config.depths, stemPadding: 3, downsamples: { $0 > 0 },
                                      block: { i, _ in try Block(w, dim: dims[i], mixer: mixer, headDim: config.headDim) })
        head = w.scope("head") { w.scope("fc") { LinearLayer(w, in: dims.last!, out: config.numClasses) } }
    }

    public var isReparameterizable: Bool { mixer == .repmixer }

    public func reparameterize() { stages.blocks.joined().forEach { $0.reparameterize() } }

    public func checkInput(height: Int, width: Int) throws {
        guard height >= 7, width >= 7, stages.outputSize(height) >= 1, stages.outputSize(width) >= 1 else {
            throw ModelInputError("metaformer_s12 needs at least 7x7 input, got \(height)x\(width)")
        }
    }

    public func collect(_ sd: inout StateDict) {
        stages.collect(&sd)
        sd.scope("head") { sd in sd.scope("fc") { head.collect(&$0) } }
    }

    public func forward(_ b: PlanBuilder, _ input: Value) throws -> Value {
        let x = try stages.forward(b, input)
        let pooled = try b.scope("head") { try b.apply(GlobalAvgPool(), [x], name: "global_pool") }
        return try b.scope("head") { try b.scope("fc") { try head.forward(b, pooled) } }
    }

    /// One block: x = mixer(x); x = x + s·mlp(bn(x)).
    final class Block: PlanBlock {
        let dim: Int
        let mixer: Mixer
        let heads: Int
        // Token mixer parts (which exist depends on the mixer).
        var mixerNorm: BatchNorm2d?
        var mixerScale: Tensor?
        var repMixer: RepMixer?
        var dwconv: Conv2dLayer?
        var qkv: LinearLayer?, proj: LinearLayer?
        // Channel MLP.
        let norm: BatchNorm2d
        let fc1: Conv2dLayer, fc2: Conv2dLayer
        let layerScale: Tensor

        init(_ w: Weights, dim: Int, mixer: Mixer, headDim: Int) throws {
            self.dim = dim
            self.mixer = mixer
            heads = max(1, dim / headDim)
            if mixer == .attention && dim % headDim != 0 {
                throw ModelInputError("attention mixer: width \(dim) is not a multiple of the head dim \(headDim)")
            }
            var rep: RepMixer?, mnorm: BatchNorm2d?, mscale: Tensor?, dw: Conv2dLayer?, q: LinearLayer?, p: LinearLayer?
            w.scope("token_mixer") {
                switch mixer {
                case .repmixer:
                    rep = RepMixer(w, dim: dim, kernel: 3, layerScaleInit: 0.5)
                case .identity:
                    break
                case .pooling, .dwconv, .attention:
                    mnorm = w.scope("norm") { BatchNorm2d(w, channels: dim) }
                    mscale = w.read("layer_scale", shape: [dim], .constant(0.5))
                    if mixer == .dwconv { dw = w.scope("conv") { Conv2dLayer(w, in: dim, out: dim, kernel: 7, groups: dim) } }
                    if mixer == .attention {
                        q = w.scope("qkv") { LinearLayer(w, in: dim, out: 3 * dim) }
                        p = w.scope("proj") { LinearLayer(w, in: dim, out: dim) }
                    }
                }
            }
            (repMixer, mixerNorm, mixerScale, dwconv, qkv, proj) = (rep, mnorm, mscale, dw, q, p)
            norm = w.scope("norm") { BatchNorm2d(w, channels: dim) }
            fc1 = w.scope("mlp") { w.scope("fc1") { Conv2dLayer(w, in: dim, out: 4 * dim, kernel: 1) } }
            fc2 = w.scope("mlp") { w.scope("fc2") { Conv2dLayer(w, in: 4 * dim, out: dim, kernel: 1) } }
            layerScale = w.read("layer_scale", shape: [dim], .constant(0.5))
        }

        func reparameterize() { repMixer?.reparameterize() }

        func collect(_ sd: inout StateDict) {
            sd.scope("token_mixer") { sd in
                repMixer?.collect(&sd)
                if let mixerNorm { sd.scope("norm") { mixerNorm.collect(&$0) } }
                if let dwconv { sd.scope("conv") { dwconv.collect(&$0) } }
                if let qkv { sd.scope("qkv") { qkv.collect(&$0) } }
                if let proj { sd.scope("proj") { proj.collect(&$0) } }
                if let mixerScale { sd.add("layer_scale", mixerScale) }
            }
            sd.scope("norm") { norm.collect(&$0) }
            sd.scope("mlp") { sd in
                sd.scope("fc1") { fc1.collect(&$0) }
                sd.scope("fc2") { fc2.collect(&$0) }
            }
            sd.add("layer_scale", layerScale)
        }

        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            let mixed = try b.scope("token_mixer") { try tokenMixer(b, x) }
            // x + s·fc2(gelu(fc1(bn(x)))): the BatchNorm folds exactly into fc1 (a 1x1 conv has no
            // padding), the layer scale into fc2, the residual into fc2's epilogue, and fc1 → fc2
            // into one step (`PointwiseMlp`).
            let (scale, shift) = norm.params.scaleShift
            let mlp = PointwiseMlp(fc1: fc1.foldingInputAffine(scale: scale, shift: shift).op(activation: .gelu),
                                   fc2: fc2.op(residual: true, outputScale: layerScale.data))
            return try b.scope("mlp") { try b.apply(mlp, [mixed, mixed]) }
        }

        private func tokenMixer(_ b: PlanBuilder, _ x: Value) throws -> Value {
            switch mixer {
            case .identity:
                return x
            case .repmixer:
                return try repMixer!.forward(b, x)
            case .pooling:
                let n = try b.scope("norm") { try mixerNorm!.forward(b, x) }
                let p = try b.apply(Pool2d(.average, kernel: 3, stride: 1, padding: 1, countIncludePad: false), [n], name: "pool")
                let d = try b.apply(Binary(.sub), [p, n], name: "sub")
                return try b.apply(ScaledResidual(scale: mixerScale!.data), [x, d], name: "layer_scale")
            case .dwconv:
                let n = try b.scope("norm") { try mixerNorm!.forward(b, x) }
                return try b.scope("conv") { try dwconv!.forward(b, n, residual: x, outputScale: mixerScale!.data) }
            case .attention:
                let shape = b.shape(of: x)
                let n = try b.scope("norm") { try mixerNorm!.forward(b, x) }
                let tokens = try b.reshape(n, [shape[0], shape[1] * shape[2], dim])
                let q = try b.scope("qkv") { try qkv!.forward(b, tokens) }
                let o = try b.apply(ScaledDotProductAttention.fusedQKV(heads: heads, headDim: dim / heads), [q], name: "attn")
                let xt = try b.reshape(x, [shape[0], shape[1] * shape[2], dim])
                let scaled = proj!.folded(outputScale: mixerScale!.data, residual: true)
                let y = try b.scope("proj") { try b.apply(scaled, [o, xt]) }
                return try b.reshape(y, shape)
            }
        }
    }

    public static var zoo: [ModelInfo] {
        Mixer.allCases.map { m in
            ModelInfo(
                name: "metaformer_s12:\(m.rawValue)", family: "metaformer", resolution: 224, published: nil,
                summary: "MetaFormer-S12 skeleton with the \(m.rawValue) token mixer (scripts/peers/metaformer_s12.py; no published weights)",
                make: { w, overrides in
                    var c = Config()
                    c.mixer = m.rawValue
                    return try MetaFormerS12(w, config: c.merged(with: overrides))
                })
        }
    }
}

extension MetaFormerS12 {
    /// One block per token mixer, `metaformer.MIXER`: the units of the mixer comparison.
    static var blocks: [BlockInfo] {
        Mixer.allCases.map { m in
            BlockInfo(name: "metaformer.\(m.rawValue)",
                      summary: "MetaFormer-S12 block with the \(m.rawValue) token mixer + MLP ratio 4, on an NHWC map; "
                          + "default: stage 1 at 224 (64 channels, 56x56)",
                      defaultDim: 64, defaultResolution: 56) { w, dim, _, _ in
                let block = try Block(w, dim: dim, mixer: m, headDim: Config().headDim)
                return AdaptedBlock(block, layout: .featureMap, channels: dim, reparameterizable: m == .repmixer,
                                    forward: block.forward)
            }
        }
    }
}
