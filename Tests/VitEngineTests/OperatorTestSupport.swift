import XCTest
import VitEngine

/// Fresh random data every run; the seed is printed on failure so a failure can be replayed
/// (VITBENCH_TEST_SEED=... swift test).
func makeRNG(file: StaticString = #filePath, line: UInt = #line) -> SplitMix64 {
    let seed = ProcessInfo.processInfo.environment["VITBENCH_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
    return SplitMix64(seed: seed)
}

func randomTensor(_ shape: [Int], _ rng: inout SplitMix64, scale: Float = 1) -> Tensor {
    Tensor(randomNormal: shape, scale: scale, rng: &rng)
}

/// Runs one operator through a plan with the given backend and thread count.
func runOperator(_ op: Operator, _ inputs: [Tensor], backend: Backend, threads: Int) throws -> Tensor {
    let pool = ThreadPool(threads: threads)
    let b = PlanBuilder(backend: backend, pool: pool)
    let values = inputs.map { b.input($0.shape) }
    let out = try b.apply(op, values, name: "op")
    let plan = try b.build(outputs: [out])
    for (i, t) in inputs.enumerated() { try plan.setInput(t, at: i) }
    plan.run()
    return plan.output()
}

/// Runs `body` once with each kernel ISA variant this CPU supports selected (AVX-512, AVX2 and
/// baseline on an AVX-512 x86-64 machine; NEON on ARM64), so that every variant is tested, not
/// only the one the CPU picks by default. The default is selected again afterwards.
func forEachKernelISA(_ body: (KernelISA) throws -> Void) throws {
    let isas = KernelISA.supported
    XCTAssertTrue(isas.contains(KernelISA.best), "the default variant \(KernelISA.best) is among the supported \(isas)")
    for isa in isas { try isa.whileSelected { try body(isa) } }
}

/// The optimised kernels (every kernel ISA variant, both optimised backends, 1 and 3 threads)
/// against the reference twin.
func assertMatchesReference(_ op: Operator, _ inputs: [Tensor], tolerance: Float = 2e-5, seed: UInt64 = 0,
                            file: StaticString = #filePath, line: UInt = #line) throws {
    let expected = try runOperator(op, inputs, backend: .reference, threads: 1)
    try forEachKernelISA { isa in
        for backend in [Backend.openblas, .packed] {
            for threads in [1, 3] {
                let got = try runOperator(op, inputs, backend: backend, threads: threads)
                XCTAssertEqual(got.shape, expected.shape, "\(op.kind) shape", file: file, line: line)
                let err = got.relativeError(to: expected)
                XCTAssertLessThanOrEqual(err, tolerance, "\(op.kind), \(isa), \(backend.name), \(threads) threads, inputs \(inputs.map(\.shape)): relative error \(err)", file: file, line: line)
            }
        }
    }
    // XNNPACK's operators (where it has one for `op`; the engine's kernel otherwise).
    if let xnnpack = xnnpackBackend() {
        for threads in [1, 3] {
            let got = try runOperator(op, inputs, backend: xnnpack, threads: threads)
            XCTAssertEqual(got.shape, expected.shape, "\(op.kind) shape on xnnpack", file: file, line: line)
            let err = got.relativeError(to: expected)
            XCTAssertLessThanOrEqual(err, tolerance, "\(op.kind), xnnpack, \(threads) threads, inputs \(inputs.map(\.shape)): relative error \(err)", file: file, line: line)
        }
    }
}

/// The `xnnpack` backend, or nil where XNNPACK is not installed — a failure in CI, which
/// installs it (scripts/ensure-deps.sh), and a note elsewhere.
func xnnpackBackend() -> Backend? {
    do { return try Backend.xnnpack() } catch {
        if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("\(error)") } else { print("skipped: \(error)") }
        return nil
    }
}
