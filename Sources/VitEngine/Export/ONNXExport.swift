import Foundation
import SwiftProtobuf

extension PlanBuilder {
    /// The recorded network as an ONNX model (opset 17, float32), weights included: the steps a
    /// plan would run, in order, each written by its operator (`ONNXExportable`), with the
    /// builder's views as Reshape nodes. Inputs are named `input` (`input_1`, … after the first),
    /// outputs `output` (`output_1`, …), with the shapes the builder recorded.
    public func exportONNX(outputs: [Value], graphName: String = "vitbench") throws -> Data {
        var g = ONNXGraph()
        var names: [Int: String] = [:]
        for (i, id) in inputIDs.enumerated() {
            let name = i == 0 ? "input" : "input_\(i)"
            g.declareInput(name, shapes[id])
            names[id] = name
        }
        // A view's name: a Reshape of the value whose memory it shares, written when first read.
        func nameOf(_ id: Int) throws -> String {
            if let n = names[id] { return n }
            guard let parent = aliasOf[id], let source = names[parent] else {
                throw ONNXExportError(message: "value \(id) is read before it is written")
            }
            let n = g.reshape(source, shapes[id], module: "view")
            names[id] = n
            return n
        }
        for node in nodes {
            guard let op = node.op as? ONNXExportable else {
                throw ONNXExportError(message: "\(node.name.isEmpty ? "a step" : node.name): no ONNX export for \(node.op.kind)")
            }
            let output = g.fresh(node.name.isEmpty ? node.op.kind : node.name)
            let step = ONNXStep(module: node.name.isEmpty ? node.op.kind : node.name, inputs: try node.inputs.map(nameOf),
                                inputShapes: node.inputs.map { shapes[$0] }, output: output, outputShape: shapes[node.output])
            try op.exportONNX(&g, step)
            names[node.output] = output
        }
        for (i, v) in outputs.enumerated() {
            let name = i == 0 ? "output" : "output_\(i)"
            g.node("Identity", [try nameOf(v.id)], module: "outputs", output: name)
            g.declareOutput(name, shapes[v.id])
        }
        var graph = g.proto
        graph.name = graphName
        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.producerName = "vitbench"
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = onnxOpset
        model.opsetImport = [opset]
        model.graph = graph
        return try model.serializedData()
    }
}
