import Foundation
import XCTest

/// `vitbench run` end to end: a killed run keeps its finished rows and --resume completes it.
final class RunTests: VitbenchCLITestCase {

    func process(_ args: [String]) -> Process {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        return p
    }

    func dataRows(_ path: String) -> [String] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").dropFirst().map(String.init)
    }

    func testKilledRunKeepsRowsAndResumeCompletesIt() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "vitbench not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitbench-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let suite = dir.appendingPathComponent("kill.yaml").path
        try """
            name: kill
            protocol: {warmup_runs: 1, warmup_seconds: 0, min_runs: 3, min_seconds: 0.4, max_seconds: 2}
            runs:
              - model: metaformer_s12
                mixers: [pooling, repmixer, identity]
                forms: [train, inference]
                resolutions: [64]
            """.write(toFile: suite, atomically: true, encoding: .utf8)
        let csv = dir.appendingPathComponent("kill.csv").path

        let first = process(["run", suite, "--out", dir.path])
        try first.run()
        let deadline = Date().addingTimeInterval(60)
        while dataRows(csv).count < 2 && Date() < deadline && first.isRunning { usleep(50_000) }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let kept = dataRows(csv)
        XCTAssertGreaterThanOrEqual(kept.count, 2, "rows finished before the kill are in the file")
        XCTAssertLessThan(kept.count, 6, "the run was interrupted before the end")

        let refused = process(["run", suite, "--out", dir.path])
        try refused.run()
        refused.waitUntilExit()
        XCTAssertNotEqual(refused.terminationStatus, 0, "an existing CSV is not clobbered without --resume/--overwrite")
        XCTAssertEqual(dataRows(csv).prefix(kept.count).map { $0 }, kept)

        let resumed = process(["run", suite, "--out", dir.path, "--resume"])
        try resumed.run()
        resumed.waitUntilExit()
        XCTAssertEqual(resumed.terminationStatus, 0)
        let rows = dataRows(csv)
        XCTAssertEqual(rows.count, 6, "every configuration exactly once")
        XCTAssertEqual(Array(rows.prefix(kept.count)), kept, "finished rows are untouched")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("kill.md").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("kill.json").path))
    }

    /// `--out` names a folder: a name that reads as a results file is refused before anything is
    /// written, with the folder to pass instead; an existing folder of such a name is taken.
    func testOutThatNamesAFileIsRefused() throws {
        let suite = scratch.appendingPathComponent("s.yaml").path
        try "name: s\nruns:\n  - model: metaformer_s12\n    mixers: [pooling]\n    resolutions: [64]\n".write(toFile: suite, atomically: true, encoding: .utf8)
        for name in ["r.csv", "r.MD", "r.json"] {
            let out = scratch.appendingPathComponent(name).path
            let r = try runCapturingOutput(binary, ["run", suite, "--out", out])
            XCTAssertEqual(r.status, 64, r.output)
            XCTAssertTrue(r.output.contains("--out names the folder"), r.output)
            XCTAssertTrue(r.output.contains("e.g. --out \(scratch.path)"), r.output)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(out) was created")
        }
        let folder = scratch.appendingPathComponent("old.csv")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let taken = try runCapturingOutput(binary, ["run", suite, "--out", folder.path, "--dry-run"])
        XCTAssertEqual(taken.status, 0, taken.output)
    }

    func testBadSuiteIsAClearError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "vitbench not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitbench-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let suite = dir.appendingPathComponent("bad.yaml").path
        try "runs:\n  - model: fastvit_t9\n".write(toFile: suite, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = binary
        p.arguments = ["run", suite, "--out", dir.path]
        let pipe = Pipe()
        p.standardError = pipe
        p.standardOutput = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertTrue(out.contains("bad.yaml:2: runs[0].model: unknown model 'fastvit_t9'"), out)
        XCTAssertTrue(out.contains("fastvit_t8"), out)
    }
}
