import Foundation
import XCTest
import VitEngine
import VitModels

/// Parameter counts and MACs against the references measured with timm / the peer skeleton
/// (Goldens/reference_counts.json, written by scripts/goldens) and the published GMACs.
final class CountsTests: XCTestCase {
    static let references: [String: [String: Any]] = {
        let url = Golden.root.appendingPathComponent("reference_counts.json")
        return (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: [String: Any]] ?? [:]
    }()

    /// Exact parameter counts (both forms) and MACs within 2% for every zoo model of `family`
    /// that has a reference.
    static func checkCounts(family: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let models = ModelZoo.all.filter { $0.family == family }
        XCTAssertFalse(models.isEmpty, "no \(family) models", file: file, line: line)
        for info in models {
            guard let ref = references[info.name] else { continue }
            let model = try info.random()
            if let p = ref["params"] as? Int {
                XCTAssertEqual(model.parameterCount, p, "\(info.name): train-time parameters", file: file, line: line)
            }
            model.reparameterize()
            if let p = ref["params_reparam"] as? Int {
                XCTAssertEqual(model.parameterCount, p, "\(info.name): reparameterised parameters", file: file, line: line)
            }
            let res = ref["resolution"] as? Int ?? info.resolution
            let gmacs = Double(try model.macs(height: res, width: res)) / 1e9
            if let g = ref["gmacs"] as? Double {
                XCTAssertEqual(gmacs, g, accuracy: 0.02 * g, "\(info.name): GMACs at \(res) vs the reference count", file: file, line: line)
            }
            if let g = info.referenceGMACs, res == info.resolution {
                XCTAssertEqual(gmacs, g, accuracy: 0.02 * g, "\(info.name): GMACs at \(res) vs the published figure", file: file, line: line)
            }
        }
    }

    /// What `vitbench list` and `info` print for every model: a published top-1 with its source,
    /// or "no published weights" in the summary; timm's parameter count (as docs/published-figures.md rounds it)
    /// where one is given; the published resolution a multiple of the models' strides.
    func testEveryZooEntryCarriesItsReferenceFigures() throws {
        for info in ModelZoo.all {
            if let p = info.published {
                XCTAssertFalse(p.source.isEmpty, info.name)
                XCTAssertTrue((50...90).contains(p.top1), "\(info.name): top-1 \(p.top1)")
            } else {
                XCTAssertTrue(info.summary.contains("no published weights"), "\(info.name): \(info.summary)")
            }
            XCTAssertTrue([224, 256].contains(info.resolution), info.name)
            if let params = info.referenceParams {
                let model = try info.random()
                XCTAssertEqual(Double(model.parameterCount) / 1e6, params, accuracy: 0.006, "\(info.name): train-time parameters")
            }
        }
    }

    func testPoolFormerCounts() throws {
        try Self.checkCounts(family: "poolformer")
        XCTAssertNotNil(Self.references["poolformer_s12"], "reference counts missing")
    }

    func testMetaFormerSkeletonCounts() throws {
        try Self.checkCounts(family: "metaformer")
        XCTAssertNotNil(Self.references["metaformer_s12:attention"], "reference counts missing")
    }
}

/// Bad input at the model level: clear errors, never a crash.
final class ModelInputTests: XCTestCase {
    func testUnknownModelListsKnownOnes() {
        XCTAssertThrowsError(try ModelZoo.named("poolformer_s13")) { error in
            XCTAssertTrue("\(error)".contains("unknown model 'poolformer_s13'"), "\(error)")
            XCTAssertTrue("\(error)".contains("poolformer_s12"), "\(error)")
        }
    }

    func testMissingMisshapedAndUnexpectedTensorsAreAllListed() throws {
        let info = try ModelZoo.named("poolformer_s12")
        let golden = try Golden("poolformer_s12_small")
        var tensors = try SafetensorsFile(path: golden.path("weights.safetensors")).allTensors()
        tensors["stem.conv.bias"] = nil
        tensors["head.fc.weight"] = Tensor(zeros: [3, 3])
        tensors["stages.9.extra"] = Tensor(zeros: [1])
        XCTAssertThrowsError(try info.load(Weights(tensors: tensors, origin: "broken.safetensors"), overrides: golden.config)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("broken.safetensors"), text)
            XCTAssertTrue(text.contains("stem.conv.bias (expected shape [16])"), text)
            XCTAssertTrue(text.contains("head.fc.weight: expected shape [1000, 56], file has [3, 3]"), text)
            XCTAssertTrue(text.contains("stages.9.extra"), text)
        }
    }

    func testResolutionTooSmallIsAClearError() throws {
        let model = try ModelZoo.named("metaformer_s12:pooling").random()
        XCTAssertThrowsError(try model.plan(batch: 1, height: 4, width: 4, pool: ThreadPool(threads: 1))) { error in
            XCTAssertTrue("\(error)".contains("4x4"), "\(error)")
        }
        XCTAssertThrowsError(try MetaFormerS12(.random(), config: { var c = MetaFormerS12.Config(); c.mixer = "mlp"; return c }())) { error in
            XCTAssertTrue("\(error)".contains("unknown mixer 'mlp'"), "\(error)")
        }
    }

    func testUnknownConfigOverrideIsAnError() throws {
        XCTAssertThrowsError(try ModelZoo.named("poolformer_s12").load(.random(), overrides: ["widths": [1, 2]])) { error in
            XCTAssertTrue("\(error)".contains("unknown config field 'widths'"), "\(error)")
        }
    }
}
