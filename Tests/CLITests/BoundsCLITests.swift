import Foundation
import XCTest

/// Issue 14 end to end: every class of unbounded input is a clean error — the right exit status
/// (64 for a bad flag or argument, 1 for what the data or the measurement did), a message that
/// says what is wrong, never a signal — and a suite goes on past its impossible configuration
/// with every other row intact.
final class BoundsCLITests: VitbenchCLITestCase {
    /// Runs vitbench (killed after `timeout` seconds: a hang fails the test instead of stalling it).
    func vitbench(_ args: [String], timeout: Double = 120) throws -> (status: Int32, exited: Bool, output: String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let out = scratch.appendingPathComponent("out-\(UUID().uuidString).txt")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let handle = try FileHandle(forWritingTo: out)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        try handle.close()
        let output = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        return (p.terminationStatus, p.terminationReason == .exit, output)
    }

    /// Asserts an exit (not a signal) with `status` and every part in the output.
    func expect(_ args: [String], status: Int32, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try vitbench(args)
        XCTAssertTrue(r.exited, "killed by a signal: \(args)\n\(r.output)", file: file, line: line)
        XCTAssertEqual(r.status, status, "\(args)\n\(r.output)", file: file, line: line)
        for p in parts { XCTAssertTrue(r.output.contains(p), "\(args): lacks '\(p)'\n\(r.output)", file: file, line: line) }
        XCTAssertFalse(r.output.contains("Fatal error") || r.output.contains("failed to allocate"), r.output, file: file, line: line)
    }

    let tiny = ["--warmup-runs", "0", "--warmup-seconds", "0", "--min-runs", "2", "--min-seconds", "0", "--max-seconds", "2"]

    func testMemoryIsEstimatedAndRefusedCleanly() throws {
        // Resolution, batch and width that would need terabytes: exit 1, what it needs and the budget.
        try expect(["bench", "--model", "levit_128s", "--resolution", "8192"] + tiny, status: 1,
                   contains: ["out of memory budget", "levit_128s at 8192x8192", "MemAvailable"])
        try expect(["bench", "--model", "metaformer_s12", "--mixer", "pooling", "--resolution", "2048", "--batch", "32",
                    "--memory-limit", "1G"] + tiny, status: 1, contains: ["out of memory budget", "batch 32", "1.0 GiB (--memory-limit)"])
        try expect(["bench", "--block", "fastvit.repmixer", "--dim", "1000000"] + tiny, status: 1,
                   contains: ["out of memory budget", "width 1000000"])
        try expect(["profile", "--model", "fastvit_t8", "--resolution", "16384", "--memory-limit", "512M"], status: 1,
                   contains: ["out of memory budget", "512 MiB"])
        try expect(["export", "--model", "levit_128s", "--resolution", "8192", "--onnx", scratch.appendingPathComponent("x.onnx").path],
                   status: 1, contains: ["out of memory budget"])
        // Shapes whose size overflows.
        try expect(["bench", "--model", "fastvit_t8", "--resolution", "\(1 << 40)"] + tiny, status: 1,
                   contains: ["too large", "overflows"])
        // A good configuration under a limit it fits.
        try expect(["bench", "--model", "metaformer_s12", "--mixer", "pooling", "--resolution", "32", "--memory-limit", "4G"] + tiny,
                   status: 0, contains: [])
        // Bad limits are usage errors.
        try expect(["bench", "--model", "fastvit_t8", "--memory-limit", "12Q"], status: 64, contains: ["invalid memory limit '12Q'"])
        try expect(["bench", "--model", "fastvit_t8", "--memory-limit", "0"], status: 64, contains: ["invalid memory limit"])
        // info shows the estimate; a size it cannot even count is refused.
        try expect(["info", "fastvit_t8", "--resolution", "64"], status: 0, contains: ["memory (inference form, batch 1, 1 thread(s)): about"])
        try expect(["info", "levit_128s", "--resolution", "8192"], status: 1, contains: ["out of memory budget"])
    }

    func testInferRefusesAnInputOverTheBudget() throws {
        // 1x3x256x256 floats fit; a 1 MiB budget does not hold them twice.
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 256, 256), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(header.data(using: .ascii)!)
        data.append(Data(count: 3 * 256 * 256 * 4))
        let input = scratch.appendingPathComponent("x.npy")
        try data.write(to: input)
        let output = scratch.appendingPathComponent("y.npy").path
        try expect(["infer", "--model", "poolformer_s12", "--input", input.path, "--output", output, "--memory-limit", "1M"],
                   status: 1, contains: ["out of memory budget", "1.0 MiB (--memory-limit)"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }

    func testCountsAndDurationsAreBoundedAtParseTime() throws {
        for spec in ["0", "100000", "1..999999999", "1,2,1000"] {
            try expect(["bench", "--model", "fastvit_t8", "--threads", spec], status: 64, contains: ["--threads", "invalid thread sweep"])
        }
        try expect(["bench", "--model", "fastvit_t8", "--threads", "1000"], status: 64, contains: ["PUs", "--allow-oversubscription"])
        try expect(["profile", "--model", "fastvit_t8", "--threads", "1000"], status: 64, contains: ["--allow-oversubscription"])
        try expect(["profile", "--model", "fastvit_t8", "--threads", "0"], status: 64, contains: ["--threads"])
        try expect(["profile", "--model", "fastvit_t8", "--top", "0"], status: 64, contains: ["--top must be between 1 and"])
        try expect(["profile", "--model", "fastvit_t8", "--passes", "1000000000"], status: 64, contains: ["--passes"])
        try expect(["bench", "--model", "fastvit_t8", "--pin", "cores=0-4294967295"], status: 64, contains: ["8191"])
        for flag in ["--min-seconds", "--max-seconds", "--warmup-seconds"] {
            for value in ["inf", "nan"] {
                try expect(["bench", "--model", "fastvit_t8", flag, value], status: 64, contains: [flag])
            }
        }
        try expect(["bench", "--model", "fastvit_t8", "--min-runs", "100000000000"], status: 64, contains: ["--min-runs"])
        // More threads than PUs, asked for: measured, with a warning.
        let pus = ProcessInfo.processInfo.activeProcessorCount
        try expect(["bench", "--model", "metaformer_s12", "--mixer", "pooling", "--resolution", "32", "--threads", "\(pus + 1)",
                    "--allow-oversubscription"] + tiny, status: 0, contains: ["warning: \(pus + 1) threads on"])
    }

    func testExitCodesSeparateUsageFromData() throws {
        // A flag the command does not have, a missing argument: usage (64).
        try expect(["bench", "--model", "fastvit_t8", "--no-such-flag"], status: 64, contains: [])
        try expect(["run"], status: 64, contains: [])
        // A configuration that fails to measure: 1, not 64.
        try expect(["bench", "--model", "deit_tiny_patch16_224", "--resolution", "20"] + tiny, status: 1, contains: ["multiple of the patch size"])
        // A file that is not what it should be: 1.
        let bad = scratch.appendingPathComponent("bad.yaml").path
        try "runs:\n  - model: fastvit_t8\n    mixers: [pooling]\n".write(toFile: bad, atomically: true, encoding: .utf8)
        try expect(["run", bad, "--dry-run"], status: 1, contains: ["\(bad):3: runs[0].mixers", "has no variants"])
        let pins = scratch.appendingPathComponent("pins.yaml").path
        try "runs:\n  - model: fastvit_t8\n    pin: ['cores=4000']\n".write(toFile: pins, atomically: true, encoding: .utf8)
        try expect(["run", pins, "--dry-run"], status: 1, contains: ["\(pins):3: runs[0].pin", "core 4000 is out of range"])
        let threads = scratch.appendingPathComponent("threads.yaml").path
        try "runs:\n  - model: fastvit_t8\n    threads: [1, 5000]\n".write(toFile: threads, atomically: true, encoding: .utf8)
        try expect(["run", threads, "--dry-run"], status: 1, contains: ["\(threads):3: runs[0].threads"])
        let missing = scratch.appendingPathComponent("absent.yaml").path
        try expect(["run", missing], status: 1, contains: ["\(missing): file: cannot read the suite file: no such file"])
        try expect(["run", scratch.path], status: 1, contains: ["cannot read the suite file: a folder, not a file"])
    }

    /// Files far larger than any suite or results file are refused from their size, before a byte
    /// is read: a 3 GiB suite of zeros was read whole and parsed for over a minute, and a 3 GiB
    /// CSV given to `report` took 12.6 GB of memory. (Sparse files: no disk is used.)
    func testHugeInputFilesAreRefusedBeforeTheyAreRead() throws {
        func sparse(_ name: String, bytes: UInt64) throws -> String {
            let path = scratch.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
            try handle.truncate(atOffset: bytes)
            try handle.close()
            return path
        }
        let suite = try sparse("huge.yaml", bytes: 17 << 20)
        try expect(["run", suite, "--dry-run"], status: 1, contains: ["cannot read the suite file: \(17 << 20) bytes, more than any suite (at most 16 MiB is read)"])
        let csv = try sparse("huge.csv", bytes: 3 << 30)
        try expect(["report", csv], status: 1, contains: ["\(csv): \(3 << 30) bytes, more than any results file vitbench writes (at most 1 GiB is read)"])
        try expect(["compare", csv, csv], status: 2, contains: ["more than any results file"])
    }

    /// One impossible resolution in a suite is one error row; the good rows around it are measured.
    func testSuiteGoesOnPastAnImpossibleConfiguration() throws {
        let suite = scratch.appendingPathComponent("bounds.yaml").path
        try """
            name: bounds
            protocol: {warmup_runs: 0, warmup_seconds: 0, min_runs: 2, min_seconds: 0, max_seconds: 2}
            runs:
              - model: metaformer_s12
                mixers: [pooling]
                resolutions: [32, 65536, 48]
              - block: fastvit.repmixer
                dims: [16, 1000000]
                resolutions: [8]
            """.write(toFile: suite, atomically: true, encoding: .utf8)
        let dry = try vitbench(["run", suite, "--dry-run", "--memory-limit", "2G"])
        XCTAssertEqual(dry.status, 0, dry.output)
        XCTAssertTrue(dry.output.contains("OVER BUDGET") && dry.output.contains("2 would be error rows"), dry.output)
        XCTAssertTrue(dry.output.contains("memory budget 2.0 GiB (--memory-limit)"), dry.output)

        let r = try vitbench(["run", suite, "--out", scratch.path, "--memory-limit", "2G"], timeout: 300)
        XCTAssertTrue(r.exited, r.output)
        XCTAssertTrue([0, 1].contains(r.status), r.output)
        let csv = try String(contentsOfFile: scratch.appendingPathComponent("bounds.csv").path, encoding: .utf8)
        let table = BoundsCLITests.parseCSV(csv)
        let header = try XCTUnwrap(table.first)
        let rows = table.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
        XCTAssertEqual(rows.count, 5, csv)
        let impossible = rows.filter { $0["error"]?.contains("out of memory budget") == true }
        XCTAssertEqual(impossible.map { $0["resolution"] ?? "" }.sorted(), ["65536", "8"], csv)
        XCTAssertEqual(impossible.compactMap { $0["dim"] }.filter { !$0.isEmpty }, ["1000000"], csv)
        let good = rows.filter { $0["error"]?.isEmpty ?? true }
        XCTAssertEqual(good.map { $0["resolution"] ?? "" }.sorted(), ["32", "48", "8"], csv)
        for row in good { XCTAssertFalse(row["median_ms"]?.isEmpty ?? true, "\(row)") }
    }

    /// RFC 4180 records: quoted fields may hold commas, quotes and newlines.
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = ""
        var quoted = false, i = text.startIndex
        while i < text.endIndex {
            let ch = text[i]
            if quoted {
                if ch == "\"" {
                    let n = text.index(after: i)
                    if n < text.endIndex && text[n] == "\"" { field.append("\""); i = n } else { quoted = false }
                } else { field.append(ch) }
            } else if ch == "\"" { quoted = true }
            else if ch == "," { record.append(field); field = "" }
            else if ch == "\n" || ch == "\r\n" { record.append(field); records.append(record); record = []; field = "" }
            else if ch != "\r" { field.append(ch) }
            i = text.index(after: i)
        }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        return records
    }
}
