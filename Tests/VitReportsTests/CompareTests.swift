import Foundation
import XCTest
@testable import VitReports

final class CompareTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vitreports-cmp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// Writes a results CSV with samples: one row per (model, median) with ten runs around it.
    func write(_ name: String, _ rows: [(model: String, median: Double)], threads: Int = 1, samples: Bool = true) throws -> String {
        var header = ["model", "form", "resolution", "batch", "threads", "backend", "median_ms", "ci95_low_ms", "ci95_high_ms", "noisy", "error"]
        if samples { header.append("samples_ms") }
        var table = try ResultTable(header: header, source: name)
        for (model, median) in rows {
            let runs = (0..<10).map { median * (1 + Double($0 - 5) * 0.004) }
            var row = [model, "inference", "224", "1", "\(threads)", "packed", String(format: "%.4f", median),
                       String(format: "%.4f", runs[2]), String(format: "%.4f", runs[7]), "no", ""]
            if samples { row.append(runs.map { String(format: "%.4f", $0) }.joined(separator: ";")) }
            try table.append(row)
        }
        let path = scratch.appendingPathComponent(name).path
        try table.write(toFile: path)
        return path
    }

    /// `--across backend=openblas:packed` pairs one file's openblas rows with its packed rows.
    func testComparingAcrossABackend() throws {
        var table = try ResultTable(header: ["model", "form", "resolution", "batch", "threads", "backend", "median_ms", "samples_ms"], source: "r.csv")
        for (model, backend, median) in [("a", "openblas", 10.0), ("a", "packed", 8.0), ("b", "openblas", 5.0), ("b", "packed", 6.0)] {
            let runs = (0..<12).map { String(format: "%.4f", median * (1 + Double($0 - 6) * 0.002)) }.joined(separator: ";")
            try table.append([model, "inference", "224", "1", "1", backend, "\(median)", runs])
        }
        let c = try Comparison(base: table, new: table, options: CompareOptions(across: [try .init(parsing: "backend=openblas:packed")]))
        XCTAssertEqual(c.keyColumns, ["model", "form", "resolution", "batch", "threads"])
        XCTAssertEqual(c.pairs.map(\.key[0]), ["b", "a"])
        XCTAssertEqual(c.pairs.map(\.ratio), [1.2, 0.8])
        XCTAssertEqual(c.status, .regression)
        XCTAssertTrue(c.markdown().contains("Across `backend`: openblas (base) against packed (new)"), c.markdown())
        // Without values, each side must hold one backend.
        XCTAssertThrowsError(try Comparison(base: table, new: table, options: CompareOptions(across: [try .init(parsing: "backend")]))) { error in
            XCTAssertTrue("\(error)".contains("several values of 'backend' (openblas, packed)"), "\(error)")
        }
        XCTAssertThrowsError(try Comparison(base: table, new: table, options: CompareOptions(across: [try .init(parsing: "backend=blis:packed")]))) { error in
            XCTAssertTrue("\(error)".contains("no row has backend = blis (the base side of --across); it has: openblas, packed"), "\(error)")
        }
        for bad in ["colour=a:b", "backend=a", "backend=:b", "=x"] {
            XCTAssertThrowsError(try CompareOptions.Across(parsing: bad), bad)
        }
        let path = scratch.appendingPathComponent("r.csv").path
        try table.write(toFile: path)
        let r = Comparison.run(base: path, new: path, across: ["backend=packed:openblas"])
        XCTAssertNil(r.error)
        XCTAssertEqual(r.status, .regression)
    }

    func testThresholdAndAlphaParsing() throws {
        XCTAssertEqual(try CompareOptions.parseThreshold("5%"), 0.05, accuracy: 1e-15)
        XCTAssertEqual(try CompareOptions.parseThreshold("0.05"), 0.05)
        XCTAssertEqual(try CompareOptions.parseThreshold("0"), 0)
        XCTAssertEqual(try CompareOptions.parseThreshold("150%"), 1.5)
        for bad in ["", "five", "-5%", "5", "nan", "%"] {
            XCTAssertThrowsError(try CompareOptions.parseThreshold(bad), bad)
        }
        XCTAssertEqual(try CompareOptions.parseAlpha("0.01"), 0.01)
        XCTAssertEqual(try CompareOptions.parseAlpha("1%"), 0.01, accuracy: 1e-15)
        for bad in ["0", "1", "2", "x"] { XCTAssertThrowsError(try CompareOptions.parseAlpha(bad), bad) }
    }

    func testExitStatuses() throws {
        let base = try write("base.csv", [("a", 10), ("b", 20), ("c", 30)])
        let same = try write("same.csv", [("a", 10.1), ("b", 19.9), ("c", 30)])
        let slower = try write("slower.csv", [("a", 12), ("b", 20), ("c", 30)])
        let faster = try write("faster.csv", [("a", 8), ("b", 20), ("c", 30)])
        let other = try write("other.csv", [("x", 10)])

        XCTAssertEqual(Comparison.run(base: base, new: same).status, .noRegression)
        let r = Comparison.run(base: base, new: slower)
        XCTAssertEqual(r.status, .regression, r.output)
        XCTAssertEqual(Comparison.run(base: base, new: faster).status, .noRegression, "improvements never fail")
        // 20% slower is within a 25% threshold.
        XCTAssertEqual(Comparison.run(base: base, new: slower, threshold: "25%").status, .noRegression)

        let none = Comparison.run(base: base, new: other)
        XCTAssertEqual(none.status, .inputError)
        XCTAssertTrue(none.error?.hasPrefix("no configuration was measured in both") == true, none.error ?? "")
        let missing = Comparison.run(base: base, new: scratch.appendingPathComponent("nope.csv").path)
        XCTAssertEqual(missing.status, .inputError)
        XCTAssertTrue(missing.error?.hasSuffix("nope.csv: no such file") == true, missing.error ?? "")
        XCTAssertEqual(Comparison.run(base: base, new: same, threshold: "lots").status, .inputError)
        XCTAssertEqual(Comparison.run(base: base, new: same, alpha: "1.5").status, .inputError)

        let malformed = scratch.appendingPathComponent("bad.csv").path
        try "model,median_ms\n\"a,1\n".write(toFile: malformed, atomically: true, encoding: .utf8)
        let m = Comparison.run(base: base, new: malformed)
        XCTAssertEqual(m.status, .inputError)
        XCTAssertTrue(m.error?.hasPrefix("\(malformed):2:1: unterminated quoted field") == true, m.error ?? "")
    }

    func testRegressionReport() throws {
        let base = try ResultTable.read(contentsOf: try write("base.csv", [("a", 10), ("b", 20), ("gone", 5)]))
        let new = try ResultTable.read(contentsOf: try write("new.csv", [("a", 12), ("b", 16), ("added", 5)]))
        let c = try Comparison(base: base, new: new, options: CompareOptions(threshold: 0.05, alpha: 0.05))
        XCTAssertEqual(c.keyColumns, ["model", "form", "resolution", "batch", "threads", "backend"])
        XCTAssertEqual(c.pairs.map { $0.key[0] }, ["a", "b"], "worst first")
        XCTAssertEqual(c.pairs[0].ratio, 1.2, accuracy: 1e-12)
        XCTAssertEqual(c.pairs[0].test, .mannWhitney)
        XCTAssertEqual(c.pairs[0].mannWhitney?.method, .exact)
        // Ten runs each, completely separated: p = 2 / C(20, 10).
        XCTAssertEqual(c.pairs[0].mannWhitney!.pValue, 2.0 / 184756, accuracy: 1e-15)
        XCTAssertEqual(c.pairs.map(\.verdict), [.regression, .improvement])
        XCTAssertEqual(c.geometricMeanRatio, (1.2 * 0.8).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(c.onlyInBase.map { $0[0] }, ["gone"])
        XCTAssertEqual(c.onlyInNew.map { $0[0] }, ["added"])
        XCTAssertEqual(c.status, .regression)
        let md = c.markdown()
        XCTAssertTrue(md.contains("Significance: Mann–Whitney U (two-sided, α = 0.05) on the per-run samples `samples_ms` for 2 pair(s)."), md)
        XCTAssertTrue(md.contains("| a | inference | 224 | 1 | 1 | packed | 10.00 | 12.00 | 1.200 | 1.08e-05 | U, exact | **regression** |"), md)
        XCTAssertTrue(md.contains("| b | inference | 224 | 1 | 1 | packed | 20.00 | 16.00 | 0.800 | 1.08e-05 | U, exact | improvement |"), md)
        XCTAssertTrue(md.contains("**Geometric mean of NEW/BASE over 2 paired configurations: 0.980 (2.0% faster).** 1 regression, 1 improvement, 0 without a significant change beyond 5%."), md)
        XCTAssertTrue(md.hasPrefix("# \(new.source) against \(base.source)\n"), md)
        XCTAssertTrue(md.contains("## Only in \(base.source)\n\n| model | form | resolution | batch | threads | backend |\n|---|---|---|---|---|---|\n| gone |"), md)
        XCTAssertTrue(md.contains("## Only in \(new.source)\n\n| model | form | resolution | batch | threads | backend |\n|---|---|---|---|---|---|\n| added |"), md)
    }

    func testConfidenceIntervalFallback() throws {
        // No samples_ms: disjoint 95% intervals decide.
        let base = try ResultTable.read(contentsOf: try write("base.csv", [("a", 10), ("b", 10)], samples: false))
        let new = try ResultTable.read(contentsOf: try write("new.csv", [("a", 12), ("b", 10.6)], samples: false))
        let c = try Comparison(base: base, new: new)
        XCTAssertEqual(c.pairs.map(\.test), [.ciOverlap, .ciOverlap])
        // a: [12·0.988, 12·1.008] vs [9.88, 10.08]: disjoint. b: 10.6·0.988 = 10.47 > 10.08: disjoint too, but 6% > 5%.
        XCTAssertEqual(c.pairs.map(\.verdict), [.regression, .regression])
        let wide = try Comparison(base: base, new: new, options: CompareOptions(threshold: 0.1, alpha: 0.05))
        XCTAssertEqual(wide.pairs.map(\.verdict), [.regression, .withinThreshold])
        XCTAssertTrue(c.markdown().contains("disjoint 95% confidence intervals of the medians (`ci95_low_ms`, `ci95_high_ms`; α does not apply) for 2 pair(s)"))

        // Overlapping intervals: slower, but not significant.
        let overlap = try ResultTable(csv: "model,median_ms,ci95_low_ms,ci95_high_ms\na,11,9,13\n", source: "o.csv")
        let baseCI = try ResultTable(csv: "model,median_ms,ci95_low_ms,ci95_high_ms\na,10,8,12\n", source: "b.csv")
        let o = try Comparison(base: baseCI, new: overlap)
        XCTAssertEqual(o.pairs[0].verdict, .notSignificant)
        XCTAssertEqual(o.status, .noRegression)
        XCTAssertEqual(o.keyColumns, ["model"])

        // Neither samples nor intervals: reported, untested, never a regression.
        let bare = try Comparison(base: try ResultTable(csv: "model,median_ms\na,10\n", source: "x.csv"),
                                  new: try ResultTable(csv: "model,median_ms\na,20\n", source: "y.csv"))
        XCTAssertEqual(bare.pairs[0].verdict, .untested)
        XCTAssertEqual(bare.status, .noRegression)
    }

    func testRepetitionsFailuresAndTinySamples() throws {
        let base = try ResultTable(csv: """
            model,threads,pinning,median_ms,error,samples_ms
            a,1,none,10,,9;10;11
            a,1,none,12,,11;12;13
            b,1,none,5,,5;5.1;4.9
            c,1,none,,boom,

            """, source: "base.csv")
        let new = try ResultTable(csv: """
            model,threads,median_ms,error,samples_ms
            a,1,30,,29;30;31
            b,1,,out of memory,
            c,1,7,,7;7;7

            """, source: "new.csv")
        let c = try Comparison(base: base, new: new)
        XCTAssertEqual(c.keyColumns, ["model", "threads"])
        XCTAssertEqual(c.notes, ["`pinning` is only in base.csv: not used for pairing."])
        XCTAssertEqual(c.pairs.count, 1)
        // Repetitions: the median of medians (11), samples pooled (6 runs vs 3).
        XCTAssertEqual(c.pairs[0].baseMedian, 11)
        XCTAssertEqual(c.pairs[0].mannWhitney?.n1, 6)
        // 11 twice: ties, so the normal approximation (scipy: 0.02753189387562954).
        XCTAssertEqual(c.pairs[0].mannWhitney?.method, .asymptotic)
        XCTAssertEqual(c.pairs[0].mannWhitney?.pValue ?? 0, 0.02753189387562954, accuracy: 1e-12)
        XCTAssertEqual(c.pairs[0].verdict, .regression)
        XCTAssertEqual(c.failed.map(\.key), [["b", "1"], ["c", "1"]])
        XCTAssertEqual(c.failed.map(\.new), ["out of memory", ""])
        XCTAssertEqual(c.failed.map(\.base), ["", "boom"])

        // Three runs each can never reach p < 0.05: the verdict says so.
        let tiny = try Comparison(base: try ResultTable(csv: "model,median_ms,samples_ms\na,10,9;10;11\n", source: "x.csv"),
                                  new: try ResultTable(csv: "model,median_ms,samples_ms\na,20,19;20;21\n", source: "y.csv"))
        XCTAssertEqual(tiny.pairs[0].verdict, .notSignificant)
        XCTAssertEqual(tiny.pairs[0].note, "3 and 3 runs: p cannot go below 0.1")
        XCTAssertTrue(tiny.markdown().contains("not significant (3 and 3 runs: p cannot go below 0.1)"))

        XCTAssertThrowsError(try Comparison(base: try ResultTable(csv: "model,median_ms,samples_ms\na,10,9;x\n", source: "s.csv"),
                                            new: try ResultTable(csv: "model,median_ms\na,10\n", source: "t.csv"))) { error in
            XCTAssertEqual("\(error)", "s.csv:2:3: samples_ms: 'x' is not a number (expected times in ms separated by ';')")
        }
        XCTAssertThrowsError(try Comparison(base: try ResultTable(csv: "model,mean_ms\na,10\n", source: "s.csv"),
                                            new: try ResultTable(csv: "model,median_ms\na,10\n", source: "t.csv"))) { error in
            XCTAssertEqual("\(error)", "s.csv: no 'median_ms' column, so its rows cannot be compared (columns: model, mean_ms)")
        }
    }

    // MARK: The binary

    /// The built `vitbench` next to the test bundle, found as CLITests finds it.
    var binary: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("vitbench")
    }

    func vitbench(_ args: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "vitbench not built at \(binary.path)")
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testBinaryCompareExitCodes() throws {
        let base = try write("base.csv", [("a", 10), ("b", 20)])
        let slower = try write("slower.csv", [("a", 12), ("b", 20)])
        let same = try write("same.csv", [("a", 10), ("b", 20)])
        let ok = try vitbench("compare", base, same)
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertTrue(ok.stdout.contains("Geometric mean of NEW/BASE over 2 paired configurations: 1.000"), ok.stdout)
        let bad = try vitbench("compare", base, slower, "--threshold", "5%")
        XCTAssertEqual(bad.status, 1, bad.stdout + bad.stderr)
        XCTAssertTrue(bad.stdout.contains("**regression**"), bad.stdout)
        let usage = try vitbench("compare", base, slower, "--threshold", "5")
        XCTAssertEqual(usage.status, 2)
        XCTAssertTrue(usage.stderr.contains("vitbench compare: --threshold: '5' is ambiguous"), usage.stderr)
        XCTAssertEqual(try vitbench("compare", base).status, 2)
        XCTAssertEqual(try vitbench("compare", base, scratch.appendingPathComponent("none.csv").path).status, 2)
    }

    func testBinaryReport() throws {
        let file = scratch.appendingPathComponent("r.csv").path
        try mixersCSV.write(toFile: file, atomically: true, encoding: .utf8)
        let md = scratch.appendingPathComponent("r.md").path
        let r = try vitbench("report", file, "--pivot", "mixers", "--baseline", "repmixer", "--out", md)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let text = try String(contentsOfFile: md, encoding: .utf8)
        XCTAssertTrue(text.contains("| repmixer | 1.00× | ~1.00× |"), text)
        let json = try vitbench("report", file, "--json")
        XCTAssertEqual(json.status, 0)
        XCTAssertTrue(json.stdout.hasPrefix("[\n  {\"model\": \"metaformer_s12:pooling\", \"mixer\": \"pooling\""), json.stdout)
        let missing = try vitbench("report", file, "--pivot", "threads")
        XCTAssertEqual(missing.status, 0, "threads is a column here; one thread count gives a note")
        XCTAssertTrue(missing.stdout.contains("_No thread-scaling pivot"), missing.stdout)
    }
}
