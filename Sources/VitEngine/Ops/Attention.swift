import CKernels

/// Where Q, K or V lives inside an input tensor [N, T, row]: element (n, t, h, d) is at
/// `offset + t·rowStride + h·headStride + d` of image n's block. One fused qkv projection then
/// feeds attention with no copies — timm's [3, heads, d] packing and LeViT's per-head
/// [q, k, v] packing are both just strides.
public struct HeadView: Sendable {
    public let input: Int
    public let offset: Int
    public let headStride: Int
    public init(input: Int, offset: Int, headStride: Int) {
        self.input = input
        self.offset = offset
        self.headStride = headStride
    }
}

/// Scaled dot-product attention, softmax(Q·Kᵀ·scale + bias)·V, computed flash-style: key blocks
/// are streamed with an online softmax, so memory is O(block²) per worker, not O(T²) — 1024×1024
/// images (65 536 tokens at stride 4) run. Output [N, Tq, heads·dv] with heads outermost in the
/// last axis, as timm's `transpose(1, 2).reshape(B, N, C)` produces.
public struct ScaledDotProductAttention: Operator {
    public let heads: Int
    public let keyDim: Int
    public let valueDim: Int
    public let scale: Float
    public let q: HeadView, k: HeadView, v: HeadView
    /// Additive bias [heads, Tq, Tk] (LeViT's attention biases, gathered once at plan time).
    public let bias: PackedWeights?
    public let biasShape: [Int]?

    /// At most this many query rows per block: six 12-row units (see `bindOptimized`).
    public static let queryBlock = 72
    /// 72×1024 scores (288 KiB) stay in L2 and make the online softmax's rescaling rare: against
    /// 256, MobileViT-XXS's 1024-token attention at 512 ran 12% faster, the mixer skeleton's
    /// 3136-token attention 10%; 2048 gained 2–3% more for twice the scratch.
    public static let keyBlock = 1024

    public init(heads: Int, keyDim: Int, valueDim: Int? = nil, scale: Float? = nil,
                q: HeadView, k: HeadView, v: HeadView, bias: Tensor? = nil) {
        self.heads = heads
        self.keyDim = keyDim
        self.valueDim = valueDim ?? keyDim
        self.scale = scale ?? 1 / Float(keyDim).squareRoot()
        self.q = q
        self.k = k
        self.v = v
        self.bias = bias.map { PackedWeights($0) }
        biasShape = bias?.shape
    }

    /// The common case: one fused qkv input [N, T, 3·heads·d], packed (3, heads, d) like timm.
    public static func fusedQKV(heads: Int, headDim: Int, scale: Float? = nil, bias: Tensor? = nil)
        -> ScaledDotProductAttention
    {
        let c = heads * headDim
        return ScaledDotProductAttention(
            heads: heads, keyDim: headDim, scale: scale,
            q: HeadView(input: 0, offset: 0, headStride: headDim),
            k: HeadView(input: 0, offset: c, headStride: headDim),
            v: HeadView(input: 0, offset: 2 * c, headStride: headDim), bias: bias)
    }

    public var kind: String { "attention" }
    public var parameterCount: Int { bias?.count ?? 0 }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        let used = [q.input, k.input, v.input]
        guard let maxInput = used.max(), inputs.count == maxInput + 1, inputs.allSatisfy({ $0.count == 3 }) else {
            throw ShapeError("expects \((used.max() ?? 0) + 1) inputs of rank 3 [N, T, features], got \(inputs)")
        }
        let n = inputs[q.input][0], tq = inputs[q.input][1], tk = inputs[k.input][1]
        guard inputs[k.input][0] == n, inputs[v.input][0] == n, inputs[v.input][1] == tk else {
            throw ShapeError("queries \(inputs[q.input]), keys \(inputs[k.input]) and values \(inputs[v.input]) disagree")
        }
        for (view, d) in [(q, keyDim), (k, keyDim), (v, valueDim)] {
            guard view.offset + (heads - 1) * view.headStride + d <= inputs[view.input][2] else {
                throw ShapeError("head layout runs past the \(inputs[view.input][2]) features of input \(view.input)")
            }
        }
        if let bs = biasShape, bs != [heads, tq, tk] {
            throw ShapeError("attention bias \(bs) does not match [heads, Tq, Tk] = \([heads, tq, tk])")
        }
        return [n, tq, heads * valueDim]
    }

    public func macs(inputs: [[Int]], output: [Int]) -> Int {
        let n = output[0], tq = output[1], tk = inputs[k.input][1]
        return n * heads * tq * tk * (keyDim + valueDim)
    }

    public func scratchFloats(inputs: [[Int]], output: [Int], threads: Int) -> Int {
        let tk = inputs[k.input][1]
        let packed = output[0] * heads * (vb_gemm_packed_size(keyDim, tk) + vb_gemm_packed_size(tk, valueDim))
        return threads * (Self.queryBlock * Self.keyBlock + 2 * Self.queryBlock) + packed
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let n = c.outputShape[0], tq = c.outputShape[1], tk = c.inputShapes[k.input][1]
        let heads = heads, dk = keyDim, dv = valueDim, scale = scale
        let qRow = c.inputShapes[q.input][2], kRow = c.inputShapes[k.input][2], vRow = c.inputShapes[v.input][2]
        let qBase = UnsafePointer(c.inputs[q.input]) + q.offset
        let kBase = UnsafePointer(c.inputs[k.input]) + k.offset
        let vBase = UnsafePointer(c.inputs[v.input]) + v.offset
        let qh = q.headStride, kh = k.headStride, vh = v.headStride
        let y = c.output, ldo = heads * dv, gemm = c.gemm, pool = c.pool, scratch = c.scratch
        let bq = Self.queryBlock, bk = Self.keyBlock
        // Query blocks share the rows evenly in whole 12-row units (whole 6-row micro-kernel
        // tiles), at most bq rows each: 196 tokens run as 60+72+64 where 64-row blocks left a
        // 4-row block that ran every key and value product for four rows; 256 as 60+60+72+64.
        let unitsPerBlock = bq / GEMMTiles.rowUnit
        let qBlocks = (GEMMTiles.units(tq) + unitsPerBlock - 1) / unitsPerBlock
        // With one key block (up to 1024 keys: every model at its published resolution) the
        // values' product writes the output directly instead of adding to a zeroed one.
        let oneKeyBlock = tk <= bk
        let biasPtr = bias.map { UnsafePointer($0.pointer) }, keep = bias
        // With the packed backend, K and V of each head are packed once per pass into the
        // micro-kernels' panels (O(T·d) work against O(T²·d) products) and every block product
        // runs on registers; otherwise both products go through the BLAS. Either way the scale
        // rides along for free — folded into packed K, or as the BLAS's alpha — and a bias is
        // added in the softmax's first pass, so the scores are read by the softmax alone.
        let packed = c.packsWeights
        let kSize = vb_gemm_packed_size(dk, tk), vSize = vb_gemm_packed_size(tk, dv)
        let packs = scratch + pool.threadCount * (bq * bk + 2 * bq)
        return {
            withExtendedLifetime(keep) {
                if packed {
                    pool.parallelFor(n * heads) { t, _ in
                        let img = t / heads, h = t % heads
                        let pk = packs + t * (kSize + vSize)
                        vb_gemm_pack_bt_scaled(kBase + img * tk * kRow + h * kh, kRow, dk, tk, scale, pk)
                        vb_gemm_pack_b(vBase + img * tk * vRow + h * vh, vRow, tk, dv, pk + kSize)
                    }
                }
                pool.parallelFor(n * heads * qBlocks) { t, worker in
                    let img = t / (heads * qBlocks), h = (t / qBlocks) % heads, qb = t % qBlocks
                    let r0 = GEMMTiles.rowStart(qb, of: qBlocks, rows: tq)
                    let rows = GEMMTiles.rowStart(qb + 1, of: qBlocks, rows: tq) - r0
                    let s = scratch + worker * (bq * bk + 2 * bq)
                    let m = s + bq * bk, l = m + bq
                    let qp = qBase + img * tq * qRow + r0 * qRow + h * qh
                    let out = y + (img * tq + r0) * ldo + h * dv
                    let pk = UnsafePointer(packs + (img * heads + h) * (kSize + vSize)), pv = pk + kSize
                    for r in 0..<rows {
                        m[r] = -Float.infinity
                        l[r] = 0
                        if !oneKeyBlock { (out + r * ldo).update(repeating: 0, count: dv) }
                    }
                    var c0 = 0
                    while c0 < tk {
                        let cols = min(bk, tk - c0)
                        if packed {
                            vb_gemm_packed_strided(qp, qRow, pk + c0 * dk, dk * 16, dk, cols, s, cols, rows, 0)
                        } else {
                            gemm.sgemm(transA: false, transB: true, m: rows, n: cols, k: dk, alpha: scale, a: qp, lda: qRow,
                                       b: kBase + img * tk * kRow + c0 * kRow + h * kh, ldb: kRow, beta: 0, c: s, ldc: cols)
                        }
                        vb_attention_online_softmax(s, rows, cols, biasPtr.map { $0 + (h * tq + r0) * tk + c0 }, tk,
                                                    m, l, out, dv, ldo)
                        if packed {
                            vb_gemm_packed_strided(s, cols, pv + c0 * 16, tk * 16, cols, dv, out, ldo, rows, oneKeyBlock ? 0 : 1)
                        } else {
                            gemm.sgemm(transA: false, transB: false, m: rows, n: dv, k: cols, alpha: 1, a: s, lda: cols,
                                       b: vBase + img * tk * vRow + c0 * vRow + h * vh, ldb: vRow, beta: oneKeyBlock ? 0 : 1,
                                       c: out, ldc: ldo)
                        }
                        c0 += cols
                    }
                    vb_attention_finish(out, rows, dv, ldo, l)
                }
            }
        }
    }
}
