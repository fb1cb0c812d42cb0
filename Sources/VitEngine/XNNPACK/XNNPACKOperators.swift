import CKernels
import CXNNPACK

// The engine's operators that XNNPACK also has, bound to XNNPACK's f32 NHWC operators for the
// `xnnpack` backend. XNNPACK computes the op and the bias and clamps to ReLU's range itself; an
// activation it cannot fuse (GELU, SiLU, hardswish, ...) and a residual input run afterwards on
// the engine's epilogue kernel, as they would after the engine's own GEMM.

/// The epilogue XNNPACK cannot fuse: activation (unless ReLU, which it clamps), then residual.
private func epilogue(after op: XNNPACKOperator, output y: UnsafeMutablePointer<Float>, rows: Int, columns n: Int,
                      activation: Activation, residual: UnsafePointer<Float>?, pool: ThreadPool) -> () -> Void {
    let act = activation == .relu ? VB_ACT_NONE : activation.c
    if act == VB_ACT_NONE && residual == nil { return { op.run() } }
    let minChunk = max(1, 4096 / max(n, 1))
    return {
        op.run()
        pool.parallelRanges(rows, minChunk: minChunk) { r, _ in
            vb_bias_act_residual(y + r.lowerBound * n, r.count, n, n, nil, act,
                                 residual.map { $0 + r.lowerBound * n }, n)
        }
    }
}

/// XNNPACK's output range for an activation it fuses: ReLU clamps at zero.
private func outputRange(_ activation: Activation) -> (Float, Float) {
    activation == .relu ? (0, .infinity) : (-.infinity, .infinity)
}

extension Conv2d: XNNPACKDelegable {
    func bindXNNPACK(_ c: StepContext, threads: XNNPACKThreads) throws -> (() -> Void)? {
        let x = UnsafePointer(c.inputs[0]), y = c.output
        let n = c.outputShape[0], ih = c.inputShapes[0][1], iw = c.inputShapes[0][2]
        let cg = inChannels / groups, coutg = outChannels / groups
        // PyTorch [out, in/groups, kh, kw] → XNNPACK's [groups · out/groups, kh, kw, in/groups].
        let kernelOHWI = Tensor(shape: [outChannels, cg, kernel.h, kernel.w], data: weight).permuted([0, 2, 3, 1]).data
        let (lo, hi) = outputRange(activation)
        let op = try XNNPACKOperator("a \(kernel.h)x\(kernel.w) conv of \(inChannels)→\(outChannels) channels in \(groups) groups",
                                     threads: threads, create: { out in
            vx_convolution_create(UInt32(padding.h), UInt32(padding.w), UInt32(padding.h), UInt32(padding.w),
                                  UInt32(kernel.h), UInt32(kernel.w), UInt32(stride.h), UInt32(stride.w),
                                  UInt32(groups), cg, coutg, kernelOHWI, packedBias?.pointer, lo, hi, out)
        }, setup: { op, pool in vx_convolution_setup(op, n, ih, iw, x, y, pool) })
        return epilogue(after: op, output: y, rows: product(c.outputShape) / outChannels, columns: outChannels,
                        activation: activation, residual: addsResidual ? UnsafePointer(c.inputs[1]) : nil, pool: c.pool)
    }
}

extension Linear: XNNPACKDelegable {
    func bindXNNPACK(_ c: StepContext, threads: XNNPACKThreads) throws -> (() -> Void)? {
        try bindXNNPACK(c, input: UnsafePointer(c.inputs[0]), threads: threads)
    }

    /// The product on `input` (rows of `inFeatures`), written to the step's output.
    func bindXNNPACK(_ c: StepContext, input x: UnsafePointer<Float>, threads: XNNPACKThreads) throws -> () -> Void {
        let y = c.output, rows = product(c.outputShape) / outFeatures
        let (lo, hi) = outputRange(activation)
        // XNNPACK's fully-connected kernel is PyTorch's [out, in] as it is.
        let op = try XNNPACKOperator("a linear of \(inFeatures)→\(outFeatures) features", threads: threads, create: { out in
            vx_fully_connected_create(inFeatures, outFeatures, weight, tiled.bias?.pointer, lo, hi, out)
        }, setup: { op, pool in vx_fully_connected_setup(op, rows, x, y, pool) })
        return epilogue(after: op, output: y, rows: rows, columns: outFeatures, activation: activation,
                        residual: addsResidual ? UnsafePointer(c.inputs[1]) : nil, pool: c.pool)
    }
}

extension LayerNormLinear: XNNPACKDelegable {
    /// The norm on the engine's kernel into a buffer this binding owns, then XNNPACK's product.
    func bindXNNPACK(_ c: StepContext, threads: XNNPACKThreads) throws -> (() -> Void)? {
        let k = linear.inFeatures, rows = product(c.outputShape) / linear.outFeatures
        let buffer = OwnedBuffer(count: rows * k), normed = buffer.pointer
        let product = try linear.bindXNNPACK(c, input: UnsafePointer(normed), threads: threads)
        let x = UnsafePointer(c.inputs[0]), pool = c.pool, norm = norm, eps = norm.eps
        let gamma = UnsafePointer(norm.gamma.pointer), beta = UnsafePointer(norm.beta.pointer)
        return {
            withExtendedLifetime((buffer, norm)) {
                pool.parallelRanges(rows, minChunk: 16) { r, _ in
                    vb_layernorm(x + r.lowerBound * k, normed + r.lowerBound * k, k, 0, r.count, gamma, beta, eps)
                }
                product()
            }
        }
    }
}

extension PointwiseMlp: XNNPACKDelegable {
    /// XNNPACK's products one after the other, through a hidden tensor this binding owns; the
    /// norm (which XNNPACK lacks) on the engine's kernel into a buffer before them.
    func bindXNNPACK(_ c: StepContext, threads: XNNPACKThreads) throws -> (() -> Void)? {
        let hiddenShape = hiddenShape(input: c.inputShapes[0]), hidden = OwnedBuffer(count: product(hiddenShape))
        let normed = norm.map { _ in OwnedBuffer(count: product(c.inputShapes[0])) }
        let normalise = norm.map {
            $0.bindOptimized(c.with(inputs: [c.inputs[0]], inputShapes: [c.inputShapes[0]], output: normed!.pointer,
                                    outputShape: c.inputShapes[0]))
        }
        let first = c.with(inputs: [normed?.pointer ?? c.inputs[0]], inputShapes: [c.inputShapes[0]], output: hidden.pointer,
                           outputShape: hiddenShape)
        let second = c.with(inputs: [hidden.pointer] + c.inputs.dropFirst(), inputShapes: [hiddenShape] + c.inputShapes.dropFirst(),
                            output: c.output, outputShape: c.outputShape)
        guard let p1 = fc1 as? XNNPACKDelegable, let p2 = fc2 as? XNNPACKDelegable,
              let run1 = try p1.bindXNNPACK(first, threads: threads), let run2 = try p2.bindXNNPACK(second, threads: threads) else {
            return nil
        }
        return {
            withExtendedLifetime((hidden, normed)) {
                normalise?()
                run1()
                run2()
            }
        }
    }
}

extension Pool2d: XNNPACKDelegable {
    func bindXNNPACK(_ c: StepContext, threads: XNNPACKThreads) throws -> (() -> Void)? {
        // XNNPACK's average leaves padded positions out of the divisor: PyTorch's
        // count_include_pad=False; with padding counted, the engine's kernel runs.
        if mode == .average && padding > 0 && countIncludePad { return nil }
        // A 1x1 window is a strided subsample (LeViT's downsampling queries); XNNPACK wants a
        // window of at least two pixels.
        if kernel < 2 { return nil }
        let x = UnsafePointer(c.inputs[0]), y = c.output, shape = c.inputShapes[0]
        let isMax: Int32 = mode == .max ? 1 : 0
        let op = try XNNPACKOperator("a \(kernel)x\(kernel) \(mode.rawValue) pooling", threads: threads, create: { out in
            vx_pooling_create(isMax, UInt32(padding), UInt32(kernel), UInt32(stride), shape[3], out)
        }, setup: { op, pool in vx_pooling_setup(isMax, op, shape[0], shape[1], shape[2], x, y, pool) })
        return { op.run() }
    }
}

extension GlobalAvgPool: XNNPACKDelegable {
    func bindXNNPACK(_ c: StepContext, threads: XNNPACKThreads) throws -> (() -> Void)? {
        let x = UnsafePointer(c.inputs[0]), y = c.output, shape = c.inputShapes[0]
        let op = try XNNPACKOperator("a global average pooling", threads: threads, create: { out in
            vx_global_average_pooling_create(shape[3], out)
        }, setup: { op, pool in vx_global_average_pooling_setup(op, shape[0], shape[1] * shape[2], x, y, pool) })
        return { op.run() }
    }
}

extension Binary: XNNPACKDelegable {
    func bindXNNPACK(_ c: StepContext, threads: XNNPACKThreads) throws -> (() -> Void)? {
        let a = UnsafePointer(c.inputs[0]), y = c.output, aShape = c.inputShapes[0]
        guard aShape.count <= 6 else { return nil }
        let b: UnsafePointer<Float>, bShape: [Int]
        if let constant {
            b = UnsafePointer(constant.pointer)
            bShape = [constant.count]
        } else {
            b = UnsafePointer(c.inputs[1])
            let given = c.inputShapes[1]
            // Per image and channel ([N, C] or [N, 1, 1, C]) against [N, ..., C]: ones between.
            bShape = given == aShape ? given : [aShape[0]] + Array(repeating: 1, count: aShape.count - 2) + [aShape.last!]
        }
        let kind = op.rawValue
        let sa = aShape.map { $0 }, sb = bShape.map { $0 }
        let op = try XNNPACKOperator("an elementwise \(self.kind) of \(aShape) and \(bShape)", threads: threads, create: { out in
            vx_binary_create(kind, out)
        }, setup: { op, pool in vx_binary_setup(kind, op, sa.count, sa, sb.count, sb, a, b, y, pool) })
        return { withExtendedLifetime(constant) { op.run() } }
    }
}

extension ActivationOp: XNNPACKDelegable {
    func bindXNNPACK(_ c: StepContext, threads: XNNPACKThreads) throws -> (() -> Void)? {
        let kind: Int32
        switch activation {
        case .relu: kind = 0
        case .hardswish: kind = 1
        case .sigmoid: kind = 2
        default: return nil
        }
        let x = UnsafePointer(c.inputs[0]), y = c.output
        let channels = c.outputShape.last ?? 1, rows = product(c.outputShape) / max(channels, 1)
        let op = try XNNPACKOperator("a \(activation.rawValue)", threads: threads, create: { out in
            vx_unary_create(kind, channels, out)
        }, setup: { op, pool in vx_unary_setup(kind, op, rows, x, y, pool) })
        return { op.run() }
    }
}
