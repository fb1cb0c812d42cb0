import CKernels
import Foundation

/// The engine's kernel benchmark: each operator alone at the shapes of FastViT-T8 at 256x256
/// (stage widths 48/96/192/384 at 64x64 … 8x8), plus a large square `sgemm` measured in the same
/// run — the ceiling the 1x1 convolutions are judged against.
public enum KernelBenchmark {
    public struct Case {
        public let name: String
        public let shape: String
        let op: Operator?
        let inputs: [[Int]]
    }

    /// One case measured on each kernel ISA asked for, in that order.
    public struct Result {
        public let name: String
        public let shape: String
        public let timings: [(isa: KernelISA, medianMilliseconds: Double, gflops: Double)]
    }

    /// Cases in FastViT-T8@256 order, then one of MobileViT-S; `sgemm` is appended by `run`.
    public static func fastViTT8Cases() -> [Case] {
        var rng = SplitMix64(seed: 7)
        var cases: [Case] = []
        func add(_ name: String, _ shape: String, _ op: Operator, _ inputs: [[Int]]) {
            cases.append(Case(name: name, shape: shape, op: op, inputs: inputs))
        }
        func w(_ s: [Int]) -> Tensor { Tensor(randomNormal: s, scale: 0.1, rng: &rng) }
        let stem = Conv2d(weight: w([48, 3, 3, 3]), bias: w([48]), stride: 2, padding: 1, activation: .gelu)
        add("conv 3x3/2 (stem)", "1x256x256x3 -> 48", stem, [[1, 256, 256, 3]])
        // As models run it: reading the NCHW image, without a transpose before it.
        if let fromImage = NCHWInputConv2d(stem) {
            add("conv 3x3/2 (stem, NCHW input)", "1x3x256x256 -> 48", fromImage, [[1, 3, 256, 256]])
        }
        let stages = [(48, 64), (96, 32), (192, 16), (384, 8)]
        for (i, (c, r)) in stages.enumerated() {
            let x = [1, r, r, c]
            let dims = "1x\(r)x\(r)x\(c)"
            add("conv 1x1 C->3C", "\(dims) -> \(3 * c)", Conv2d(weight: w([3 * c, c, 1, 1]), bias: w([3 * c])), [x])
            add("conv 1x1 C->3C + GELU", "\(dims) -> \(3 * c)", Conv2d(weight: w([3 * c, c, 1, 1]), bias: w([3 * c]), activation: .gelu), [x])
            add("conv 1x1 3C->C", "1x\(r)x\(r)x\(3 * c) -> \(c)", Conv2d(weight: w([c, 3 * c, 1, 1]), bias: w([c])), [[1, r, r, 3 * c]])
            add("depthwise 3x3", dims, Conv2d(weight: w([c, 1, 3, 3]), bias: w([c]), padding: 1, groups: c), [x])
            add("depthwise 7x7", dims, Conv2d(weight: w([c, 1, 7, 7]), bias: w([c]), padding: 3, groups: c), [x])
            if i + 1 < stages.count {
                add("conv 3x3/2 C->2C", "\(dims) -> \(2 * c)", Conv2d(weight: w([2 * c, c, 3, 3]), bias: w([2 * c]), stride: 2, padding: 1), [x])
            }
        }
        add("attention", "64 tokens x 384 (12 heads)", ScaledDotProductAttention.fusedQKV(heads: 12, headDim: 32), [[1, 64, 3 * 384]])
        // Not in FastViT: MobileViT-S's first fusion conv, a dense 3x3 at stride 1 that runs as
        // Winograd F(2x2, 3x3) on the packed backend. GFLOP/s counts a direct conv's MACs, as
        // every row does, so it can exceed the sgemm's.
        add("conv 3x3 2C->C (Winograd)", "1x32x32x192 -> 96",
            Conv2d(weight: w([96, 192, 3, 3]), bias: w([96]), padding: 1, activation: .silu), [[1, 32, 32, 192]])
        return cases
    }

    /// Median wall time of `body` over at least `minRuns` runs and `minSeconds`.
    public static func medianSeconds(minRuns: Int = 20, minSeconds: Double = 0.25, _ body: () -> Void) -> Double {
        for _ in 0..<3 { body() }
        var times: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while times.count < minRuns || Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 < minSeconds {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// Rounds per cell: each ISA's time is the fastest of this many medians.
    public static let rounds = 3

    /// Measures every case on each of `isas` (each selected in turn, the previous selection
    /// restored at the end), then the large sgemm of `backend`'s BLAS, which does not depend on
    /// the engine's ISA, and the engine's packed-weight GEMM at the same size on each ISA.
    /// A cell is the fastest of `rounds` medians, the ISAs alternating from round to round (in
    /// reverse order every other round): a shared core's speed drifts by tens of percent within
    /// seconds, so ISAs timed one after the other compared different moments (a row of the
    /// baseline GEMM moved between 21 and 28 GFLOP/s over four runs in a minute), and noise only
    /// ever adds time.
    public static func run(threads: Int, backend: Backend = .default, isas: [KernelISA] = [KernelISA.selected],
                           sgemmSize: Int = 1024, report: (Result) -> Void) throws {
        let pool = ThreadPool(threads: threads)
        var rng = SplitMix64(seed: 11)
        func timed(_ flops: Double, _ body: () -> Void) throws -> [(isa: KernelISA, medianMilliseconds: Double, gflops: Double)] {
            var best = [Double](repeating: .infinity, count: isas.count)
            for round in 0..<rounds {
                for i in round % 2 == 0 ? Array(isas.indices) : isas.indices.reversed() {
                    let secs = try isas[i].whileSelected { medianSeconds(minRuns: 7, minSeconds: 0.1, body) }
                    best[i] = min(best[i], secs)
                }
            }
            return isas.indices.map { (isas[$0], best[$0] * 1e3, flops / best[$0] * 1e-9) }
        }
        for c in fastViTT8Cases() {
            guard let op = c.op else { continue }
            let b = PlanBuilder(backend: backend, pool: pool)
            let values = c.inputs.map { b.input($0) }
            let out = try b.apply(op, values)
            let plan = try b.build(outputs: [out])
            for (i, s) in c.inputs.enumerated() { try plan.setInput(Tensor(randomNormal: s, rng: &rng), at: i) }
            report(Result(name: c.name, shape: c.shape, timings: try timed(2 * Double(plan.totalMACs)) { plan.run() }))
        }
        // The large square products, split over the pool's workers by rows like the engine's GEMMs.
        let n = sgemmSize, flops = 2 * Double(n) * Double(n) * Double(n)
        let a = PackedWeights(Tensor(randomNormal: [n, n], rng: &rng)), bm = PackedWeights(Tensor(randomNormal: [n, n], rng: &rng))
        let cm = PackedWeights([Float](repeating: 0, count: n * n))
        let gemm = backend.gemm
        let rowsPer = (n + threads - 1) / threads
        func byRows(_ body: @escaping (Int, Int) -> Void) -> () -> Void {
            { pool.parallelFor(threads) { t, _ in
                let r0 = t * rowsPer, m = min(rowsPer, n - r0)
                if m > 0 { body(r0, m) }
            } }
        }
        let blas = byRows { r0, m in
            gemm.sgemm(transA: false, transB: false, m: m, n: n, k: n, alpha: 1, a: a.pointer + r0 * n, lda: n,
                       b: bm.pointer, ldb: n, beta: 0, c: cm.pointer + r0 * n, ldc: n)
        }
        let blasSeconds = (0..<rounds).map { _ in medianSeconds(minRuns: 3, blas) }.min()!
        report(Result(name: "sgemm (\(gemm.name))", shape: "\(n)x\(n)x\(n)",
                      timings: isas.map { ($0, blasSeconds * 1e3, flops / blasSeconds * 1e-9) }))
        let packedB = PackedMatrix(bm.pointer, k: n, n: n)
        let packed = byRows { r0, m in
            vb_gemm_packed(a.pointer + r0 * n, n, packedB.pointer, n, n, cm.pointer + r0 * n, n, m)
        }
        report(Result(name: "gemm (packed weights)", shape: "\(n)x\(n)x\(n)", timings: try timed(flops, packed)))
    }
}
