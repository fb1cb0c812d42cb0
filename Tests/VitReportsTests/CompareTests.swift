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

    /// A results table: for each (model, median), `repetitions` rows whose medians spread ±1%
    /// around it (one row per repetition, as a suite with `repetitions:` writes them).
    func table(_ name: String, _ rows: [(model: String, median: Double)], repetitions: Int = 4, machine: String = "m1",
               noisy: String = "no", backend: String = "packed") throws -> ResultTable {
        let header = ["model", "form", "resolution", "batch", "threads", "backend", "median_ms", "noisy", "error", "machine_id", "cpu",
                      "commit", "timestamp"]
        var t = try ResultTable(header: header, source: name)
        for (model, median) in rows {
            for r in 0..<repetitions {
                let m = median * (1 + (Double(r) - Double(repetitions - 1) / 2) * 0.01)
                try t.append([model, "inference", "224", "1", "1", backend, String(format: "%.4f", m), noisy, "", machine,
                              "CPU of \(machine)", "abc1234", "2026-11-30T10:0\(r):00Z"])
            }
        }
        return t
    }

    func write(_ name: String, _ rows: [(model: String, median: Double)], repetitions: Int = 4, machine: String = "m1") throws -> String {
        let path = scratch.appendingPathComponent(name).path
        try table(name, rows, repetitions: repetitions, machine: machine).write(toFile: path)
        return path
    }

    // MARK: The statistics

    /// Student's t tail and Welch's test against SciPy (`scipy.stats.t.sf`, `ttest_ind(..., equal_var=False,
    /// alternative='greater')` on the logarithms).
    func testWelchOnLogRepetitionMediansMatchesSciPy() throws {
        for (t, df, expected) in [(2.0, 4.0, 0.05805826175840778), (1.0, 10, 0.17044656615103), (3.0, 2.5, 0.036288047774515914),
                                  (-1.5, 7.3, 0.912218453598457), (10, 1, 0.03172551743055357), (0.3, 250, 0.3822132245080248)] {
            XCTAssertEqual(StudentT.upperTail(t, degreesOfFreedom: df), expected, accuracy: 1e-12, "t=\(t) df=\(df)")
        }
        let w = try XCTUnwrap(RepetitionTest.test(base: [10.0, 10.2, 9.9], new: [11.0, 11.5, 10.8, 11.2]))
        XCTAssertEqual(w.t, 6.441481391099609, accuracy: 1e-10)
        XCTAssertEqual(w.degreesOfFreedom, 4.801044314044948, accuracy: 1e-10)
        XCTAssertEqual(w.pSlower, 0.0007795188240411261, accuracy: 1e-12)
        XCTAssertEqual(w.pFaster, 1 - 0.0007795188240411261, accuracy: 1e-12)
        XCTAssertNil(RepetitionTest.test(base: [10], new: [11, 12]), "one repetition has no spread")
        XCTAssertNil(RepetitionTest.test(base: [10, .nan], new: [11, 12]))
        let flat = try XCTUnwrap(RepetitionTest.test(base: [10, 10], new: [12, 12]))
        XCTAssertEqual(flat.pSlower, 0)
        XCTAssertEqual(try XCTUnwrap(RepetitionTest.test(base: [10, 10], new: [10, 10])).pSlower, 0.5)
    }

    func testHolmCorrection() {
        // m = 4: the smallest against α/4, the next against α/3, ...; stops at the first that fails.
        XCTAssertEqual(RepetitionTest.holm([0.01, 0.04, 0.012, 0.3], alpha: 0.05), [true, false, true, false])
        XCTAssertEqual(RepetitionTest.holm([0.0125, 0.0166], alpha: 0.05), [true, true])
        XCTAssertEqual(RepetitionTest.holm([0.026, 0.026], alpha: 0.05), [false, false])
        XCTAssertEqual(RepetitionTest.holm([], alpha: 0.05), [])
    }

    /// The gate's false-alarm rate and power on simulated suites whose timings behave like a
    /// shared machine's: every run of a repetition drifts together (AR(1), ρ = 0.9, 2%: the runs
    /// of one process are correlated), each repetition has its own level (memory layout,
    /// frequency: 2%), each round of the interleaved job its own machine state shared by both
    /// sides (10%: minutes apart, medians differ by tens of percent), and one run in fifty is a 2x
    /// spike. Pooling the runs would make the correlated runs look like 40 independent samples;
    /// the gate sees 5 repetitions. A/A: identical distributions on both sides. The gate must exit 1
    /// on at most 5% of A/A comparisons and catch a 15% slowdown of one configuration.
    func testFalseAlarmRateAndPowerOnSimulatedSuites() throws {
        var rng = SplitMix64(seed: 42)
        let configurations = 20, repetitions = 5, runsPerRepetition = 40
        func suite(roundStates: [Double], slowdown: (Int) -> Double) throws -> ResultTable {
            var t = try ResultTable(header: ["model", "median_ms", "noisy"], source: "sim.csv")
            for c in 0..<configurations {
                let level = 1.0 + Double(c)
                for r in 0..<repetitions {
                    let repetitionLevel = level * roundStates[r] * exp(0.02 * rng.normal()) * slowdown(c)
                    var ar = 0.0, runs: [Double] = []
                    for _ in 0..<runsPerRepetition {
                        ar = 0.9 * ar + (1 - 0.81).squareRoot() * 0.02 * rng.normal()
                        runs.append(repetitionLevel * exp(ar) * (rng.uniform() < 0.02 ? 2 : 1))
                    }
                    try t.append(["c\(c)", "\(Measurements.median(runs))", "no"])
                }
            }
            return t
        }
        var falseAlarms = 0, caught = 0
        let trials = 200
        for _ in 0..<trials {
            let states = (0..<repetitions).map { _ in exp(0.10 * rng.normal()) }
            let a = try suite(roundStates: states, slowdown: { _ in 1 }), b = try suite(roundStates: states, slowdown: { _ in 1 })
            if try Comparison(base: a, new: b).status == .regression { falseAlarms += 1 }
            let slowed = try suite(roundStates: states, slowdown: { $0 == 7 ? 1.15 : 1 })
            let c = try Comparison(base: a, new: slowed)
            if c.regressions.map({ $0.key[0] }) == ["c7"] { caught += 1 }
        }
        XCTAssertLessThanOrEqual(Double(falseAlarms) / Double(trials), 0.05, "\(falseAlarms) of \(trials) A/A comparisons failed")
        XCTAssertGreaterThanOrEqual(Double(caught) / Double(trials), 0.9, "a 15% slowdown was caught in \(caught) of \(trials)")
        print("simulated gate: \(falseAlarms)/\(trials) A/A comparisons failed; a 15% slowdown of one of \(configurations) configurations caught in \(caught)/\(trials)")
    }

    // MARK: Pairing and verdicts

    /// `--across backend=openblas:packed` pairs one file's openblas rows with its packed rows.
    func testComparingAcrossABackend() throws {
        var table = try self.table("r.csv", [("a", 10), ("b", 5)], backend: "openblas")
        let packed = try self.table("p.csv", [("a", 8), ("b", 6)], backend: "packed")
        for r in packed.rows { try table.append(r) }
        let c = try Comparison(base: table, new: table, options: CompareOptions(across: [try .init(parsing: "backend=openblas:packed")]))
        XCTAssertEqual(c.keyColumns, ["model", "form", "resolution", "batch", "threads"])
        XCTAssertEqual(c.pairs.map(\.key[0]), ["b", "a"])
        XCTAssertEqual(c.pairs[0].ratio, 1.2, accuracy: 1e-9)
        XCTAssertEqual(c.pairs[1].ratio, 0.8, accuracy: 1e-9)
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
        let r = Comparison.run(base: [path], new: [path], across: ["backend=packed:openblas"])
        XCTAssertNil(r.error)
        XCTAssertEqual(r.status, .regression)
    }

    func testThresholdAndAlphaParsing() throws {
        XCTAssertEqual(try CompareOptions.parseThreshold("5%"), 0.05, accuracy: 1e-15)
        XCTAssertEqual(try CompareOptions.parseThreshold("0.05"), 0.05)
        XCTAssertEqual(try CompareOptions.parseThreshold("0"), 0)
        XCTAssertEqual(try CompareOptions.parseThreshold("150%"), 1.5)
        for bad in ["", "five", "-5%", "5", "nan", "%", "inf"] {
            XCTAssertThrowsError(try CompareOptions.parseThreshold(bad), bad)
        }
        XCTAssertEqual(try CompareOptions.parseAlpha("0.01"), 0.01)
        XCTAssertEqual(try CompareOptions.parseAlpha("1%"), 0.01, accuracy: 1e-15)
        for bad in ["0", "1", "2", "x", "nan"] { XCTAssertThrowsError(try CompareOptions.parseAlpha(bad), bad) }
        let (machines, columns) = try CompareOptions.parseAcross(["machines", "backend=a:b"])
        XCTAssertTrue(machines)
        XCTAssertEqual(columns, [CompareOptions.Across(column: "backend", base: "a", new: "b")])
    }

    func testExitStatuses() throws {
        let base = try write("base.csv", [("a", 10), ("b", 20), ("c", 30)])
        let same = try write("same.csv", [("a", 10.05), ("b", 19.9), ("c", 30)])
        let slower = try write("slower.csv", [("a", 12), ("b", 20), ("c", 30)])
        let faster = try write("faster.csv", [("a", 8), ("b", 20), ("c", 30)])
        let other = try write("other.csv", [("x", 10)])

        XCTAssertEqual(Comparison.run(base: [base], new: [same]).status, .noRegression)
        let r = Comparison.run(base: [base], new: [slower])
        XCTAssertEqual(r.status, .regression, r.output)
        XCTAssertEqual(Comparison.run(base: [base], new: [faster]).status, .noRegression, "improvements never fail")
        // 20% slower is within a 25% threshold.
        XCTAssertEqual(Comparison.run(base: [base], new: [slower], threshold: "25%").status, .noRegression)

        let none = Comparison.run(base: [base], new: [other])
        XCTAssertEqual(none.status, .inputError)
        XCTAssertTrue(none.error?.hasPrefix("no configuration was measured in both") == true, none.error ?? "")
        let missing = Comparison.run(base: [base], new: [scratch.appendingPathComponent("nope.csv").path])
        XCTAssertEqual(missing.status, .inputError)
        XCTAssertTrue(missing.error?.hasSuffix("nope.csv: no such file") == true, missing.error ?? "")
        XCTAssertEqual(Comparison.run(base: [base], new: [same], threshold: "lots").status, .inputError)
        XCTAssertEqual(Comparison.run(base: [base], new: [same], alpha: "1.5").status, .inputError)
        XCTAssertEqual(Comparison.run(base: [base], new: [same], minimumRepetitions: 1).status, .inputError)

        let malformed = scratch.appendingPathComponent("bad.csv").path
        try "model,median_ms\n\"a,1\n".write(toFile: malformed, atomically: true, encoding: .utf8)
        let m = Comparison.run(base: [base], new: [malformed])
        XCTAssertEqual(m.status, .inputError)
        XCTAssertTrue(m.error?.hasPrefix("\(malformed):2:1: unterminated quoted field") == true, m.error ?? "")
    }

    func testRegressionReport() throws {
        let base = try table("base.csv", [("a", 10), ("b", 20), ("gone", 5)])
        let new = try table("new.csv", [("a", 12), ("b", 16), ("added", 5)])
        let c = try Comparison(base: base, new: new, options: CompareOptions(threshold: 0.05, alpha: 0.05))
        XCTAssertEqual(c.keyColumns, ["model", "form", "resolution", "batch", "threads", "backend"])
        XCTAssertEqual(c.pairs.map { $0.key[0] }, ["a", "b"], "worst first")
        XCTAssertEqual(c.pairs[0].ratio, 1.2, accuracy: 1e-9)
        XCTAssertEqual(c.pairs[0].test, .welch)
        XCTAssertEqual(c.pairs[0].baseRepetitions, 4)
        // The same ±1% pattern on both sides, 20% apart: paired, every round's ratio is 1.2 (rounded to 4 decimals).
        XCTAssertEqual(c.pairs[0].repetitionTest?.paired, true)
        XCTAssertGreaterThan(c.pairs[0].repetitionTest!.t, 1000)
        XCTAssertEqual(c.pairs.map(\.verdict), [.regression, .improvement])
        XCTAssertEqual(c.geometricMeanRatio, (1.2 * 0.8).squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(c.onlyInBase.map { $0[0] }, ["gone"])
        XCTAssertEqual(c.onlyInNew.map { $0[0] }, ["added"])
        XCTAssertEqual(c.status, .regression)
        let md = c.markdown()
        XCTAssertTrue(md.hasPrefix("# \(new.source) against \(base.source)\n"), md)
        XCTAssertTrue(md.contains("| machine | m1 | m1 |"), md)
        XCTAssertTrue(md.contains("| commit | abc1234 | abc1234 |"), md)
        XCTAssertTrue(md.contains("| date | 2026-11-30 | 2026-11-30 |"), md)
        XCTAssertTrue(md.contains("Holm-corrected over the 2 tested configuration(s) at family-wise α = 0.05"), md)
        XCTAssertTrue(md.contains("paired in order"), md)
        XCTAssertTrue(md.contains("| a | inference | 224 | 1 | 1 | packed | 10.00 | 12.00 | 1.200 | 4/4 |"), md)
        XCTAssertTrue(md.contains("| **regression** |"), md)
        XCTAssertTrue(md.contains("**Geometric mean of NEW/BASE over 2 paired configurations: 0.980 (2.0% faster).** 1 regression, 1 improvement, 0 without a significant change beyond 5%."), md)
        XCTAssertTrue(md.contains("## Only in the base\n\n| model | form | resolution | batch | threads | backend |\n|---|---|---|---|---|---|\n| gone |"), md)
        XCTAssertTrue(md.contains("## Only in the new\n\n| model | form | resolution | batch | threads | backend |\n|---|---|---|---|---|---|\n| added |"), md)
    }

    /// One repetition a side (a single `bench` or a suite without `repetitions:`): a ratio, no verdict.
    func testTooFewRepetitionsAreReportedUntested() throws {
        let c = try Comparison(base: try table("b.csv", [("a", 10)], repetitions: 1), new: try table("n.csv", [("a", 20)], repetitions: 1))
        XCTAssertEqual(c.pairs[0].verdict, .untested)
        XCTAssertEqual(c.pairs[0].note, "1 and 1 repetition(s): 3 a side are needed for a test")
        XCTAssertEqual(c.status, .noRegression)
        let two = try Comparison(base: try table("b.csv", [("a", 10)], repetitions: 2), new: try table("n.csv", [("a", 20)], repetitions: 2),
                                 options: CompareOptions(minimumRepetitions: 2))
        XCTAssertEqual(two.pairs[0].verdict, .regression)
    }

    /// A slowdown on a noisy row is reported but cannot fail the gate alone; --strict lets it.
    func testNoisyRegressionsFailOnlyWhenStrict() throws {
        let base = try table("b.csv", [("a", 10)]), noisy = try table("n.csv", [("a", 13)], noisy: "yes")
        let c = try Comparison(base: base, new: noisy)
        XCTAssertEqual(c.regressions.count, 1)
        XCTAssertEqual(c.status, .noRegression)
        XCTAssertTrue(c.markdown().contains("regression (noisy: not failing)"), c.markdown())
        XCTAssertEqual(try Comparison(base: base, new: noisy, options: CompareOptions(strict: true)).status, .regression)
        var busy = try table("n.csv", [("a", 13)])
        busy = try ResultTable(header: busy.header + ["busy"], rows: busy.rows.map { $0 + ["yes"] }, source: "busy.csv")
        XCTAssertEqual(try Comparison(base: base, new: busy).status, .noRegression, "a busy machine counts as noisy")
    }

    /// Rows from different machines are not a regression test: refused, naming both, unless asked.
    func testDifferentMachinesAreRefusedUnlessAcrossMachines() throws {
        let base = try table("b.csv", [("a", 10)], machine: "zen3"), new = try table("n.csv", [("a", 12)], machine: "zen4")
        XCTAssertThrowsError(try Comparison(base: base, new: new)) { error in
            XCTAssertTrue("\(error)".contains("the sides ran on different machines: base on zen3 (CPU of zen3), new on zen4 (CPU of zen4)"), "\(error)")
            XCTAssertTrue("\(error)".contains("--across machines"), "\(error)")
        }
        let c = try Comparison(base: base, new: new, options: CompareOptions(acrossMachines: true))
        XCTAssertEqual(c.pairs.count, 1)
        XCTAssertTrue(c.notes.contains("Across machines: zen3 (CPU of zen3) (base) against zen4 (CPU of zen4) (new)."), "\(c.notes)")
    }

    /// Each side may be several runs (files): their rows are repetitions of the same configurations.
    func testSeveralFilesPerSide() throws {
        let runs = try (0..<3).map { i in (try write("base\(i).csv", [("a", 10 + Double(i) * 0.05)], repetitions: 1),
                                          try write("new\(i).csv", [("a", 13 + Double(i) * 0.05)], repetitions: 1)) }
        let r = Comparison.run(base: runs.map(\.0), new: runs.map(\.1))
        XCTAssertNil(r.error)
        XCTAssertEqual(r.status, .regression, r.output)
        XCTAssertTrue(r.output.contains("| 3/3 |"), r.output)
        XCTAssertTrue(r.output.contains("/base1.csv, "), r.output)
        XCTAssertTrue(r.output.contains("/new2.csv |"), r.output)
    }

    func testFailuresAndBadValues() throws {
        let base = try ResultTable(csv: """
            model,threads,pinning,median_ms,error
            a,1,none,10,
            a,1,none,12,
            b,1,none,5,
            c,1,none,,boom

            """, source: "base.csv")
        let new = try ResultTable(csv: """
            model,threads,median_ms,error
            a,1,30,
            b,1,,out of memory
            c,1,7,

            """, source: "new.csv")
        let c = try Comparison(base: base, new: new)
        XCTAssertEqual(c.keyColumns, ["model", "threads"])
        XCTAssertEqual(c.notes, ["`pinning` is only in base.csv: not used for pairing."])
        XCTAssertEqual(c.pairs.count, 1)
        XCTAssertEqual(c.pairs[0].baseMedian, 11, "the median of the repetitions' medians")
        XCTAssertEqual(c.failed.map(\.key), [["b", "1"], ["c", "1"]])
        XCTAssertEqual(c.failed.map(\.new), ["out of memory", ""])
        XCTAssertEqual(c.failed.map(\.base), ["", "boom"])
        XCTAssertThrowsError(try Comparison(base: try ResultTable(csv: "model,median_ms\na,x\n", source: "s.csv"),
                                            new: try ResultTable(csv: "model,median_ms\na,10\n", source: "t.csv")))
        XCTAssertThrowsError(try Comparison(base: try ResultTable(csv: "model,median_ms\na,-3\n", source: "s.csv"),
                                            new: try ResultTable(csv: "model,median_ms\na,10\n", source: "t.csv"))) { error in
            XCTAssertEqual("\(error)", "s.csv:2:2: median_ms: -3.0 is not a positive time")
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
        let sides = try vitbench("compare", "--base", base, "--base", same, "--new", slower)
        XCTAssertEqual(sides.status, 1, sides.stdout + sides.stderr)
        XCTAssertEqual(try vitbench("compare", base, "--new", slower).status, 2)
        let other = try write("other.csv", [("a", 10), ("b", 20)], machine: "elsewhere")
        let refused = try vitbench("compare", base, other)
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("different machines"), refused.stderr)
        XCTAssertEqual(try vitbench("compare", base, other, "--across", "machines").status, 0)
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

/// A seeded generator for the simulations: SplitMix64, normals by Box–Muller.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-300), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}
