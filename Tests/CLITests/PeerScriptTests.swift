import Foundation
import XCTest

/// scripts/peers/compare.py, the sitting that measures vitbench beside ONNX Runtime and OpenVINO:
/// one engine failing on one model is that model's row, not the end of a sitting that may have
/// run for twenty minutes. Needs only Python's standard library: the peers here are made to fail.
final class PeerScriptTests: VitbenchCLITestCase {
    var root: URL { repositoryRoot }

    func compare(_ args: [String]) throws -> (status: Int32, output: String) {
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let python else { throw XCTSkip("python3 not found (Debian: apt install python3; the peer environment needs it too)") }
        return try runCapturingOutput(URL(fileURLWithPath: python),
                                      ["scripts/peers/compare.py", "--vitbench", binary.path, "--mixers", ""] + args, in: root)
    }

    /// A model vitbench does not know and a peer that dies: two rows that say which engine failed
    /// and why, the geometric mean says it left them out, and the exit status is 1.
    func testAFailingEngineIsOneRowAndTheSittingGoesOn() throws {
        let r = try compare(["--models", "no_such_model@64,fastvit_t8@64", "--python", "/bin/false",
                             "--min-seconds", "0.05", "--cpu", "0", "--rounds", "2"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("| no_such_model | 64 | failed: vitbench: Error: unknown model 'no_such_model'"), r.output)
        XCTAssertTrue(r.output.contains("| fastvit_t8 | 64 | failed: peer_models.py: "), r.output)
        XCTAssertEqual(r.output.components(separatedBy: "peer_models.py failed (").count - 1, 1,
                       "a failure ends the model's rounds (two were asked for): \(r.output)")
        XCTAssertFalse(r.output.contains("Traceback"), r.output)
    }

    /// A peer that crashes prints nothing: its row names the signal that killed it.
    func testAPeerThatCrashesIsNamedByItsSignal() throws {
        let crash = scratch.appendingPathComponent("crash.sh")
        try "#!/bin/sh\nkill -SEGV $$\n".write(to: crash, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: crash.path)
        let r = try compare(["--models", "fastvit_t8@64", "--python", crash.path, "--min-seconds", "0.05", "--cpu", "0", "--rounds", "1"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("| fastvit_t8 | 64 | failed: peer_models.py: killed by SIGSEGV, no output |"), r.output)
    }

    /// `--models zoo` is every model with published weights at its published resolution, as
    /// `vitbench list` has them (PSViT, the mobile-level ViT and the mixer skeleton have no timm
    /// model for the peers); `--list` shows the sitting and runs nothing.
    func testTheZooIsThePublishedModelsAtTheirResolutions() throws {
        let r = try compare(["--models", "zoo,fastvit_t8@384", "--list"])
        XCTAssertEqual(r.status, 0, r.output)
        let listed = r.output.split(separator: "\n").map(String.init)
        let table = try runCapturingOutput(binary, ["list"]).output.split(separator: "\n").dropFirst(2).map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
        let published = table.filter { $0[5] != "no published weights" }.map { "\($0[0])@\($0[3].split(separator: "@")[1])" }
        XCTAssertEqual(listed, published + ["fastvit_t8@384"])
        XCTAssertTrue(listed.contains("fastvit_t8@256") && listed.contains("deit_tiny_patch16_224@224") && listed.contains("mobilevit_xxs@256"), r.output)
        XCTAssertFalse(listed.contains { $0.hasPrefix("psvit") || $0.hasPrefix("mlvit") || $0.hasPrefix("metaformer") }, r.output)
        let broken = try compare(["--models", "zoo", "--vitbench", "/bin/false", "--list"])
        XCTAssertEqual(broken.status, 1, broken.output)
        XCTAssertTrue(broken.output.contains("--models zoo: /bin/false list --json exited with status 1, no output"), broken.output)
    }

    /// Malformed model lists are refused before anything runs.
    func testMalformedModelListsAreRefusedUpFront() throws {
        for spec in ["fastvit_t8", "fastvit_t8@abc", "@224", "fastvit_t8@0", "fastvit_t8@99999"] {
            let r = try compare(["--models", spec])
            XCTAssertEqual(r.status, 1, spec)
            XCTAssertTrue(r.output.contains("--models: expected MODEL@RES") && r.output.contains("'\(spec)'"), r.output)
            XCTAssertFalse(r.output.contains("round 1"), "nothing ran: \(r.output)")
        }
    }
}
