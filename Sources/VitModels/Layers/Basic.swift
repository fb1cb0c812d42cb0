import VitEngine

/// `nn.BatchNorm2d` in inference: `weight`, `bias`, `running_mean`, `running_var`.
public final class BatchNorm2d: Module {
    public var params: BatchNormParameters

    public init(_ w: Weights, channels c: Int, eps: Float = 1e-5) {
        params = BatchNormParameters(
            gamma: w.read("weight", shape: [c], .bnWeight).data, beta: w.read("bias", shape: [c], .bnBias).data,
            mean: w.read("running_mean", shape: [c], .bnMean).data,
            variance: w.read("running_var", shape: [c], .bnVariance).data, eps: eps)
    }

    public var channels: Int { params.channels }

    public func collect(_ sd: inout StateDict) {
        let c = [channels]
        sd.add("weight", Tensor(shape: c, data: params.gamma))
        sd.add("bias", Tensor(shape: c, data: params.beta))
        sd.add("running_mean", Tensor(shape: c, data: params.mean), .buffer)
        sd.add("running_var", Tensor(shape: c, data: params.variance), .buffer)
    }

    public func forward(_ b: PlanBuilder, _ x: Value, activation: Activation = .none) throws -> Value {
        try b.apply(ChannelAffine(batchNorm: params, activation: activation), [x])
    }
}

/// `nn.Conv2d`: `weight` [out, in/groups, k, k] and optional `bias`.
public final class Conv2dLayer: Module {
    public var weight: Tensor
    public var bias: Tensor?
    public let stride: Int
    public let padding: Int
    public let groups: Int

    public init(_ w: Weights, in cin: Int, out cout: Int, kernel k: Int, stride: Int = 1, padding: Int? = nil,
                groups: Int = 1, bias: Bool = true) {
        self.stride = stride
        self.padding = padding ?? k / 2
        self.groups = groups
        weight = w.read("weight", shape: [cout, cin / groups, k, k], .fanIn(cin / groups * k * k))
        self.bias = bias ? w.read("bias", shape: [cout], .normal(0.02)) : nil
    }

    public init(weight: Tensor, bias: Tensor?, stride: Int, padding: Int, groups: Int) {
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.groups = groups
    }

    public var outChannels: Int { weight.shape[0] }
    public var kernel: Int { weight.shape[2] }

    public func collect(_ sd: inout StateDict) {
        sd.add("weight", weight)
        if let bias { sd.add("bias", bias) }
    }

    /// The engine operator, with an optional fused activation, residual input and per-channel
    /// output scale (a layer scale folded into the weights).
    public func op(activation: Activation = .none, residual: Bool = false, outputScale: [Float]? = nil) -> Conv2d {
        var w = weight, bb = bias
        if let s = outputScale {
            let per = w.count / outChannels
            for o in 0..<outChannels {
                for j in 0..<per { w.data[o * per + j] *= s[o] }
            }
            bb = Tensor(shape: [outChannels], data: (0..<outChannels).map { (bias?.data[$0] ?? 0) * s[$0] })
        }
        return Conv2d(weight: w, bias: bb, stride: stride, padding: padding, groups: groups,
                      activation: activation, addsResidual: residual)
    }

    public func forward(_ b: PlanBuilder, _ x: Value, activation: Activation = .none, residual: Value? = nil,
                        outputScale: [Float]? = nil) throws -> Value {
        try b.apply(op(activation: activation, residual: residual != nil, outputScale: outputScale),
                    residual.map { [x, $0] } ?? [x])
    }
}

/// timm's `ConvNormAct` without activation: `conv` (no bias) then `bn`. Folds into one conv.
public final class ConvNorm: Module {
    public let conv: Conv2dLayer
    public let bn: BatchNorm2d

    public init(_ w: Weights, in cin: Int, out cout: Int, kernel k: Int, stride: Int = 1, padding: Int? = nil, groups: Int = 1) {
        conv = w.scope("conv") { Conv2dLayer(w, in: cin, out: cout, kernel: k, stride: stride, padding: padding, groups: groups, bias: false) }
        bn = w.scope("bn") { BatchNorm2d(w, channels: cout) }
    }

    /// (weight, bias) of the single conv this pair computes.
    public var fused: (weight: Tensor, bias: Tensor) { bn.params.fold(weight: conv.weight, bias: conv.bias) }

    public func collect(_ sd: inout StateDict) {
        sd.scope("conv") { conv.collect(&$0) }
        sd.scope("bn") { bn.collect(&$0) }
    }

    /// Conv then BatchNorm as separate steps: the train-time graph, measured as such.
    public func forward(_ b: PlanBuilder, _ x: Value, residual: Value? = nil) throws -> Value {
        let c = try b.scope("conv") { try conv.forward(b, x) }
        let y = try b.scope("bn") { try bn.forward(b, c) }
        guard let residual else { return y }
        return try b.apply(Binary(.add), [y, residual])
    }
}

/// `nn.Linear`: `weight` [out, in], optional `bias`.
public final class LinearLayer: Module {
    public var weight: Tensor
    public var bias: Tensor?

    public init(_ w: Weights, in cin: Int, out cout: Int, bias: Bool = true) {
        weight = w.read("weight", shape: [cout, cin], .fanIn(cin))
        self.bias = bias ? w.read("bias", shape: [cout], .normal(0.02)) : nil
    }

    public func collect(_ sd: inout StateDict) {
        sd.add("weight", weight)
        if let bias { sd.add("bias", bias) }
    }

    public func forward(_ b: PlanBuilder, _ x: Value, activation: Activation = .none, residual: Value? = nil) throws -> Value {
        try b.apply(Linear(weight: weight, bias: bias, activation: activation, addsResidual: residual != nil),
                    residual.map { [x, $0] } ?? [x])
    }
}

/// `nn.LayerNorm` / timm `LayerNorm2d` (over channels, which are last in NHWC).
public final class LayerNormLayer: Module {
    public var weight: Tensor, bias: Tensor
    public let eps: Float

    public init(_ w: Weights, channels c: Int, eps: Float = 1e-5) {
        weight = w.read("weight", shape: [c], .bnWeight)
        bias = w.read("bias", shape: [c], .bnBias)
        self.eps = eps
    }

    public func collect(_ sd: inout StateDict) {
        sd.add("weight", weight)
        sd.add("bias", bias)
    }

    public func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
        try b.apply(LayerNorm(gamma: weight.data, beta: bias.data, eps: eps), [x])
    }
}

/// `nn.GroupNorm` (PoolFormer's `GroupNorm1`: one group).
public final class GroupNormLayer: Module {
    public var weight: Tensor, bias: Tensor
    public let groups: Int
    public let eps: Float

    public init(_ w: Weights, groups: Int, channels c: Int, eps: Float = 1e-5) {
        weight = w.read("weight", shape: [c], .bnWeight)
        bias = w.read("bias", shape: [c], .bnBias)
        self.groups = groups
        self.eps = eps
    }

    public func collect(_ sd: inout StateDict) {
        sd.add("weight", weight)
        sd.add("bias", bias)
    }

    public func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
        try b.apply(GroupNorm(groups: groups, gamma: weight.data, beta: bias.data, eps: eps), [x])
    }
}

/// timm's `SqueezeExcite` (layers/squeeze_excite.py): `fc1`, `fc2` as 1x1 convs with bias,
/// ReLU inside, sigmoid gate.
public final class SqueezeExciteLayer: Module {
    public let fc1: Conv2dLayer, fc2: Conv2dLayer
    public let gate: Activation

    public init(_ w: Weights, channels c: Int, reduced r: Int, gate: Activation = .sigmoid) {
        fc1 = w.scope("fc1") { Conv2dLayer(w, in: c, out: r, kernel: 1) }
        fc2 = w.scope("fc2") { Conv2dLayer(w, in: r, out: c, kernel: 1) }
        self.gate = gate
    }

    public func collect(_ sd: inout StateDict) {
        sd.scope("fc1") { fc1.collect(&$0) }
        sd.scope("fc2") { fc2.collect(&$0) }
    }

    public func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
        try b.apply(SqueezeExcite(reduceWeight: fc1.weight, reduceBias: fc1.bias!, expandWeight: fc2.weight,
                                  expandBias: fc2.bias!, innerActivation: .relu, gate: gate), [x])
    }
}

/// timm's `make_divisible`.
public func makeDivisible(_ v: Double, _ divisor: Int = 8, minValue: Int? = nil, roundLimit: Double = 0.9) -> Int {
    let minV = minValue ?? divisor
    var newV = max(minV, Int(v + Double(divisor) / 2) / divisor * divisor)
    if Double(newV) < roundLimit * v { newV += divisor }
    return newV
}
