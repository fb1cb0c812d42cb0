import CKernels

/// Average or max pooling on NHWC with PyTorch's semantics (floor mode; for averages,
/// `count_include_pad` picks whether padded positions count in the divisor).
public struct Pool2d: Operator {
    public enum Mode: String, Sendable { case average, max }
    public let mode: Mode
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let countIncludePad: Bool

    public init(_ mode: Mode, kernel: Int, stride: Int = 1, padding: Int = 0, countIncludePad: Bool = true) {
        self.mode = mode
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.countIncludePad = countIncludePad
    }

    public var kind: String { mode == .average ? "pool.avg" : "pool.max" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1, inputs[0].count == 4 else { throw ShapeError("expects one NHWC input") }
        let x = inputs[0]
        guard padding * 2 <= kernel, x[1] + 2 * padding >= kernel, x[2] + 2 * padding >= kernel else {
            throw ShapeError("input \(x[1])x\(x[2]) does not fit a \(kernel)x\(kernel) window with padding \(padding)")
        }
        return [x[0], (x[1] + 2 * padding - kernel) / stride + 1, (x[2] + 2 * padding - kernel) / stride + 1, x[3]]
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, pool = c.pool
        let n = c.outputShape[0], oh = c.outputShape[1], ow = c.outputShape[2], ch = c.outputShape[3]
        let ih = c.inputShapes[0][1], iw = c.inputShapes[0][2]
        let k = kernel, s = stride, p = padding, isMax: Int32 = mode == .max ? 1 : 0
        let include: Int32 = countIncludePad ? 1 : 0
        return {
            pool.parallelFor(n * oh) { t, _ in
                let img = t / oh, oy = t % oh
                vb_pool2d(x + img * ih * iw * ch, ih, iw, ch, k, k, s, s, p, p, isMax, include,
                          y + img * oh * ow * ch, oh, ow, oy, oy + 1)
            }
        }
    }
}

/// Mean over H and W: [N, H, W, C] → [N, C] (or [N, 1, 1, C] with `keepDims`).
public struct GlobalAvgPool: Operator {
    public let keepDims: Bool
    public init(keepDims: Bool = false) { self.keepDims = keepDims }
    public var kind: String { "pool.global_avg" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1, inputs[0].count == 4 else { throw ShapeError("expects one NHWC input") }
        let x = inputs[0]
        return keepDims ? [x[0], 1, 1, x[3]] : [x[0], x[3]]
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, pool = c.pool
        let n = c.inputShapes[0][0], hw = c.inputShapes[0][1] * c.inputShapes[0][2], ch = c.inputShapes[0][3]
        return {
            pool.parallelFor(n) { img, _ in
                let out = y + img * ch
                out.update(repeating: 0, count: ch)
                vb_sum_rows(x + img * hw * ch, hw, ch, out)
                let inv = 1 / Float(hw)
                for i in 0..<ch { out[i] *= inv }
            }
        }
    }
}
