import XCTest
@testable import VitEngine

/// The attention-sharing operators (PSViT): the materialised attention map and its application
/// to values, each against its reference twin, and the two together against
/// `ScaledDotProductAttention`.
final class AttentionMapTests: XCTestCase {
    /// (batch, tokens, heads, head dim): one partial query block, a block boundary (65 = 64 + 1),
    /// several blocks with a tail, odd head dims off the 16-column panels.
    let cases: [(Int, Int, Int, Int)] = [(2, 7, 3, 8), (2, 65, 2, 13), (2, 197, 3, 32), (1, 50, 12, 5)]

    /// Both optimised backends with 1 and 2 workers against the reference backend.
    func assertOptimizedMatchReference(_ op: Operator, _ inputs: [Tensor], tolerance: Float = 1e-5,
                                       file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try runOperator(op, inputs, backend: .reference, threads: 1)
        for backend in [Backend.openblas, .packed] {
            for threads in [1, 2] {
                let got = try runOperator(op, inputs, backend: backend, threads: threads)
                XCTAssertEqual(got.shape, expected.shape, file: file, line: line)
                let err = got.relativeError(to: expected)
                XCTAssertLessThanOrEqual(err, tolerance, "\(op.kind), \(backend.name), \(threads) threads, inputs \(inputs.map(\.shape)): \(err)",
                                         file: file, line: line)
            }
        }
    }

    func testAttentionMapMatchesReference() throws {
        var rng = makeRNG()
        for (n, t, heads, d) in cases {
            let qkv = randomTensor([n, t, 3 * heads * d], &rng)
            try assertOptimizedMatchReference(AttentionMap.fusedQKV(heads: heads, headDim: d), [qkv])
        }
    }

    func testApplyAttentionMapMatchesReference() throws {
        var rng = makeRNG()
        for (n, t, heads, d) in cases {
            let map = try runOperator(AttentionMap.fusedQKV(heads: heads, headDim: d), [randomTensor([n, t, 3 * heads * d], &rng)],
                                      backend: .reference, threads: 1)
            try assertOptimizedMatchReference(ApplyAttentionMap.values(heads: heads, headDim: d), [map, randomTensor([n, t, heads * d], &rng)])
            try assertOptimizedMatchReference(ApplyAttentionMap.fusedQKV(heads: heads, headDim: d), [map, randomTensor([n, t, 3 * heads * d], &rng)])
        }
    }

    /// Every row of the map is a probability distribution.
    func testMapRowsAreDistributions() throws {
        var rng = makeRNG()
        let (n, t, heads, d) = (2, 70, 3, 16)
        let qkv = randomTensor([n, t, 3 * heads * d], &rng, scale: 3)
        for backend in [Backend.packed, .openblas, .reference] {
            let map = try runOperator(AttentionMap.fusedQKV(heads: heads, headDim: d), [qkv], backend: backend, threads: 2)
            XCTAssertEqual(map.shape, [n, heads, t, t])
            for row in 0..<(n * heads * t) {
                let p = map.data[(row * t)..<((row + 1) * t)]
                XCTAssertTrue(p.allSatisfy { $0 >= 0 }, backend.name)
                XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-5, backend.name)
            }
        }
    }

    /// Computing the map and applying it is attention: the same result as the fused op, in every
    /// backend, with 1 and 2 workers.
    func testMapThenApplyEqualsScaledDotProductAttention() throws {
        var rng = makeRNG()
        for (n, t, heads, d) in cases {
            let qkv = randomTensor([n, t, 3 * heads * d], &rng)
            for backend in [Backend.reference, .openblas, .packed] {
                for threads in [1, 2] {
                    let b = PlanBuilder(backend: backend, pool: ThreadPool(threads: threads))
                    let x = b.input(qkv.shape)
                    let map = try b.apply(AttentionMap.fusedQKV(heads: heads, headDim: d), [x])
                    let shared = try b.apply(ApplyAttentionMap.fusedQKV(heads: heads, headDim: d), [map, x])
                    let fused = try b.apply(ScaledDotProductAttention.fusedQKV(heads: heads, headDim: d), [x])
                    let plan = try b.build(outputs: [shared, fused])
                    try plan.setInput(qkv)
                    plan.run()
                    let err = plan.output(0).relativeError(to: plan.output(1))
                    XCTAssertLessThanOrEqual(err, 1e-5, "\(backend.name), \(threads) threads, \(qkv.shape): \(err)")
                }
            }
        }
    }

    /// Queries from another tensor with fewer tokens than the keys (Tq ≠ Tk), a custom scale and
    /// a per-head packing: still attention.
    func testSeparateQueriesAndCustomPacking() throws {
        var rng = makeRNG()
        let heads = 2, dk = 8, dv = 12, tk = 40, tq = 9
        let kv = randomTensor([2, tk, heads * (dk + dv)], &rng), q = randomTensor([2, tq, heads * dk], &rng)
        let qView = HeadView(input: 1, offset: 0, headStride: dk)
        let kView = HeadView(input: 0, offset: 0, headStride: dk + dv)
        let mapOp = AttentionMap(heads: heads, keyDim: dk, scale: 0.3, q: qView, k: kView)
        try assertOptimizedMatchReference(mapOp, [kv, q])
        let map = try runOperator(mapOp, [kv, q], backend: .packed, threads: 2)
        XCTAssertEqual(map.shape, [2, heads, tq, tk])
        let apply = ApplyAttentionMap(heads: heads, valueDim: dv, v: HeadView(input: 1, offset: dk, headStride: dk + dv))
        let shared = try runOperator(apply, [map, kv], backend: .packed, threads: 2)
        let sdpa = ScaledDotProductAttention(heads: heads, keyDim: dk, valueDim: dv, scale: 0.3, q: qView, k: kView,
                                             v: HeadView(input: 0, offset: dk, headStride: dk + dv))
        let direct = try runOperator(sdpa, [kv, q], backend: .reference, threads: 1)
        XCTAssertLessThanOrEqual(shared.relativeError(to: direct), 1e-5)
    }

    func testMismatchedShapesAreClearErrors() throws {
        let b = PlanBuilder(pool: ThreadPool(threads: 1))
        try b.scope("stages.0.blocks.1.attn") {
            let map = b.input([1, 3, 10, 10])
            XCTAssertThrowsError(try b.apply(ApplyAttentionMap.values(heads: 3, headDim: 4), [map, b.input([1, 9, 12])])) { error in
                XCTAssertTrue("\(error)".contains("stages.0.blocks.1.attn"), "\(error)")
                XCTAssertTrue("\(error)".contains("Tk must agree"), "\(error)")
            }
            XCTAssertThrowsError(try b.apply(ApplyAttentionMap.values(heads: 2, headDim: 4), [map, b.input([1, 10, 8])])) { error in
                XCTAssertTrue("\(error)".contains("has 3 heads, expected 2"), "\(error)")
            }
            XCTAssertThrowsError(try b.apply(ApplyAttentionMap.values(heads: 3, headDim: 5), [map, b.input([1, 10, 12])])) { error in
                XCTAssertTrue("\(error)".contains("runs past the 12 features"), "\(error)")
            }
            XCTAssertThrowsError(try b.apply(AttentionMap.fusedQKV(heads: 2, headDim: 8), [b.input([1, 10, 30])])) { error in
                XCTAssertTrue("\(error)".contains("key head layout runs past the 30 features"), "\(error)")
            }
        }
    }
}
