/// The pointers and shapes one step of a plan works on, resolved once when the plan is built.
public struct StepContext {
    public let inputs: [UnsafeMutablePointer<Float>]
    public let inputShapes: [[Int]]
    public let output: UnsafeMutablePointer<Float>
    public let outputShape: [Int]
    /// This step's scratch memory (`Operator.scratchFloats` floats), shared with other steps.
    public let scratch: UnsafeMutablePointer<Float>
    public let pool: ThreadPool
    public let gemm: GEMMBackend
    /// Whether products with constant weights use the packed-weight kernels (`Backend.packsWeights`).
    public let packsWeights: Bool
}

extension StepContext {
    /// The same workers, GEMM backend and scratch on other tensors: what a fused step hands one
    /// of its parts.
    func with(inputs: [UnsafeMutablePointer<Float>], inputShapes: [[Int]], output: UnsafeMutablePointer<Float>,
              outputShape: [Int], scratch: UnsafeMutablePointer<Float>? = nil) -> StepContext {
        StepContext(inputs: inputs, inputShapes: inputShapes, output: output, outputShape: outputShape,
                    scratch: scratch ?? self.scratch, pool: pool, gemm: gemm, packsWeights: packsWeights)
    }
}

/// One operator of the engine: shape inference, cost, and two bindings — the optimised kernel
/// and the plain-loop reference twin (in `Sources/VitEngine/Reference`).
///
/// Binding turns the operator into a closure over resolved pointers; calling that closure is a
/// forward pass of the step and allocates nothing.
public protocol Operator {
    /// Op kind for profiles and aggregates, e.g. "conv2d.depthwise", "gemm", "attention".
    var kind: String { get }
    /// Number of weights the operator holds (for bytes-moved estimates).
    var parameterCount: Int { get }
    /// Floats of constants its bindings hold on the packed backend, the most of any backend:
    /// weights in a kernel's layout (padded panels, Winograd's transformed filters) and tables.
    /// The memory estimate counts these beside the model's own weights.
    var constantFloats: Int { get }
    func outputShape(for inputs: [[Int]]) throws -> [Int]
    /// Multiply-accumulates of one execution (elementwise ops count 0, as timm/fvcore do).
    func macs(inputs: [[Int]], output: [Int]) -> Int
    /// Floats of scratch memory the optimised kernel needs with `threads` workers.
    func scratchFloats(inputs: [[Int]], output: [Int], threads: Int) -> Int
    func bindOptimized(_ context: StepContext) -> () -> Void
    func bindReference(_ context: StepContext) -> () -> Void
}

extension Operator {
    public var parameterCount: Int { 0 }
    public var constantFloats: Int { parameterCount }
    public func macs(inputs: [[Int]], output: [Int]) -> Int { 0 }
    public func scratchFloats(inputs: [[Int]], output: [Int], threads: Int) -> Int { 0 }
}

/// A shape or argument a plan cannot be built with; names the module and what is wrong.
public struct PlanError: Error, CustomStringConvertible, Equatable {
    public let module: String
    public let message: String
    public init(module: String, _ message: String) {
        self.module = module
        self.message = message
    }
    public var description: String { module.isEmpty ? message : "\(module): \(message)" }
}

/// An operator-level argument error, before the module path is known; the builder adds it.
public struct ShapeError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

@inline(__always) func product(_ s: [Int]) -> Int { s.reduce(1, *) }
