import Foundation

// The reference binding of every operator. Each closure reads its inputs and writes its output
// with plain loops; speed is no concern here, only obvious correctness.

extension ActivationOp {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, n = product(c.outputShape), a = activation
        return { for i in 0..<n { y[i] = Reference.activation(a, x[i]) } }
    }
}

extension Linear {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, rows = product(c.outputShape) / outFeatures
        let k = inFeatures, n = outFeatures, w = weight, b = bias, act = activation
        let res: UnsafePointer<Float>? = addsResidual ? UnsafePointer(c.inputs[1]) : nil
        return {
            for r in 0..<rows {
                for o in 0..<n {
                    var acc = Double(b?[o] ?? 0)
                    for i in 0..<k { acc += Double(x[r * k + i]) * Double(w[o * k + i]) }
                    y[r * n + o] = Float(acc)
                }
            }
            Reference.epilogue(y, count: rows * n, activation: act, residual: res)
        }
    }
}

extension MatMul {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let a = c.inputs[0], b = c.inputs[1], y = c.output
        let batch = c.outputShape[0], m = c.outputShape[1], n = c.outputShape[2], k = c.inputShapes[0][2]
        let transB = transposeB, alpha = alpha
        return {
            for i in 0..<batch {
                for r in 0..<m {
                    for col in 0..<n {
                        var acc = 0.0
                        for p in 0..<k {
                            let bv = transB ? b[i * n * k + col * k + p] : b[i * k * n + p * n + col]
                            acc += Double(a[i * m * k + r * k + p]) * Double(bv)
                        }
                        y[i * m * n + r * n + col] = alpha * Float(acc)
                    }
                }
            }
        }
    }
}

extension Conv2d {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, inShape = c.inputShapes[0], outShape = c.outputShape
        let w = weight, b = bias, co = outChannels, k = kernel, s = stride, p = padding, g = groups
        let act = activation, res: UnsafePointer<Float>? = addsResidual ? UnsafePointer(c.inputs[1]) : nil
        return {
            Reference.conv2d(x: x, inShape: inShape, weight: w, bias: b, outChannels: co, kernel: k,
                             stride: s, padding: p, groups: g, y: y, outShape: outShape)
            Reference.epilogue(y, count: product(outShape), activation: act, residual: res)
        }
    }
}

extension ChannelAffine {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, ch = channels, n = product(c.outputShape)
        let s = scale.array, b = shift.array, act = activation
        return { for i in 0..<n { y[i] = Reference.activation(act, Float(Double(x[i]) * Double(s[i % ch]) + Double(b[i % ch]))) } }
    }
}

extension LayerNorm {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, ch = gamma.count, rows = product(c.outputShape) / ch
        let g = gamma.array, b = beta.array, eps = Double(eps)
        return {
            for r in 0..<rows {
                var mean = 0.0
                for i in 0..<ch { mean += Double(x[r * ch + i]) }
                mean /= Double(ch)
                var v = 0.0
                for i in 0..<ch { v += (Double(x[r * ch + i]) - mean) * (Double(x[r * ch + i]) - mean) }
                v /= Double(ch)
                for i in 0..<ch {
                    y[r * ch + i] = Float((Double(x[r * ch + i]) - mean) / (v + eps).squareRoot() * Double(g[i]) + Double(b[i]))
                }
            }
        }
    }
}

extension GroupNorm {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, ch = channels, groups = groups, cg = ch / groups
        let n = c.outputShape[0], pixels = product(c.outputShape) / (n * ch)
        let gm = gamma.array, bt = beta.array, eps = Double(eps)
        return {
            for img in 0..<n {
                for g in 0..<groups {
                    var values: [Double] = []
                    for p in 0..<pixels {
                        for cc in g * cg..<(g + 1) * cg { values.append(Double(x[(img * pixels + p) * ch + cc])) }
                    }
                    let mean = values.reduce(0, +) / Double(values.count)
                    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
                    for p in 0..<pixels {
                        for cc in g * cg..<(g + 1) * cg {
                            let i = (img * pixels + p) * ch + cc
                            y[i] = Float((Double(x[i]) - mean) / (variance + eps).squareRoot() * Double(gm[cc]) + Double(bt[cc]))
                        }
                    }
                }
            }
        }
    }
}

extension Softmax {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, cols = c.outputShape.last!, rows = product(c.outputShape) / cols
        return {
            for r in 0..<rows {
                var m = -Double.infinity
                for i in 0..<cols { m = max(m, Double(x[r * cols + i])) }
                var sum = 0.0
                for i in 0..<cols { sum += exp(Double(x[r * cols + i]) - m) }
                for i in 0..<cols { y[r * cols + i] = Float(exp(Double(x[r * cols + i]) - m) / sum) }
            }
        }
    }
}

extension Pool2d {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, s = c.inputShapes[0], o = c.outputShape
        let k = kernel, st = stride, p = padding, isMax = mode == .max, include = countIncludePad
        return {
            for b in 0..<o[0] {
                for oy in 0..<o[1] {
                    for ox in 0..<o[2] {
                        for ch in 0..<o[3] {
                            var acc = isMax ? -Double.infinity : 0, count = 0
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let iy = oy * st - p + ky, ix = ox * st - p + kx
                                    // PyTorch counts padded positions (not those past the padding).
                                    let inPadded = iy < s[1] + p && ix < s[2] + p
                                    if iy < 0 || iy >= s[1] || ix < 0 || ix >= s[2] {
                                        if include && inPadded { count += 1 }
                                        continue
                                    }
                                    let v = Double(x[((b * s[1] + iy) * s[2] + ix) * s[3] + ch])
                                    acc = isMax ? max(acc, v) : acc + v
                                    count += 1
                                }
                            }
                            y[((b * o[1] + oy) * o[2] + ox) * o[3] + ch] = Float(isMax ? acc : acc / Double(count))
                        }
                    }
                }
            }
        }
    }
}

extension GlobalAvgPool {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, s = c.inputShapes[0]
        return {
            for b in 0..<s[0] {
                for ch in 0..<s[3] {
                    var acc = 0.0
                    for p in 0..<s[1] * s[2] { acc += Double(x[(b * s[1] * s[2] + p) * s[3] + ch]) }
                    y[b * s[3] + ch] = Float(acc / Double(s[1] * s[2]))
                }
            }
        }
    }
}

extension Binary {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let a = c.inputs[0], y = c.output, shape = c.outputShape, n = product(shape), op = op
        let ch = shape.last!, perImage = n / shape[0]
        let constant = constant?.array
        let b: UnsafePointer<Float>? = c.inputs.count > 1 ? UnsafePointer(c.inputs[1]) : nil
        let bCount = c.inputShapes.count > 1 ? product(c.inputShapes[1]) : ch
        return {
            for i in 0..<n {
                let bv: Float
                if let constant { bv = constant[i % ch] }
                else if bCount == n { bv = b![i] }
                else { bv = b![(i / perImage) * ch + i % ch] }
                switch op {
                case .add: y[i] = a[i] + bv
                case .mul: y[i] = a[i] * bv
                case .sub: y[i] = a[i] - bv
                }
            }
        }
    }
}

extension ScaledResidual {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let a = c.inputs[0], b = c.inputs[1], y = c.output, n = product(c.outputShape)
        let s = scale.array
        return { for i in 0..<n { y[i] = a[i] + s[i % s.count] * b[i] } }
    }
}

extension Permute {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, inShape = c.inputShapes[0], axes = axes
        return {
            let t = Tensor(shape: inShape, data: Array(UnsafeBufferPointer(start: x, count: product(inShape))))
            let p = t.permuted(axes)
            for i in 0..<p.count { y[i] = p.data[i] }
        }
    }
}

extension Concat {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let xs = c.inputs, shapes = c.inputShapes, y = c.output, out = c.outputShape, axis = axis
        return {
            let outStrides = Tensor.strides(out)
            var base = 0
            for (xi, s) in shapes.enumerated() {
                let strides = Tensor.strides(s)
                for i in 0..<product(s) {
                    var idx = 0
                    for a in 0..<s.count {
                        var coord = (i / strides[a]) % s[a]
                        if a == axis { coord += base }
                        idx += coord * outStrides[a]
                    }
                    y[idx] = xs[xi][i]
                }
                base += s[axis]
            }
        }
    }
}

extension SqueezeExcite {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, s = c.inputShapes[0]
        let ch = channels, cr = reduced, w1 = reduceWeight, b1 = reduceBias, w2 = expandWeight, b2 = expandBias
        let inner = innerActivation, gate = gate
        return {
            let hw = s[1] * s[2]
            for img in 0..<s[0] {
                var mean = [Double](repeating: 0, count: ch)
                for p in 0..<hw { for i in 0..<ch { mean[i] += Double(x[(img * hw + p) * ch + i]) } }
                mean = mean.map { $0 / Double(hw) }
                var hidden = [Float](repeating: 0, count: cr)
                for r in 0..<cr {
                    var acc = Double(b1[r])
                    for i in 0..<ch { acc += Double(w1[r * ch + i]) * mean[i] }
                    hidden[r] = Reference.activation(inner, Float(acc))
                }
                for o in 0..<ch {
                    var acc = Double(b2[o])
                    for r in 0..<cr { acc += Double(w2[o * cr + r]) * Double(hidden[r]) }
                    let g = Reference.activation(gate, Float(acc))
                    for p in 0..<hw { y[(img * hw + p) * ch + o] = x[(img * hw + p) * ch + o] * g }
                }
            }
        }
    }
}

/// Where one head's queries and keys are for the reference attention ops: the inputs, the views
/// and the row lengths of the tensors they live in.
struct ReferenceQK {
    let inputs: [UnsafeMutablePointer<Float>]
    let q: HeadView, k: HeadView
    let rowQ: Int, rowK: Int
    let tq: Int, tk: Int, keyDim: Int
    let scale: Double

    /// softmax over keys of scale·q·k (+ bias) for query `i` of head `h` of image `img`: the
    /// textbook definition, in double.
    func probabilities(image img: Int, head h: Int, query i: Int, bias: ((Int) -> Double)? = nil) -> [Double] {
        var scores = [Double](repeating: 0, count: tk)
        for j in 0..<tk {
            var dot = 0.0
            for d in 0..<keyDim {
                let qe = inputs[q.input][(img * tq + i) * rowQ + q.offset + h * q.headStride + d]
                let ke = inputs[k.input][(img * tk + j) * rowK + k.offset + h * k.headStride + d]
                dot += Double(qe) * Double(ke)
            }
            scores[j] = dot * scale + (bias?(j) ?? 0)
        }
        let m = scores.max()!
        let e = scores.map { exp($0 - m) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }
}

extension ScaledDotProductAttention {
    /// Materialises the full Tq × Tk score matrix: the textbook definition.
    public func bindReference(_ c: StepContext) -> () -> Void {
        let n = c.outputShape[0], tq = c.outputShape[1], tk = c.inputShapes[k.input][1]
        let heads = heads, dv = valueDim
        let qk = ReferenceQK(inputs: c.inputs, q: q, k: k, rowQ: c.inputShapes[q.input][2], rowK: c.inputShapes[k.input][2],
                             tq: tq, tk: tk, keyDim: keyDim, scale: Double(scale))
        let rowsV = c.inputShapes[v.input][2], vv = v, inputs = c.inputs, y = c.output
        let bias = bias?.array
        return {
            for img in 0..<n {
                for h in 0..<heads {
                    for i in 0..<tq {
                        let p = qk.probabilities(image: img, head: h, query: i,
                                                 bias: bias.map { b in { j in Double(b[(h * tq + i) * tk + j]) } })
                        for d in 0..<dv {
                            var acc = 0.0
                            for j in 0..<tk {
                                acc += p[j] * Double(inputs[vv.input][(img * tk + j) * rowsV + vv.offset + h * vv.headStride + d])
                            }
                            y[(img * tq + i) * heads * dv + h * dv + d] = Float(acc)
                        }
                    }
                }
            }
        }
    }
}
