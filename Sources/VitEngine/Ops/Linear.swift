import CKernels

/// Shared by `Linear` and 1x1 `Conv2d`: Y[rows, n] = X[rows, k] · W[k, n], then bias, activation
/// and an optional residual, tile by tile so that the epilogue runs while the tile is in cache.
/// Workers take row tiles; each calls a single-threaded GEMM.
struct RowTiledGEMM {
    let k: Int
    let n: Int
    let weights: ProductWeights
    let bias: PackedWeights?
    let activation: Activation

    /// The weights in the layout a backend multiplies by, resolved once when a step is bound.
    enum Bound {
        /// The packed backend's panels (`vb_gemm_packed_epilogue`).
        case panels(PackedMatrix)
        /// [k, n] row-major, for a BLAS backend's sgemm.
        case rowMajor(PackedWeights)
    }

    func bound(packsWeights: Bool) -> Bound {
        packsWeights ? .panels(weights.panels) : .rowMajor(weights.rowMajor)
    }

    func bind(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int,
              residual: UnsafePointer<Float>?, pool: ThreadPool, gemm: GEMMBackend, packsWeights: Bool) -> () -> Void {
        let k = k, n = n, w = bound(packsWeights: packsWeights)
        if packsWeights {
            let tiles = GEMMTiles(rows: rows, columns: n, threads: pool.threadCount)
            return {
                pool.parallelFor(tiles.count) { t, _ in
                    let (r0, m, c0, cols) = tiles[t]
                    multiply(x + r0 * k, lda: k, rows: m, columns: c0, cols, into: y + r0 * n + c0, ldc: n,
                             residual: residual.map { $0 + r0 * n + c0 }, weights: w, gemm: gemm)
                }
            }
        }
        // Tiles of about 256 KiB of output: small enough to stay in L2 for the epilogue, large
        // enough that the GEMM's packing of W is amortised (measured with `vitbench kernels`).
        let tile = max(16, min(4096, (65536 / max(n, 1)) / 8 * 8))
        let tiles = (rows + tile - 1) / tile
        return {
            pool.parallelFor(tiles) { t, _ in
                let r0 = t * tile
                multiply(x + r0 * k, lda: k, rows: min(tile, rows - r0), columns: 0, n, into: y + r0 * n, ldc: n,
                         residual: residual.map { $0 + r0 * n }, weights: w, gemm: gemm)
            }
        }
    }

    /// Y[m, c0 ..< c0+cols] (leading dimension ldc) = act(A[m, k] · W[:, c0 ..< c0+cols] + bias)
    /// + residual (leading dimension ldc): on the packed panels (the epilogue in the kernel's
    /// stores), or the BLAS backend's sgemm and one epilogue pass over the block.
    func multiply(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, columns c0: Int, _ cols: Int,
                  into y: UnsafeMutablePointer<Float>, ldc: Int, residual: UnsafePointer<Float>?,
                  weights: Bound, gemm: GEMMBackend) {
        let b = bias.map { UnsafePointer($0.pointer) + c0 }, act = activation.c
        switch weights {
        case .panels(let packed):
            packed.multiply(a, lda: lda, rows: m, columns: c0, cols, into: y, ldc: ldc, bias: b, activation: act,
                            residual: residual)
        case .rowMajor(let w):
            gemm.sgemm(transA: false, transB: false, m: m, n: cols, k: k, alpha: 1, a: a, lda: lda,
                       b: UnsafePointer(w.pointer) + c0, ldb: n, beta: 0, c: y, ldc: ldc)
            if b != nil || act != VB_ACT_NONE || residual != nil {
                vb_bias_act_residual(y, m, cols, ldc, b, act, residual, ldc)
            }
        }
    }
}

/// The weights of a product with constant weights (`Linear`, a 1x1 `Conv2d`) in the layout each
/// backend multiplies by, each made on first use from PyTorch's [out, in] matrix: the packed
/// backend's 16-column panels straight from it (`vb_gemm_pack_bt`), a BLAS backend's [in, out]
/// row-major copy. An operator then holds only the layout its plans use: packing the panels
/// from a kept [in, out] copy held a third copy of every weight beside the model's own (DeiT-B's
/// 346 MB of weights: 1058 MB peak resident before, 725 MB after).
final class ProductWeights: @unchecked Sendable {
    private let panelsConstant: LazyConstant<PackedMatrix>
    private let rowMajorConstant: LazyConstant<PackedWeights>

    /// - Parameter weight: [n, k] row-major (`nn.Linear`'s [out, in]; a 1x1 conv's
    ///   [out, in, 1, 1]), shared, not copied.
    init(outByIn weight: [Float], k: Int, n: Int) {
        precondition(weight.count == k * n, "ProductWeights: \(weight.count) weights for a \(k)→\(n) product")
        panelsConstant = LazyConstant {
            weight.withUnsafeBufferPointer { PackedMatrix(transposing: $0.baseAddress!, k: k, n: n) }
        }
        rowMajorConstant = LazyConstant { PackedWeights(Tensor(shape: [n, k], data: weight).permuted([1, 0])) }
    }

    var panels: PackedMatrix { panelsConstant.value }
    var rowMajor: PackedWeights { rowMajorConstant.value }
}

/// `nn.Linear` on the last dimension: [..., in] → [..., out], with fused bias, activation and an
/// optional residual input (added after the activation).
public struct Linear: Operator {
    public let inFeatures: Int
    public let outFeatures: Int
    /// PyTorch layout [out, in].
    public let weight: [Float]
    public let bias: [Float]?
    public let activation: Activation
    public let addsResidual: Bool
    var tiled: RowTiledGEMM { tiledConstant.value }
    private let tiledConstant: LazyConstant<RowTiledGEMM>

    /// - Parameter weight: PyTorch's [out, in] matrix.
    public init(weight: Tensor, bias: Tensor? = nil, activation: Activation = .none,
                addsResidual: Bool = false) {
        precondition(weight.rank == 2, "Linear weight must be [out, in], got \(weight.shape)")
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        precondition(bias == nil || bias!.count == outFeatures, "Linear bias must have \(outFeatures) entries")
        self.weight = weight.data
        self.bias = bias?.data
        self.activation = activation
        self.addsResidual = addsResidual
        let (k, n) = (inFeatures, outFeatures)
        tiledConstant = LazyConstant {
            RowTiledGEMM(k: k, n: n, weights: ProductWeights(outByIn: weight.data, k: k, n: n),
                         bias: bias.map { PackedWeights($0) }, activation: activation)
        }
    }

    public var kind: String { "linear" }
    public var parameterCount: Int { weight.count + (bias?.count ?? 0) }
    public var constantFloats: Int { vb_gemm_packed_size(inFeatures, outFeatures) + (bias?.count ?? 0) }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == (addsResidual ? 2 : 1) else {
            throw ShapeError("expects \(addsResidual ? 2 : 1) inputs, got \(inputs.count)")
        }
        guard let last = inputs[0].last, last == inFeatures else {
            throw ShapeError("expects last dimension \(inFeatures), got shape \(inputs[0])")
        }
        let out = Array(inputs[0].dropLast()) + [outFeatures]
        if addsResidual && inputs[1] != out {
            throw ShapeError("residual shape \(inputs[1]) does not match output \(out)")
        }
        return out
    }

    public func macs(inputs: [[Int]], output: [Int]) -> Int { product(output) * inFeatures }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        tiled.bind(x: c.inputs[0], y: c.output, rows: product(c.outputShape) / outFeatures,
                   residual: addsResidual ? UnsafePointer(c.inputs[1]) : nil, pool: c.pool, gemm: c.gemm,
                   packsWeights: c.packsWeights)
    }
}

/// Batched matrix product: A [B, M, K] · B [B, K, N] (or Bᵀ given as [B, N, K]) → [B, M, N],
/// times `alpha`.
public struct MatMul: Operator {
    public let transposeB: Bool
    public let alpha: Float
    public init(transposeB: Bool = false, alpha: Float = 1) {
        self.transposeB = transposeB
        self.alpha = alpha
    }
    public var kind: String { "matmul" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 2, inputs[0].count == 3, inputs[1].count == 3 else {
            throw ShapeError("expects two rank-3 inputs [B, M, K] and [B, K, N], got \(inputs)")
        }
        let a = inputs[0], b = inputs[1]
        let (bk, bn) = transposeB ? (b[2], b[1]) : (b[1], b[2])
        guard a[0] == b[0], a[2] == bk else { throw ShapeError("cannot multiply \(a) by \(b)\(transposeB ? "ᵀ" : "")") }
        return [a[0], a[1], bn]
    }

    public func macs(inputs: [[Int]], output: [Int]) -> Int { product(output) * inputs[0][2] }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let a = c.inputs[0], b = c.inputs[1], y = c.output
        let batch = c.outputShape[0], m = c.outputShape[1], n = c.outputShape[2], k = c.inputShapes[0][2]
        let transB = transposeB, alpha = alpha, gemm = c.gemm, pool = c.pool
        return {
            pool.parallelFor(batch) { i, _ in
                gemm.sgemm(transA: false, transB: transB, m: m, n: n, k: k, alpha: alpha,
                           a: a + i * m * k, lda: k, b: b + i * k * n, ldb: transB ? k : n,
                           beta: 0, c: y + i * m * n, ldc: n)
            }
        }
    }
}

/// A k×n weight matrix in the panel layout of `vb_gemm_packed`.
final class PackedMatrix: @unchecked Sendable {
    let storage: PackedWeights
    let k: Int
    var pointer: UnsafePointer<Float> { UnsafePointer(storage.pointer) }

    init(_ b: UnsafePointer<Float>, k: Int, n: Int, ldb: Int? = nil) {
        self.k = k
        storage = PackedWeights([Float](repeating: 0, count: vb_gemm_packed_size(k, n)))
        vb_gemm_pack_b(b, ldb ?? n, k, n, storage.pointer)
    }

    /// B = Btᵀ from Bt [n×k] row-major: a PyTorch [out, in] weight used as it is stored.
    init(transposing bt: UnsafePointer<Float>, k: Int, n: Int) {
        self.k = k
        storage = PackedWeights([Float](repeating: 0, count: vb_gemm_packed_size(k, n)))
        vb_gemm_pack_bt(bt, k, k, n, storage.pointer)
    }

    /// C[rows × cols] = act(A[rows × k] · B[:, c0 ..< c0+cols] + bias) + residual; c0 a multiple
    /// of the 16-column panels; bias (at column c0) and residual (leading dimension ldc) optional.
    /// Bias, ReLU and residual are applied as the kernel's registers are stored; another
    /// activation takes one pass over the block at the end (`vb_gemm_packed_epilogue`).
    func multiply(_ a: UnsafePointer<Float>, lda: Int, rows: Int, columns c0: Int, _ cols: Int,
                  into c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
                  activation: vb_activation = VB_ACT_NONE, residual: UnsafePointer<Float>? = nil) {
        let panel = Int(VB_GEMM_PANEL_COLUMNS)
        vb_gemm_packed_epilogue(a, lda, pointer + (c0 / panel) * k * panel, k * panel, k, cols, c, ldc, rows,
                                bias, activation, residual, ldc)
    }
}

/// How a product with constant weights is split into tasks: row tiles of about 96 rows (large
/// enough to amortise reloading a weight panel) and, when that leaves fewer than four tasks per
/// worker — LeViT's 16- and 49-token stages, DeiT's 197 tokens on two threads — column blocks as
/// well, whole 32-column micro-kernel tiles each. Every worker then has work, and one that is
/// descheduled holds up only a small block.
///
/// The rows are shared evenly between the tiles, in whole 12-row units (two 6-row micro-kernel
/// tiles, three 4-row ones), so that only the last tile has rows over that take a row-remainder
/// kernel: fixed 96-row tiles left DeiT's 197 tokens a 5-row tile that streamed every weight
/// panel again from L3 for five rows, bandwidth-bound (4% of DeiT-B's GEMM time for 2.5% of its
/// rows); then tiles of exactly rows/count (99 + 98 there) gave every tile of a 28x28 map
/// (8 × 98 rows) a 2-row remainder, four accumulators bound by FMA latency; now 96 + 101.
struct GEMMTiles {
    static let targetRowTile = 96
    /// Rows of every tile but the last are a multiple of this.
    static let rowUnit = 12
    /// The largest tile `init` makes (1.5 × the target, plus a unit's rounding): sizes
    /// per-worker scratch.
    static let maxRowTile = 156
    let rows: Int, columns: Int
    let rowTiles: Int, columnBlock: Int, columnBlocks: Int
    var count: Int { rowTiles * columnBlocks }

    init(rows: Int, columns n: Int, threads: Int) {
        self.rows = rows
        columns = n
        rowTiles = GEMMTiles.rowTiles(rows)
        let wanted = GEMMTiles.tasksWanted(threads: threads)
        let blocks = rowTiles >= wanted ? 1 : min((wanted + rowTiles - 1) / max(rowTiles, 1), (n + 31) / 32)
        columnBlock = blocks <= 1 ? max(n, 1) : max(32, n / blocks / 32 * 32)
        columnBlocks = max(1, (n + columnBlock - 1) / columnBlock)
    }

    /// Row tiles of about `targetRowTile` rows, at most one per 12-row unit.
    static func rowTiles(_ rows: Int) -> Int {
        min(max(1, units(rows)), max(1, (rows + targetRowTile / 2) / targetRowTile))
    }

    /// Tasks a product is split into at least, where its rows and columns allow.
    static func tasksWanted(threads: Int) -> Int { threads > 1 ? 4 * threads : 1 }

    /// First row of row tile i (of rowTiles; i == rowTiles gives rows).
    private func rowStart(_ i: Int) -> Int { GEMMTiles.rowStart(i, of: rowTiles, rows: rows) }

    /// First row of part i when `rows` are shared among `parts` in whole `rowUnit`s, the rows
    /// over the last whole unit in the last part (i == parts gives rows). Every part is non-empty
    /// when parts ≤ ceil(rows / rowUnit).
    static func rowStart(_ i: Int, of parts: Int, rows: Int) -> Int {
        min(rows, rowUnit * (i * units(rows) / max(parts, 1)))
    }

    /// Whole or partial `rowUnit`s in `rows`.
    static func units(_ rows: Int) -> Int { (rows + rowUnit - 1) / rowUnit }

    /// Task t: rows r0 ..< r0+m, columns c0 ..< c0+cols.
    subscript(_ t: Int) -> (r0: Int, m: Int, c0: Int, cols: Int) {
        let i = t / columnBlocks, r0 = rowStart(i), c0 = (t % columnBlocks) * columnBlock
        return (r0, rowStart(i + 1) - r0, c0, min(columnBlock, columns - c0))
    }
}
