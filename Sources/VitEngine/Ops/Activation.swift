import CKernels

/// Activations the engine fuses into conv/linear epilogues or runs on their own.
public enum Activation: String, Sendable, CaseIterable {
    case none, relu
    /// GELU with the exact erf (PyTorch's default).
    case gelu
    /// GELU with the tanh approximation (`approximate='tanh'`).
    case geluTanh = "gelu_tanh"
    case silu, hardswish, hardsigmoid, sigmoid

    var c: vb_activation {
        switch self {
        case .none: return VB_ACT_NONE
        case .relu: return VB_ACT_RELU
        case .gelu: return VB_ACT_GELU_ERF
        case .geluTanh: return VB_ACT_GELU_TANH
        case .silu: return VB_ACT_SILU
        case .hardswish: return VB_ACT_HARDSWISH
        case .hardsigmoid: return VB_ACT_HARDSIGMOID
        case .sigmoid: return VB_ACT_SIGMOID
        }
    }
}

/// An activation on its own, elementwise, any shape.
public struct ActivationOp: Operator {
    public let activation: Activation
    public init(_ activation: Activation) { self.activation = activation }
    public var kind: String { "act.\(activation.rawValue)" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1 else { throw ShapeError("takes one input") }
        return inputs[0]
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, n = product(c.outputShape), pool = c.pool, act = activation.c
        return {
            pool.parallelRanges(n, minChunk: 4096) { r, _ in
                vb_activation_apply(act, x + r.lowerBound, y + r.lowerBound, r.count)
            }
        }
    }
}
