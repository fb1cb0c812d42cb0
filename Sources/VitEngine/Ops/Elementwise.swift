import CKernels

/// a ∘ b for ∘ in {+, ×, −}, where b has a's shape, or is per channel (a constant vector over the
/// last axis), or is per image and channel ([N, C] or [N, 1, 1, C] against [N, ..., C]: the
/// squeeze-and-excitation gate).
public struct Binary: Operator {
    public enum Op: Int32, Sendable { case add = 0, mul = 1, sub = 2 }
    public let op: Op
    /// A constant right-hand side broadcast over the last axis; nil when b is a second input.
    public let constant: PackedWeights?

    public init(_ op: Op) {
        self.op = op
        constant = nil
    }

    public init(_ op: Op, channelConstant: [Float]) {
        self.op = op
        constant = PackedWeights(channelConstant)
    }

    public var kind: String {
        switch op {
        case .add: return "add"
        case .mul: return "mul"
        case .sub: return "sub"
        }
    }

    public var parameterCount: Int { constant?.count ?? 0 }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        if let constant {
            guard inputs.count == 1, inputs[0].last == constant.count else {
                throw ShapeError("expects one input with \(constant.count) channels last, got \(inputs)")
            }
            return inputs[0]
        }
        guard inputs.count == 2 else { throw ShapeError("expects two inputs, got \(inputs.count)") }
        let a = inputs[0], b = inputs[1]
        if a == b { return a }
        let perImage = a.count >= 2 && b.first == a.first && b.last == a.last && product(b) == a[0] * a.last!
        guard perImage else { throw ShapeError("cannot broadcast \(b) onto \(a)") }
        return a
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let a = c.inputs[0], y = c.output, n = product(c.outputShape), pool = c.pool, op = op.rawValue
        if let constant {
            let b = UnsafePointer(constant.pointer), ch = constant.count
            return {
                withExtendedLifetime(constant) {
                    let rows = n / ch
                    pool.parallelRanges(rows, minChunk: max(1, 4096 / ch)) { r, _ in
                        vb_binary(op, a + r.lowerBound * ch, b, ch, y + r.lowerBound * ch, r.count * ch)
                    }
                }
            }
        }
        let b = c.inputs[1], bCount = product(c.inputShapes[1])
        if bCount == n {
            return {
                pool.parallelRanges(n, minChunk: 8192) { r, _ in
                    vb_binary(op, a + r.lowerBound, b + r.lowerBound, r.count, y + r.lowerBound, r.count)
                }
            }
        }
        let images = c.outputShape[0], per = n / images, ch = c.outputShape.last!
        return {
            pool.parallelFor(images) { img, _ in
                vb_binary(op, a + img * per, b + img * ch, ch, y + img * per, per)
            }
        }
    }
}

/// y = a + s ⊙ b with s a per-channel constant: the layer-scaled residual of MetaFormer blocks,
/// for branches whose last op cannot absorb s into its weights.
public struct ScaledResidual: Operator {
    public let scale: PackedWeights
    public init(scale: [Float]) { self.scale = PackedWeights(scale) }
    public var kind: String { "add.scaled" }
    public var parameterCount: Int { scale.count }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 2, inputs[0] == inputs[1], inputs[0].last == scale.count else {
            throw ShapeError("expects two inputs of one shape with \(scale.count) channels last, got \(inputs)")
        }
        return inputs[0]
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let a = c.inputs[0], b = c.inputs[1], y = c.output, ch = scale.count
        let rows = product(c.outputShape) / ch, s = UnsafePointer(scale.pointer), pool = c.pool, keep = scale
        return {
            withExtendedLifetime(keep) {
                pool.parallelRanges(rows, minChunk: max(1, 4096 / ch)) { r, _ in
                    let off = r.lowerBound * ch
                    vb_scaled_residual(a + off, b + off, s, ch, y + off, r.count * ch)
                }
            }
        }
    }
}
