import Foundation

// Each engine operator as ONNX nodes, in the engine's layout (NHWC maps, [N, T, C] tokens). Weight
// names are the module path plus timm's suffix, so a runtime's graph reads like the checkpoint.

extension Conv2d: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let y = convolution(&g, g.toNCHW(s.inputs[0], module: s.module), module: s.module)
        if addsResidual {
            g.node("Add", [g.toNHWC(y, module: s.module), s.inputs[1]], module: s.module, output: s.output)
        } else {
            _ = g.toNHWC(y, module: s.module, output: s.output)
        }
    }

    /// Conv (and its activation) on an NCHW input: what `torch.onnx.export` writes for
    /// `nn.Conv2d` followed by an activation, which the runtimes fuse.
    func convolution(_ g: inout ONNXGraph, _ x: String, module: String) -> String {
        var inputs = [x, g.weight("\(module).weight", [outChannels, inChannels / groups, kernel.h, kernel.w], weight)]
        if let bias { inputs.append(g.weight("\(module).bias", [outChannels], bias)) }
        let conv = g.node("Conv", inputs, module: module, [
            ONNXGraph.ints("kernel_shape", [kernel.h, kernel.w]), ONNXGraph.ints("strides", [stride.h, stride.w]),
            ONNXGraph.ints("pads", [padding.h, padding.w, padding.h, padding.w]), ONNXGraph.ints("dilations", [1, 1]),
            ONNXGraph.int("group", groups),
        ])
        return g.activation(activation, conv, module: module)
    }
}

extension NCHWInputConv2d: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let y = conv.convolution(&g, s.inputs[0], module: s.module)
        if conv.addsResidual {
            g.node("Add", [g.toNHWC(y, module: s.module), s.inputs[1]], module: s.module, output: s.output)
        } else {
            _ = g.toNHWC(y, module: s.module, output: s.output)
        }
    }
}

extension Linear: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        writeProduct(&g, s.inputs[0], s)
    }

    /// MatMul by the transposed weight, then the bias, activation and residual, as torch writes
    /// `nn.Linear` on a rank-3 input.
    func writeProduct(_ g: inout ONNXGraph, _ x: String, _ s: ONNXStep) {
        let w = Tensor(shape: [outFeatures, inFeatures], data: weight).permuted([1, 0]).data
        var y = g.node("MatMul", [x, g.weight("\(s.module).weight", [inFeatures, outFeatures], w)], module: s.module)
        if let bias { y = g.node("Add", [y, g.weight("\(s.module).bias", [outFeatures], bias)], module: s.module) }
        _ = g.epilogue(y, activation: activation, residual: addsResidual ? s.inputs[1] : nil, module: s.module, output: s.output)
    }
}

extension LayerNorm: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        _ = layerNormalization(&g, s.inputs[0], module: s.module, output: s.output)
    }

    func layerNormalization(_ g: inout ONNXGraph, _ x: String, module: String, output: String? = nil) -> String {
        g.node("LayerNormalization", [x, g.weight("\(module).weight", [gamma.count], gamma), g.weight("\(module).bias", [beta.count], beta)],
               module: module, output: output, [ONNXGraph.int("axis", -1), ONNXGraph.float("epsilon", eps)])
    }
}

extension LayerNormLinear: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        linear.writeProduct(&g, norm.layerNormalization(&g, s.inputs[0], module: s.module + ".norm"), s)
    }
}

extension PointwiseMlp: ONNXExportable {
    /// The norm, then fc1 and fc2 each as they export alone (a 1x1 Conv or a MatMul), named
    /// `<module>.fc1` and `<module>.fc2` as in timm, so a runtime sees the graph torch would write.
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        guard let first = fc1 as? ONNXExportable, let second = fc2 as? ONNXExportable else {
            throw ONNXExportError(message: "\(s.module): no ONNX export for an MLP of \(fc1.kind) and \(fc2.kind)")
        }
        let hiddenShape = hiddenShape(input: s.inputShapes[0]), hidden = g.fresh("\(s.module).fc1")
        let x = norm.map { $0.layerNormalization(&g, s.inputs[0], module: s.module + ".norm") } ?? s.inputs[0]
        try first.exportONNX(&g, ONNXStep(module: "\(s.module).fc1", inputs: [x], inputShapes: [s.inputShapes[0]],
                                          output: hidden, outputShape: hiddenShape))
        try second.exportONNX(&g, ONNXStep(module: "\(s.module).fc2", inputs: [hidden] + s.inputs.dropFirst(),
                                           inputShapes: [hiddenShape] + s.inputShapes.dropFirst(), output: s.output,
                                           outputShape: s.outputShape))
    }
}

extension GroupNorm: ONNXExportable {
    /// torch's GroupNorm export — reshape to [N, groups, rest], InstanceNormalization, reshape
    /// back, per-channel scale and shift — on the NCHW view of a feature map (channels-last
    /// tokens gather their groups first).
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let shape = s.inputShapes[0], n = shape[0], c = channels, m = s.module
        let positions = shape.dropFirst().dropLast().reduce(1, *)
        let (groups, gamma, beta, eps) = (self.groups, self.gamma, self.beta, self.eps)
        g.channelsFirst(s.inputs[0], shape, module: m, output: s.output) { g, x, channelShape in
            let channelsFirst = shape.count == 4
            var grouped = x
            if groups > 1 && !channelsFirst {
                grouped = g.transpose(g.reshape(grouped, [n, positions, groups, c / groups], module: m), [0, 2, 1, 3], module: m)
            }
            let flat = g.reshape(grouped, [n, groups, positions * (c / groups)], module: m)
            let normed = g.node("InstanceNormalization", [flat, g.weight("\(m).ones", [groups], [Float](repeating: 1, count: groups)),
                                                          g.weight("\(m).zeros", [groups], [Float](repeating: 0, count: groups))],
                                module: m, [ONNXGraph.float("epsilon", eps)])
            var back = normed
            if groups > 1 && !channelsFirst {
                back = g.transpose(g.reshape(back, [n, groups, positions, c / groups], module: m), [0, 2, 1, 3], module: m)
            }
            let restored = g.reshape(back, channelsFirst ? [n, c, shape[1], shape[2]] : shape, module: m)
            let scaled = g.node("Mul", [restored, g.weight("\(m).weight", channelShape, gamma)], module: m)
            return g.node("Add", [scaled, g.weight("\(m).bias", channelShape, beta)], module: m)
        }
    }
}

extension ChannelAffine: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let (scale, shift, activation) = (self.scale, self.shift, self.activation)
        g.channelsFirst(s.inputs[0], s.inputShapes[0], module: s.module, output: s.output) { g, x, channelShape in
            let m = g.node("Mul", [x, g.weight("\(s.module).scale", channelShape, scale)], module: s.module)
            let a = g.node("Add", [m, g.weight("\(s.module).shift", channelShape, shift)], module: s.module)
            return g.activation(activation, a, module: s.module)
        }
    }
}

extension Softmax: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        g.node("Softmax", [s.inputs[0]], module: s.module, output: s.output, [ONNXGraph.int("axis", -1)])
    }
}

extension ActivationOp: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        _ = g.activation(activation, s.inputs[0], module: s.module, output: s.output)
    }
}

extension Binary: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let a = s.inputs[0], aShape = s.inputShapes[0]
        let name: String
        switch op {
        case .add: name = "Add"
        case .mul: name = "Mul"
        case .sub: name = "Sub"
        }
        if let constant {
            if aShape.count == 4 && constant.count > 1 {
                // A per-channel constant on a feature map: on its NCHW view, as [C, 1, 1].
                g.channelsFirst(a, aShape, module: s.module, output: s.output) { g, x, channelShape in
                    g.node(name, [x, g.weight("\(s.module).constant", channelShape, constant)], module: s.module)
                }
            } else {
                g.node(name, [a, g.weight("\(s.module).constant", [constant.count], constant)], module: s.module, output: s.output)
            }
            return
        }
        var b = s.inputs[1]
        if s.inputShapes[1] != aShape {
            // Per image and channel: [N, 1, ..., 1, C] broadcasts over the positions.
            b = g.reshape(b, [aShape[0]] + Array(repeating: 1, count: aShape.count - 2) + [aShape.last!], module: s.module)
        }
        g.node(name, [a, b], module: s.module, output: s.output)
    }
}

extension ScaledResidual: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        guard s.inputShapes[0].count == 4 else {
            let scaled = g.node("Mul", [s.inputs[1], g.weight("\(s.module).layer_scale", [scale.count], scale)], module: s.module)
            g.node("Add", [s.inputs[0], scaled], module: s.module, output: s.output)
            return
        }
        // On the NCHW view, as torch writes a layer scale on a feature map (`x + ls.view(C, 1, 1) * y`).
        let m = s.module
        let residual = g.toNCHW(s.inputs[0], module: m), branch = g.toNCHW(s.inputs[1], module: m)
        let scaled = g.node("Mul", [branch, g.weight("\(m).layer_scale", [scale.count, 1, 1], scale)], module: m)
        _ = g.toNHWC(g.node("Add", [residual, scaled], module: m), module: m, output: s.output)
    }
}

extension Pool2d: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        if kernel == 1 && padding == 0 {
            // A 1x1 window is a strided subsample (LeViT's `x[:, ::2, ::2]`): a Slice with steps
            // on the NHWC axes, as torch writes it, with no layout change.
            let x = s.inputShapes[0], m = s.module
            g.node("Slice", [s.inputs[0], g.int64s("\(m)/starts", [0, 0]), g.int64s("\(m)/ends", [x[1], x[2]]),
                             g.int64s("\(m)/axes", [1, 2]), g.int64s("\(m)/steps", [stride, stride])],
                   module: m, output: s.output)
            return
        }
        var attributes = [ONNXGraph.ints("kernel_shape", [kernel, kernel]), ONNXGraph.ints("strides", [stride, stride]),
                          ONNXGraph.ints("pads", [padding, padding, padding, padding])]
        if mode == .average { attributes.append(ONNXGraph.int("count_include_pad", countIncludePad ? 1 : 0)) }
        let y = g.node(mode == .average ? "AveragePool" : "MaxPool", [g.toNCHW(s.inputs[0], module: s.module)],
                       module: s.module, attributes)
        _ = g.toNHWC(y, module: s.module, output: s.output)
    }
}

extension GlobalAvgPool: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        g.node("ReduceMean", [s.inputs[0]], module: s.module, output: s.output,
               [ONNXGraph.ints("axes", [1, 2]), ONNXGraph.int("keepdims", keepDims ? 1 : 0)])
    }
}

extension SqueezeExcite: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let m = s.module
        let pooled = g.node("ReduceMean", [s.inputs[0]], module: m, [ONNXGraph.ints("axes", [1, 2]), ONNXGraph.int("keepdims", 1)])
        let w1 = Tensor(shape: [reduced, channels], data: reduceWeight).permuted([1, 0]).data
        let w2 = Tensor(shape: [channels, reduced], data: expandWeight).permuted([1, 0]).data
        var h = g.node("MatMul", [pooled, g.weight("\(m).reduce.weight", [channels, reduced], w1)], module: m)
        h = g.activation(innerActivation, g.node("Add", [h, g.weight("\(m).reduce.bias", [reduced], reduceBias)], module: m), module: m)
        var e = g.node("MatMul", [h, g.weight("\(m).expand.weight", [reduced, channels], w2)], module: m)
        e = g.activation(gate, g.node("Add", [e, g.weight("\(m).expand.bias", [channels], expandBias)], module: m), module: m)
        g.node("Mul", [s.inputs[0], e], module: m, output: s.output)
    }
}

extension Permute: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        _ = g.transpose(s.inputs[0], axes, module: s.module, output: s.output)
    }
}

extension Concat: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        g.node("Concat", s.inputs, module: s.module, output: s.output, [ONNXGraph.int("axis", axis)])
    }
}

extension SliceTokens: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        _ = g.slice(s.inputs[0], axis: 1, start, start + count, module: s.module, output: s.output)
    }
}

extension AssembleTokens: ONNXExportable {
    /// timm's `cat((cls_token.expand(N, -1, -1), x), 1) + pos_embed`.
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let n = s.outputShape[0], tokens = s.outputShape[1], m = s.module
        var parts = s.inputs
        if let prefix {
            let p = prefix.count / channels
            let expanded = g.node("Expand", [g.weight("\(m).cls_token", [1, p, channels], prefix), g.int64s("\(m)/expand", [n, p, channels])],
                                  module: m)
            parts.insert(expanded, at: 0)
        }
        let joined = parts.count == 1 ? parts[0] : g.node("Concat", parts, module: m, [ONNXGraph.int("axis", 1)])
        if let positions {
            g.node("Add", [joined, g.weight("\(m).pos_embed", [1, tokens, channels], positions)], module: m, output: s.output)
        } else {
            g.node("Identity", [joined], module: m, output: s.output)
        }
    }
}

extension BilinearResize: ONNXExportable {
    /// `F.interpolate(..., mode='bilinear', align_corners=False)` as torch exports it.
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let x = s.inputShapes[0]
        let sizes = g.int64s("\(s.module)/sizes", [x[0], x[3], height, width])
        let y = g.node("Resize", [g.toNCHW(s.inputs[0], module: s.module), "", "", sizes], module: s.module, [
            ONNXGraph.string("mode", "linear"), ONNXGraph.string("coordinate_transformation_mode", "pytorch_half_pixel"),
        ])
        _ = g.toNHWC(y, module: s.module, output: s.output)
    }
}

extension MatMul: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let b = transposeB ? g.transpose(s.inputs[1], [0, 2, 1], module: s.module) : s.inputs[1]
        if alpha == 1 {
            g.node("MatMul", [s.inputs[0], b], module: s.module, output: s.output)
        } else {
            let p = g.node("MatMul", [s.inputs[0], b], module: s.module)
            g.node("Mul", [p, g.scalar("\(s.module)/alpha", alpha)], module: s.module, output: s.output)
        }
    }
}

extension HeadView {
    /// The heads this view reads, as [N, heads, T, dim]: slices and a reshape where the heads lie
    /// at a constant stride (timm's (3, heads, d) packing, LeViT's per-head (q, k, v)), a Gather
    /// otherwise.
    func export(_ g: inout ONNXGraph, _ s: ONNXStep, heads: Int, dim: Int, module: String) -> String {
        let x = s.inputs[input], shape = s.inputShapes[input], n = shape[0], t = shape[1], row = shape[2]
        let hs = headStride
        var y: String
        if offset + heads * hs <= row {
            let block = offset == 0 && heads * hs == row ? x : g.slice(x, axis: 2, offset, offset + heads * hs, module: module)
            let split = g.reshape(block, [n, t, heads, hs], module: module)
            y = hs == dim ? split : g.slice(split, axis: 3, 0, dim, module: module)
        } else if hs > 0, row % hs == 0, offset < hs, offset + dim <= hs {
            let split = g.reshape(x, [n, t, row / hs, hs], module: module)
            let kept = row / hs == heads ? split : g.slice(split, axis: 2, 0, heads, module: module)
            y = g.slice(kept, axis: 3, offset, offset + dim, module: module)
        } else {
            let indices = (0..<heads).flatMap { h in (0..<dim).map { offset + h * hs + $0 } }
            let gathered = g.node("Gather", [x, g.int64s("\(module)/indices", indices)], module: module, [ONNXGraph.int("axis", 2)])
            y = g.reshape(gathered, [n, t, heads, dim], module: module)
        }
        return g.transpose(y, [0, 2, 1, 3], module: module)
    }
}

/// softmax(Q·Kᵀ·scale + bias) as [N, heads, Tq, Tk].
private func attentionProbabilities(_ g: inout ONNXGraph, _ s: ONNXStep, heads: Int, keyDim: Int, scale: Float,
                                    q: HeadView, k: HeadView, bias: (PackedWeights, [Int])?) -> String {
    let m = s.module
    let qh = q.export(&g, s, heads: heads, dim: keyDim, module: m + ".q")
    let kh = k.export(&g, s, heads: heads, dim: keyDim, module: m + ".k")
    let scores = g.node("MatMul", [qh, g.transpose(kh, [0, 1, 3, 2], module: m)], module: m)
    var scaled = g.node("Mul", [scores, g.scalar("\(m)/scale", scale)], module: m)
    if let (values, shape) = bias {
        scaled = g.node("Add", [scaled, g.weight("\(m).attention_biases", shape, values)], module: m)
    }
    return g.node("Softmax", [scaled], module: m, [ONNXGraph.int("axis", -1)])
}

/// P [N, heads, Tq, Tk] · V → [N, Tq, heads·dv], heads outermost in the last axis.
private func applyProbabilities(_ g: inout ONNXGraph, _ s: ONNXStep, _ p: String, heads: Int, valueDim: Int, v: HeadView) {
    let m = s.module
    let vh = v.export(&g, s, heads: heads, dim: valueDim, module: m + ".v")
    let o = g.transpose(g.node("MatMul", [p, vh], module: m), [0, 2, 1, 3], module: m)
    _ = g.reshape(o, s.outputShape, module: m, output: s.output)
}

extension ScaledDotProductAttention: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let p = attentionProbabilities(&g, s, heads: heads, keyDim: keyDim, scale: scale, q: q, k: k,
                                       bias: bias.map { ($0, biasShape ?? [$0.count]) })
        applyProbabilities(&g, s, p, heads: heads, valueDim: valueDim, v: v)
    }
}

extension AttentionMap: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        let p = attentionProbabilities(&g, s, heads: heads, keyDim: keyDim, scale: scale, q: q, k: k, bias: nil)
        g.node("Identity", [p], module: s.module, output: s.output)
    }
}

extension ApplyAttentionMap: ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ s: ONNXStep) throws {
        applyProbabilities(&g, s, s.inputs[0], heads: heads, valueDim: valueDim, v: v)
    }
}
