import Foundation
import VitEngine

/// One building block of a family — a token mixer, an attention layer, a patch embedding —
/// lowered on its own so that it can be measured the way whole models are
/// (`vitbench bench --block fastvit.repmixer --dim 64 --resolution 56`). Its tensors carry the
/// names they have inside the model, relative to the block.
public protocol BenchmarkBlock: Module {
    /// The block's input for a batch at an H×W grid: an NHWC feature map [N, H, W, C] for
    /// convolutional blocks, a token sequence [N, T, C] for transformer blocks.
    func inputShape(batch: Int, height: Int, width: Int) -> [Int]
    func forward(_ b: PlanBuilder, _ x: Value) throws -> Value
    /// Whether `reparameterize()` changes the block (RepMixer, MobileOne branches).
    var isReparameterizable: Bool { get }
}

extension BenchmarkBlock {
    public var isReparameterizable: Bool { false }
    public var parameterCount: Int { stateDict.parameterCount }

    /// Lowers the block for one input shape; the plan's input is in the block's own layout.
    public func plan(batch: Int, height: Int, width: Int, backend: Backend = .default, pool: ThreadPool) throws -> Plan {
        let b = PlanBuilder(backend: backend, pool: pool)
        let x = b.input(inputShape(batch: batch, height: height, width: width))
        return try b.build(outputs: [try forward(b, x)])
    }

    /// The block as an ONNX model, its input in the block's own layout (`inputShape`).
    public func exportONNX(batch: Int, height: Int, width: Int) throws -> Data {
        let b = PlanBuilder(pool: ThreadPool(threads: 1))
        let x = b.input(inputShape(batch: batch, height: height, width: width))
        return try b.exportONNX(outputs: [try forward(b, x)])
    }

    /// Multiply-accumulates of one forward pass of one input.
    public func macs(height: Int, width: Int) throws -> Int {
        let b = PlanBuilder(pool: ThreadPool(threads: 1))
        _ = try forward(b, b.input(inputShape(batch: 1, height: height, width: width)))
        return b.totalMACs
    }
}

/// A block the suite knows: `family.block`, with the width and grid it is measured at unless
/// told otherwise (the shapes it has in the family's smallest model).
public struct BlockInfo {
    public let name: String
    public let summary: String
    public let defaultDim: Int
    public let defaultResolution: Int
    /// Builds the block at width `dim` for an H×W grid (attention biases depend on the grid).
    let make: (Weights, _ dim: Int, _ height: Int, _ width: Int) throws -> BenchmarkBlock

    public init(name: String, summary: String, defaultDim: Int, defaultResolution: Int,
                make: @escaping (Weights, _ dim: Int, _ height: Int, _ width: Int) throws -> BenchmarkBlock) {
        self.name = name
        self.summary = summary
        self.defaultDim = defaultDim
        self.defaultResolution = defaultResolution
        self.make = make
    }

    public var family: String { String(name.prefix { $0 != "." }) }

    /// Builds the block with `weights` and checks that every tensor fit.
    public func load(_ weights: Weights, dim: Int? = nil, height: Int? = nil, width: Int? = nil) throws -> BenchmarkBlock {
        let d = dim ?? defaultDim, h = height ?? defaultResolution, w = width ?? h
        guard d >= 1, h >= 1, w >= 1 else {
            throw ModelInputError("block \(name): width and grid must be positive, got dim \(d) at \(h)x\(w)")
        }
        let block = try make(weights, d, h, w)
        try weights.finish()
        return block
    }

    /// The block with deterministic random weights (latency runs).
    public func random(dim: Int? = nil, height: Int? = nil, width: Int? = nil, seed: UInt64 = 0) throws -> BenchmarkBlock {
        try load(.random(seed: seed), dim: dim, height: height, width: width)
    }
}

/// Every benchmarkable block, in one list: a family adds its blocks next to its models.
public enum BlockZoo {
    public static var all: [BlockInfo] {
        fastViT + mobileOne + poolFormer + MetaFormerS12.blocks + deit + levit + mobileViT + psViT + mobileLevelViT
    }

    public static func named(_ name: String) throws -> BlockInfo {
        if let b = all.first(where: { $0.name == name }) { return b }
        throw UnknownModelError(name: name, known: all.map(\.name), kind: "block")
    }

    public static func contains(_ name: String) -> Bool { all.contains { $0.name == name } }
}

/// A family's block behind the `BenchmarkBlock` interface: the module keeps its own type and
/// names, the adapter says what input it takes. Most blocks need nothing more.
public final class AdaptedBlock: BenchmarkBlock {
    public enum Layout: Sendable {
        /// NHWC [N, H, W, channels].
        case featureMap
        /// [N, H·W, channels].
        case tokens
    }

    public let layout: Layout
    public let channels: Int
    public let isReparameterizable: Bool
    let module: Module
    let lower: (PlanBuilder, Value) throws -> Value

    public init(_ module: Module, layout: Layout, channels: Int, reparameterizable: Bool = false,
                forward: @escaping (PlanBuilder, Value) throws -> Value) {
        self.module = module
        self.layout = layout
        self.channels = channels
        isReparameterizable = reparameterizable
        lower = forward
    }

    public func inputShape(batch: Int, height: Int, width: Int) -> [Int] {
        layout == .featureMap ? [batch, height, width, channels] : [batch, height * width, channels]
    }

    public func forward(_ b: PlanBuilder, _ x: Value) throws -> Value { try lower(b, x) }
    public func collect(_ sd: inout StateDict) { module.collect(&sd) }
    public func reparameterize() { module.reparameterize() }
}
