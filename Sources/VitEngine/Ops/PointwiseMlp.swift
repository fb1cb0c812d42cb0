import CKernels

/// A product applied to each row of channels on its own: `Linear` on tokens, a 1x1 `Conv2d` on
/// NHWC pixels. What `PointwiseMlp` chains.
protocol RowProduct: Operator {
    var inFeatures: Int { get }
    var outFeatures: Int { get }
    var activation: Activation { get }
    var addsResidual: Bool { get }
    var rowGEMM: RowTiledGEMM { get }
}

extension Linear: RowProduct {
    var rowGEMM: RowTiledGEMM { tiled }
}

extension Conv2d: RowProduct {
    var inFeatures: Int { inChannels }
    var outFeatures: Int { outChannels }
    var rowGEMM: RowTiledGEMM {
        precondition(path == .pointwise, "only a 1x1 conv is a product on each pixel's channels")
        return pointwiseGEMM
    }
}

/// An MLP on each row of channels — an optional LayerNorm, fc1, its activation, fc2, then an
/// optional residual input — as one step: timm's `Mlp` on tokens (with the pre-norm
/// transformer's `norm2` before it) and `ConvMlp`'s 1x1 convs on NHWC pixels. Each worker
/// normalises a tile of rows and runs fc1 on it into its own scratch, and fc2 on that tile while
/// it is still in L2, so the hidden activations (the MLP ratio times the input: the largest
/// tensors of a high-resolution stage, or of a transformer at batch 8) never go through the
/// arena. As two steps, DeiT-Tiny's MLPs at batch 8 wrote and read back 4.8 MB each (PoolFormer-
/// S12's stage 0: 25 MB); fused, DeiT-Tiny at batch 8 on two threads ran 9% faster and
/// PoolFormer-S12 at batch 8 8% (Zen 5, alternated A/B). At batch 1 the hidden tensors stay in
/// L3 and the two forms time the same.
///
/// When the rows are too few for every worker to get several row tiles (DeiT's 197 tokens and
/// the late stages' small maps on two threads), the products run one after the other through a
/// full hidden tensor in scratch, each split into column blocks as well (`GEMMTiles`), as two
/// steps would.
public struct PointwiseMlp: Operator {
    /// A LayerNorm over each row before fc1 (pre-norm transformers), or nil.
    public let norm: LayerNorm?
    let fc1: any RowProduct
    let fc2: any RowProduct

    /// timm `ConvMlp`/`Mlp` with 1x1 convs: `fc1` (its activation fused) then `fc2` (a layer
    /// scale folded in, the residual fused).
    public init(fc1: Conv2d, fc2: Conv2d) {
        precondition(fc1.path == .pointwise && fc2.path == .pointwise, "PointwiseMlp: fc1 and fc2 must be 1x1 convs")
        self.init(checking: nil, fc1, fc2)
    }

    /// timm `Mlp` on tokens, after `norm` where given (a pre-norm transformer's `norm2`).
    public init(norm: LayerNorm? = nil, fc1: Linear, fc2: Linear) { self.init(checking: norm, fc1, fc2) }

    private init(checking norm: LayerNorm?, _ fc1: any RowProduct, _ fc2: any RowProduct) {
        precondition(!fc1.addsResidual, "PointwiseMlp: only fc2 adds the residual")
        precondition(fc1.outFeatures == fc2.inFeatures,
                     "PointwiseMlp: fc1 gives \(fc1.outFeatures) features, fc2 takes \(fc2.inFeatures)")
        precondition(norm == nil || norm!.gamma.count == fc1.inFeatures,
                     "PointwiseMlp: a norm over \(norm?.gamma.count ?? 0) features before an fc1 of \(fc1.inFeatures)")
        self.norm = norm
        self.fc1 = fc1
        self.fc2 = fc2
    }

    public var kind: String { "mlp" }
    public var parameterCount: Int { (norm?.parameterCount ?? 0) + fc1.parameterCount + fc2.parameterCount }
    public var constantFloats: Int { (norm?.constantFloats ?? 0) + fc1.constantFloats + fc2.constantFloats }
    var hiddenFeatures: Int { fc1.outFeatures }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == (fc2.addsResidual ? 2 : 1) else {
            throw ShapeError("expects \(fc2.addsResidual ? 2 : 1) inputs, got \(inputs.count)")
        }
        let hidden = try fc1.outputShape(for: [inputs[0]])
        return try fc2.outputShape(for: [hidden] + inputs.dropFirst())
    }

    func hiddenShape(input: [Int]) -> [Int] { Array(input.dropLast()) + [hiddenFeatures] }

    public func macs(inputs: [[Int]], output: [Int]) -> Int {
        let hidden = hiddenShape(input: inputs[0])
        return fc1.macs(inputs: [inputs[0]], output: hidden) + fc2.macs(inputs: [hidden], output: output)
    }

    /// Whether each row tile runs both products (else: fc1 over all rows, then fc2): when there
    /// are as many row tiles as `GEMMTiles` wants tasks.
    static func fusesRowTiles(rows: Int, threads: Int) -> Bool {
        GEMMTiles.rowTiles(rows) >= GEMMTiles.tasksWanted(threads: threads)
    }

    /// Fused: per worker, a hidden tile (then a normalised tile); else the whole hidden tensor
    /// (then `LayerNormLinear`'s scratch).
    public func scratchFloats(inputs: [[Int]], output: [Int], threads: Int) -> Int {
        let rows = product(output) / fc2.outFeatures, normed = norm == nil ? 0 : threads * GEMMTiles.maxRowTile * fc1.inFeatures
        return PointwiseMlp.fusesRowTiles(rows: rows, threads: threads)
            ? threads * GEMMTiles.maxRowTile * hiddenFeatures + normed : rows * hiddenFeatures + normed
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let k = fc1.inFeatures, h = hiddenFeatures, n = fc2.outFeatures, rows = product(c.outputShape) / n
        let x = UnsafePointer(c.inputs[0]), y = c.output, scratch = c.scratch, pool = c.pool, blas = c.gemm
        let residual: UnsafePointer<Float>? = fc2.addsResidual ? UnsafePointer(c.inputs[1]) : nil
        let g1 = fc1.rowGEMM, g2 = fc2.rowGEMM
        guard PointwiseMlp.fusesRowTiles(rows: rows, threads: pool.threadCount) else {
            let first: () -> Void
            if let norm, let linear = fc1 as? Linear {
                first = LayerNormLinear(norm: norm, linear: linear).bindOptimized(
                    c.with(inputs: [c.inputs[0]], inputShapes: [c.inputShapes[0]], output: scratch,
                           outputShape: hiddenShape(input: c.inputShapes[0]), scratch: scratch + rows * h))
            } else {
                first = g1.bind(x: x, y: scratch, rows: rows, residual: nil, pool: pool, gemm: blas, packsWeights: c.packsWeights)
            }
            let second = g2.bind(x: UnsafePointer(scratch), y: y, rows: rows, residual: residual, pool: pool, gemm: blas,
                                 packsWeights: c.packsWeights)
            return { first(); second() }
        }
        let rowTiles = GEMMTiles.rowTiles(rows), tile = GEMMTiles.maxRowTile
        let w1 = g1.bound(packsWeights: c.packsWeights), w2 = g2.bound(packsWeights: c.packsWeights)
        let gamma = norm.map { UnsafePointer($0.gamma.pointer) }, beta = norm.map { UnsafePointer($0.beta.pointer) }
        let eps = norm?.eps ?? 0, perWorker = tile * (h + (norm == nil ? 0 : k))
        return {
            withExtendedLifetime(norm) {
                pool.parallelFor(rowTiles) { t, worker in
                    let r0 = GEMMTiles.rowStart(t, of: rowTiles, rows: rows), m = GEMMTiles.rowStart(t + 1, of: rowTiles, rows: rows) - r0
                    let hidden = scratch + worker * perWorker
                    var xt = x + r0 * k
                    if let gamma, let beta {
                        let normed = hidden + tile * h
                        vb_layernorm(xt, normed, k, 0, m, gamma, beta, eps)
                        xt = UnsafePointer(normed)
                    }
                    g1.multiply(xt, lda: k, rows: m, columns: 0, h, into: hidden, ldc: h, residual: nil, weights: w1, gemm: blas)
                    g2.multiply(hidden, lda: h, rows: m, columns: 0, n, into: y + r0 * n, ldc: n,
                                residual: residual.map { $0 + r0 * n }, weights: w2, gemm: blas)
                }
            }
        }
    }
}
