import CKernels

/// LayerNorm over the last dimension, then a Linear on its output, as one step: each worker
/// normalises a tile of rows into its scratch and multiplies the tile while it is still in cache,
/// so the normalised activations never go through the arena and the pool is woken once instead
/// of twice. A pre-norm transformer spends its norms this way (`norm1` → `attn.qkv`, `norm2` →
/// `mlp.fc1`, the final norm → the head). The epilogue is `Linear`'s: bias, activation, then
/// an optional residual input (inside the packed kernel: `PackedMatrix.multiply`).
public struct LayerNormLinear: Operator {
    public let norm: LayerNorm
    public let linear: Linear

    /// Rows per tile at most, as `Linear` tiles them (`GEMMTiles`).
    static let tileRows = GEMMTiles.maxRowTile

    public init(norm: LayerNorm, linear: Linear) {
        precondition(norm.gamma.count == linear.inFeatures,
                     "LayerNormLinear: a norm over \(norm.gamma.count) features before a linear of \(linear.inFeatures)")
        self.norm = norm
        self.linear = linear
    }

    public var kind: String { "layernorm.linear" }
    public var parameterCount: Int { norm.parameterCount + linear.parameterCount }
    public var constantFloats: Int { norm.constantFloats + linear.constantFloats }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] { try linear.outputShape(for: inputs) }

    public func macs(inputs: [[Int]], output: [Int]) -> Int { linear.macs(inputs: inputs, output: output) }

    public func scratchFloats(inputs: [[Int]], output: [Int], threads: Int) -> Int {
        threads * Self.tileRows * linear.inFeatures
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let k = linear.inFeatures, n = linear.outFeatures, rows = product(c.outputShape) / n
        let x = UnsafePointer(c.inputs[0]), y = c.output, scratch = c.scratch
        let residual: UnsafePointer<Float>? = linear.addsResidual ? UnsafePointer(c.inputs[1]) : nil
        let gamma = UnsafePointer(norm.gamma.pointer), beta = UnsafePointer(norm.beta.pointer), eps = norm.eps
        let gemm = linear.tiled, blas = c.gemm, pool = c.pool, tile = Self.tileRows
        let w = gemm.bound(packsWeights: c.packsWeights)
        // The packed product splits columns too when rows are few (`GEMMTiles`); each column
        // block normalises its rows again, a k-wide pass that is small beside its m·k·32 MACs.
        let tiles = GEMMTiles(rows: rows, columns: n, threads: c.packsWeights ? pool.threadCount : 1)
        return {
            withExtendedLifetime(norm) {
                pool.parallelFor(tiles.count) { t, worker in
                    let (r0, m, c0, cols) = tiles[t]
                    let normed = scratch + worker * tile * k
                    vb_layernorm(x + r0 * k, normed, k, 0, m, gamma, beta, eps)
                    gemm.multiply(normed, lda: k, rows: m, columns: c0, cols, into: y + r0 * n + c0, ldc: n,
                                  residual: residual.map { $0 + r0 * n + c0 }, weights: w, gemm: blas)
                }
            }
        }
    }
}
