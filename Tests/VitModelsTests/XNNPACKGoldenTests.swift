import Foundation
import XCTest
import VitEngine
import VitModels

/// Every timm golden through the `xnnpack` backend — XNNPACK's convolutions, linears, pooling and
/// elementwise ops, the engine's kernels for the rest — against timm's logits, in both forms:
/// the backend runs exactly the network the engine runs. Skipped, naming the package, where
/// XNNPACK is missing; CI installs it, and there a missing XNNPACK fails.
final class XNNPACKGoldenTests: XCTestCase {
    func testEveryGoldenMatchesTimmOnXNNPACK() throws {
        let backend: Backend
        do { backend = try Backend.xnnpack() } catch {
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("\(error)") } else { print("skipped: \(error)") }
            return
        }
        XCTAssertFalse(Golden.all.isEmpty)
        for name in Golden.all {
            let g = try Golden(name)
            let expected = try Npy.read(g.path("logits.npy"))
            let model = try ModelZoo.named(g.model).load(Weights(file: g.path("weights.safetensors")), overrides: g.config)
            let err = try g.run(model, threads: 2, backend: backend).relativeError(to: expected)
            XCTAssertLessThanOrEqual(err, 1e-4, "\(name) on xnnpack, train-time form: max|Δ|/max|ref| = \(err)")
            guard g.reparameterizable else { continue }
            model.reparameterize()
            let fusedErr = try g.run(model, threads: 1, backend: backend).relativeError(to: expected)
            XCTAssertLessThanOrEqual(fusedErr, 1e-4, "\(name) on xnnpack, fused form: max|Δ|/max|ref| = \(fusedErr)")
        }
    }
}
