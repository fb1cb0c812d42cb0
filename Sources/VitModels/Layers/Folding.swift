import VitEngine

// Exact algebra that lets a plan run fewer, fuller steps than the module tree has: per-channel
// affines (inference BatchNorms) and layer scales folded into the conv or linear next to them.
// The state dict keeps timm's unfused tensors; only the operators built for the plan change.

extension ConvNorm {
    /// The conv+BN pair as the one conv it computes, with an optional fused residual input.
    public func foldedOp(residual: Bool = false) -> Conv2d {
        let (w, b) = fused
        return Conv2d(weight: w, bias: b, stride: conv.stride, padding: conv.padding, groups: conv.groups,
                      addsResidual: residual)
    }
}

extension LinearLayer {
    /// diag(s)·(W·(a⊙x + c) + b) as one Linear: (diag(s)·W·diag(a))·x + s⊙(W·c + b), computed in
    /// double. `a, c` are a per-feature input affine (a BatchNorm before the layer), `s` a layer
    /// scale after it; `residual` adds a second input in the epilogue.
    public func folded(inputScale: [Float]? = nil, inputShift: [Float]? = nil, outputScale: [Float]? = nil,
                       residual: Bool = false) -> Linear {
        let (co, ci) = (weight.shape[0], weight.shape[1])
        var w = weight
        var b = [Double](repeating: 0, count: co)
        for o in 0..<co {
            var acc = Double(bias?.data[o] ?? 0)
            let s = Double(outputScale?[o] ?? 1)
            for i in 0..<ci {
                let wi = Double(w.data[o * ci + i])
                if let inputShift { acc += wi * Double(inputShift[i]) }
                w.data[o * ci + i] = Float(wi * Double(inputScale?[i] ?? 1) * s)
            }
            b[o] = acc * s
        }
        let hasBias = bias != nil || inputShift != nil
        return Linear(weight: w, bias: hasBias ? Tensor(shape: [co], data: b.map(Float.init)) : nil, addsResidual: residual)
    }
}

extension Conv2dLayer {
    /// A 1x1 conv applied after a per-channel affine (an inference BatchNorm): W·(a⊙x + c) + b =
    /// (W·diag(a))·x + (W·c + b). Exact only for convs without padding.
    public func foldingInputAffine(scale: [Float], shift: [Float]) -> Conv2dLayer {
        precondition(kernel == 1 && padding == 0 && groups == 1, "only a 1x1 conv absorbs an input affine")
        let (co, ci) = (weight.shape[0], weight.shape[1])
        var w = weight
        var b = bias ?? Tensor(zeros: [co])
        for o in 0..<co {
            var extra = 0.0
            for i in 0..<ci {
                extra += Double(w.data[o * ci + i]) * Double(shift[i])
                w.data[o * ci + i] *= scale[i]
            }
            b.data[o] = Float(Double(b.data[o]) + extra)
        }
        return Conv2dLayer(weight: w, bias: b, stride: 1, padding: 0, groups: 1)
    }
}

extension LayerNormLinear {
    /// `norm` then `linear` as one engine step — a pre-norm transformer's norm1→qkv and
    /// norm2→fc1 — with `activation` in the GEMM's epilogue.
    static func fusing(_ norm: LayerNormLayer, _ linear: LinearLayer, activation: Activation = .none) -> LayerNormLinear {
        LayerNormLinear(norm: LayerNorm(gamma: norm.weight.data, beta: norm.bias.data, eps: norm.eps),
                        linear: Linear(weight: linear.weight, bias: linear.bias, activation: activation))
    }
}

extension PointwiseMlp {
    /// A pre-norm transformer's `norm2` → `mlp.fc1` → activation → `mlp.fc2`, plus the residual
    /// (the step's second input), as one engine step.
    static func fusing(_ norm: LayerNormLayer, _ fc1: LinearLayer, _ fc2: LinearLayer, activation: Activation) -> PointwiseMlp {
        PointwiseMlp(norm: LayerNorm(gamma: norm.weight.data, beta: norm.bias.data, eps: norm.eps),
                     fc1: Linear(weight: fc1.weight, bias: fc1.bias, activation: activation),
                     fc2: Linear(weight: fc2.weight, bias: fc2.bias, addsResidual: true))
    }
}
