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
    /// restored at the end), then the large sgemm of `backend`'s BLAS, and the engine's
    /// packed-weight GEMM at the same size on each ISA.
    /// A cell is the fastest of `rounds` medians, the ISAs alternating from round to round (in
    /// reverse order every other round): a shared core's speed drifts by tens of percent within
    /// seconds, so ISAs timed one after the other compared different moments (a row of the
    /// baseline GEMM moved between 21 and 28 GFLOP/s over four runs in a minute), and noise only
    /// ever adds time.
    /// The sgemm does not depend on the engine's ISA; `blasSeconds` gives one median of it for an
    /// ISA's column, given the median measured here (`vitbench kernels` passes one measured with
    /// OpenBLAS's kernels of that ISA's level, in a process of its own: see
    /// `KernelISA.openBLASCore`), and may answer `nan` for a column it cannot fill.
    public static func run(threads: Int, backend: Backend = .default, isas: [KernelISA] = [KernelISA.selected],
                           sgemmSize: Int = 1024,
                           blasSeconds: (KernelISA, () -> Double) throws -> Double = { $1() },
                           report: (Result) -> Void) throws {
        let pool = ThreadPool(threads: threads)
        var rng = SplitMix64(seed: 11)
        func alternating(_ median: (KernelISA) throws -> Double) rethrows -> [Double] {
            var best = [Double](repeating: .infinity, count: isas.count)
            for round in 0..<rounds {
                for i in round % 2 == 0 ? Array(isas.indices) : isas.indices.reversed() {
                    let secs = try median(isas[i])
                    best[i] = secs.isNaN ? .nan : min(best[i], secs)
                }
            }
            return best
        }
        func timings(_ flops: Double, _ seconds: [Double]) -> [(isa: KernelISA, medianMilliseconds: Double, gflops: Double)] {
            isas.indices.map { (isas[$0], seconds[$0] * 1e3, flops / seconds[$0] * 1e-9) }
        }
        func timed(_ flops: Double, _ body: () -> Void) throws -> [(isa: KernelISA, medianMilliseconds: Double, gflops: Double)] {
            timings(flops, try alternating { isa in try isa.whileSelected { medianSeconds(minRuns: 7, minSeconds: 0.1, body) } })
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
        let n = sgemmSize, flops = 2 * Double(n) * Double(n) * Double(n)
        let square = SquareProducts(n: n, pool: pool, gemm: backend.gemm, rng: &rng)
        let blas = try alternating { isa in try blasSeconds(isa) { medianSeconds(minRuns: 3, square.blas) } }
        report(Result(name: "sgemm (\(backend.gemm.name))", shape: "\(n)x\(n)x\(n)", timings: timings(flops, blas)))
        report(Result(name: "gemm (packed weights)", shape: "\(n)x\(n)x\(n)", timings: try timed(flops, square.packed)))
    }

    /// One median of the sgemm row alone (`vitbench kernels` runs it in a process whose OpenBLAS
    /// was loaded with another core's kernels).
    public static func sgemmMedianSeconds(threads: Int, backend: Backend = .default, size n: Int) -> Double {
        var rng = SplitMix64(seed: 11)
        let square = SquareProducts(n: n, pool: ThreadPool(threads: threads), gemm: backend.gemm, rng: &rng)
        return medianSeconds(minRuns: 3, square.blas)
    }

    /// The large square products, split over the pool's workers by rows like the engine's GEMMs:
    /// the BLAS's sgemm and the engine's packed-weight GEMM on the same matrices (which the
    /// closures hold).
    private struct SquareProducts {
        let blas: () -> Void, packed: () -> Void

        init(n: Int, pool: ThreadPool, gemm: GEMMBackend, rng: inout SplitMix64) {
            let a = PackedWeights(Tensor(randomNormal: [n, n], rng: &rng)), b = PackedWeights(Tensor(randomNormal: [n, n], rng: &rng))
            let c = PackedWeights([Float](repeating: 0, count: n * n)), packedB = PackedMatrix(b.pointer, k: n, n: n)
            let threads = pool.threadCount, rowsPer = (n + threads - 1) / threads
            func byRows(_ body: @escaping (Int, Int) -> Void) -> () -> Void {
                { pool.parallelFor(threads) { t, _ in
                    let r0 = t * rowsPer, m = min(rowsPer, n - r0)
                    if m > 0 { body(r0, m) }
                } }
            }
            blas = byRows { r0, m in
                gemm.sgemm(transA: false, transB: false, m: m, n: n, k: n, alpha: 1, a: a.pointer + r0 * n, lda: n,
                           b: b.pointer, ldb: n, beta: 0, c: c.pointer + r0 * n, ldc: n)
            }
            packed = byRows { r0, m in
                vb_gemm_packed(a.pointer + r0 * n, n, packedB.pointer, n, n, c.pointer + r0 * n, n, m)
            }
        }
    }
}
