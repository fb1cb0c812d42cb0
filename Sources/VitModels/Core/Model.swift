import Foundation
import VitEngine

/// An image classifier defined as timm defines it: a module tree whose tensors carry timm's
/// `state_dict` names, that lowers itself into an engine plan.
public protocol ImageClassifier: Module {
    var numClasses: Int { get }
    /// The forward pass on NHWC input [N, H, W, 3]; returns logits [N, numClasses].
    func forward(_ b: PlanBuilder, _ x: Value) throws -> Value
    /// Throws a clear error when the model cannot take an H×W input.
    func checkInput(height: Int, width: Int) throws
    /// Whether the model has train-time branches that `reparameterize()` fuses.
    var isReparameterizable: Bool { get }
    /// What a user should know about running at H×W — e.g. that LeViT's attention biases were
    /// rebuilt for a grid other than the checkpoint's, or DeiT's position embedding resampled.
    /// `infer`, `bench` and `profile` print these on stderr.
    func notes(height: Int, width: Int) -> [String]
}

extension ImageClassifier {
    public var isReparameterizable: Bool { false }
    public func notes(height: Int, width: Int) -> [String] { [] }

    /// Lowers the model for an NCHW batch: the plan's input is NCHW float32 (as PyTorch and
    /// numpy hold images), converted to the engine's NHWC by a first step — which the builder
    /// folds into the stem when the stem is a conv that reads NCHW itself (`NCHWInputConv2d`).
    public func plan(batch: Int, height: Int, width: Int, backend: Backend = .default,
                     pool: ThreadPool) throws -> Plan {
        try checkInput(height: height, width: width)
        let b = PlanBuilder(backend: backend, pool: pool)
        let input = b.input([batch, 3, height, width])
        let x = try b.apply(Permute([0, 2, 3, 1]), [input], name: "input_nhwc")
        let logits = try forward(b, x)
        return try b.build(outputs: [logits])
    }

    /// The same network as `plan` lowers, written as an ONNX model (`PlanBuilder.exportONNX`):
    /// input `input` NCHW [batch, 3, H, W], output `output` [batch, classes].
    public func exportONNX(batch: Int, height: Int, width: Int) throws -> Data {
        try checkInput(height: height, width: width)
        let b = PlanBuilder(pool: ThreadPool(threads: 1))
        let input = b.input([batch, 3, height, width])
        let x = try b.apply(Permute([0, 2, 3, 1]), [input], name: "input_nhwc")
        return try b.exportONNX(outputs: [try forward(b, x)])
    }

    public var parameterCount: Int { stateDict.parameterCount }

    /// Multiply-accumulates of one forward pass of one image at H×W, in the current form —
    /// counted from the steps the model lowers to, without allocating any buffer.
    public func macs(height: Int, width: Int) throws -> Int {
        try checkInput(height: height, width: width)
        let b = PlanBuilder(pool: ThreadPool(threads: 1))
        let x = b.input([1, height, width, 3])
        _ = try forward(b, x)
        return b.totalMACs
    }
}

/// An input the model cannot take, said plainly.
public struct ModelInputError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Output size of a conv/pool: ⌊(n + 2p − k) / s⌋ + 1.
@inline(__always) public func convOut(_ n: Int, kernel k: Int, stride s: Int, padding p: Int) -> Int {
    (n + 2 * p - k) / s + 1
}
