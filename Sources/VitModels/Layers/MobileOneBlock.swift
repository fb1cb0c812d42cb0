import VitEngine

/// MobileOne's reparameterisable block (timm `fastvit.MobileOneBlock` and
/// `byobnet.MobileOneBlock`, which share their tensor names): at train time
/// act(se(Σ conv_kxk.i(x) + conv_scale(x) + identity(x))), each branch a conv+BN; after
/// `reparameterize()` act(se(reparam_conv(x))).
///
/// The train-time form runs as a good inference engine would run that graph: BatchNorm folded
/// into each branch's conv, branches still separate convs summed through residual epilogues —
/// so the two forms differ by exactly what reparameterisation removes.
public final class MobileOneBlock: Module {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, groups: Int
    public let activation: Activation
    public private(set) var convKxK: [ConvNorm]
    public private(set) var convScale: ConvNorm?
    public private(set) var identity: BatchNorm2d?
    public private(set) var reparamConv: Conv2dLayer?
    public let se: SqueezeExciteLayer?
    /// Name of the SE module: "se" in FastViT, "attn" in byobnet's MobileOne.
    let seName: String

    /// - Parameters:
    ///   - branches: number of k×k conv branches (`num_conv_branches`; 0 for FastViT's
    ///     BN-only RepMixer norm).
    ///   - scaleBranch: whether a 1×1 branch exists when kernel > 1 (`use_scale_branch`).
    ///   - se: (module name, reduced channels) of a squeeze-excitation after the conv.
    public init(_ w: Weights, in cin: Int, out cout: Int, kernel k: Int, stride: Int = 1, groups: Int = 1,
                branches: Int = 1, scaleBranch: Bool = true, activation: Activation,
                se: (name: String, reduced: Int)? = nil) {
        inChannels = cin
        outChannels = cout
        kernel = k
        self.stride = stride
        self.groups = groups
        self.activation = activation
        seName = se?.name ?? "se"
        self.se = se.map { s in w.scope(s.name) { SqueezeExciteLayer(w, channels: cout, reduced: s.reduced) } }
        if w.containsModule("reparam_conv") {
            reparamConv = w.scope("reparam_conv") {
                Conv2dLayer(w, in: cin, out: cout, kernel: k, stride: stride, groups: groups, bias: true)
            }
            convKxK = []
        } else {
            identity = (cin == cout && stride == 1) ? w.scope("identity") { BatchNorm2d(w, channels: cin) } : nil
            convKxK = (0..<branches).map { i in
                w.scope("conv_kxk") { w.scope("\(i)") { ConvNorm(w, in: cin, out: cout, kernel: k, stride: stride, groups: groups) } }
            }
            convScale = (k > 1 && scaleBranch)
                ? w.scope("conv_scale") { ConvNorm(w, in: cin, out: cout, kernel: 1, stride: stride, padding: 0, groups: groups) }
                : nil
        }
    }

    public var isReparameterized: Bool { reparamConv != nil }

    /// (weight, bias) of the one conv the branches sum to.
    public var fusedKernel: (weight: Tensor, bias: Tensor) {
        if let r = reparamConv { return (r.weight, r.bias!) }
        var parts = convKxK.map(\.fused)
        if let s = convScale { parts.append(s.fused) }
        if let id = identity {
            parts.append(id.params.fold(weight: Reparameterization.identityKernel(channels: inChannels, groups: groups, kernel: kernel), bias: nil))
        }
        return Reparameterization.sum(parts, kernel: kernel)
    }

    public func reparameterize() {
        guard reparamConv == nil else { return }
        let (w, b) = fusedKernel
        reparamConv = Conv2dLayer(weight: w, bias: b, stride: stride, padding: kernel / 2, groups: groups)
        convKxK = []
        convScale = nil
        identity = nil
    }

    public func collect(_ sd: inout StateDict) {
        if let r = reparamConv {
            sd.scope("reparam_conv") { r.collect(&$0) }
        } else {
            if let id = identity { sd.scope("identity") { id.collect(&$0) } }
            for (i, c) in convKxK.enumerated() { sd.scope("conv_kxk") { sd in sd.scope("\(i)") { c.collect(&$0) } } }
            if let s = convScale { sd.scope("conv_scale") { s.collect(&$0) } }
        }
        if let se { sd.scope(seName) { se.collect(&$0) } }
    }

    /// - Parameter residual: added after the activation (as the caller's skip connection).
    public func forward(_ b: PlanBuilder, _ x: Value, residual: Value? = nil) throws -> Value {
        var y: Value
        if let r = reparamConv {
            if se == nil {
                return try b.scope("reparam_conv") { try r.forward(b, x, activation: activation, residual: residual) }
            }
            y = try b.scope("reparam_conv") { try r.forward(b, x) }
        } else {
            // Branches: BN folded into each conv, summed through residual epilogues.
            var acc: Value? = nil
            if let id = identity { acc = try b.scope("identity") { try id.forward(b, x) } }
            var convs: [(String, ConvNorm)] = []
            if let s = convScale { convs.append(("conv_scale", s)) }
            convs += convKxK.enumerated().map { ("conv_kxk.\($0.offset)", $0.element) }
            for (name, cn) in convs {
                let (w, bias) = cn.fused
                let op = Conv2d(weight: w, bias: bias, stride: stride, padding: cn.conv.padding, groups: groups,
                                addsResidual: acc != nil)
                acc = try b.scope(name) { try b.apply(op, acc.map { [x, $0] } ?? [x]) }
            }
            guard let sum = acc else { throw PlanError(module: b.modulePath, "MobileOneBlock without branches") }
            y = sum
        }
        if let se { y = try b.scope(seName) { try se.forward(b, y) } }
        if activation != .none { y = try b.scope("act") { try b.apply(ActivationOp(activation), [y]) } }
        if let residual { y = try b.apply(Binary(.add), [y, residual]) }
        return y
    }
}
