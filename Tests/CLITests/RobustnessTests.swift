import Foundation
import XCTest

/// Hostile and broken input through the `vitbench` binary: every case ends in an exit status
/// (never a signal), with a message that names the file and what is wrong; non-finite values
/// make `infer` exit 1 unless `--allow-nonfinite`.
final class RobustnessTests: VitbenchCLITestCase {
    struct Outcome {
        let status: Int32
        let signalled: Bool
        let output: String
    }

    func vitbench(_ args: String..., timeout: TimeInterval = 60, line: UInt = #line) throws -> Outcome {
        try vitbench(args, timeout: timeout, line: line)
    }

    /// Runs vitbench; a run still going after `timeout` seconds is killed and fails the test.
    func vitbench(_ args: [String], timeout: TimeInterval = 60, line: UInt = #line) throws -> Outcome {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        killer.cancel()
        let outcome = Outcome(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                              output: String(decoding: data, as: UTF8.self))
        XCTAssertFalse(outcome.signalled, "vitbench \(args.joined(separator: " ")) died of signal \(outcome.status)", line: line)
        return outcome
    }

    func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    /// A float32 .npy (version 1.0 or 2.0) written by hand: the CLI tests do not link the engine.
    func writeNpy(_ name: String, header: String, values: [Float], major: UInt8 = 1) throws -> String {
        var data = Data([0x93] + Array("NUMPY".utf8) + [major, 0])
        if major == 1 {
            withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        } else {
            withUnsafeBytes(of: UInt32(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        }
        data.append(contentsOf: header.utf8)
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    func writeInput(_ name: String, shape: [Int], poison: [Int: Float] = [:]) throws -> String {
        var values = (0..<shape.reduce(1, *)).map { Float(sin(Double($0))) }
        for (i, v) in poison { values[i] = v }
        let dims = shape.map(String.init).joined(separator: ", ")
        return try writeNpy(name, header: "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }\n", values: values)
    }

    /// A safetensors file from a header written by hand.
    func writeSafetensors(_ name: String, header: String, data: [UInt8]) throws -> String {
        var bytes = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: header.utf8)
        bytes.append(contentsOf: data)
        try bytes.write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    // MARK: Non-finite values

    /// Files a command writes where it is told: a folder, a path under a file or in a missing
    /// folder is an error naming the option and what is in the way, before any profiling (report
    /// makes its missing folders, as it always has). Foundation's error dump
    /// ("NSCocoaErrorDomain") never reaches the user.
    func testOutputFilesAreCheckedBeforeTheWork() throws {
        let tiny = ["profile", "--block", "fastvit.repmixer", "--dim", "8", "--resolution", "4", "--passes", "1"]
        let blocker = path("plain-file")
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let missing = path("missing/folder")
        for (option, value, expected) in [("--csv", scratch.path, "--csv \(scratch.path): that is a folder; name a file in it"),
                                          ("--trace", blocker + "/t.json", "--trace \(blocker)/t.json: \(blocker) is a file, not a folder"),
                                          ("--csv", missing + "/p.csv", "--csv \(missing)/p.csv: no folder \(missing)"),
                                          ("--csv", "", "--csv: an empty path; name a file")] {
            let r = try vitbench(tiny + [option, value])
            XCTAssertEqual(r.status, 1, r.output)
            XCTAssertTrue(r.output.contains(expected), r.output)
            XCTAssertFalse(r.output.contains("NSCocoaErrorDomain") || r.output.contains("# fastvit.repmixer"),
                           "a raw error, or the profile ran first: \(r.output)")
        }
        let csv = path("p.csv"), trace = path("t.json")
        let written = try vitbench(tiny + ["--csv", csv, "--trace", trace])
        XCTAssertEqual(written.status, 0, written.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: csv) && FileManager.default.fileExists(atPath: trace), written.output)
        // infer --output, export --onnx, report --out and --plots, compare --out: the same checks
        // (compare's input errors exit 2).
        let input = try writeInput("in.npy", shape: [1, 3, 32, 32])
        let inferred = try vitbench("infer", "--model", "metaformer_s12:pooling", "--input", input, "--output", scratch.path)
        XCTAssertEqual(inferred.status, 1, inferred.output)
        XCTAssertTrue(inferred.output.contains("--output \(scratch.path): that is a folder"), inferred.output)
        let exported = try vitbench("export", "--model", "metaformer_s12:pooling", "--onnx", blocker + "/m.onnx")
        XCTAssertEqual(exported.status, 1, exported.output)
        XCTAssertTrue(exported.output.contains("--onnx \(blocker)/m.onnx: \(blocker) is a file, not a folder"), exported.output)
        let refused = try vitbench("report", csv, "--out", scratch.path)
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("--out \(scratch.path): that is a folder"), refused.output)
        let plots = try vitbench("report", csv, "--plots", blocker)
        XCTAssertEqual(plots.status, 1, plots.output)
        XCTAssertTrue(plots.output.contains("--plots \(blocker): cannot create the folder: \(blocker) is a file, not a folder"), plots.output)
        let rendered = try vitbench("report", csv, "--out", path("reports/new/p.md"))
        XCTAssertEqual(rendered.status, 0, rendered.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("reports/new/p.md")), rendered.output)
        let compared = try vitbench("compare", csv, csv, "--out", scratch.path)
        XCTAssertEqual(compared.status, 2, compared.output)
        XCTAssertTrue(compared.output.contains("vitbench compare: --out \(scratch.path): that is a folder"), compared.output)
        XCTAssertFalse(compared.output.contains("NSCocoaErrorDomain"), compared.output)
    }

    func testInferRefusesNonFiniteInputUnlessAllowed() throws {
        // Index 1·(32·32) + 2·32 + 3 is [0, 1, 2, 3].
        let input = try writeInput("x.npy", shape: [1, 3, 32, 32], poison: [1 * 1024 + 2 * 32 + 3: .nan, 2000: .infinity])
        let output = path("y.npy")
        let r = try vitbench("infer", "--model", "metaformer_s12:pooling", "--input", input, "--output", output)
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("input \(input): 2 of 3072 values are not finite (1 NaN, 1 ±Inf)"), r.output)
        XCTAssertTrue(r.output.contains("[0, 1, 2, 3]"), r.output)
        XCTAssertTrue(r.output.contains("logits"), r.output)
        XCTAssertTrue(r.output.contains("--allow-nonfinite"), r.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: output), "the logits are written all the same")

        let allowed = try vitbench("infer", "--model", "metaformer_s12:pooling", "--input", input, "--output", output, "--allow-nonfinite")
        XCTAssertEqual(allowed.status, 0, allowed.output)
        XCTAssertTrue(allowed.output.contains("not finite"), "still reported: \(allowed.output)")

        let clean = try writeInput("clean.npy", shape: [1, 3, 32, 32])
        let fine = try vitbench("infer", "--model", "metaformer_s12:pooling", "--input", clean, "--output", output)
        XCTAssertEqual(fine.status, 0, fine.output)
        XCTAssertFalse(fine.output.contains("not finite"), fine.output)
    }

    func testNonFiniteWeightsAreNamedAtLoad() throws {
        // NaN in a tensor the model does not have: reported by name on load, then the load fails on the key.
        let nan = Float.nan.bitPattern, one = Float(1).bitPattern
        let bytes = [one, nan].flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
        let weights = try writeSafetensors("w.safetensors", header: #"{"bogus.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                                           data: bytes)
        let input = try writeInput("x.npy", shape: [1, 3, 32, 32])
        let r = try vitbench("infer", "--model", "metaformer_s12:pooling", "--weights", weights, "--input", input, "--output", path("y.npy"))
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("tensor 'bogus.weight': 1 of 2 values are not finite (NaN)"), r.output)
    }

    // MARK: Hostile files

    func testDeeplyNestedNpyHeaderIsAnError() throws {
        let header = "{'descr': " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
            + ", 'fortran_order': False, 'shape': (1,)}"
        let input = try writeNpy("deep.npy", header: header, values: [0], major: 2)
        let r = try vitbench("infer", "--model", "metaformer_s12:pooling", "--input", input, "--output", path("y.npy"))
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("\(input): header nests brackets more than 32 deep"), r.output)
    }

    func testOverlappingSafetensorsRangesNameTheTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let weights = try writeSafetensors("overlap.safetensors", header: header, data: Array(repeating: 0, count: 12))
        let input = try writeInput("x.npy", shape: [1, 3, 32, 32])
        let r = try vitbench("infer", "--model", "metaformer_s12:pooling", "--weights", weights, "--input", input, "--output", path("y.npy"))
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("tensors 'a' (bytes [0, 8)) and 'b' (bytes [4, 12)) overlap"), r.output)
    }

    func testDeeplyNestedSuitesAreErrors() throws {
        let n = 100_000
        let cases: [(String, String, String)] = [
            ("flow.yaml", "name: deep\nruns: " + String(repeating: "[", count: n) + String(repeating: "]", count: n) + "\n",
             "Maximum nesting level"),
            ("dashes.yaml", "runs:\n" + String(repeating: "- ", count: n) + "x\n", "Maximum nesting level"),
            // Each alias nests the previous anchor one level deeper: 100 000 lines, no deep text.
            ("aliases.yaml", "a0: &a0 [1]\n" + (1..<n).map { "a\($0): &a\($0) [*a\($0 - 1)]\n" }.joined(),
             "alias(es) could nest the suite"),
        ]
        for (name, text, message) in cases {
            try text.write(toFile: path(name), atomically: true, encoding: .utf8)
            let r = try vitbench("run", path(name), "--dry-run")
            XCTAssertEqual(r.status, 1, "\(name): \(r.output.prefix(500))")
            XCTAssertTrue(r.output.contains(path(name)), "\(name): \(r.output.prefix(500))")
            XCTAssertTrue(r.output.contains(message), "\(name): \(r.output.prefix(500))")
            XCTAssertLessThan(r.output.utf8.count, 4000, "\(name): the message quotes the file in part only")
        }
        // A few aliases in an ordinary suite are fine.
        let shared = """
            name: shared
            defaults: &d {batch: [1], threads: ["1"]}
            runs:
              - block: metaformer.pooling
                dims: &dims [8]
                resolutions: &res [4]
              - block: fastvit.repmixer
                dims: *dims
                resolutions: *res

            """
        try shared.write(toFile: path("shared.yaml"), atomically: true, encoding: .utf8)
        let ok = try vitbench("run", path("shared.yaml"), "--dry-run")
        XCTAssertEqual(ok.status, 0, ok.output)
    }

    // MARK: Extreme numbers (scripts/cli-sweep.sh runs every option with every value)

    func testExtremeNumericValuesAreRefusedWithoutASignal() throws {
        let input = try writeInput("x.npy", shape: [1, 3, 16, 16])
        for value in ["0", "-1", "99999999999999999999", "9223372036854775808", "inf", "nan", "-inf", "1e309", ""] {
            let cases: [[String]] = [
                ["info", "fastvit.repmixer", "--resolution", value],
                ["info", "fastvit.repmixer", "--dim", value],
                ["infer", "--model", "metaformer_s12:identity", "--input", input, "--output", path("y.npy"), "--threads", value],
                ["bench", "--block", "metaformer.pooling", "--dim", "8", "--resolution", value, "--min-runs", "1", "--max-seconds", "1"],
            ]
            for args in cases {
                let r = try vitbench(args, timeout: 30)
                XCTAssertNotEqual(r.status, 0, "\(args.joined(separator: " ")) accepted '\(value)': \(r.output.prefix(300))")
                XCTAssertLessThan(r.status, 128, "\(args.joined(separator: " ")): \(r.output.prefix(300))")
                XCTAssertTrue(r.output.contains("Error") || r.output.contains("error"), "\(args): no message: \(r.output.prefix(300))")
            }
        }
    }
}
