import Foundation
import XCTest
import VitEngine
@testable import VitModels

/// DeiT against timm: goldens at the checkpoint's grid and at grids the position embedding is
/// resampled to (up and down), every zoo variant's counts, the block, and the errors a user sees.
final class DeiTTests: XCTestCase {
    static let variants = ["deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224"]

    func testSmallMatchesTimm() throws { try checkGolden("deit_tiny_small") }
    /// 320x288: the 14x14 position embedding upsampled to 20x18, as timm's dynamic_img_size does.
    func testUpsampledPositionEmbeddingMatchesTimm() throws { try checkGolden("deit_tiny_pos_up") }
    /// 160x128: downsampled to 10x8, where antialiasing widens the bicubic filter.
    func testDownsampledPositionEmbeddingMatchesTimm() throws { try checkGolden("deit_tiny_pos_down") }

    func testZooMatchesTimmCounts() throws {
        try CountsTests.checkCounts(family: "deit")
        for name in Self.variants { XCTAssertNotNil(CountsTests.references[name], "\(name) missing from reference_counts.json") }
    }

    func testNotesSayWhenThePositionEmbeddingIsResampled() throws {
        let model = try ModelZoo.named("deit_tiny_patch16_224").random()
        XCTAssertEqual(model.notes(height: 224, width: 224), [])
        let notes = model.notes(height: 320, width: 288)
        XCTAssertEqual(notes.count, 1)
        XCTAssertTrue(notes[0].contains("14x14") && notes[0].contains("20x18"), "\(notes)")
    }

    /// Same size: every output pixel's taps are the Keys cubic at integer offsets, 1 at zero and
    /// 0 elsewhere. A constant grid stays constant at any size (the taps are normalised).
    func testResamplingKeepsIdentityAndConstants() {
        var rng = SplitMix64(seed: 7)
        let grid = Tensor(randomNormal: [5 * 4 * 3], rng: &rng).data
        let same = resampleBicubicAntialiased(grid, channels: 3, from: (5, 4), to: (5, 4))
        XCTAssertEqual(zip(same, grid).map { abs($0 - $1) }.max()!, 0, accuracy: 1e-6)
        let constant = [Float](repeating: 0.25, count: 14 * 14 * 2)
        for size in [(20, 18), (10, 8), (3, 17)] {
            let out = resampleBicubicAntialiased(constant, channels: 2, from: (14, 14), to: size)
            XCTAssertEqual(out.count, size.0 * size.1 * 2)
            XCTAssertEqual(out.map { abs($0 - 0.25) }.max()!, 0, accuracy: 1e-6, "\(size)")
        }
    }

    func testInputOffThePatchGridIsAClearError() throws {
        let model = try ModelZoo.named("deit_tiny_patch16_224").random()
        XCTAssertThrowsError(try model.plan(batch: 1, height: 230, width: 224, pool: ThreadPool(threads: 1))) { error in
            XCTAssertTrue(error is ModelInputError, "\(error)")
            XCTAssertTrue("\(error)".contains("230x224") && "\(error)".contains("patch size 16"), "\(error)")
        }
        XCTAssertThrowsError(try model.plan(batch: 1, height: 0, width: 0, pool: ThreadPool(threads: 1)))
    }

    func testConfigOverridesAreChecked() throws {
        let info = try ModelZoo.named("deit_tiny_patch16_224")
        XCTAssertThrowsError(try info.load(.random(), overrides: ["embed_dim": 50])) { error in
            XCTAssertTrue("\(error)".contains("does not split into 3 heads"), "\(error)")
        }
        XCTAssertThrowsError(try info.load(.random(), overrides: ["img_size": 8])) { error in
            XCTAssertTrue("\(error)".contains("img_size"), "\(error)")
        }
    }

    /// The block at its default shape (12·d² + 13·d parameters) and at an odd grid; widths off
    /// the head dim are refused.
    func testBlock() throws {
        let info = try BlockZoo.named("deit.block")
        XCTAssertEqual(info.family, "deit")
        let block = try info.random()
        XCTAssertEqual(block.parameterCount, 12 * 192 * 192 + 13 * 192)
        XCTAssertEqual(block.inputShape(batch: 2, height: 14, width: 14), [2, 196, 192])
        for (dim, h, w) in [(192, 14, 14), (128, 9, 5)] {
            let plan = try info.random(dim: dim, height: h, width: w).plan(batch: 2, height: h, width: w, pool: ThreadPool(threads: 2))
            var rng = SplitMix64(seed: 1)
            try plan.setInput(Tensor(randomNormal: [2, h * w, dim], rng: &rng))
            plan.run()
            let out = plan.output()
            XCTAssertEqual(out.shape, [2, h * w, dim])
            XCTAssertTrue(out.data.allSatisfy(\.isFinite))
        }
        XCTAssertThrowsError(try info.random(dim: 100)) { error in
            XCTAssertTrue("\(error)".contains("head dim 64"), "\(error)")
        }
    }
}
