import Foundation
import SwiftProtobuf

/// The opset vitbench's ONNX files import: 17 is the first with LayerNormalization, and what
/// `torch.onnx.export` writes by default, so ONNX Runtime and OpenVINO see the patterns they
/// fuse (LayerNormalization; GELU as torch writes it, x·½·(1 + erf(x/√2)); attention as
/// MatMul → Mul → Softmax → MatMul).
public let onnxOpset: Int64 = 17

/// An operator that writes itself as ONNX nodes. The engine's activations are NHWC (feature
/// maps) or [N, T, C] (tokens); the export keeps that layout and wraps the ops ONNX defines on
/// NCHW (Conv, pooling, resize) in transposes, which the runtimes' layout passes cancel between
/// consecutive convolutions.
protocol ONNXExportable {
    func exportONNX(_ g: inout ONNXGraph, _ step: ONNXStep) throws
}

/// One step's names and shapes in the graph being written.
struct ONNXStep {
    /// timm-style module path: node names start with it, so a runtime's profile reads like ours.
    let module: String
    let inputs: [String]
    let inputShapes: [[Int]]
    let output: String
    let outputShape: [Int]
}

/// A graph under construction: nodes, weights (initializers) and unique names.
struct ONNXGraph {
    private(set) var proto = Onnx_GraphProto()
    private var used: Set<String> = []

    /// A name not used yet, from `hint`.
    mutating func fresh(_ hint: String) -> String {
        var name = hint.isEmpty ? "v" : hint, i = 1
        while used.contains(name) {
            name = "\(hint)_\(i)"
            i += 1
        }
        used.insert(name)
        return name
    }

    /// A float32 weight of `shape`; returns its name.
    mutating func weight(_ hint: String, _ shape: [Int], _ values: [Float]) -> String {
        precondition(shape.reduce(1, *) == values.count, "ONNX weight \(hint): \(values.count) values for shape \(shape)")
        var t = Onnx_TensorProto()
        t.name = fresh(hint)
        t.dims = shape.map(Int64.init)
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }
        proto.initializer.append(t)
        return t.name
    }

    mutating func weight(_ hint: String, _ shape: [Int], _ values: PackedWeights) -> String {
        weight(hint, shape, Array(UnsafeBufferPointer(start: values.pointer, count: values.count)))
    }

    mutating func scalar(_ hint: String, _ value: Float) -> String { weight(hint, [], [value]) }

    /// A 1-D int64 constant (shapes, axes, slice bounds).
    mutating func int64s(_ hint: String, _ values: [Int]) -> String {
        var t = Onnx_TensorProto()
        t.name = fresh(hint)
        t.dims = [Int64(values.count)]
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.int64Data = values.map(Int64.init)
        proto.initializer.append(t)
        return t.name
    }

    /// Appends one node; returns its (first) output's name. `output` nil: a fresh name.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], module: String, output: String? = nil,
                       _ attributes: [Onnx_AttributeProto] = []) -> String {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = fresh("\(module)/\(op)")
        n.input = inputs
        let out = output ?? fresh("\(module)/\(op.lowercased())")
        n.output = [out]
        n.attribute = attributes
        proto.node.append(n)
        return out
    }

    mutating func declareInput(_ name: String, _ shape: [Int]) {
        used.insert(name)
        proto.input.append(Self.valueInfo(name, shape))
    }

    mutating func declareOutput(_ name: String, _ shape: [Int]) {
        proto.output.append(Self.valueInfo(name, shape))
    }

    static func valueInfo(_ name: String, _ shape: [Int]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        var s = Onnx_TensorShapeProto()
        s.dim = shape.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = Int64(d)
            return dim
        }
        tensor.shape = s
        v.type.tensorType = tensor
        return v
    }

    // MARK: Attributes

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values.map(Int64.init)
        return a
    }

    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }

    static func string(_ name: String, _ value: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .string
        a.s = Data(value.utf8)
        return a
    }

    // MARK: Common patterns

    mutating func transpose(_ x: String, _ perm: [Int], module: String, output: String? = nil) -> String {
        node("Transpose", [x], module: module, output: output, [Self.ints("perm", perm)])
    }

    /// NHWC → NCHW, for the ops ONNX defines on NCHW.
    mutating func toNCHW(_ x: String, module: String) -> String { transpose(x, [0, 3, 1, 2], module: module) }
    mutating func toNHWC(_ x: String, module: String, output: String? = nil) -> String {
        transpose(x, [0, 2, 3, 1], module: module, output: output)
    }

    /// Writes `body` on the NCHW view of an NHWC feature map, between transposes, when `shape`
    /// (the input's) has rank 4; on the input as it is otherwise. For the per-channel ops
    /// (normalisation, affine, layer scale) that torch writes on NCHW: ONNX Runtime broadcasts a
    /// [C, 1, 1] operand over planes several times faster than a [C] operand over the last
    /// axis, and a Reshape in channels-last order (GroupNorm's) stops its transpose optimiser,
    /// leaving a whole residual stream channels-last. Wrapped like this, the transposes cancel
    /// against the convolutions' and pools', and the runtime runs the stream in NCHW as it
    /// runs torch's graph. `body` gets the NCHW name and the broadcast shape for a per-channel
    /// constant ([C, 1, 1], or [C] on tokens).
    mutating func channelsFirst(_ x: String, _ shape: [Int], module: String, output: String,
                                _ body: (inout ONNXGraph, String, [Int]) -> String) {
        let c = shape.last ?? 1
        guard shape.count == 4 else {
            let y = body(&self, x, [c])
            if y != output { node("Identity", [y], module: module, output: output) }
            return
        }
        _ = toNHWC(body(&self, toNCHW(x, module: module), [c, 1, 1]), module: module, output: output)
    }

    mutating func reshape(_ x: String, _ shape: [Int], module: String, output: String? = nil) -> String {
        node("Reshape", [x, int64s("\(module)/shape", shape)], module: module, output: output)
    }

    /// x[..., start..<end] along `axis`.
    mutating func slice(_ x: String, axis: Int, _ start: Int, _ end: Int, module: String, output: String? = nil) -> String {
        node("Slice", [x, int64s("\(module)/starts", [start]), int64s("\(module)/ends", [end]),
                       int64s("\(module)/axes", [axis])], module: module, output: output)
    }

    /// An activation as `torch.onnx.export` writes it (opset 17), so the runtimes' fusions
    /// recognise it; `.none` passes `x` through (or copies it into `output`).
    mutating func activation(_ act: Activation, _ x: String, module: String, output: String? = nil) -> String {
        switch act {
        case .none:
            return output.map { node("Identity", [x], module: module, output: $0) } ?? x
        case .relu:
            return node("Relu", [x], module: module, output: output)
        case .sigmoid:
            return node("Sigmoid", [x], module: module, output: output)
        case .hardswish:
            return node("HardSwish", [x], module: module, output: output)
        case .hardsigmoid:
            return node("HardSigmoid", [x], module: module, output: output,
                        [Self.float("alpha", 1.0 / 6.0), Self.float("beta", 0.5)])
        case .silu:
            let s = node("Sigmoid", [x], module: module)
            return node("Mul", [x, s], module: module, output: output)
        case .gelu:
            // x · ½ · (1 + erf(x / √2)), in torch's order.
            let d = node("Div", [x, scalar("\(module)/sqrt2", Float(2).squareRoot())], module: module)
            let e = node("Erf", [d], module: module)
            let p = node("Add", [e, scalar("\(module)/one", 1)], module: module)
            let m = node("Mul", [x, p], module: module)
            return node("Mul", [m, scalar("\(module)/half", 0.5)], module: module, output: output)
        case .geluTanh:
            // ½ · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
            let cube = node("Pow", [x, scalar("\(module)/three", 3)], module: module)
            let inner = node("Add", [x, node("Mul", [cube, scalar("\(module)/c", 0.044715)], module: module)], module: module)
            let t = node("Tanh", [node("Mul", [inner, scalar("\(module)/k", Float((2.0 / Double.pi).squareRoot()))], module: module)],
                         module: module)
            let p = node("Add", [t, scalar("\(module)/one", 1)], module: module)
            let m = node("Mul", [x, p], module: module)
            return node("Mul", [m, scalar("\(module)/half", 0.5)], module: module, output: output)
        }
    }

    /// The epilogue shared by convs and linears: activation, then an optional residual added.
    mutating func epilogue(_ x: String, activation: Activation, residual: String?, module: String, output: String) -> String {
        guard let residual else { return self.activation(activation, x, module: module, output: output) }
        let a = self.activation(activation, x, module: module)
        return node("Add", [a, residual], module: module, output: output)
    }
}

/// A graph that cannot be written as ONNX (an operator without an export), naming the module.
public struct ONNXExportError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
