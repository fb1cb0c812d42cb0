import Foundation
import XCTest
import VitEngine
import VitModels

/// MobileOne (timm byobnet) against its goldens, and every zoo variant's size against timm's own
/// counts (scripts/goldens/reference_counts.py) without running the full-size networks.
final class MobileOneTests: XCTestCase {
    func testS0LikeWithFourBranchesMatchesTimmInBothForms() throws { try checkGolden("mobileone_s0_small") }
    func testS4LikeWithSqueezeExciteMatchesTimmInBothForms() throws { try checkGolden("mobileone_s4_small") }

    func testZooParametersAndMACsMatchTimm() throws {
        let url = Golden.root.appendingPathComponent("reference_counts.json")
        let table = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: [String: Any]]
        for name in ["mobileone_s0", "mobileone_s1", "mobileone_s2", "mobileone_s3", "mobileone_s4"] {
            let ref = try XCTUnwrap(table[name], "\(name) missing from reference_counts.json")
            let model = try ModelZoo.named(name).random()
            XCTAssertEqual(model.parameterCount, ref["params"] as? Int, "\(name): train-time parameters")
            XCTAssertTrue(model.isReparameterizable)
            model.reparameterize()
            XCTAssertEqual(model.parameterCount, ref["params_reparam"] as? Int, "\(name): fused parameters")
            let gmacs = Double(try model.plan(batch: 1, height: 224, width: 224, pool: ThreadPool(threads: 1)).totalMACs) / 1e9
            let refGMACs = try XCTUnwrap(ref["gmacs"] as? Double)
            XCTAssertEqual(gmacs, refGMACs, accuracy: 0.02 * refGMACs, "\(name): GMACs at 224")
        }
    }

    /// The two checkpoint forms are told apart per block, so a fused checkpoint missing one tensor
    /// must name that tensor rather than fall back to (and complain about) the branch key set.
    func testMissingTensorIsNamed() throws {
        let g = try Golden("mobileone_s4_small")
        let info = try ModelZoo.named(g.model)
        for (file, key) in [("weights.safetensors", "stages.2.3.attn.fc1.bias"),
                            ("weights.safetensors", "stages.0.0.conv_scale.bn.running_var"),
                            ("weights_reparam.safetensors", "stages.1.1.reparam_conv.bias")] {
            var tensors = try SafetensorsFile(path: g.path(file)).allTensors()
            XCTAssertNotNil(tensors.removeValue(forKey: key), "\(key) not in \(file)")
            XCTAssertThrowsError(try info.load(Weights(tensors: tensors, origin: file), overrides: g.config)) { error in
                let e = error as? WeightLoadError
                XCTAssertEqual(e?.missing.count, 1, "\(error)")
                XCTAssertTrue(e?.missing.first?.hasPrefix(key + " ") ?? false, "\(error)")
                XCTAssertEqual(e?.unexpected, [], "\(error)")
            }
        }
    }

    func testInputSizes() throws {
        let g = try Golden("mobileone_s4_small")
        let model = try ModelZoo.named(g.model).load(.random(), overrides: g.config)
        for (h, w) in [(0, 64), (64, 0), (-3, 5)] {
            XCTAssertThrowsError(try model.plan(batch: 1, height: h, width: w, pool: ThreadPool(threads: 1))) { error in
                XCTAssertTrue(error is ModelInputError, "\(error)")
                XCTAssertTrue("\(error)".contains("at least 1x1"), "\(error)")
            }
        }
        // Padding keeps one pixel through all five stride-2 convs, as in timm.
        for (h, w) in [(1, 1), (3, 50)] {
            let plan = try model.plan(batch: 1, height: h, width: w, pool: ThreadPool(threads: 1))
            try plan.setInput(Tensor(repeating: 0.5, shape: [1, 3, h, w]))
            plan.run()
            XCTAssertEqual(plan.output().shape, [1, model.numClasses])
            XCTAssertTrue(plan.output().data.allSatisfy(\.isFinite))
        }
    }

    func testInconsistentConfigIsRejected() throws {
        let info = try ModelZoo.named("mobileone_s1")
        for overrides: [String: Any] in [["widths": [16, 24, 32]], ["se_blocks": [1]], ["num_conv_branches": 0], ["kernel": 5]] {
            XCTAssertThrowsError(try info.load(.random(), overrides: overrides)) { error in
                XCTAssertTrue(error is ModelInputError, "\(overrides): \(error)")
            }
        }
    }
}
