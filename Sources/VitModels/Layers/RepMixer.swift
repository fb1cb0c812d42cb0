import VitEngine

/// timm's `LayerScale2d`: a per-channel `gamma` stored as [C, 1, 1].
public final class LayerScale2d: Module {
    public var gamma: Tensor

    public init(_ w: Weights, channels c: Int, initValue: Float) {
        gamma = w.read("gamma", shape: [c, 1, 1], .constant(initValue))
    }

    public var values: [Float] { gamma.data }
    public func collect(_ sd: inout StateDict) { sd.add("gamma", gamma) }
}

/// FastViT's RepMixer token mixer (timm `fastvit.RepMixer`): at train time
/// x + layer_scale · (mixer(x) − norm(x)), with `mixer` a depthwise k×k MobileOneBlock (conv,
/// 1×1 scale and BN identity branches, no activation) and `norm` a BN-only MobileOneBlock; after
/// `reparameterize()` one depthwise k×k conv with bias — no skip, the identity is in the kernel.
public final class RepMixer: Module {
    public let dim: Int, kernel: Int
    public private(set) var norm: MobileOneBlock?
    public private(set) var mixer: MobileOneBlock?
    public private(set) var layerScale: LayerScale2d?
    public private(set) var reparamConv: Conv2dLayer?

    public init(_ w: Weights, dim: Int, kernel: Int = 3, layerScaleInit: Float? = 1e-5) {
        self.dim = dim
        self.kernel = kernel
        if w.containsModule("reparam_conv") {
            reparamConv = w.scope("reparam_conv") { Conv2dLayer(w, in: dim, out: dim, kernel: kernel, groups: dim) }
        } else {
            norm = w.scope("norm") {
                MobileOneBlock(w, in: dim, out: dim, kernel: kernel, groups: dim, branches: 0, scaleBranch: false, activation: .none)
            }
            mixer = w.scope("mixer") { MobileOneBlock(w, in: dim, out: dim, kernel: kernel, groups: dim, activation: .none) }
            layerScale = layerScaleInit.map { v in w.scope("layer_scale") { LayerScale2d(w, channels: dim, initValue: v) } }
        }
    }

    public func reparameterize() {
        guard reparamConv == nil, let mixer, let norm else { return }
        let (mw, mb) = mixer.fusedKernel
        let (nw, nb) = norm.fusedKernel
        let id = Reparameterization.identityKernel(channels: dim, groups: dim, kernel: kernel)
        let s = layerScale?.values ?? [Float](repeating: 1, count: dim)
        let per = kernel * kernel
        var w = Tensor(zeros: [dim, 1, kernel, kernel]), b = Tensor(zeros: [dim])
        for c in 0..<dim {
            for j in 0..<per {
                let i = c * per + j
                w.data[i] = Float(Double(id.data[i]) + Double(s[c]) * (Double(mw.data[i]) - Double(nw.data[i])))
            }
            b.data[c] = Float(Double(s[c]) * (Double(mb.data[c]) - Double(nb.data[c])))
        }
        reparamConv = Conv2dLayer(weight: w, bias: b, stride: 1, padding: kernel / 2, groups: dim)
        self.mixer = nil
        self.norm = nil
        layerScale = nil
    }

    public func collect(_ sd: inout StateDict) {
        if let r = reparamConv { sd.scope("reparam_conv") { r.collect(&$0) }; return }
        if let norm { sd.scope("norm") { norm.collect(&$0) } }
        if let mixer { sd.scope("mixer") { mixer.collect(&$0) } }
        if let layerScale { sd.scope("layer_scale") { layerScale.collect(&$0) } }
    }

    public func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
        if let r = reparamConv { return try b.scope("reparam_conv") { try r.forward(b, x) } }
        guard let mixer, let norm else { throw PlanError(module: b.modulePath, "RepMixer without branches") }
        let n = try b.scope("norm") { try norm.forward(b, x) }
        let m = try b.scope("mixer") { try mixer.forward(b, x) }
        let d = try b.apply(Binary(.sub), [m, n], name: "sub")
        let s = layerScale?.values ?? [Float](repeating: 1, count: dim)
        return try b.apply(ScaledResidual(scale: s), [x, d], name: "layer_scale")
    }
}
