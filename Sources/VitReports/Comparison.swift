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
    /// Significance level of the Mann–Whitney U test.
    public var alpha: Double

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
                throw CompareError("--across \(text): the column must be one of the configuration's: \(ResultColumns.key.joined(separator: ", "))")
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

    public init(threshold: Double = 0.05, alpha: Double = 0.05, across: [Across] = []) {
        self.threshold = threshold
        self.alpha = alpha
        self.across = across
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

/// Two result files set against each other, configuration by configuration.
///
/// Rows are paired on the configuration key (``ResultColumns/key``: model, form, resolution,
/// batch, threads, backend, pinning, dim, kernel_isa, blas_threads) — each column that is in both
/// files (`model` must be), less the columns compared `across`. Repeated rows of a
/// configuration within a file are merged: the median of their medians, their samples pooled.
///
/// For each pair the ratio NEW/BASE of the medians is tested for significance:
/// - with per-run samples (`samples_ms`) on both sides: the two-sided Mann–Whitney U test at `alpha`;
/// - otherwise, with `ci95_low_ms`/`ci95_high_ms` on both sides: whether the 95% confidence
///   intervals of the medians are disjoint (conservative: `alpha` does not apply);
/// - otherwise no test: the pair is reported but can be neither a regression nor an improvement.
///
/// A pair regresses when NEW/BASE > 1 + threshold and the difference is significant; it improves
/// when NEW/BASE < 1 − threshold and significant. Improvements never fail a comparison.
public struct Comparison {
    public enum Test: String, Sendable {
        case mannWhitney = "Mann–Whitney U"
        case ciOverlap = "95% CI overlap"
        case none = "no test"
    }

    public enum Verdict: String, Sendable {
        case regression
        case improvement
        case withinThreshold = "within threshold"
        case notSignificant = "not significant"
        case untested = "untested (no samples or CI)"
    }

    /// One configuration measured in both files.
    public struct Pair: Sendable {
        /// Values of ``Comparison/keyColumns``.
        public let key: [String]
        public let baseMedian: Double, newMedian: Double
        public var ratio: Double { newMedian / baseMedian }
        public let test: Test
        /// The U test's result when ``test`` is `.mannWhitney`.
        public let mannWhitney: MannWhitneyU?
        public let significant: Bool
        public let verdict: Verdict
        /// Whether a row behind either side was flagged noisy.
        public let baseNoisy: Bool, newNoisy: Bool
        public var noisy: Bool { baseNoisy || newNoisy }
        /// Why the test could not show significance however large the difference, when so.
        public let note: String?
    }

    public let base: ResultTable, new: ResultTable
    public let options: CompareOptions
    /// The columns rows are paired on.
    public let keyColumns: [String]
    /// Paired configurations, largest slowdown first.
    public let pairs: [Pair]
    /// Keys of configurations measured (successfully) in one file only.
    public let onlyInBase: [[String]], onlyInNew: [[String]]
    /// Configurations in both files that failed in one or both: key, and the errors (base, new; empty when it worked).
    public let failed: [(key: [String], base: String, new: String)]
    /// Remarks about the pairing, e.g. a key column found in one file only.
    public let notes: [String]

    public var regressions: [Pair] { pairs.filter { $0.verdict == .regression } }
    public var improvements: [Pair] { pairs.filter { $0.verdict == .improvement } }

    /// Geometric mean of NEW/BASE over every pair: the typical ratio, symmetric in speed-ups and slowdowns.
    public var geometricMeanRatio: Double {
        exp(pairs.reduce(0) { $0 + log($1.ratio) } / Double(pairs.count))
    }

    public var status: CompareStatus { regressions.isEmpty ? .noRegression : .regression }

    /// Pairs the rows of two tables and tests each pair. Throws a ``CompareError`` when a file
    /// lacks `model` or `median_ms` or no configuration was measured in both, and a ``CSVError``
    /// for a value that is not a number (with its file, line and column).
    public init(base: ResultTable, new: ResultTable, options: CompareOptions = CompareOptions()) throws {
        self.options = options
        for t in [base, new] {
            for c in ["model", "median_ms"] where !t.has(c) {
                throw CompareError("\(t.source): no '\(c)' column, so its rows cannot be compared (columns: \(t.header.joined(separator: ", ")))")
            }
        }
        var notes: [String] = []
        var base = base, new = new
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
        let acrossColumns = Set(options.across.map(\.column))
        keyColumns = ResultColumns.key.filter { base.has($0) && new.has($0) && !acrossColumns.contains($0) }
        for c in ResultColumns.key where base.has(c) != new.has(c) {
            notes.append("`\(c)` is only in \(base.has(c) ? base.source : new.source): not used for pairing.")
        }
        let b = try Side(base, keyColumns), n = try Side(new, keyColumns)
        var pairs: [Pair] = [], failed: [(key: [String], base: String, new: String)] = []
        for key in b.order where n.groups[key] != nil {
            let x = b.groups[key]!, y = n.groups[key]!
            if x.medians.isEmpty || y.medians.isEmpty {
                failed.append((key, x.medians.isEmpty ? x.error : "", y.medians.isEmpty ? y.error : ""))
            } else {
                pairs.append(Comparison.pair(key, x, y, options))
            }
        }
        onlyInBase = b.order.filter { n.groups[$0] == nil && !b.groups[$0]!.medians.isEmpty }
        onlyInNew = n.order.filter { b.groups[$0] == nil && !n.groups[$0]!.medians.isEmpty }
        failed += n.order.filter { b.groups[$0] == nil && n.groups[$0]!.medians.isEmpty }.map { ($0, "", n.groups[$0]!.error) }
        failed += b.order.filter { n.groups[$0] == nil && b.groups[$0]!.medians.isEmpty }.map { ($0, b.groups[$0]!.error, "") }
        guard !pairs.isEmpty else {
            throw CompareError("no configuration was measured in both \(base.source) and \(new.source) "
                + "(paired on \(keyColumns.joined(separator: ", ")); \(b.order.count) and \(n.order.count) configurations)")
        }
        self.pairs = pairs.sorted { $0.ratio > $1.ratio }
        self.failed = failed
        self.notes = notes
    }

    /// The rows of one file grouped by configuration.
    struct Side {
        struct Group {
            var medians: [Double] = []
            /// Pooled per-run samples; nil when any successful row lacks them.
            var samples: [Double]? = []
            var ciLow: Double? = .infinity, ciHigh: Double? = -.infinity
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
                g.medians.append(median)
                g.noisy = g.noisy || t.value(r, "noisy") == "yes"
                if let s = try Side.samples(t, r), g.samples != nil { g.samples! += s } else { g.samples = nil }
                if let lo = try t.number(r, "ci95_low_ms"), let hi = try t.number(r, "ci95_high_ms"), let l = g.ciLow, let h = g.ciHigh {
                    // Repetitions: the envelope of their intervals.
                    g.ciLow = min(l, lo)
                    g.ciHigh = max(h, hi)
                } else {
                    g.ciLow = nil
                    g.ciHigh = nil
                }
            }
        }

        /// The `;`-separated per-run times of a row; nil when the file has none for it.
        static func samples(_ t: ResultTable, _ r: Int) throws -> [Double]? {
            let text = t.value(r, "samples_ms").trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { return nil }
            return try text.split(separator: ";", omittingEmptySubsequences: false).map { part in
                guard let v = Double(part.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                    throw CSVError(file: t.source, line: t.lines[r] == 0 ? nil : t.lines[r], column: t.column("samples_ms").map { $0 + 1 },
                                   "samples_ms: '\(part)' is not a number (expected times in ms separated by ';')")
                }
                return v
            }
        }
    }

    static func pair(_ key: [String], _ x: Side.Group, _ y: Side.Group, _ options: CompareOptions) -> Pair {
        let baseMedian = Measurements.median(x.medians), newMedian = Measurements.median(y.medians)
        var test = Test.none, significant = false, note: String?
        var mwu: MannWhitneyU?
        if let xs = x.samples, let ys = y.samples, let u = MannWhitneyU.test(xs, ys) {
            test = .mannWhitney
            mwu = u
            significant = u.pValue < options.alpha
            let floor = MannWhitneyU.minimumPValue(xs.count, ys.count)
            if floor >= options.alpha {
                note = "\(xs.count) and \(ys.count) runs: p cannot go below \(String(format: "%.3g", floor))"
            }
        } else if let bl = x.ciLow, let bh = x.ciHigh, let nl = y.ciLow, let nh = y.ciHigh {
            test = .ciOverlap
            significant = nl > bh || nh < bl
        }
        let ratio = newMedian / baseMedian
        let verdict: Verdict
        if test == .none {
            verdict = .untested
        } else if ratio > 1 + options.threshold {
            verdict = significant ? .regression : .notSignificant
        } else if ratio < 1 - options.threshold {
            verdict = significant ? .improvement : .notSignificant
        } else {
            verdict = .withinThreshold
        }
        return Pair(key: key, baseMedian: baseMedian, newMedian: newMedian, test: test, mannWhitney: mwu,
                    significant: significant, verdict: verdict, baseNoisy: x.noisy, newNoisy: y.noisy, note: note)
    }

    /// The comparison as Markdown: how rows were paired and tested, the table of pairs, the
    /// geometric mean, and the configurations in one file only or failed.
    public func markdown() -> String {
        let pct = String(format: "%g%%", options.threshold * 100)
        var out = "# \(new.source) against \(base.source)\n\n"
        out += "Paired on \(keyColumns.map { "`\($0)`" }.joined(separator: ", ")). "
        out += "A configuration regresses when NEW/BASE of the medians is above \(String(format: "%.4g", 1 + options.threshold)) "
            + "(\(pct) slower) and the difference is significant; it improves when below \(String(format: "%.4g", 1 - options.threshold)) and significant.\n"
        let tests = Dictionary(grouping: pairs, by: \.test)
        var used: [String] = []
        if let p = tests[.mannWhitney] {
            used.append("Mann–Whitney U (two-sided, α = \(String(format: "%g", options.alpha))) on the per-run samples `samples_ms` for \(p.count) pair(s)")
        }
        if let p = tests[.ciOverlap] {
            used.append("disjoint 95% confidence intervals of the medians (`ci95_low_ms`, `ci95_high_ms`; α does not apply) for \(p.count) pair(s) without samples")
        }
        if let p = tests[.none] { used.append("no test for \(p.count) pair(s) without samples or intervals") }
        out += "Significance: " + used.joined(separator: "; ") + ".\n"
        for n in notes { out += "\n_\(n)_\n" }

        let header = keyColumns + ["base (ms)", "new (ms)", "new/base", "p", "test", "verdict"]
        let rows = pairs.map { p -> [String] in
            let pValue: String, test: String
            switch p.test {
            case .mannWhitney:
                pValue = String(format: "%.3g", p.mannWhitney!.pValue)
                test = "U, \(p.mannWhitney!.method.rawValue)"
            case .ciOverlap:
                pValue = "—"
                test = p.significant ? "CIs disjoint" : "CIs overlap"
            case .none:
                pValue = "—"
                test = "—"
            }
            var verdict = p.verdict == .regression ? "**regression**" : p.verdict.rawValue
            if let note = p.note { verdict += " (\(note))" }
            return p.key + [Markdown.mark(Markdown.ms(p.baseMedian), p.baseNoisy), Markdown.mark(Markdown.ms(p.newMedian), p.newNoisy),
                            Markdown.mark(String(format: "%.3f", p.ratio), p.noisy), pValue, test, verdict]
        }
        out += "\n" + Markdown.table(header: header, rows: rows)
        if pairs.contains(where: \.noisy) { out += "\n`~` marks a noisy value (coefficient of variation above the noise threshold).\n" }

        let g = geometricMeanRatio
        let change = g >= 1 ? String(format: "%.1f%% slower", (g - 1) * 100) : String(format: "%.1f%% faster", (1 - g) * 100)
        let unchanged = pairs.count - regressions.count - improvements.count
        out += "\n**Geometric mean of NEW/BASE over \(pairs.count) paired configuration\(pairs.count == 1 ? "" : "s"): "
            + String(format: "%.3f", g) + " (\(change)).** "
            + "\(regressions.count) regression\(regressions.count == 1 ? "" : "s"), \(improvements.count) improvement"
            + "\(improvements.count == 1 ? "" : "s"), \(unchanged) without a significant change beyond \(pct).\n"

        for (title, keys) in [("Only in \(base.source)", onlyInBase), ("Only in \(new.source)", onlyInNew)] where !keys.isEmpty {
            out += "\n## \(title)\n\n" + Markdown.table(header: keyColumns, rows: keys)
        }
        if !failed.isEmpty {
            out += "\n## Failed (not compared)\n\n"
                + Markdown.table(header: keyColumns + ["error in base", "error in new"], rows: failed.map { $0.key + [$0.base, $0.new] })
        }
        return out
    }

    /// What `vitbench compare` does: reads both files, compares them and renders Markdown. Any
    /// problem with the files or options gives status 2 and an error message instead.
    public static func run(base basePath: String, new newPath: String, threshold: String = "5%",
                           alpha: String = "0.05", across: [String] = []) -> (output: String, error: String?, status: CompareStatus) {
        do {
            let options = CompareOptions(threshold: try CompareOptions.parseThreshold(threshold),
                                         alpha: try CompareOptions.parseAlpha(alpha),
                                         across: try across.map(CompareOptions.Across.init(parsing:)))
            let c = try Comparison(base: try ResultTable.read(contentsOf: basePath), new: try ResultTable.read(contentsOf: newPath),
                                   options: options)
            return (c.markdown(), nil, c.status)
        } catch {
            return ("", "\(error)", .inputError)
        }
    }
}
