import XCTest
@testable import VitEngine

/// Steps of a batch whose per-image tensors are large run image by image
/// (`PlanBuilder.runsImageByImage`): the plan computes exactly what it computes for each image
/// alone, whichever steps take that path, and the schedule interleaves images only within runs of
/// such steps.
final class ImageByImageTests: XCTestCase {
    /// A 64x64x32 map (131 072 floats per image: over the threshold) through a depthwise conv, a
    /// strided conv down to 8x8 (its input is large), a 1x1 conv on the small map (whole batch), a
    /// resize back up and an MLP with a residual (large again), then a pool and a head (small).
    private func build(batch: Int, backend: Backend, threads: Int, rng: inout SplitMix64)
        throws -> (PlanBuilder, Value) {
        var local = rng
        let c = 32
        let b = PlanBuilder(backend: backend, pool: ThreadPool(threads: threads))
        let x = b.input([batch, 64, 64, c])
        let dw = try b.apply(Conv2d(weight: randomTensor([c, 1, 3, 3], &local, scale: 0.3), bias: randomTensor([c], &local),
                                    padding: 1, groups: c, activation: .relu), [x])
        let down = try b.apply(Conv2d(weight: randomTensor([c, c, 8, 8], &local, scale: 0.05), bias: nil, stride: 8), [dw])
        let mixed = try b.apply(Conv2d(weight: randomTensor([c, c, 1, 1], &local, scale: 0.2), bias: nil, activation: .gelu), [down])
        let up = try b.apply(BilinearResize(height: 64, width: 64), [mixed])
        let mlp = PointwiseMlp(fc1: Conv2d(weight: randomTensor([2 * c, c, 1, 1], &local, scale: 0.2), bias: randomTensor([2 * c], &local),
                                           activation: .gelu),
                               fc2: Conv2d(weight: randomTensor([c, 2 * c, 1, 1], &local, scale: 0.2), bias: nil, addsResidual: true))
        let out = try b.apply(mlp, [up, dw])
        let pooled = try b.apply(GlobalAvgPool(), [out])
        let head = try b.apply(Linear(weight: randomTensor([10, c], &local), bias: randomTensor([10], &local)), [pooled])
        rng = local
        return (b, head)
    }

    func testBatchEqualsEachImageAloneOnEveryBackend() throws {
        var rng = makeRNG()
        let batch = 3
        let images = (0..<batch).map { _ in randomTensor([1, 64, 64, 32], &rng) }
        let weightsSeed = rng
        var backends: [Backend] = [.packed, .openblas, .reference]
        if let xnnpack = xnnpackBackend() { backends.append(xnnpack) }
        for backend in backends {
            for threads in [1, 2] {
                var seed = weightsSeed
                let (b, head) = try build(batch: batch, backend: backend, threads: threads, rng: &seed)
                let plan = try b.build(outputs: [head])
                try plan.setInput(Tensor(shape: [batch, 64, 64, 32], data: images.flatMap(\.data)))
                plan.run()
                let together = plan.output()
                for (i, image) in images.enumerated() {
                    var seed1 = weightsSeed
                    let (b1, head1) = try build(batch: 1, backend: backend, threads: threads, rng: &seed1)
                    let alone = try b1.build(outputs: [head1])
                    XCTAssertTrue(alone.steps.allSatisfy { $0.images == 1 }, "a batch of one runs whole")
                    try alone.setInput(image)
                    alone.run()
                    let row = Tensor(shape: [1, 10], data: Array(together.data[(i * 10)..<(i * 10 + 10)]))
                    XCTAssertLessThanOrEqual(row.relativeError(to: alone.output()), 1e-6, "\(backend.name), \(threads) threads, image \(i)")
                }
                let expected = backend.delegatesToXNNPACK ? [1, 1, 1, 1, 1, 1, 1] : [3, 3, 1, 3, 3, 3, 1]
                XCTAssertEqual(plan.steps.map(\.images), expected, backend.name)
            }
        }
    }

    /// A tensor that only a run of image-by-image steps writes and reads holds one image, which
    /// each image reuses; those the run reads or writes from outside hold the whole batch. Three
    /// depthwise convs and a pool on 64x64x32 maps: the input and the pooled output are the
    /// batch's, the two maps between the convs and the third conv's output one image's each.
    func testTensorsInsideARunHoldOneImage() throws {
        var rng = makeRNG()
        let c = 32, map = 64 * 64 * c
        func arenaFloats(batch: Int) throws -> Double {
            let b = PlanBuilder(backend: .packed, pool: ThreadPool(threads: 1))
            var y = b.input([batch, 64, 64, c])
            for _ in 0..<3 {
                y = try b.apply(Conv2d(weight: randomTensor([c, 1, 3, 3], &rng), bias: nil, padding: 1, groups: c), [y])
            }
            let pooled = try b.apply(GlobalAvgPool(), [y])
            XCTAssertEqual(try b.build(outputs: [pooled]).steps.map(\.images), [batch, batch, batch, batch])
            return try b.memoryEstimate(outputs: [pooled]).arenaBytes / 4
        }
        // The input and the pooled output grow with the batch; the maps inside the run do not
        // (batch-sized, three more images would add 3 · 2 · map floats at least).
        let grown = try arenaFloats(batch: 4) - arenaFloats(batch: 1)
        XCTAssertEqual(grown, Double(3 * map + 3 * c), accuracy: 64, "the run's inner maps hold one image each")
    }

    /// Large weights keep the whole batch, and the memory estimate counts one packed copy of the
    /// weights however many images a step runs: every binding of an operator shares it.
    func testLargeWeightsKeepTheWholeBatch() throws {
        var rng = makeRNG()
        for (cout, images) in [(2048, 2), (2080, 1)] {  // 65 536 and 66 560 weights
            let b = PlanBuilder(backend: .packed, pool: ThreadPool(threads: 1))
            let conv = Conv2d(weight: randomTensor([cout, 32, 1, 1], &rng), bias: nil)
            let y = try b.apply(conv, [b.input([2, 64, 64, 32])])
            let single = PlanBuilder(backend: .packed, pool: ThreadPool(threads: 1))
            let y1 = try single.apply(conv, [single.input([1, 64, 64, 32])])
            let extra = try b.memoryEstimate(outputs: [y]).constantBytes - single.memoryEstimate(outputs: [y1]).constantBytes
            XCTAssertEqual(extra, 0, "\(cout) output channels")
            XCTAssertEqual(try b.build(outputs: [y]).steps.map(\.images), [images], "\(cout) output channels")
        }
    }

    /// A timed pass reports every run of every step, images interleaved within a run of steps.
    func testTimedPassReportsEveryImageInOrder() throws {
        var rng = makeRNG()
        let (b, head) = try build(batch: 2, backend: .packed, threads: 2, rng: &rng)
        let plan = try b.build(outputs: [head])
        var runs = [Int](repeating: 0, count: plan.steps.count), order: [Int] = []
        plan.run { i, _ in
            runs[i] += 1
            order.append(i)
        }
        XCTAssertEqual(runs, plan.steps.map(\.images))
        // Image 0 goes through the first run of steps (0, 1) before image 1 does.
        XCTAssertEqual(Array(order.prefix(5)), [0, 1, 0, 1, 2])
    }
}
