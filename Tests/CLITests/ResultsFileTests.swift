import Foundation
import XCTest

/// What `vitbench run` does with its results files: repetitions numbered and resumed as
/// repetitions, per-run samples in their own file, one writer at a time, and a suite's name that
/// cannot write outside the folder.
final class ResultsFileTests: VitbenchCLITestCase {
    func vitbench(_ args: [String]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "no signal: \(args)")
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    func suite(_ name: String, repetitions: Int = 1) throws -> String {
        let path = scratch.appendingPathComponent("\(name.isEmpty ? "unnamed" : "s").yaml").path
        try """
            name: "\(name)"
            repetitions: \(repetitions)
            protocol: {warmup_runs: 1, warmup_seconds: 0, min_runs: 3, min_seconds: 0.1, max_seconds: 1}
            runs:
              - blocks: [fastvit.repmixer, levit.attention]
                dims: [32]
                resolutions: [4]
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func rows(_ path: String) throws -> [[String: String]] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return [] }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    /// Repetitions are numbered; `--resume` measures the missing repetitions, not only the
    /// missing configurations; every run's time is in `NAME.samples.csv`, not in the results.
    func testRepetitionsResumeAndSamplesFile() throws {
        let s = try suite("reps", repetitions: 3)
        XCTAssertEqual(try vitbench(["run", s, "--out", scratch.path]).status, 0)
        let csv = scratch.appendingPathComponent("reps.csv").path
        var all = try rows(csv)
        XCTAssertEqual(all.count, 6)
        XCTAssertNil(all[0]["samples_ms"], "per-run samples are not in the results")
        XCTAssertEqual(Set(all.map { $0["model"]! + "#" + $0["repetition"]! }).count, 6)
        XCTAssertEqual(Set(all.map { $0["repetition"]! }), ["1", "2", "3"])
        for r in all { XCTAssertNotNil(Double(r["load"] ?? ""), "load column: \(r)"); XCTAssertNotNil(r["busy"]) }
        let samples = try rows(scratch.appendingPathComponent("reps.samples.csv").path)
        XCTAssertEqual(all.filter { $0["error"] != "" }.count, 0, "\(all)")
        let runs = all.compactMap { $0["runs"].flatMap { Int($0) } }.reduce(0, +)
        XCTAssertEqual(samples.count, runs, "one line per measured run")
        XCTAssertEqual(Set(samples.map { $0["repetition"]! }), ["1", "2", "3"])

        // Lose the last two rows (an interruption), then resume: the same repetitions come back.
        let text = try String(contentsOfFile: csv, encoding: .utf8)
        let kept = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(3).joined(separator: "\n") + "\n"
        try kept.write(toFile: csv, atomically: true, encoding: .utf8)
        XCTAssertEqual(try rows(csv).count, 4)
        XCTAssertEqual(try vitbench(["run", s, "--out", scratch.path, "--resume"]).status, 0)
        all = try rows(csv)
        XCTAssertEqual(all.count, 6, "the two missing repetitions, measured again")
        XCTAssertEqual(Dictionary(grouping: all, by: { $0["model"]! }).mapValues { $0.map { $0["repetition"]! }.sorted() },
                       ["fastvit.repmixer": ["1", "2", "3"], "levit.attention": ["1", "2", "3"]])
    }

    /// A second run writing the same results is refused while the first holds them.
    func testASecondWriterIsRefused() throws {
        let s = try suite("locked")
        let lockPath = scratch.appendingPathComponent(".locked.lock").path
        let fd = open(lockPath, O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), 0)
        let r = try vitbench(["run", s, "--out", scratch.path])
        XCTAssertEqual(r.status, 1, "a data error, not usage")
        XCTAssertTrue(r.stderr.contains("another vitbench run is writing"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("locked.csv").path), "nothing written")
        flock(fd, LOCK_UN)
        XCTAssertEqual(try vitbench(["run", s, "--out", scratch.path]).status, 0)
    }

    /// A suite's name becomes file names: one with a path separator, or empty, is refused.
    func testSuiteNamesStayInsideTheFolder() throws {
        for name in ["../escape", "a/b", "", ".hidden"] {
            let r = try vitbench(["run", try suite(name), "--out", scratch.path])
            XCTAssertEqual(r.status, 1, name)
            XCTAssertTrue(r.stderr.contains("cannot name its results files") || r.stderr.contains("name"), "\(name): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.deletingLastPathComponent().appendingPathComponent("escape.csv").path))
    }

    /// An --out that cannot be written is a sentence, not a Foundation error dump.
    func testUnwritableOutIsASentence() throws {
        let blocker = scratch.appendingPathComponent("file").path
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let r = try vitbench(["run", try suite("w"), "--out", blocker + "/sub"])
        XCTAssertEqual(r.status, 1, "a data error, not usage")
        XCTAssertTrue(r.stderr.contains("cannot write results to \(blocker)/sub"), r.stderr)
        XCTAssertFalse(r.stderr.contains("NSCocoaErrorDomain"), r.stderr)
    }
}
