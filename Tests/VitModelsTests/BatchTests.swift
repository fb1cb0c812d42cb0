import XCTest
import VitEngine
import VitModels

/// A batch computes each image as a batch of one does. In a batch the high-resolution steps run
/// image by image (`PlanBuilder.runsImageByImage`) and the rest on the whole batch, so every
/// family's mix of operators — NCHW stems, reshape views, attention, MobileViT's unfold and fold,
/// token pooling — crosses between the two schedules somewhere.
final class BatchTests: XCTestCase {
    func testEveryFamilyComputesEachImageOfABatchAsAlone() throws {
        for (name, res) in [("fastvit_sa12", 256), ("mobilevit_xxs", 256), ("levit_128s", 224), ("mobileone_s0", 224),
                            ("poolformer_s12", 224), ("deit_tiny_patch16_224", 224)] {
            let model = try ModelZoo.named(name).random(seed: 3)
            model.reparameterize()
            var rng = SplitMix64(seed: 11)
            let images = (0..<2).map { _ in Tensor(randomNormal: [1, 3, res, res], rng: &rng) }
            let batch = try model.plan(batch: 2, height: res, width: res, pool: ThreadPool(threads: 2))
            try batch.setInput(Tensor(shape: [2, 3, res, res], data: images.flatMap(\.data)))
            batch.run()
            let together = batch.output()
            let alone = try model.plan(batch: 1, height: res, width: res, pool: ThreadPool(threads: 2))
            let classes = together.count / 2
            for (i, image) in images.enumerated() {
                try alone.setInput(image)
                alone.run()
                let row = Tensor(shape: [1, classes], data: Array(together.data[(i * classes)..<((i + 1) * classes)]))
                XCTAssertLessThanOrEqual(row.relativeError(to: alone.output()), 1e-5, "\(name), image \(i)")
            }
            if name != "deit_tiny_patch16_224" {
                XCTAssertTrue(batch.steps.contains { $0.images == 2 }, "\(name): its first stage runs image by image")
            }
        }
    }
}
