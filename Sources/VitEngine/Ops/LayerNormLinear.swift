import CKernels

/// LayerNorm over the last dimension, then a Linear on its output, as one step: each worker
/// normalises a tile of rows into its scratch and multiplies the tile while it is still in cache,
/// so the normalised activations never go through the arena and the pool is woken once instead
/// of twice. A pre-norm transformer spends its norms this way (`norm1` → `attn.qkv`, `norm2` →
/// `mlp.fc1`, the final norm → the head). The epilogue is `Linear`'s: bias, activation, then
/// an optional residual input.
public struct LayerNormLinear: Operator {
    public let norm: LayerNorm
    public let linear: Linear

    /// Rows per tile: a multiple of the packed micro-kernels' 6 (and 4) rows, as `Linear` uses.
    static let tileRows = 96

    public init(norm: LayerNorm, linear: Linear) {
        precondition(norm.gamma.count == linear.inFeatures,
                     "LayerNormLinear: a norm over \(norm.gamma.count) features before a linear of \(linear.inFeatures)")
        self.norm = norm
        self.linear = linear
    }

    public var kind: String { "layernorm.linear" }
    public var parameterCount: Int { norm.parameterCount + linear.parameterCount }

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
        let gemm = linear.tiled, wp = UnsafePointer(gemm.weight.pointer)
        let bias = gemm.bias.map { UnsafePointer($0.pointer) }, act = gemm.activation.c
        let blas = c.gemm, pool = c.pool, tile = Self.tileRows, tiles = (rows + tile - 1) / tile
        let packed = c.packsWeights ? PackedMatrix(wp, k: k, n: n) : nil
        let keep = (norm, gemm, packed)
        return {
            withExtendedLifetime(keep) {
                pool.parallelFor(tiles) { t, worker in
                    let r0 = t * tile, m = min(tile, rows - r0)
                    let normed = scratch + worker * tile * k, yt = y + r0 * n
                    vb_layernorm(x + r0 * k, normed, k, 0, m, gamma, beta, eps)
                    if let packed {
                        vb_gemm_packed(normed, k, packed.pointer, k, n, yt, n, m)
                    } else {
                        blas.sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1,
                                   a: normed, lda: k, b: wp, ldb: n, beta: 0, c: yt, ldc: n)
                    }
                    if bias != nil || act != VB_ACT_NONE || residual != nil {
                        vb_bias_act_residual(yt, m, n, n, bias, act, residual.map { $0 + r0 * n }, n)
                    }
                }
            }
        }
    }
}
