import ArgumentParser
import Foundation
import VitReports

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two results CSVs configuration by configuration: median ratios NEW/BASE with a significance test.",
        discussion: """
            Rows are paired on model, form, resolution, batch, threads, backend, pinning, dim, kernel_isa and blas_threads (each \
            that is in both files); repeated rows of a configuration are merged. --across COLUMN=BASE:NEW compares \
            across one of those columns instead: BASE's rows with COLUMN = BASE against NEW's with COLUMN = NEW, \
            paired on the others — e.g. `vitbench compare r.csv --across backend=openblas:packed` (NEW defaults to \
            BASE, so one file with both backends is enough). Significance: two-sided Mann-Whitney U on the \
            per-run samples (samples_ms), or, for files without them, disjoint 95% confidence intervals of the \
            medians. A configuration regresses when NEW/BASE is above 1 + threshold and the difference is significant.

            Exit status: 0 no regression, 1 at least one regression, 2 a bad file or option, or no configuration \
            in both files.
            """)

    @Argument(help: "The results CSV to compare against (BASE).")
    var base: String?

    @Argument(help: "The results CSV to compare (NEW); with --across, BASE again unless given.")
    var new: String?

    @Option(help: ArgumentHelp("Compare across a configuration column: COLUMN=BASE:NEW (e.g. backend=openblas:packed, kernel_isa=avx2:avx512), or COLUMN when each file has one value of it.",
                               valueName: "column[=base:new]"))
    var across: [String] = []

    @Option(help: "Slowdown that counts as a regression: a percentage (5%) or a fraction (0.05).")
    var threshold = "5%"

    @Option(help: "Significance level of the Mann-Whitney U test.")
    var alpha = "0.05"

    @Option(help: "Also write the Markdown to this file.")
    var out: String?

    func run() throws {
        guard let base, let new = new ?? (across.isEmpty ? nil : base) else {
            throw fail("expected two files: BASE.csv NEW.csv (or one, with --across)")
        }
        let r = Comparison.run(base: base, new: new, threshold: threshold, alpha: alpha, across: across)
        if let error = r.error { throw fail(error) }
        print(r.output, terminator: "")
        if let out {
            do { try r.output.write(toFile: out, atomically: true, encoding: .utf8) } catch { throw fail("\(out): \(error.localizedDescription)") }
        }
        if r.status != .noRegression { throw ExitCode(r.status.rawValue) }
    }

    /// Prints a usage or input error; the exit code that goes with it (2, apart from regressions' 1).
    private func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("vitbench compare: \(message)\n".utf8))
        return ExitCode(CompareStatus.inputError.rawValue)
    }
}
