import VitEngine

/// A block that lowers itself into a plan (the blocks of MetaFormer-style families).
public protocol PlanBlock: Module {
    func forward(_ b: PlanBuilder, _ x: Value) throws -> Value
}

/// The skeleton PoolFormer and the mixer skeleton share: a 7x7 stride-4 stem conv, then stages
/// of an optional 3x3 stride-2 downsampling conv and blocks, under timm's names `stem.conv`,
/// `stages.i.downsample.conv`, `stages.i.blocks.j`. Families differ in the stem's padding, in
/// which stages downsample, and in their blocks and heads.
public struct MetaFormerStages<Block: PlanBlock> {
    public let stem: Conv2dLayer
    public let downsamples: [Conv2dLayer?]
    public let blocks: [[Block]]
    let stemPadding: Int

    /// - Parameters:
    ///   - downsamples: whether stage i (i ≥ 0) starts with a downsampling conv.
    ///   - block: the block j of stage i, built in its scope.
    public init(_ w: Weights, dims: [Int], depths: [Int], stemPadding: Int, downsamples: (Int) -> Bool,
                block: (_ stage: Int, _ index: Int) throws -> Block) rethrows {
        self.stemPadding = stemPadding
        stem = w.scope("stem") { w.scope("conv") { Conv2dLayer(w, in: 3, out: dims[0], kernel: 7, stride: 4, padding: stemPadding) } }
        var ds: [Conv2dLayer?] = [], bl: [[Block]] = []
        for (i, depth) in depths.enumerated() {
            try w.scope("stages") {
                try w.scope("\(i)") {
                    let inDim = i == 0 ? dims[0] : dims[i - 1]
                    ds.append(downsamples(i) ? w.scope("downsample") {
                        w.scope("conv") { Conv2dLayer(w, in: inDim, out: dims[i], kernel: 3, stride: 2, padding: 1) }
                    } : nil)
                    bl.append(try (0..<depth).map { j in try w.scope("blocks") { try w.scope("\(j)") { try block(i, j) } } })
                }
            }
        }
        self.downsamples = ds
        blocks = bl
    }

    /// Height or width of the last stage's map for an input of `n` pixels.
    public func outputSize(_ n: Int) -> Int {
        var s = convOut(n, kernel: 7, stride: 4, padding: stemPadding)
        for d in downsamples where d != nil { s = convOut(s, kernel: 3, stride: 2, padding: 1) }
        return s
    }

    public func collect(_ sd: inout StateDict) {
        sd.scope("stem") { sd in sd.scope("conv") { stem.collect(&$0) } }
        for (i, stage) in blocks.enumerated() {
            sd.scope("stages") { sd in
                sd.scope("\(i)") { sd in
                    if let d = downsamples[i] { sd.scope("downsample") { sd in sd.scope("conv") { d.collect(&$0) } } }
                    for (j, block) in stage.enumerated() { sd.scope("blocks") { sd in sd.scope("\(j)") { block.collect(&$0) } } }
                }
            }
        }
    }

    public func forward(_ b: PlanBuilder, _ input: Value) throws -> Value {
        var x = try b.scope("stem") { try b.scope("conv") { try stem.forward(b, input) } }
        for (i, stage) in blocks.enumerated() {
            x = try b.scope("stages") {
                try b.scope("\(i)") {
                    var y = x
                    if let d = downsamples[i] { y = try b.scope("downsample") { try b.scope("conv") { try d.forward(b, y) } } }
                    for (j, block) in stage.enumerated() {
                        y = try b.scope("blocks") { try b.scope("\(j)") { try block.forward(b, y) } }
                    }
                    return y
                }
            }
        }
        return x
    }
}
