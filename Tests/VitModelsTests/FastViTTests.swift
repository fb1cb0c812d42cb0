import Foundation
import XCTest
import VitEngine
import VitModels

/// FastViT against timm: goldens in both forms, every zoo variant's parameter counts and MACs,
/// and the errors a user sees for bad input or a checkpoint that does not fit.
final class FastViTTests: XCTestCase {
    static let variants = ["fastvit_t8", "fastvit_t12", "fastvit_s12", "fastvit_sa12", "fastvit_sa24", "fastvit_sa36", "fastvit_ma36"]

    func testT8MatchesTimm() throws { try checkGolden("fastvit_t8") }
    func testSA12SmallMatchesTimm() throws { try checkGolden("fastvit_sa12_small") }
    func testMA36WidthsWithChannelTailsMatchTimm() throws { try checkGolden("fastvit_ma36_tails") }

    /// Counts measured by timm itself (scripts/goldens/reference_counts.py): parameters of both
    /// forms exactly, fused MACs at 256 within 2% (timm's FlopCounterMode counts convs, linears
    /// and attention matmuls, as the plan does).
    func testZooMatchesTimmCounts() throws {
        let url = Golden.root.appendingPathComponent("reference_counts.json")
        let table = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: [String: Any]]
        for name in Self.variants {
            let ref = try XCTUnwrap(table[name], "\(name) missing from reference_counts.json")
            let model = try ModelZoo.named(name).random()
            XCTAssertEqual(model.parameterCount, ref["params"] as? Int, "\(name): train-time parameters")
            model.reparameterize()
            XCTAssertEqual(model.parameterCount, ref["params_reparam"] as? Int, "\(name): fused parameters")
            let res = ref["resolution"] as! Int
            let plan = try model.plan(batch: 1, height: res, width: res, pool: ThreadPool(threads: 1))
            let gmacs = Double(plan.totalMACs) / 1e9, refGMACs = ref["gmacs"] as! Double
            XCTAssertEqual(gmacs, refGMACs, accuracy: 0.02 * refGMACs, "\(name): GMACs at \(res)")
        }
    }

    func testZooEntriesCarryPublishedNumbers() throws {
        for name in Self.variants {
            let info = try ModelZoo.named(name)
            XCTAssertEqual(info.resolution, 256)
            XCTAssertNotNil(info.published, name)
            XCTAssertNotNil(info.referenceParams, name)
            XCTAssertNotNil(info.referenceGMACs, name)
        }
    }

    /// `layer_scale_init_value=None` drops every `gamma` (counts from timm's `FastVit(...)`
    /// built directly: `create_model` discards None keyword arguments).
    func testNoLayerScale() throws {
        let model = try ModelZoo.named("fastvit_t8").load(.random(), overrides: ["layer_scale_init_value": NSNull()])
        XCTAssertEqual(model.parameterCount, 4_022_584)
        XCTAssertFalse(model.stateDict.entries.contains { $0.name.contains("layer_scale") })
        model.reparameterize()
        XCTAssertEqual(model.parameterCount, 3_994_216)
    }

    func testEmptyInputIsRejectedClearly() throws {
        let model = try ModelZoo.named("fastvit_t8").random()
        XCTAssertNoThrow(try model.checkInput(height: 1, width: 3), "timm takes any positive size")
        XCTAssertThrowsError(try model.plan(batch: 1, height: 0, width: 64, pool: ThreadPool(threads: 1))) { error in
            XCTAssertTrue(error is ModelInputError, "\(error)")
            XCTAssertTrue("\(error)".contains("0x64"), "\(error)")
        }
    }

    func testConfigOverridesAreChecked() throws {
        let info = try ModelZoo.named("fastvit_sa12")
        XCTAssertThrowsError(try info.load(.random(), overrides: ["embed_dims": [16, 16, 48, 144]])) { error in
            XCTAssertTrue("\(error)".contains("head dim"), "\(error)")
        }
        XCTAssertThrowsError(try info.load(.random(), overrides: ["token_mixers": ["repmixer", "repmixer", "repmixer", "pooling"]])) { error in
            XCTAssertTrue("\(error)".contains("unknown token mixer"), "\(error)")
        }
    }

    /// A missing and a mis-shaped tensor are both named, with their shapes.
    func testCheckpointThatDoesNotFitListsTheKeys() throws {
        let g = try Golden("fastvit_sa12_small")
        var tensors = try SafetensorsFile(path: g.path("weights.safetensors")).allTensors()
        let missing = "stages.3.pos_emb.pos_enc.weight", misshaped = "stages.3.blocks.1.token_mixer.qkv.weight"
        XCTAssertNotNil(tensors.removeValue(forKey: missing))
        tensors[misshaped] = Tensor(zeros: [10, 64])
        XCTAssertThrowsError(try ModelZoo.named(g.model).load(Weights(tensors: tensors, origin: "broken"), overrides: g.config)) { error in
            guard let e = error as? WeightLoadError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.missing.count, 1)
            XCTAssertTrue(e.missing.first?.hasPrefix(missing) == true, "\(e)")
            XCTAssertEqual(e.mismatched.count, 1)
            XCTAssertTrue(e.mismatched.first?.hasPrefix(misshaped) == true, "\(e)")
            XCTAssertTrue(e.unexpected.isEmpty, "\(e)")
        }
    }
}
