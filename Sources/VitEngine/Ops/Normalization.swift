import CKernels

/// Inference BatchNorm as a per-channel affine map on the last (channel) axis, with an optional
/// fused activation. Where a conv precedes it, models fold it into the conv instead
/// (`BatchNormParameters.fold`), and this op disappears from the plan.
public struct ChannelAffine: Operator {
    public let scale: PackedWeights
    public let shift: PackedWeights
    public let activation: Activation
    public let label: String

    public init(scale: [Float], shift: [Float], activation: Activation = .none, label: String = "batchnorm") {
        precondition(scale.count == shift.count, "ChannelAffine: scale and shift differ in length")
        self.scale = PackedWeights(scale)
        self.shift = PackedWeights(shift)
        self.activation = activation
        self.label = label
    }

    /// Inference BatchNorm: y = (x − mean) / sqrt(var + eps) · γ + β.
    public init(batchNorm bn: BatchNormParameters, activation: Activation = .none) {
        let (s, b) = bn.scaleShift
        self.init(scale: s, shift: b, activation: activation)
    }

    public var kind: String { label }
    public var parameterCount: Int { 2 * scale.count }
    var channels: Int { scale.count }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1, inputs[0].last == channels else {
            throw ShapeError("expects one input with \(channels) channels last, got \(inputs)")
        }
        return inputs[0]
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, ch = channels, rows = product(c.outputShape) / ch
        let s = UnsafePointer(scale.pointer), b = UnsafePointer(shift.pointer), act = activation.c
        let pool = c.pool, keep = (scale, shift)
        return {
            withExtendedLifetime(keep) {
                pool.parallelRanges(rows, minChunk: max(1, 4096 / ch)) { r, _ in
                    vb_channel_affine(x + r.lowerBound * ch, y + r.lowerBound * ch, r.count, ch, s, b, act)
                }
            }
        }
    }
}

/// BatchNorm's four tensors and eps, as loaded (PyTorch's `weight`, `bias`, `running_mean`,
/// `running_var`).
public struct BatchNormParameters: Sendable {
    public var gamma: [Float]
    public var beta: [Float]
    public var mean: [Float]
    public var variance: [Float]
    public var eps: Float

    public init(gamma: [Float], beta: [Float], mean: [Float], variance: [Float], eps: Float = 1e-5) {
        precondition([beta.count, mean.count, variance.count].allSatisfy { $0 == gamma.count },
                     "BatchNorm tensors differ in length")
        self.gamma = gamma
        self.beta = beta
        self.mean = mean
        self.variance = variance
        self.eps = eps
    }

    public var channels: Int { gamma.count }

    /// y = x · scale + shift.
    public var scaleShift: ([Float], [Float]) {
        var s = [Float](repeating: 0, count: channels), b = s
        for i in 0..<channels {
            let inv = Double(gamma[i]) / (Double(variance[i]) + Double(eps)).squareRoot()
            s[i] = Float(inv)
            b[i] = Float(Double(beta[i]) - Double(mean[i]) * inv)
        }
        return (s, b)
    }

    /// Folds this BatchNorm into the conv (or linear) before it: weight [out, ...] and bias
    /// [out] (nil for a bias-free conv) become the fused pair. Folding happens in double.
    public func fold(weight: Tensor, bias: Tensor?) -> (weight: Tensor, bias: Tensor) {
        precondition(weight.shape[0] == channels, "BatchNorm of \(channels) channels after a layer of \(weight.shape[0])")
        let per = weight.count / channels
        var w = weight.data
        var b = [Float](repeating: 0, count: channels)
        for o in 0..<channels {
            let inv = Double(gamma[o]) / (Double(variance[o]) + Double(eps)).squareRoot()
            for j in 0..<per { w[o * per + j] = Float(Double(w[o * per + j]) * inv) }
            let b0 = Double(bias?.data[o] ?? 0)
            b[o] = Float((b0 - Double(mean[o])) * inv + Double(beta[o]))
        }
        return (Tensor(shape: weight.shape, data: w), Tensor(shape: [channels], data: b))
    }
}

/// LayerNorm over the last dimension (also timm's LayerNorm2d on NHWC, which normalises over C).
public struct LayerNorm: Operator {
    public let gamma: PackedWeights
    public let beta: PackedWeights
    public let eps: Float

    public init(gamma: [Float], beta: [Float], eps: Float = 1e-5) {
        precondition(gamma.count == beta.count, "LayerNorm: gamma and beta differ in length")
        self.gamma = PackedWeights(gamma)
        self.beta = PackedWeights(beta)
        self.eps = eps
    }

    public var kind: String { "layernorm" }
    public var parameterCount: Int { 2 * gamma.count }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1, inputs[0].last == gamma.count else {
            throw ShapeError("expects one input with last dimension \(gamma.count), got \(inputs)")
        }
        return inputs[0]
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, ch = gamma.count, rows = product(c.outputShape) / ch
        let g = UnsafePointer(gamma.pointer), b = UnsafePointer(beta.pointer), eps = eps
        let pool = c.pool, keep = (gamma, beta)
        return {
            withExtendedLifetime(keep) {
                pool.parallelRanges(rows, minChunk: max(1, 2048 / ch)) { r, _ in
                    vb_layernorm(x, y, ch, r.lowerBound, r.upperBound, g, b, eps)
                }
            }
        }
    }
}

/// GroupNorm on NHWC: statistics per (image, group) over H, W and the group's channels, then a
/// per-channel affine. PoolFormer uses one group (normalise over everything but the batch).
public struct GroupNorm: Operator {
    public let groups: Int
    public let gamma: PackedWeights
    public let beta: PackedWeights
    public let eps: Float

    public init(groups: Int, gamma: [Float], beta: [Float], eps: Float = 1e-5) {
        precondition(gamma.count == beta.count && gamma.count % groups == 0,
                     "GroupNorm: \(gamma.count) channels do not split into \(groups) groups")
        self.groups = groups
        self.gamma = PackedWeights(gamma)
        self.beta = PackedWeights(beta)
        self.eps = eps
    }

    public var kind: String { "groupnorm" }
    public var parameterCount: Int { 2 * gamma.count }
    var channels: Int { gamma.count }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1, inputs[0].count >= 2, inputs[0].last == channels else {
            throw ShapeError("expects one input with \(channels) channels last, got \(inputs)")
        }
        return inputs[0]
    }

    /// Pixel chunks per image for the statistics pass.
    private func chunks(threads: Int) -> Int { threads == 1 ? 1 : threads * 4 }

    public func scratchFloats(inputs: [[Int]], output: [Int], threads: Int) -> Int {
        let n = output[0]
        // Double partial sums (2 per chunk per group) + per-image scale/shift.
        return n * chunks(threads: threads) * groups * 4 + 2 * n * channels
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, ch = channels, g = groups, cg = channels / groups
        let n = c.outputShape[0], pixels = product(c.outputShape) / (n * ch)
        let pool = c.pool, eps = Double(eps), nChunks = min(chunks(threads: pool.threadCount), pixels)
        let partial = UnsafeMutableRawPointer(c.scratch).bindMemory(to: Double.self, capacity: n * nChunks * g * 2)
        let affine = c.scratch + n * chunks(threads: pool.threadCount) * g * 4
        let gamma = gamma, beta = beta
        return {
            let chunkSize = (pixels + nChunks - 1) / nChunks
            pool.parallelFor(n * nChunks) { t, _ in
                let img = t / nChunks, ck = t % nChunks
                let p0 = ck * chunkSize, p1 = min(pixels, p0 + chunkSize)
                let base = partial + t * g * 2
                for gi in 0..<g {
                    var s = 0.0, q = 0.0
                    if g == 1 {
                        if p1 > p0 { vb_sum_sumsq(x + (img * pixels + p0) * ch, (p1 - p0) * ch, &s, &q) }
                    } else {
                        for p in p0..<max(p0, p1) {
                            vb_sum_sumsq(x + (img * pixels + p) * ch + gi * cg, cg, &s, &q)
                        }
                    }
                    base[gi * 2] = s
                    base[gi * 2 + 1] = q
                }
            }
            let count = Double(pixels * cg)
            for img in 0..<n {
                for gi in 0..<g {
                    var s = 0.0, q = 0.0
                    for ck in 0..<nChunks {
                        s += partial[((img * nChunks + ck) * g + gi) * 2]
                        q += partial[((img * nChunks + ck) * g + gi) * 2 + 1]
                    }
                    let mean = s / count
                    let rstd = 1 / (max(q / count - mean * mean, 0) + eps).squareRoot()
                    for cc in gi * cg..<(gi + 1) * cg {
                        let sc = Double(gamma[cc]) * rstd
                        affine[img * 2 * ch + cc] = Float(sc)
                        affine[img * 2 * ch + ch + cc] = Float(Double(beta[cc]) - mean * sc)
                    }
                }
            }
            pool.parallelFor(n * nChunks) { t, _ in
                let img = t / nChunks, ck = t % nChunks
                let p0 = ck * chunkSize, p1 = min(pixels, p0 + chunkSize)
                if p1 > p0 {
                    let off = (img * pixels + p0) * ch
                    vb_channel_affine(x + off, y + off, p1 - p0, ch, affine + img * 2 * ch,
                                      affine + img * 2 * ch + ch, VB_ACT_NONE)
                }
            }
        }
    }
}

/// Softmax over the last dimension.
public struct Softmax: Operator {
    public init() {}
    public var kind: String { "softmax" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1, !inputs[0].isEmpty else { throw ShapeError("expects one input of rank ≥ 1") }
        return inputs[0]
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, cols = c.outputShape.last!, rows = product(c.outputShape) / max(cols, 1)
        let pool = c.pool
        return {
            pool.parallelRanges(rows, minChunk: max(1, 2048 / max(cols, 1))) { r, _ in
                vb_softmax(x, y, cols, r.lowerBound, r.upperBound)
            }
        }
    }
}
