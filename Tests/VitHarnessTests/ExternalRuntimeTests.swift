import Foundation
import XCTest
import VitEngine
import VitHarness

/// The `onnxruntime` and `openvino` backends: the engine's export of the configuration timed by
/// the runner under the protocol, every sample in the row, the runtime's version and settings in
/// its `runtime` column; a missing runtime is an error row naming the install command. Needs the
/// peer environment (CI runs scripts/peers/setup.sh --light); without it the timing part is
/// skipped with that command, and fails in CI.
final class ExternalRuntimeTests: XCTestCase {
    func testRuntimesTimeTheExportUnderTheProtocol() throws {
        guard FileManager.default.isExecutableFile(atPath: ExternalRuntime.python) else {
            let why = "the peer environment is missing: run scripts/peers/setup.sh --light"
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail(why) } else { print("skipped: \(why)") }
            return
        }
        var proto = MeasurementProtocol.quick
        proto.minRuns = 7
        for (backend, version, precision) in [(BackendName.onnxruntime, "onnxruntime ", "float32"), (.openvino, "openvino ", "precision f32")] {
            for config in [BenchConfiguration(model: "mobileone_s0", form: .train, resolution: 64, threads: 2, backend: backend),
                           BenchConfiguration(model: "fastvit.repmixer", resolution: 8, backend: backend, dim: 16)] {
                let r = BenchmarkRunner.measure(config, protocol: proto, cpus: [0])
                XCTAssertNil(r.error, "\(backend) \(config.model): \(r.error ?? "")")
                guard let m = r.measurement else { continue }
                XCTAssertGreaterThanOrEqual(m.samples.count, 7)
                XCTAssertTrue(m.samples.allSatisfy { $0 > 0 && $0.isFinite })
                XCTAssertGreaterThan(r.macs, 0)
                let fields = Dictionary(uniqueKeysWithValues: r.fields(noiseThreshold: 0.05))
                XCTAssertEqual(fields["backend"], backend.rawValue)
                XCTAssertTrue(fields["runtime"]!.hasPrefix(version), fields["runtime"]!)
                XCTAssertTrue(fields["runtime"]!.contains(precision), fields["runtime"]!)
                XCTAssertTrue(fields["runtime"]!.contains("confined to CPUs 0"), fields["runtime"]!)
                XCTAssertTrue(fields["runtime"]!.contains(config.model == "mobileone_s0" ? "2 " : "1 "), fields["runtime"]!)
                XCTAssertEqual(fields["blas"], "")
            }
        }
    }

    func testAMissingRuntimeIsAnErrorRowNamingTheInstall() throws {
        setenv("VITBENCH_PEER_PYTHON", "/nonexistent/python", 1)
        defer { unsetenv("VITBENCH_PEER_PYTHON") }
        let r = BenchmarkRunner.measure(BenchConfiguration(model: "mobileone_s0", resolution: 64, backend: .openvino), protocol: .quick)
        XCTAssertNil(r.measurement)
        XCTAssertTrue(r.error?.contains("scripts/peers/setup.sh") == true, r.error ?? "no error")
        XCTAssertTrue(r.error?.contains("/nonexistent/python") == true, r.error ?? "no error")
    }

    func testTheEngineCommandsRefuseARuntimeByName() {
        XCTAssertThrowsError(try Backend.named(.onnxruntime)) { error in
            XCTAssertTrue("\(error)".contains("runtime of its own"), "\(error)")
        }
    }
}
