import CKernels

/// The attention probabilities softmax(Q·Kᵀ·scale) of every head, materialised as
/// [N, heads, Tq, Tk]: what attention sharing (PSViT) hands from one layer to the next, which
/// then only computes its values and applies the map with `ApplyAttentionMap`. Q and K are read
/// by stride (`HeadView`), as `ScaledDotProductAttention` reads them, so a fused qkv projection
/// feeds it with no copies. Where no later layer reuses the map, `ScaledDotProductAttention`
/// computes the same thing flash-style without ever holding the O(T²) map.
public struct AttentionMap: Operator {
    public let heads: Int
    public let keyDim: Int
    public let scale: Float
    public let q: HeadView, k: HeadView

    /// Query rows per task: a 64 × Tk block of scores is softmaxed while it is in cache.
    public static let queryBlock = 64

    public init(heads: Int, keyDim: Int, scale: Float? = nil, q: HeadView, k: HeadView) {
        self.heads = heads
        self.keyDim = keyDim
        self.scale = scale ?? 1 / Float(keyDim).squareRoot()
        self.q = q
        self.k = k
    }

    /// Q and K of one fused qkv input [N, T, 3·heads·d], packed (3, heads, d) like timm.
    public static func fusedQKV(heads: Int, headDim: Int, scale: Float? = nil) -> AttentionMap {
        AttentionMap(heads: heads, keyDim: headDim, scale: scale,
                     q: HeadView(input: 0, offset: 0, headStride: headDim),
                     k: HeadView(input: 0, offset: heads * headDim, headStride: headDim))
    }

    public var kind: String { "attention.map" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        let needed = max(q.input, k.input) + 1
        guard inputs.count == needed, inputs.allSatisfy({ $0.count == 3 }) else {
            throw ShapeError("expects \(needed) input(s) of rank 3 [N, T, features], got \(inputs)")
        }
        let qs = inputs[q.input], ks = inputs[k.input]
        guard qs[0] == ks[0] else { throw ShapeError("queries \(qs) and keys \(ks) disagree on the batch") }
        for (view, name) in [(q, "query"), (k, "key")] {
            guard view.offset + (heads - 1) * view.headStride + keyDim <= inputs[view.input][2] else {
                throw ShapeError("\(name) head layout runs past the \(inputs[view.input][2]) features of input \(view.input)")
            }
        }
        return [qs[0], heads, qs[1], ks[1]]
    }

    public func macs(inputs: [[Int]], output: [Int]) -> Int { product(output) * keyDim }

    public func scratchFloats(inputs: [[Int]], output: [Int], threads: Int) -> Int {
        output[0] * heads * vb_gemm_packed_size(keyDim, output[3])
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let n = c.outputShape[0], tq = c.outputShape[2], tk = c.outputShape[3]
        let heads = heads, dk = keyDim, scale = scale
        let qRow = c.inputShapes[q.input][2], kRow = c.inputShapes[k.input][2]
        let qBase = UnsafePointer(c.inputs[q.input]) + q.offset
        let kBase = UnsafePointer(c.inputs[k.input]) + k.offset
        let qh = q.headStride, kh = k.headStride
        let y = c.output, gemm = c.gemm, pool = c.pool
        let bq = Self.queryBlock, qBlocks = (tq + bq - 1) / bq
        // With the packed backend, Kᵀ of each head is packed once into the micro-kernels' panels
        // (O(T·d) against the O(T²·d) product), the scale folded in; otherwise the product goes
        // through the BLAS, the scale as its alpha.
        let packed = c.packsWeights, kSize = vb_gemm_packed_size(dk, tk), packs = c.scratch
        return {
            if packed {
                pool.parallelFor(n * heads) { t, _ in
                    let img = t / heads, h = t % heads
                    let pk = packs + t * kSize
                    vb_gemm_pack_bt_scaled(kBase + img * tk * kRow + h * kh, kRow, dk, tk, scale, pk)
                }
            }
            pool.parallelFor(n * heads * qBlocks) { t, _ in
                let img = t / (heads * qBlocks), h = (t / qBlocks) % heads, qb = t % qBlocks
                let r0 = qb * bq, rows = min(bq, tq - r0)
                let qp = qBase + (img * tq + r0) * qRow + h * qh
                let scores = y + ((img * heads + h) * tq + r0) * tk
                if packed {
                    vb_gemm_packed(qp, qRow, packs + (img * heads + h) * kSize, dk, tk, scores, tk, rows)
                } else {
                    gemm.sgemm(transA: false, transB: true, m: rows, n: tk, k: dk, alpha: scale, a: qp, lda: qRow,
                               b: kBase + img * tk * kRow + h * kh, ldb: kRow, beta: 0, c: scores, ldc: tk)
                }
                vb_softmax(scores, scores, tk, 0, rows)
            }
        }
    }
}

/// A given attention map applied to values: P [N, heads, Tq, Tk] times V (read by stride from
/// [N, Tk, features]) → [N, Tq, heads·dv], heads outermost in the last axis as
/// `ScaledDotProductAttention` writes it. What an attention-sharing layer computes in place of
/// attention: its own values under the previous layer's map.
public struct ApplyAttentionMap: Operator {
    public let heads: Int
    public let valueDim: Int
    /// Where V lives; `v.input` must be 1 (input 0 is the map).
    public let v: HeadView

    public static let queryBlock = 64

    public init(heads: Int, valueDim: Int, v: HeadView) {
        self.heads = heads
        self.valueDim = valueDim
        self.v = v
    }

    /// V of a fused qkv input [N, T, 3·heads·d] packed (3, heads, d) like timm, as input 1.
    public static func fusedQKV(heads: Int, headDim: Int) -> ApplyAttentionMap {
        ApplyAttentionMap(heads: heads, valueDim: headDim,
                          v: HeadView(input: 1, offset: 2 * heads * headDim, headStride: headDim))
    }

    /// V as a plain [N, T, heads·d] input 1 (a sharing layer's own value projection).
    public static func values(heads: Int, headDim: Int) -> ApplyAttentionMap {
        ApplyAttentionMap(heads: heads, valueDim: headDim, v: HeadView(input: 1, offset: 0, headStride: headDim))
    }

    public var kind: String { "attention.apply" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard v.input == 1 else { throw ShapeError("values must be input 1 (input 0 is the attention map), got input \(v.input)") }
        guard inputs.count == 2, inputs[0].count == 4, inputs[1].count == 3 else {
            throw ShapeError("expects an attention map [N, heads, Tq, Tk] and values [N, Tk, features], got \(inputs)")
        }
        let map = inputs[0], values = inputs[1]
        guard map[1] == heads else { throw ShapeError("attention map \(map) has \(map[1]) heads, expected \(heads)") }
        guard map[0] == values[0], map[3] == values[1] else {
            throw ShapeError("attention map \(map) does not fit values \(values): batch and Tk must agree")
        }
        guard v.offset + (heads - 1) * v.headStride + valueDim <= values[2] else {
            throw ShapeError("value head layout runs past the \(values[2]) features of the values")
        }
        return [map[0], map[2], heads * valueDim]
    }

    public func macs(inputs: [[Int]], output: [Int]) -> Int { product(inputs[0]) * valueDim }

    public func scratchFloats(inputs: [[Int]], output: [Int], threads: Int) -> Int {
        output[0] * heads * vb_gemm_packed_size(inputs[0][3], valueDim)
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let n = c.outputShape[0], tq = c.outputShape[1], tk = c.inputShapes[0][3]
        let heads = heads, dv = valueDim
        let map = UnsafePointer(c.inputs[0])
        let vRow = c.inputShapes[1][2], vBase = UnsafePointer(c.inputs[1]) + v.offset, vh = v.headStride
        let y = c.output, ldo = heads * dv, gemm = c.gemm, pool = c.pool
        let bq = Self.queryBlock, qBlocks = (tq + bq - 1) / bq
        let packed = c.packsWeights, vSize = vb_gemm_packed_size(tk, dv), packs = c.scratch
        return {
            if packed {
                pool.parallelFor(n * heads) { t, _ in
                    let img = t / heads, h = t % heads
                    vb_gemm_pack_b(vBase + img * tk * vRow + h * vh, vRow, tk, dv, packs + t * vSize)
                }
            }
            pool.parallelFor(n * heads * qBlocks) { t, _ in
                let img = t / (heads * qBlocks), h = (t / qBlocks) % heads, qb = t % qBlocks
                let r0 = qb * bq, rows = min(bq, tq - r0)
                let p = map + ((img * heads + h) * tq + r0) * tk
                let out = y + (img * tq + r0) * ldo + h * dv
                if packed {
                    vb_gemm_packed(p, tk, packs + (img * heads + h) * vSize, tk, dv, out, ldo, rows)
                } else {
                    gemm.sgemm(transA: false, transB: false, m: rows, n: dv, k: tk, alpha: 1, a: p, lda: tk,
                               b: vBase + img * tk * vRow + h * vh, ldb: vRow, beta: 0, c: out, ldc: ldo)
                }
            }
        }
    }
}
