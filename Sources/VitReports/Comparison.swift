import Foundation

/// How a comparison ended, as the exit status of `vitbench compare`.
public enum CompareStatus: Int32, Sendable {
    /// No configuration got significantly slower by more than the threshold.
    case noRegression = 0
    /// At least one did.
    case regression = 1
    /// The input could not be compared: a bad file or option, or no configuration in both files.
    case inputError = 2
}

/// A usage or input problem of a comparison (exit status 2).
public struct CompareError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct CompareOptions: Sendable, Equatable {
    /// The slowdown that counts as a regression, as a fraction: 0.05 = NEW more than 5% slower.
    public var threshold: Double
    /// Family-wise significance level: over all paired configurations together (Holm).
    public var alpha: Double
    /// Repetitions a configuration needs on each side before it is tested at all.
    public var minimumRepetitions: Int
    /// Whether a regression in a noisy pair (a row flagged `noisy` or `busy` on either side)
    /// fails the comparison. By default it is reported but cannot fail the gate alone.
    public var strict: Bool
    /// Whether rows from different machines may be paired (`--across machines`).
    public var acrossMachines: Bool

    /// Configuration columns compared across instead of paired on (`--across backend=openblas:packed`).
    public var across: [Across]

    /// One column that differs between the two sides: rows pair on every other key column, the
    /// base side keeps rows whose value is `base`, the new side rows whose value is `new` (when
    /// named; otherwise each side must have one value only).
    public struct Across: Sendable, Equatable {
        public let column: String
        public let base: String?
        public let new: String?

        public init(column: String, base: String? = nil, new: String? = nil) {
            self.column = column
            self.base = base
            self.new = new
        }

        /// `COLUMN` or `COLUMN=BASE:NEW`, e.g. `backend=openblas:packed`, `kernel_isa=avx2:avx512`.
        public init(parsing text: String) throws {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard let column = parts.first, !column.isEmpty, ResultColumns.key.contains(column) else {
                throw CompareError("--across \(text): the column must be one of the configuration's: \(ResultColumns.key.joined(separator: ", ")), or machines")
            }
            if parts.count == 1 {
                self.init(column: column)
                return
            }
            let values = parts[1].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard values.count == 2, !values[0].isEmpty, !values[1].isEmpty else {
                throw CompareError("--across \(text): name both values as \(column)=BASE:NEW, e.g. backend=openblas:packed")
            }
            self.init(column: column, base: values[0], new: values[1])
        }
    }

    public init(threshold: Double = 0.05, alpha: Double = 0.05, minimumRepetitions: Int = 3, strict: Bool = false,
                acrossMachines: Bool = false, across: [Across] = []) {
        self.threshold = threshold
        self.alpha = alpha
        self.minimumRepetitions = minimumRepetitions
        self.strict = strict
        self.acrossMachines = acrossMachines
        self.across = across
    }

    /// `--across` values: `machines` allows pairing rows from different machines; every other
    /// value is a configuration column.
    public static func parseAcross(_ values: [String]) throws -> (machines: Bool, columns: [Across]) {
        let machines = values.contains { $0 == "machines" || $0 == "machine_id" }
        return (machines, try values.filter { $0 != "machines" && $0 != "machine_id" }.map(Across.init(parsing:)))
    }

    /// "5%" or "0.05". A bare number of 1 or more is refused as ambiguous ("5" is not 500%).
    public static func parseThreshold(_ text: String) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces)
        let percent = t.hasSuffix("%")
        guard let v = Double(percent ? String(t.dropLast()) : t), v.isFinite, v >= 0 else {
            throw CompareError("--threshold: '\(text)' is not a non-negative percentage or fraction (write 5% or 0.05)")
        }
        if percent { return v / 100 }
        guard v < 1 else { throw CompareError("--threshold: '\(text)' is ambiguous: write \(t)% for a percentage, or a fraction below 1") }
        return v
    }

    /// A probability strictly between 0 and 1, as a fraction or a percentage.
    public static func parseAlpha(_ text: String) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces)
        let percent = t.hasSuffix("%")
        guard var v = Double(percent ? String(t.dropLast()) : t), v.isFinite else {
            throw CompareError("--alpha: '\(text)' is not a number (write 0.05 or 5%)")
        }
        if percent { v /= 100 }
        guard v > 0, v < 1 else { throw CompareError("--alpha: '\(text)' must be between 0 and 1 (exclusive)") }
        return v
    }
}

/// Results set against each other, configuration by configuration: the regression gate.
///
/// Rows are paired on the configuration key (``ResultColumns/key``: model, form, resolution,
/// batch, threads, backend, pinning, dim, kernel_isa, blas_threads) — each column that is in both
/// sides (`model` must be), less the columns compared `across`. Each side may be several files
/// (several runs of a suite); every successful row of a configuration is one **repetition**,
/// summarised by its median.
///
/// The unit of evidence is the repetition, never the run: runs inside one process are
/// correlated (same memory layout, frequency state and neighbours), so a test on pooled runs is
/// far too confident, and two runs of one binary a minute apart differ by more than their runs'
/// spread. For each pair, with at least ``CompareOptions/minimumRepetitions`` repetitions on each
/// side, a t-test on the logarithms of the repetition medians gives a one-sided p-value
/// (``RepetitionTest``: paired in order when both sides have as many repetitions — the rounds of
/// an interleaved job — so that a round's machine state cancels; Welch's otherwise), and Holm's correction over all tested pairs keeps the family-wise
/// false-alarm rate at `alpha`. A pair regresses when NEW/BASE of the medians of medians is
/// above 1 + threshold **and** the slowdown is significant after the correction; it improves
/// symmetrically. Pairs with fewer repetitions are reported, untested.
///
/// A regression in a noisy pair (a row flagged `noisy`, by its CV, or `busy`, by the machine's
/// load, on either side) is reported but fails the comparison only with ``CompareOptions/strict``.
/// Rows from different machines are refused unless ``CompareOptions/acrossMachines``.
public struct Comparison {
    public enum Test: String, Sendable {
        case welch = "t-test on log repetition medians"
        case none = "no test"
    }

    public enum Verdict: String, Sendable {
        case regression
        case improvement
        case withinThreshold = "within threshold"
        case notSignificant = "not significant"
        case untested
    }

    /// One configuration measured on both sides.
    public struct Pair: Sendable {
        /// Values of ``Comparison/keyColumns``.
        public let key: [String]
        /// Median of the repetitions' medians.
        public let baseMedian: Double, newMedian: Double
        public var ratio: Double { newMedian / baseMedian }
        /// Repetitions on each side.
        public let baseRepetitions: Int, newRepetitions: Int
        public let test: Test
        public let repetitionTest: RepetitionTest?
        /// The one-sided p-value in the direction of the change, before Holm's correction.
        public var pValue: Double? {
            repetitionTest.map { ratio >= 1 ? $0.pSlower : $0.pFaster }
        }
        /// Significant after Holm's correction over all tested pairs.
        public let significant: Bool
        public let verdict: Verdict
        /// Whether a row behind either side was flagged noisy (CV) or busy (machine load).
        public let baseNoisy: Bool, newNoisy: Bool
        public var noisy: Bool { baseNoisy || newNoisy }
        /// Why the pair was not tested, when so.
        public let note: String?
    }

    /// What one side is: where its rows come from.
    public struct Provenance: Sendable, Equatable {
        public let files: [String]
        public let machines: [String], cpus: [String], commits: [String], backends: [String]
        /// First and last day of its timestamps (YYYY-MM-DD), when it has any.
        public let dates: [String]
    }

    public let base: ResultTable, new: ResultTable
    public let baseProvenance: Provenance, newProvenance: Provenance
    public let options: CompareOptions
    /// The columns rows are paired on.
    public let keyColumns: [String]
    /// Paired configurations, largest slowdown first.
    public let pairs: [Pair]
    /// Keys of configurations measured (successfully) on one side only.
    public let onlyInBase: [[String]], onlyInNew: [[String]]
    /// Configurations on both sides that failed on one or both: key, and the errors (base, new; empty when it worked).
    public let failed: [(key: [String], base: String, new: String)]
    /// Remarks about the pairing, e.g. a key column found on one side only.
    public let notes: [String]

    public var regressions: [Pair] { pairs.filter { $0.verdict == .regression } }
    public var improvements: [Pair] { pairs.filter { $0.verdict == .improvement } }
    /// The regressions that fail the gate: every one with ``CompareOptions/strict``, else the quiet ones.
    public var failingRegressions: [Pair] { regressions.filter { options.strict || !$0.noisy } }

    /// Geometric mean of NEW/BASE over every pair: the typical ratio, symmetric in speed-ups and slowdowns.
    public var geometricMeanRatio: Double {
        exp(pairs.reduce(0) { $0 + log($1.ratio) } / Double(pairs.count))
    }

    public var status: CompareStatus { failingRegressions.isEmpty ? .noRegression : .regression }

    /// Compares two tables (each side one file).
    public init(base: ResultTable, new: ResultTable, options: CompareOptions = CompareOptions()) throws {
        try self.init(base: [base], new: [new], options: options)
    }

    /// Pairs the rows of two sides, each made of one or more tables (runs), and tests each pair.
    /// Throws a ``CompareError`` when a table lacks `model` or `median_ms`, the sides ran on
    /// different machines (unless across machines), or no configuration was measured on both;
    /// and a ``CSVError`` for a value that is not a number (with its file, line and column).
    public init(base baseTables: [ResultTable], new newTables: [ResultTable], options: CompareOptions = CompareOptions()) throws {
        self.options = options
        guard !baseTables.isEmpty, !newTables.isEmpty else { throw CompareError("each side needs at least one results file") }
        for t in baseTables + newTables {
            for c in ["model", "median_ms"] where !t.has(c) {
                throw CompareError("\(t.source): no '\(c)' column, so its rows cannot be compared (columns: \(t.header.joined(separator: ", ")))")
            }
        }
        var notes: [String] = []
        var base = try Comparison.concatenate(baseTables), new = try Comparison.concatenate(newTables)
        for a in options.across {
            for t in [base, new] where !t.has(a.column) {
                throw CompareError("\(t.source): no '\(a.column)' column to compare across")
            }
            func side(_ t: ResultTable, _ value: String?, _ flag: String) throws -> ResultTable {
                let values = Array(Set(t.rows.indices.map { t.value($0, a.column) })).sorted()
                guard let value else {
                    guard values.count <= 1 else {
                        throw CompareError("\(t.source) has several values of '\(a.column)' (\(values.joined(separator: ", "))): "
                            + "name the two to compare, --across \(a.column)=BASE:NEW")
                    }
                    return t
                }
                let kept = t.filtered { t.value($0, a.column) == value }
                guard !kept.rows.isEmpty else {
                    throw CompareError("\(t.source): no row has \(a.column) = \(value) (the \(flag) side of --across); it has: \(values.joined(separator: ", "))")
                }
                return kept
            }
            base = try side(base, a.base, "base")
            new = try side(new, a.new, "new")
            let from = a.base ?? base.rows.first.map { _ in base.value(0, a.column) } ?? "?"
            let to = a.new ?? new.rows.first.map { _ in new.value(0, a.column) } ?? "?"
            notes.append("Across `\(a.column)`: \(from) (base) against \(to) (new); not used for pairing.")
        }
        self.base = base
        self.new = new
        baseProvenance = Comparison.provenance(base, files: baseTables.map(\.source))
        newProvenance = Comparison.provenance(new, files: newTables.map(\.source))
        if baseProvenance.machines != newProvenance.machines, !baseProvenance.machines.isEmpty, !newProvenance.machines.isEmpty {
            func describe(_ p: Provenance) -> String {
                zip(p.machines, p.cpus + [String](repeating: "", count: max(0, p.machines.count - p.cpus.count)))
                    .map { $1.isEmpty ? $0 : "\($0) (\($1))" }.joined(separator: ", ")
            }
            guard options.acrossMachines else {
                throw CompareError("the sides ran on different machines: base on \(describe(baseProvenance)), new on \(describe(newProvenance)); "
                    + "timings from different machines are not a regression test — pass --across machines to set them side by side anyway")
            }
            notes.append("Across machines: \(describe(baseProvenance)) (base) against \(describe(newProvenance)) (new).")
        }
        let acrossColumns = Set(options.across.map(\.column))
        keyColumns = ResultColumns.key.filter { base.has($0) && new.has($0) && !acrossColumns.contains($0) }
        for c in ResultColumns.key where base.has(c) != new.has(c) {
            notes.append("`\(c)` is only in \(base.has(c) ? base.source : new.source): not used for pairing.")
        }
        let b = try Side(base, keyColumns), n = try Side(new, keyColumns)
        var groups: [(key: [String], base: Side.Group, new: Side.Group)] = []
        var failed: [(key: [String], base: String, new: String)] = []
        for key in b.order where n.groups[key] != nil {
            let x = b.groups[key]!, y = n.groups[key]!
            if x.medians.isEmpty || y.medians.isEmpty {
                failed.append((key, x.medians.isEmpty ? x.error : "", y.medians.isEmpty ? y.error : ""))
            } else {
                groups.append((key, x, y))
            }
        }
        onlyInBase = b.order.filter { n.groups[$0] == nil && !b.groups[$0]!.medians.isEmpty }
        onlyInNew = n.order.filter { b.groups[$0] == nil && !n.groups[$0]!.medians.isEmpty }
        failed += n.order.filter { b.groups[$0] == nil && n.groups[$0]!.medians.isEmpty }.map { ($0, "", n.groups[$0]!.error) }
        failed += b.order.filter { n.groups[$0] == nil && b.groups[$0]!.medians.isEmpty }.map { ($0, b.groups[$0]!.error, "") }
        guard !groups.isEmpty else {
            throw CompareError("no configuration was measured in both \(base.source) and \(new.source) "
                + "(paired on \(keyColumns.joined(separator: ", ")); \(b.order.count) and \(n.order.count) configurations)")
        }
        self.pairs = Comparison.pairs(groups, options).sorted { $0.ratio > $1.ratio }
        self.failed = failed
        self.notes = notes
    }

    /// The rows of several tables as one (columns by name; a column missing from a table is
    /// empty in its rows), with the first table's name and every table's lines.
    static func concatenate(_ tables: [ResultTable]) throws -> ResultTable {
        guard tables.count > 1 else { return tables[0] }
        var header: [String] = []
        for t in tables { for c in t.header where !header.contains(c) { header.append(c) } }
        var merged = try ResultTable(header: header, source: tables.map(\.source).joined(separator: " + "))
        for t in tables {
            for r in t.rows.indices { try merged.append(header.map { t.value(r, $0) }, line: t.lines[r]) }
        }
        return merged
    }

    static func provenance(_ t: ResultTable, files: [String]) -> Provenance {
        func distinct(_ column: String) -> [String] {
            var seen: [String] = []
            for r in t.rows.indices { let v = t.value(r, column); if !v.isEmpty && !seen.contains(v) { seen.append(v) } }
            return seen
        }
        let days = distinct("timestamp").map { String($0.prefix(10)) }.sorted()
        let machines = distinct("machine_id")
        // The CPU of each machine, in the same order.
        let cpus = machines.map { m in t.rows.indices.first { t.value($0, "machine_id") == m }.map { t.value($0, "cpu") } ?? "" }
        return Provenance(files: files, machines: machines, cpus: cpus, commits: distinct("commit"), backends: distinct("backend"),
                          dates: days.isEmpty ? [] : days.first == days.last ? [days[0]] : [days.first!, days.last!])
    }

    /// The rows of one side grouped by configuration: each successful row a repetition.
    struct Side {
        struct Group {
            var medians: [Double] = []
            var noisy = false
            var error = ""
        }

        var order: [[String]] = []
        var groups: [[String]: Group] = [:]

        init(_ t: ResultTable, _ keyColumns: [String]) throws {
            for r in t.rows.indices {
                let key = keyColumns.map { t.value(r, $0) }
                if groups[key] == nil { order.append(key) }
                var g = groups[key, default: Group()]
                defer { groups[key] = g }
                let error = t.value(r, "error")
                guard error.isEmpty, let median = try t.number(r, "median_ms") else {
                    if g.error.isEmpty { g.error = error.isEmpty ? "no median" : error }
                    continue
                }
                guard median > 0, median.isFinite else {
                    throw CSVError(file: t.source, line: t.lines[r] == 0 ? nil : t.lines[r], column: t.column("median_ms").map { $0 + 1 },
                                   "median_ms: \(median) is not a positive time")
                }
                g.medians.append(median)
                g.noisy = g.noisy || t.value(r, "noisy") == "yes" || t.value(r, "busy") == "yes"
            }
        }
    }

    /// Tests every pair, then decides significance with Holm's correction over the tested ones.
    static func pairs(_ groups: [(key: [String], base: Side.Group, new: Side.Group)], _ options: CompareOptions) -> [Pair] {
        let tests = groups.map { g -> RepetitionTest? in
            guard g.base.medians.count >= options.minimumRepetitions, g.new.medians.count >= options.minimumRepetitions else { return nil }
            return RepetitionTest.test(base: g.base.medians, new: g.new.medians, pairing: true)
        }
        let medians = groups.map { (Measurements.median($0.base.medians), Measurements.median($0.new.medians)) }
        let tested = tests.indices.filter { tests[$0] != nil }
        let pValues = tested.map { i in medians[i].1 >= medians[i].0 ? tests[i]!.pSlower : tests[i]!.pFaster }
        var significant = [Bool](repeating: false, count: groups.count)
        for (i, s) in zip(tested, RepetitionTest.holm(pValues, alpha: options.alpha)) { significant[i] = s }
        return groups.indices.map { i in
            let g = groups[i], (baseMedian, newMedian) = medians[i], ratio = newMedian / baseMedian
            let verdict: Verdict
            var note: String?
            if tests[i] == nil {
                verdict = .untested
                note = "\(g.base.medians.count) and \(g.new.medians.count) repetition(s): \(options.minimumRepetitions) a side are needed for a test"
            } else if ratio > 1 + options.threshold {
                verdict = significant[i] ? .regression : .notSignificant
            } else if ratio < 1 - options.threshold {
                verdict = significant[i] ? .improvement : .notSignificant
            } else {
                verdict = .withinThreshold
            }
            return Pair(key: g.key, baseMedian: baseMedian, newMedian: newMedian, baseRepetitions: g.base.medians.count,
                        newRepetitions: g.new.medians.count, test: tests[i] == nil ? .none : .welch, repetitionTest: tests[i],
                        significant: significant[i], verdict: verdict, baseNoisy: g.base.noisy, newNoisy: g.new.noisy, note: note)
        }
    }

    /// The comparison as Markdown: both sides' provenance, how rows were paired and tested, the
    /// table of pairs, the geometric mean, and the configurations on one side only or failed.
    public func markdown() -> String {
        let pct = String(format: "%g%%", options.threshold * 100)
        var out = "# \(new.source) against \(base.source)\n\n"
        func list(_ v: [String]) -> String { v.isEmpty ? "—" : v.map { Markdown.escape($0) }.joined(separator: ", ") }
        out += Markdown.table(header: ["", "base", "new"], rows: [
            ["files", list(baseProvenance.files), list(newProvenance.files)],
            ["machine", list(baseProvenance.machines), list(newProvenance.machines)],
            ["cpu", list(baseProvenance.cpus), list(newProvenance.cpus)],
            ["commit", list(baseProvenance.commits), list(newProvenance.commits)],
            ["backend", list(baseProvenance.backends), list(newProvenance.backends)],
            ["date", baseProvenance.dates.joined(separator: " – ").nonEmpty ?? "—", newProvenance.dates.joined(separator: " – ").nonEmpty ?? "—"],
        ])
        out += "\nPaired on \(keyColumns.map { "`\($0)`" }.joined(separator: ", ")); every successful row is one repetition. "
        out += "A configuration regresses when NEW/BASE of the medians of its repetitions is above \(String(format: "%.4g", 1 + options.threshold)) "
            + "(\(pct) slower) and the slowdown is significant: a one-sided t-test on the logarithms of the repetition medians "
            + "(\(options.minimumRepetitions) or more repetitions a side; paired in order — round k of the base with round k of the new, "
            + "so that what the machine did in one round cancels — when both sides have as many, Welch's otherwise), Holm-corrected over the \(pairs.filter { $0.test == .welch }.count) "
            + "tested configuration(s) at family-wise α = \(String(format: "%g", options.alpha)). It improves when below "
            + "\(String(format: "%.4g", 1 - options.threshold)) and significant. "
            + (options.strict ? "Noisy pairs can fail the comparison (--strict).\n"
                : "A regression in a noisy pair (`~`: CV above the noise threshold, or the machine busy) is reported but does not fail the comparison alone.\n")
        for n in notes { out += "\n_\(n)_\n" }

        let header = keyColumns + ["base (ms)", "new (ms)", "new/base", "reps", "p", "verdict"]
        let rows = pairs.map { p -> [String] in
            var verdict = p.verdict == .regression ? (options.strict || !p.noisy ? "**regression**" : "regression (noisy: not failing)") : p.verdict.rawValue
            if let note = p.note { verdict += " (\(note))" }
            return p.key + [Markdown.mark(Markdown.ms(p.baseMedian), p.baseNoisy), Markdown.mark(Markdown.ms(p.newMedian), p.newNoisy),
                            Markdown.mark(String(format: "%.3f", p.ratio), p.noisy), "\(p.baseRepetitions)/\(p.newRepetitions)",
                            p.pValue.map { String(format: "%.3g", $0) } ?? "—", verdict]
        }
        out += "\n" + Markdown.table(header: header, rows: rows)
        if pairs.contains(where: \.noisy) { out += "\n`~` marks a noisy value (coefficient of variation above the noise threshold, or the machine busy).\n" }
        out += "`p` is one-sided, in the direction of the change, before Holm's correction.\n"

        let g = geometricMeanRatio
        let change = g >= 1 ? String(format: "%.1f%% slower", (g - 1) * 100) : String(format: "%.1f%% faster", (1 - g) * 100)
        let unchanged = pairs.count - regressions.count - improvements.count
        out += "\n**Geometric mean of NEW/BASE over \(pairs.count) paired configuration\(pairs.count == 1 ? "" : "s"): "
            + String(format: "%.3f", g) + " (\(change)).** "
            + "\(regressions.count) regression\(regressions.count == 1 ? "" : "s")"
            + (regressions.count != failingRegressions.count ? " (\(failingRegressions.count) failing)" : "")
            + ", \(improvements.count) improvement\(improvements.count == 1 ? "" : "s"), \(unchanged) without a significant change beyond \(pct).\n"

        for (title, keys) in [("Only in the base", onlyInBase), ("Only in the new", onlyInNew)] where !keys.isEmpty {
            out += "\n## \(title)\n\n" + Markdown.table(header: keyColumns, rows: keys)
        }
        if !failed.isEmpty {
            out += "\n## Failed (not compared)\n\n"
                + Markdown.table(header: keyColumns + ["error in base", "error in new"], rows: failed.map { $0.key + [$0.base, $0.new] })
        }
        return out
    }

    /// What `vitbench compare` does: reads every file, compares the sides and renders Markdown.
    /// Any problem with the files or options gives status 2 and an error message instead.
    public static func run(base basePaths: [String], new newPaths: [String], threshold: String = "5%", alpha: String = "0.05",
                           minimumRepetitions: Int = 3, strict: Bool = false,
                           across: [String] = []) -> (output: String, error: String?, status: CompareStatus) {
        do {
            let (machines, columns) = try CompareOptions.parseAcross(across)
            guard (2...1000).contains(minimumRepetitions) else {
                throw CompareError("--min-repetitions: \(minimumRepetitions) is not between 2 and 1000 (a spread needs two repetitions)")
            }
            let options = CompareOptions(threshold: try CompareOptions.parseThreshold(threshold), alpha: try CompareOptions.parseAlpha(alpha),
                                         minimumRepetitions: minimumRepetitions, strict: strict, acrossMachines: machines, across: columns)
            let c = try Comparison(base: try basePaths.map(ResultTable.read(contentsOf:)), new: try newPaths.map(ResultTable.read(contentsOf:)),
                                   options: options)
            return (c.markdown(), nil, c.status)
        } catch {
            return ("", "\(error)", .inputError)
        }
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
