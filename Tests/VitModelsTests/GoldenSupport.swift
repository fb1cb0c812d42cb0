import Foundation
import XCTest
import VitEngine
import VitModels

/// A golden exported from timm by scripts/goldens (see scripts/goldens/common.py for the format).
struct Golden {
    let name: String
    let folder: URL
    let model: String
    let config: [String: Any]
    let batch: Int, height: Int, width: Int
    let reparameterizable: Bool
    let params: Int
    let paramsReparam: Int?

    static var root: URL { Bundle.module.url(forResource: "Goldens", withExtension: nil)! }

    static var all: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [])
            .filter { FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent("meta.json").path) }
            .sorted()
    }

    init(_ name: String) throws {
        self.name = name
        folder = Golden.root.appendingPathComponent(name)
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("meta.json"))) as! [String: Any]
        model = meta["model"] as! String
        config = meta["config"] as? [String: Any] ?? [:]
        batch = meta["batch"] as! Int
        height = meta["height"] as! Int
        width = meta["width"] as! Int
        reparameterizable = meta["reparameterizable"] as? Bool ?? false
        params = meta["params"] as! Int
        paramsReparam = meta["params_reparam"] as? Int
    }

    func path(_ file: String) -> String { folder.appendingPathComponent(file).path }

    func run(_ model: ImageClassifier, threads: Int = 2, backend: Backend = .default) throws -> Tensor {
        let plan = try model.plan(batch: batch, height: height, width: width, backend: backend, pool: ThreadPool(threads: threads))
        try plan.setInput(try Npy.read(path("input.npy")))
        plan.run()
        return plan.output()
    }
}

/// The whole golden check: train-time weights load with exactly timm's key set and reproduce
/// timm's logits; the parameter count is timm's; reparameterising keeps the function (≤ 1e-5)
/// and timm's reparameterised state_dict loads and reproduces the logits too.
func checkGolden(_ name: String, tolerance: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line) throws {
    let g = try Golden(name)
    let info = try ModelZoo.named(g.model)
    let expected = try Npy.read(g.path("logits.npy"))

    let model = try info.load(Weights(file: g.path("weights.safetensors")), overrides: g.config)
    XCTAssertEqual(model.parameterCount, g.params, "\(name): parameter count (train-time form) differs from timm's", file: file, line: line)
    let trainOut = try g.run(model)
    let trainErr = trainOut.relativeError(to: expected)
    XCTAssertLessThanOrEqual(trainErr, tolerance, "\(name): train-time form vs timm: max|Δ|/max|ref| = \(trainErr)", file: file, line: line)

    XCTAssertEqual(model.isReparameterizable, g.reparameterizable, "\(name): reparameterizable", file: file, line: line)
    guard g.reparameterizable else { return }
    model.reparameterize()
    let fusedOut = try g.run(model)
    let fuseErr = fusedOut.relativeError(to: trainOut)
    XCTAssertLessThanOrEqual(fuseErr, 1e-5, "\(name): reparameterize() changed the function by \(fuseErr)", file: file, line: line)
    XCTAssertLessThanOrEqual(fusedOut.relativeError(to: expected), tolerance, "\(name): fused form vs timm", file: file, line: line)
    if let p = g.paramsReparam {
        XCTAssertEqual(model.parameterCount, p, "\(name): parameter count (fused form) differs from timm's", file: file, line: line)
    }
    // timm's own reparameterised checkpoint: the inference key set (`reparam_conv`). Large
    // goldens leave it out (see scripts/goldens/common.py).
    let reparamFile = g.path("weights_reparam.safetensors")
    guard FileManager.default.fileExists(atPath: reparamFile) else { return }
    let fromFused = try info.load(Weights(file: reparamFile), overrides: g.config)
    let keys = Set(try SafetensorsFile(path: reparamFile).names.filter { !$0.hasSuffix("num_batches_tracked") })
    XCTAssertEqual(Set(model.stateDict.entries.map(\.name)), keys, "\(name): fused state_dict keys differ from timm's", file: file, line: line)
    let loadedErr = try g.run(fromFused).relativeError(to: expected)
    XCTAssertLessThanOrEqual(loadedErr, tolerance, "\(name): timm's reparameterised weights vs timm: \(loadedErr)", file: file, line: line)
}
