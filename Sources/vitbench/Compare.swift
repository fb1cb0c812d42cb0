import ArgumentParser
import Foundation
import VitReports

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare results configuration by configuration: median ratios NEW/BASE, gated on independent repetitions.",
        discussion: """
            Each side is one results CSV (BASE.csv NEW.csv) or several (--base F --base G --new H --new I: the runs of \
            an interleaved job, e.g. the base commit's and the change's suite runs alternated). Rows pair on model, \
            form, resolution, batch, threads, backend, pinning, dim, kernel_isa and blas_threads (each that is on both \
            sides); every successful row of a configuration is one repetition.

            A configuration regresses when NEW/BASE of its repetition medians is above 1 + threshold AND the \
            slowdown is significant: Welch's t-test on the logarithms of the repetition medians (one-sided; at least \
            --min-repetitions a side, default 3), Holm-corrected over all tested configurations at family-wise \
            --alpha. Per-run samples are never pooled: runs inside one process are correlated and would make the test \
            far too confident. A regression in a noisy pair (CV above the noise threshold, or the machine busy) is \
            reported but fails the comparison only with --strict.

            Rows from different machines (machine_id) are refused unless --across machines. --across COLUMN=BASE:NEW \
            compares across one configuration column instead: BASE's rows with COLUMN = BASE against NEW's with \
            COLUMN = NEW, paired on the others — e.g. `vitbench compare r.csv --across backend=openblas:packed` (NEW \
            defaults to BASE, so one file with both backends is enough).

            Exit status: 0 no failing regression, 1 at least one, 2 a bad file or option, or no configuration on \
            both sides.
            """)

    @Argument(help: "BASE.csv NEW.csv (or one file, with --across).")
    var files: [String] = []

    @Option(help: ArgumentHelp("A results CSV of the base side; repeat for several runs.", valueName: "file"))
    var base: [String] = []

    @Option(help: ArgumentHelp("A results CSV of the new side; repeat for several runs.", valueName: "file"))
    var new: [String] = []

    @Option(help: ArgumentHelp("Compare across a configuration column: COLUMN=BASE:NEW (e.g. backend=openblas:packed, kernel_isa=avx2:avx512), or COLUMN when each side has one value of it; `machines` to pair rows from different machines.",
                               valueName: "column[=base:new]"))
    var across: [String] = []

    @Option(help: "Slowdown that counts as a regression: a percentage (5%) or a fraction (0.05).")
    var threshold = "5%"

    @Option(help: "Family-wise significance level over all configurations (Holm).")
    var alpha = "0.05"

    @Option(help: "Repetitions a configuration needs on each side to be tested.")
    var minRepetitions = 3

    @Flag(help: "Let a regression in a noisy pair (CV flag or a busy machine) fail the comparison.")
    var strict = false

    @Option(help: "Also write the Markdown to this file.")
    var out: String?

    func run() throws {
        if let out {
            do { try OutputFile.prepare(out, option: "--out") } catch { throw fail("\(error)") }
        }
        let sides: (base: [String], new: [String])
        if !base.isEmpty || !new.isEmpty {
            guard files.isEmpty, !base.isEmpty, !new.isEmpty else {
                throw fail("with --base and --new, name files only through them (at least one each), not as arguments")
            }
            sides = (base, new)
        } else if files.count == 2 {
            sides = ([files[0]], [files[1]])
        } else if files.count == 1 && !across.isEmpty {
            sides = ([files[0]], [files[0]])
        } else {
            throw fail("expected two files: BASE.csv NEW.csv (or one, with --across; or --base F... --new G...)")
        }
        let r = Comparison.run(base: sides.base, new: sides.new, threshold: threshold, alpha: alpha,
                               minimumRepetitions: minRepetitions, strict: strict, across: across)
        if let error = r.error { throw fail(error) }
        print(r.output, terminator: "")
        if let out {
            do { try OutputFile.write(r.output, to: out, option: "--out") } catch { throw fail("\(error)") }
        }
        if r.status != .noRegression { throw ExitCode(r.status.rawValue) }
    }

    /// Prints a usage or input error; the exit code that goes with it (2, apart from regressions' 1).
    private func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("vitbench compare: \(message)\n".utf8))
        return ExitCode(CompareStatus.inputError.rawValue)
    }
}
