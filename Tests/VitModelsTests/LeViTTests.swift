import Foundation
import XCTest
import VitEngine
@testable import VitModels

/// LeViT against timm: goldens in both forms (timm's fuse()), one built for a non-square grid,
/// every zoo variant's counts, attention biases on other grids, the blocks, and bad input.
final class LeViTTests: XCTestCase {
    static let variants = ["levit_128s", "levit_128", "levit_192", "levit_256", "levit_384"]

    func testSmallMatchesTimm() throws { try checkGolden("levit_128s_small") }
    /// Built by timm for img_size (192, 160): biases and offset index for 12x10, 6x5 and 3x3.
    func testNonSquareGridMatchesTimm() throws { try checkGolden("levit_128s_grid12x10") }

    func testZooMatchesTimmCounts() throws {
        try CountsTests.checkCounts(family: "levit")
        for name in Self.variants { XCTAssertNotNil(CountsTests.references[name], "\(name) missing from reference_counts.json") }
    }

    /// At the checkpoint's grid (224, and 220, whose stem also ends at 14x14) nothing is said;
    /// elsewhere the note names both grids.
    func testNotesSayWhenBiasesAreRebuilt() throws {
        let model = try ModelZoo.named("levit_128s").random()
        XCTAssertEqual(model.notes(height: 224, width: 224), [])
        XCTAssertEqual(model.notes(height: 220, width: 210), [])
        let notes = model.notes(height: 320, width: 256)
        XCTAssertEqual(notes.count, 1)
        XCTAssertTrue(notes[0].contains("20x16") && notes[0].contains("14x14") && notes[0].contains("random"), "\(notes)")
    }

    /// Another grid runs with random biases of its own size, the same on every build; the
    /// checkpoint's grid gives timm's logits (the golden) and differs from them.
    func testOtherGridsRunWithDeterministicBiases() throws {
        let g = try Golden("levit_128s_small")
        let model = try ModelZoo.named(g.model).load(Weights(file: g.path("weights.safetensors")), overrides: g.config)
        func run(_ h: Int, _ w: Int) throws -> Tensor {
            let plan = try model.plan(batch: 1, height: h, width: w, pool: ThreadPool(threads: 2))
            var rng = SplitMix64(seed: 3)
            try plan.setInput(Tensor(randomNormal: [1, 3, h, w], rng: &rng))
            plan.run()
            return plan.output()
        }
        let first = try run(320, 256), second = try run(320, 256)
        XCTAssertEqual(first.shape, [1, 37])
        XCTAssertTrue(first.data.allSatisfy(\.isFinite))
        XCTAssertEqual(first.data, second.data)
        // Down to one token per stage: every stride pads, as in timm.
        XCTAssertEqual(try run(1, 3).shape, [1, 37])
    }

    func testBadInputAndConfigAreClearErrors() throws {
        let info = try ModelZoo.named("levit_128s")
        let model = try info.random()
        XCTAssertThrowsError(try model.plan(batch: 1, height: 0, width: 224, pool: ThreadPool(threads: 1))) { error in
            XCTAssertTrue(error is ModelInputError && "\(error)".contains("0x224"), "\(error)")
        }
        XCTAssertThrowsError(try info.load(.random(), overrides: ["key_dim": 200])) { error in
            XCTAssertTrue("\(error)".contains("shrink attention"), "\(error)")
        }
        XCTAssertThrowsError(try info.load(.random(), overrides: ["img_size": [224, 224, 3]])) { error in
            XCTAssertTrue("\(error)".contains("img_size"), "\(error)")
        }
        XCTAssertThrowsError(try info.load(.random(), overrides: ["depth": [2, 3]])) { error in
            XCTAssertTrue("\(error)".contains("one entry per stage"), "\(error)")
        }
    }

    /// Train-time parameters and timm's fused count, at the default shape and an odd one.
    func testAttentionBlock() throws {
        let info = try BlockZoo.named("levit.attention")
        let block = try info.random()
        // qkv 128→256 + BN, proj 128→128 + BN, biases 4×196.
        XCTAssertEqual(block.parameterCount, 128 * 256 + 2 * 256 + 128 * 128 + 2 * 128 + 4 * 196)
        block.reparameterize()
        XCTAssertEqual(block.parameterCount, 128 * 256 + 256 + 128 * 128 + 128 + 4 * 196)
        try checkRuns(info, dim: 128, grid: (14, 14), outputTokens: 196, outputDim: 128)
        try checkRuns(info, dim: 96, grid: (9, 7), outputTokens: 63, outputDim: 96)
    }

    func testShrinkAttentionBlock() throws {
        let info = try BlockZoo.named("levit.shrink_attention")
        // kv 128→8·(16+64) + BN, q 128→128 + BN, proj 512→256 + BN, biases 8×196.
        XCTAssertEqual(try info.random().parameterCount, 128 * 640 + 2 * 640 + 128 * 128 + 2 * 128 + 512 * 256 + 2 * 256 + 8 * 196)
        try checkRuns(info, dim: 128, grid: (14, 14), outputTokens: 49, outputDim: 256)
        try checkRuns(info, dim: 48, grid: (13, 9), outputTokens: 35, outputDim: 96)
    }

    private func checkRuns(_ info: BlockInfo, dim: Int, grid: (Int, Int), outputTokens: Int, outputDim: Int,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let block = try info.random(dim: dim, height: grid.0, width: grid.1)
        let plan = try block.plan(batch: 2, height: grid.0, width: grid.1, pool: ThreadPool(threads: 2))
        var rng = SplitMix64(seed: 5)
        try plan.setInput(Tensor(randomNormal: [2, grid.0 * grid.1, dim], rng: &rng))
        plan.run()
        let out = plan.output()
        XCTAssertEqual(out.shape, [2, outputTokens, outputDim], file: file, line: line)
        XCTAssertTrue(out.data.allSatisfy(\.isFinite), file: file, line: line)
    }
}
