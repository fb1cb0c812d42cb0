import Foundation
import XCTest
import VitEngine
import VitModels

/// MobileViT v1 against timm: goldens at 256, 320, 250 and a non-square size whose maps the
/// patches do not tile, every zoo variant's counts, the benchmark blocks, and the errors a user
/// sees for a config or an input that cannot work.
final class MobileViTTests: XCTestCase {
    static let variants = ["mobilevit_xxs", "mobilevit_xs", "mobilevit_s"]

    func testXXSMatchesTimmAt256() throws { try checkGolden("mobilevit_xxs") }
    func testXSLayoutMatchesTimmAt320() throws { try checkGolden("mobilevit_xs_small_320") }
    /// 3x3 patches on a 32x32 map (resized to 33x33 and back), the default 4x4 patches, widths
    /// that make_divisible rounds up, and no final_conv.
    func testSLayoutMatchesTimmAt250() throws { try checkGolden("mobilevit_s_small_250") }
    /// Batch 2 at 200x136: every MobileViT block resizes its map (25x17, 13x9, 7x5).
    func testMapsThePatchesDoNotTileMatchTimm() throws { try checkGolden("mobilevit_xxs_small_odd") }

    func testZooMatchesTimmCounts() throws {
        try CountsTests.checkCounts(family: "mobilevit")
        for name in Self.variants {
            XCTAssertNotNil(CountsTests.references[name], "\(name) missing from reference_counts.json")
        }
    }

    func testZooEntriesCarryPublishedNumbers() throws {
        for name in Self.variants {
            let info = try ModelZoo.named(name)
            XCTAssertEqual(info.resolution, 256, name)
            XCTAssertNotNil(info.published, name)
            let params = try XCTUnwrap(info.referenceParams, name)
            XCTAssertEqual(Double(try info.random().parameterCount) / 1e6, params, accuracy: 0.005, name)
            XCTAssertNotNil(info.referenceGMACs, name)
        }
    }

    func testNotesNameTheResizedMaps() throws {
        let model = try ModelZoo.named("mobilevit_xxs").random()
        XCTAssertEqual(model.notes(height: 256, width: 256), [])
        let notes = model.notes(height: 200, width: 136)
        XCTAssertEqual(notes.count, 1)
        XCTAssertTrue(notes.first?.contains("stages.2 (25x17), stages.3 (13x9), stages.4 (7x5)") == true, "\(notes)")
    }

    /// Both blocks at their default shape and at an odd one (which the MobileViT block resizes),
    /// with timm's parameter counts: 135 712 and 2 976 for mobilevit_xxs's `stages.2.1` and
    /// `stages.1.1`, and 27C² + 2Cd + 16d² + 24d + 6C for a MobileViT block of C channels and
    /// transformer width d = C + 16.
    func testBlocksBuildAndRun() throws {
        var rng = SplitMix64(seed: 5)
        for (name, params) in [("mobilevit.block", 135_712), ("mobilevit.mv2", 2_976)] {
            let info = try BlockZoo.named(name)
            let block = try info.random()
            XCTAssertEqual(block.parameterCount, params, name)
            for (h, w) in [(info.defaultResolution, info.defaultResolution), (15, 9)] {
                let plan = try block.plan(batch: 2, height: h, width: w, pool: ThreadPool(threads: 2))
                let shape = block.inputShape(batch: 2, height: h, width: w)
                try plan.setInput(Tensor(randomNormal: shape, rng: &rng))
                plan.run()
                let y = plan.output()
                XCTAssertEqual(y.shape, shape, "\(name) at \(h)x\(w)")
                XCTAssertTrue(y.data.allSatisfy(\.isFinite), "\(name) at \(h)x\(w)")
            }
        }
        let (c, d) = (20, 36)
        XCTAssertEqual(try BlockZoo.named("mobilevit.block").random(dim: c).parameterCount,
                       27 * c * c + 2 * c * d + 16 * d * d + 24 * d + 6 * c)
    }

    /// The whole block with the optimised kernels against the reference twins, on a 7x9 map: the
    /// resize both ways, unfold and fold, and the 1x1 convs moved onto the tokens, end to end.
    func testBlockKernelsMatchReferenceOnAMapThePatchesDoNotTile() throws {
        let block = try BlockZoo.named("mobilevit.block").random(dim: 16)
        var rng = SplitMix64(seed: 7)
        let x = Tensor(randomNormal: block.inputShape(batch: 1, height: 7, width: 9), rng: &rng)
        var outputs: [Tensor] = []
        for backend in [Backend.reference, .packed] {
            let plan = try block.plan(batch: 1, height: 7, width: 9, backend: backend, pool: ThreadPool(threads: 2))
            XCTAssertEqual(plan.steps.filter { $0.kind == "resize.bilinear" }.count, 2)
            try plan.setInput(x)
            plan.run()
            outputs.append(plan.output())
        }
        XCTAssertLessThanOrEqual(outputs[1].relativeError(to: outputs[0]), 1e-5)
    }

    func testBadConfigsAreClearErrors() throws {
        let info = try ModelZoo.named("mobilevit_xxs")
        let cases: [([[String: Any]], String)] = [
            ([["d": 1, "c": 16, "s": 2, "transformer_dim": 30, "transformer_depth": 1]], "multiple of the 4 heads"),
            ([["d": 1, "c": 16, "s": 2, "transformer_dim": 32]], "needs transformer_depth"),
            ([["d": 1, "c": 16, "s": 2, "patch_size": 2]], "need a transformer_dim"),
            ([["d": 0, "c": 16, "s": 2]], "stage 0: d, c and s must be at least 1"),
            ([], "at least one stage"),
        ]
        for (blocks, message) in cases {
            XCTAssertThrowsError(try info.load(.random(), overrides: ["blocks": blocks])) { error in
                XCTAssertTrue(error is ModelInputError && "\(error)".contains(message), "\(error)")
            }
        }
        XCTAssertThrowsError(try BlockZoo.named("mobilevit.block").random(dim: 18)) { error in
            XCTAssertTrue("\(error)".contains("dim a multiple of 4"), "\(error)")
        }
    }

    /// timm takes any positive size (a 1x1 map is resized to 2x2 and back); an empty one is a
    /// clear error.
    func testInputSizes() throws {
        let model = try ModelZoo.named("mobilevit_xxs").random()
        let plan = try model.plan(batch: 1, height: 1, width: 3, pool: ThreadPool(threads: 1))
        plan.run()
        XCTAssertTrue(plan.output().data.allSatisfy(\.isFinite))
        XCTAssertThrowsError(try model.plan(batch: 1, height: 0, width: 64, pool: ThreadPool(threads: 1))) { error in
            XCTAssertTrue(error is ModelInputError && "\(error)".contains("0x64"), "\(error)")
        }
    }
}
