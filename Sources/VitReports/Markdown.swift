import Foundation

/// A published ImageNet top-1 accuracy and where it comes from, for the accuracy–latency table.
/// `resolution` is the input size the figure refers to, when known: rows at other resolutions
/// are listed without it (a model's accuracy at 256 px says nothing about it at 512 px).
public struct PublishedTop1: Sendable, Equatable {
    public var top1: Double
    public var source: String
    public var resolution: Int?

    public init(top1: Double, source: String, resolution: Int? = nil) {
        self.top1 = top1
        self.source = source
        self.resolution = resolution
    }
}

/// The parts of a Markdown report, in the order they appear.
public enum ReportSection: String, CaseIterable, Sendable {
    /// Median latency of every token mixer at every resolution, and its ratio to a baseline mixer.
    case mixers
    /// Median latency of every configuration at every resolution it was measured at (any model).
    case resolutions
    /// Median latency per thread count and the scaling efficiency.
    case threads
    /// Median latency of every model on every backend (engine backend and kernel ISA), and its
    /// ratio to a baseline backend.
    case backends
    /// Median latency of every configuration on every machine (`machine_id`), and its ratio to a
    /// baseline machine: what several `Results/*/NAME.csv` files say together.
    case machines
    /// Parameters, GMACs, published top-1, measured latency and the Pareto front.
    case accuracy
    /// Every successful row as measured.
    case raw
}

/// Renders a result table as Markdown: a summary, the pivots the data supports, the raw table
/// and the configurations that failed. Works on any column set: each pivot looks up the columns
/// it needs by name.
///
/// Failed rows (non-empty `error`) are listed apart and kept out of every pivot. Repeated rows of
/// one configuration (a suite's `repetitions`) count once, with the median of their medians.
/// A noisy value (`noisy` = `yes` in any row behind it) is marked with a leading `~`.
public struct MarkdownReport {
    /// The top heading; nil for "Results" with the table's source.
    public var title: String?
    /// The sections to render. nil: every section the data supports, silently leaving out the
    /// others. A set: exactly those; a section whose columns are missing is an error, and one the
    /// data cannot fill (say, one mixer only) gets a line saying why.
    public var sections: Set<ReportSection>?
    /// The mixer the mixer pivot's ratios are relative to.
    public var baselineMixer: String
    /// The backend the backends pivot's ratios are relative to: a `backend`, a `kernel_isa` or
    /// `backend·kernel_isa` as the pivot labels them; nil: `packed` if measured, else the first.
    public var baselineBackend: String?
    /// The machine (`machine_id`) the machines pivot's ratios are relative to; nil: the first seen.
    public var baselineMachine: String?
    /// Published accuracy of a model by zoo name; nil when it has none.
    public var published: (String) -> PublishedTop1?

    public init(title: String? = nil, sections: Set<ReportSection>? = nil, baselineMixer: String = "pooling",
                baselineBackend: String? = nil, baselineMachine: String? = nil,
                published: @escaping (String) -> PublishedTop1? = { _ in nil }) {
        self.title = title
        self.sections = sections
        self.baselineMixer = baselineMixer
        self.baselineBackend = baselineBackend
        self.baselineMachine = baselineMachine
        self.published = published
    }

    /// The path of the Markdown file that goes next to a CSV file: `results.csv` → `results.md`.
    public static func path(forCSV csv: String) -> String {
        (csv.lowercased().hasSuffix(".csv") ? String(csv.dropLast(4)) : csv) + ".md"
    }

    /// The report. Throws a ``CSVError`` for a value that should be a number and is not (with
    /// its file, line and column), and for a requested section whose columns are missing.
    public func render(_ table: ResultTable) throws -> String {
        try render(table, figureLink: nil).markdown
    }

    /// The report and, when `figureLink` is given, its figures (``Figure``): each linked from the
    /// Markdown after its section as `![title](figureLink(name))`. The caller writes the SVGs.
    func render(_ table: ResultTable, figureLink: ((String) -> String)?) throws -> (markdown: String, figures: [Figure]) {
        let data = try Measurements(table)
        var out = "# \(title ?? "Results: \(table.source)")\n\n"
        out += summary(table, data)
        var figures: [Figure] = []
        let wanted = sections ?? Set(ReportSection.allCases)
        for section in ReportSection.allCases where wanted.contains(section) {
            if sections == nil && !MarkdownReport.needs[section, default: []].allSatisfy(table.has) { continue }
            let body: Section
            switch section {
            case .mixers: body = try mixers(data)
            case .resolutions: body = try resolutions(data)
            case .threads: body = try threads(data)
            case .backends: body = try backends(data)
            case .machines: body = try machines(data)
            case .accuracy: body = try accuracy(data)
            case .raw: body = raw(table, data)
            }
            switch body {
            case .text(let text):
                out += "\n" + text
                if let figureLink {
                    for f in try self.figures(section, data) {
                        out += "\n![\(Markdown.altText(f.title))](\(Markdown.linkTarget(figureLink(f.name))))\n"
                        figures.append(f)
                    }
                }
            case .unavailable(let why): if sections != nil { out += "\n_\(why)_\n" }
            }
        }
        out += failed(table, data)
        return (out, figures)
    }

    /// Checks what the pivots read as numbers — `median_ms`, and `resolution`, `threads` and
    /// `batch` as integers — in every row that did not fail, so that a bad value is reported with
    /// its own file, line and column before tables are merged.
    public static func validate(_ table: ResultTable) throws {
        let data = try Measurements(table)
        for column in ["resolution", "threads", "batch"] where table.has(column) {
            _ = try data.sortedInts(data.measured.filter { !$0[column].isEmpty }, column)
        }
    }

    /// The columns each section cannot do without.
    static let needs: [ReportSection: [String]] = [
        .mixers: ["mixer", "resolution", "median_ms"], .threads: ["threads", "median_ms"], .accuracy: ["model", "median_ms"],
        .backends: ["backend", "median_ms"], .machines: ["machine_id", "median_ms"], .resolutions: ["resolution", "median_ms"],
    ]

    enum Section {
        case text(String)
        case unavailable(String)
    }

    // MARK: Sections

    private func summary(_ table: ResultTable, _ data: Measurements) -> String {
        let configs = data.measured.count, failed = data.failedRows.count
        var s = "\(configs) configuration\(configs == 1 ? "" : "s") measured"
        if !table.has("median_ms") {
            s = "\(table.rows.count) rows; no `median_ms` column, so no pivots"
        } else if table.rows.count != configs + failed {
            s += " (\(table.rows.count) rows)"
        }
        s += failed > 0 ? ", \(failed) failed (listed at the end)." : "."
        if data.measured.contains(where: \.noisy) {
            s += " `~` marks a noisy value: its coefficient of variation is above the protocol's noise threshold."
        }
        var lines = [s]
        // What the whole file has in common: where and with what it was measured.
        for name in ["suite", "machine_id", "cpu", "arch", "commit"] where table.has(name) {
            var values: [String] = []
            for r in table.rows.indices where !table.value(r, name).isEmpty && !values.contains(table.value(r, name)) {
                values.append(table.value(r, name))
            }
            if !values.isEmpty { lines.append("- \(name): \(values.map { "`\($0)`" }.joined(separator: ", "))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Rows = mixers, columns = resolutions, one table pair (median, ratio to the baseline) per
    /// model skeleton, form, batch, threads, backend and pinning.
    func mixers(_ data: Measurements) throws -> Section {
        try data.require(Self.needs[.mixers]!, for: "the token-mixer pivot")
        let configs = data.measured.filter { !$0["mixer"].isEmpty }
        let (context, groups) = mixerGroups(data)
        guard !groups.isEmpty else {
            let found = Measurements.distinct(configs.map { $0["mixer"] })
            return .unavailable("No token-mixer pivot: it needs at least two mixers measured in the same setting; found "
                + (found.isEmpty ? "none" : found.joined(separator: ", ")) + ".")
        }
        var out = "## Token mixers × resolution\n\n"
        out += "Median latency in ms per token mixer and input resolution, and the ratio to the `\(baselineMixer)` mixer "
            + "at the same resolution (below 1: faster than `\(baselineMixer)`).\n"
        let (varying, constant) = Measurements.split(context, groups)
        if !constant.isEmpty { out += "All: \(constant).\n" }
        for g in groups {
            let resolutions = try data.sortedInts(g.members, "resolution")
            var mixers = Measurements.distinct(g.members.map { $0["mixer"] })
            if let i = mixers.firstIndex(of: baselineMixer) { mixers.insert(mixers.remove(at: i), at: 0) }
            func cell(_ mixer: String, _ res: String) -> Measured? {
                g.members.first { $0["mixer"] == mixer && $0["resolution"] == res }
            }
            if !varying.isEmpty { out += "\n### \(Measurements.describe(varying, g.members[0]))\n" }
            let head = "| mixer | " + resolutions.joined(separator: " | ") + " |\n|---|"
                + String(repeating: "---:|", count: resolutions.count) + "\n"
            out += "\nMedian (ms):\n\n" + head
            for m in mixers {
                out += "| \(Markdown.escape(m)) | "
                    + resolutions.map { r in cell(m, r).map { Markdown.mark(Markdown.ms($0.median), $0.noisy) } ?? "—" }
                    .joined(separator: " | ") + " |\n"
            }
            guard mixers.contains(baselineMixer) else {
                out += "\n_No ratios: the baseline mixer `\(baselineMixer)` was not measured here._\n"
                continue
            }
            out += "\nRelative to `\(baselineMixer)`:\n\n" + head
            for m in mixers {
                out += "| \(Markdown.escape(m)) | " + resolutions.map { r in
                    guard let c = cell(m, r), let b = cell(baselineMixer, r) else { return "—" }
                    return Markdown.mark(Markdown.ratio(c.median / b.median), c.noisy || b.noisy)
                }.joined(separator: " | ") + " |\n"
            }
        }
        return .text(out)
    }

    /// The mixer pivot's setting columns and its groups: configurations of one skeleton in one
    /// setting, with at least two mixers.
    func mixerGroups(_ data: Measurements) -> (context: [String], groups: [(members: [Measured], key: [String])]) {
        let configs = data.measured.filter { !$0["mixer"].isEmpty }
        let context = ["family"] + data.present(["form", "batch", "threads", "backend", "kernel_isa", "pinning"]) + data.machineAxis
        return (context, Measurements.group(configs, by: context).filter { Set($0.members.map { $0["mixer"] }).count >= 2 })
    }

    /// The resolutions pivot's setting columns (the configuration key minus `resolution`) and its
    /// groups: configurations measured at two or more resolutions. Under `all`, those the
    /// token-mixer pivot already shows are left out.
    func resolutionGroups(_ data: Measurements) -> (context: [String], groups: [(members: [Measured], key: [String])]) {
        let context = data.present(ResultColumns.key.filter { $0 != "resolution" }) + data.machineAxis
        var covered = Set<[Int]>()
        if sections == nil, data.table.has("mixer") { covered = Set(mixerGroups(data).groups.flatMap { $0.members.map(\.rows) }) }
        let configs = data.measured.filter { !$0["resolution"].isEmpty && !covered.contains($0.rows) }
        return (context, Measurements.group(configs, by: context).filter { Set($0.members.map { $0["resolution"] }).count >= 2 })
    }

    /// Rows = configurations (the key minus resolution), columns = resolutions ascending, cells =
    /// median ms: how latency grows with the input for any model.
    func resolutions(_ data: Measurements) throws -> Section {
        try data.require(Self.needs[.resolutions]!, for: "the resolutions pivot")
        let (context, groups) = resolutionGroups(data)
        guard !groups.isEmpty else {
            return .unavailable("No resolutions pivot: no configuration was measured at two or more resolutions.")
        }
        let resolutions = try data.sortedInts(groups.flatMap(\.members), "resolution")
        let (varying, constant) = Measurements.split(context.filter { $0 != "model" }, groups)
        let columns = (context.contains("model") ? ["model"] : []) + varying
        var out = "## Resolutions\n\n"
        out += "Median latency in ms per input resolution (px) of every configuration measured at two or more.\n"
        if !constant.isEmpty { out += "All: \(constant).\n" }
        out += "\n| " + (columns + resolutions).joined(separator: " | ") + " |\n|"
            + String(repeating: "---|", count: columns.count) + String(repeating: "---:|", count: resolutions.count) + "\n"
        for g in groups {
            let byResolution = Dictionary(g.members.map { ($0["resolution"], $0) }, uniquingKeysWith: { a, _ in a })
            let cells = resolutions.map { r in byResolution[r].map { Markdown.mark(Markdown.ms($0.median), $0.noisy) } ?? "—" }
            out += "| " + (columns.map { Markdown.escape(g.members[0][$0]) } + cells).joined(separator: " | ") + " |\n"
        }
        return .text(out)
    }

    /// Median latency per thread count, with the scaling efficiency relative to the smallest
    /// thread count measured: (t_min / t_n) / (n / n_min), 100% being perfect scaling.
    func threads(_ data: Measurements) throws -> Section {
        try data.require(Self.needs[.threads]!, for: "the thread-scaling pivot")
        let context = data.present(["model", "form", "resolution", "batch", "backend", "kernel_isa", "pinning"]) + data.machineAxis
        let groups = Measurements.group(data.measured, by: context).filter { Set($0.members.map { $0["threads"] }).count >= 2 }
        guard !groups.isEmpty else {
            return .unavailable("No thread-scaling pivot: no configuration was measured at two or more thread counts.")
        }
        let counts = try data.sortedInts(groups.flatMap(\.members), "threads")
        // The model is always a column; the rest of the setting only where it varies.
        let (varying, constant) = Measurements.split(context.filter { $0 != "model" }, groups)
        let columns = (context.contains("model") ? ["model"] : []) + varying
        var out = "## Thread scaling\n\n"
        out += "Median latency in ms per thread count; in brackets the scaling efficiency, speedup over the smallest thread "
            + "count divided by the increase in threads (100%: perfect scaling).\n"
        if !constant.isEmpty { out += "All: \(constant).\n" }
        out += "\n| " + (columns + counts.map { "\($0) thr." }).joined(separator: " | ") + " |\n|"
            + String(repeating: "---|", count: columns.count) + String(repeating: "---:|", count: counts.count) + "\n"
        for g in groups {
            let byCount = Dictionary(g.members.map { (Int($0["threads"])!, $0) }, uniquingKeysWith: { a, _ in a })
            let smallest = byCount.keys.min()!
            let base = byCount[smallest]!
            let cells = counts.map { text -> String in
                guard let n = Int(text), let m = byCount[n] else { return "—" }
                var s = Markdown.ms(m.median)
                if n != smallest {
                    let efficiency = (base.median / m.median) / (Double(n) / Double(smallest))
                    s += String(format: " (%.0f%%)", efficiency * 100)
                }
                return Markdown.mark(s, m.noisy || (n != smallest && base.noisy))
            }
            out += "| " + (columns.map { Markdown.escape(g.members[0][$0]) } + cells).joined(separator: " | ") + " |\n"
        }
        return .text(out)
    }

    /// Median latency per backend — the engine backend, and the kernel ISA where more than one
    /// was measured — with the ratio to the baseline backend: "what did moving from OpenBLAS to
    /// the packed kernels, or from AVX2 to AVX-512, do to each model" in one table.
    func backends(_ data: Measurements) throws -> Section {
        try data.require(Self.needs[.backends]!, for: "the backends pivot")
        let axes = data.present(["backend", "kernel_isa"]).filter { c in Set(data.measured.map { $0[c] }).count > 1 }
        guard !axes.isEmpty else {
            return .unavailable("No backends pivot: every configuration ran on one backend and kernel ISA.")
        }
        func label(_ m: Measured) -> String { axes.map { m[$0] }.joined(separator: "·") }
        let context = (data.present(["model", "form", "resolution", "dim", "batch", "threads", "pinning", "backend", "kernel_isa"]) + data.machineAxis).filter { !axes.contains($0) }
        let groups = Measurements.group(data.measured, by: context)
        let variants = Measurements.distinct(data.measured.map(label))
        let baseline = baselineBackend ?? (variants.contains("packed") ? "packed" : variants[0])
        guard variants.contains(baseline) else {
            throw CSVError(file: data.table.source, "the backends pivot's baseline '\(baseline)' was not measured; measured: \(variants.joined(separator: ", "))")
        }
        let (varying, constant) = Measurements.split(context.filter { $0 != "model" }, groups)
        let columns = (context.contains("model") ? ["model"] : []) + varying
        var out = "## Backends\n\n"
        out += "Median latency in ms per \(axes.joined(separator: " · ")); in brackets the ratio to \(baseline) (below 1: faster).\n"
        if !constant.isEmpty { out += "All: \(constant).\n" }
        let header = (columns + variants).joined(separator: " | ")
        let rule = String(repeating: "---|", count: columns.count) + String(repeating: "---:|", count: variants.count)
        out += "\n| " + header + " |\n|" + rule + "\n"
        for g in groups {
            let byVariant = Dictionary(g.members.map { (label($0), $0) }, uniquingKeysWith: { a, _ in a })
            let base = byVariant[baseline]
            let cells = variants.map { v -> String in
                guard let m = byVariant[v] else { return "—" }
                var s = Markdown.ms(m.median)
                if v != baseline, let base { s += " (\(Markdown.ratio(m.median / base.median)))" }
                let noisy = m.noisy || (v != baseline && base?.noisy == true)
                return Markdown.mark(s, noisy)
            }
            let keys: [String] = columns.map { Markdown.escape(g.members[0][$0]) }
            out += "| " + (keys + cells).joined(separator: " | ") + " |\n"
        }
        return .text(out)
    }

    /// The machines pivot's machines (`machine_id`, first seen first), each with its `cpu`, and
    /// the baseline machine; throws when the chosen baseline was not measured.
    func machineColumns(_ data: Measurements) throws -> (machines: [(id: String, cpu: String)], baseline: String)? {
        let ids = Measurements.distinct(data.measured.map { $0["machine_id"] })
        guard ids.count >= 2 else { return nil }
        let machines = ids.map { id in (id: id, cpu: data.measured.first { $0["machine_id"] == id && !$0["cpu"].isEmpty }?["cpu"] ?? "") }
        let baseline = baselineMachine ?? ids[0]
        guard ids.contains(baseline) else {
            throw CSVError(file: data.table.source, "the machines pivot's baseline machine '\(baseline)' was not measured; measured: \(ids.joined(separator: ", "))")
        }
        return (machines, baseline)
    }

    /// Median latency of every configuration (the key minus the machine) on every machine, with
    /// the ratio to the baseline machine: one table from the result files of several machines.
    func machines(_ data: Measurements) throws -> Section {
        try data.require(Self.needs[.machines]!, for: "the machines pivot")
        guard let (machines, baseline) = try machineColumns(data) else {
            return .unavailable("No machines pivot: every configuration was measured on one machine (`machine_id`).")
        }
        let context = data.present(ResultColumns.key)
        let groups = Measurements.group(data.measured, by: context)
        let (varying, constant) = Measurements.split(context.filter { $0 != "model" }, groups)
        let columns = (context.contains("model") ? ["model"] : []) + varying
        var out = "## Machines\n\n"
        out += "Median latency in ms per machine (`machine_id`, with its CPU); in brackets the ratio to `\(baseline)` (below 1: faster).\n"
        if !constant.isEmpty { out += "All: \(constant).\n" }
        let labels = machines.map { $0.cpu.isEmpty ? "`\($0.id)`" : "`\($0.id)` (\($0.cpu))" }
        out += "\n| " + (columns + labels).map(Markdown.escape).joined(separator: " | ") + " |\n|"
            + String(repeating: "---|", count: columns.count) + String(repeating: "---:|", count: machines.count) + "\n"
        for g in groups {
            let byMachine = Dictionary(g.members.map { ($0["machine_id"], $0) }, uniquingKeysWith: { a, _ in a })
            let base = byMachine[baseline]
            let cells = machines.map { machine -> String in
                guard let m = byMachine[machine.id] else { return "—" }
                var s = Markdown.ms(m.median)
                if machine.id != baseline, let base { s += " (\(Markdown.ratio(m.median / base.median)))" }
                return Markdown.mark(s, m.noisy || (machine.id != baseline && base?.noisy == true))
            }
            out += "| " + (columns.map { Markdown.escape(g.members[0][$0]) } + cells).joined(separator: " | ") + " |\n"
        }
        return .text(out)
    }

    /// Accuracy against latency with the Pareto front, per form, batch, threads, backend and pinning.
    func accuracy(_ data: Measurements) throws -> Section {
        try data.require(Self.needs[.accuracy]!, for: "the accuracy–latency table")
        let context = data.present(["form", "batch", "threads", "backend", "kernel_isa", "pinning"]) + data.machineAxis
        var groups: [(members: [Measured], points: [ParetoPoint?])] = []
        for g in Measurements.group(data.measured, by: context) {
            let members = g.members.sorted { $0.median < $1.median }
            let points = members.map { m -> ParetoPoint? in
                guard let p = published(m["model"]), p.resolution == nil || String(p.resolution!) == m["resolution"] else { return nil }
                return ParetoPoint(latency: m.median, accuracy: p.top1)
            }
            if Set(zip(members, points).compactMap { $1 == nil ? nil : $0["model"] }).count >= 2 { groups.append((members, points)) }
        }
        guard !groups.isEmpty else {
            return .unavailable("No accuracy–latency table: it needs at least two models with a published top-1 measured in the same setting.")
        }
        let (varying, constant) = Measurements.split(context, groups.map { (members: $0.members, key: []) })
        var out = "## Accuracy and latency\n\n"
        out += "Published ImageNet top-1 against the median latency measured here, fastest first. A model is on the Pareto "
            + "front when no other is at least as fast and at least as accurate (and better in one); models without a "
            + "published top-1 at the measured resolution are listed but not ranked.\n"
        if !constant.isEmpty { out += "All: \(constant).\n" }
        for g in groups {
            if !varying.isEmpty { out += "\n### \(Measurements.describe(varying, g.members[0]))\n" }
            let front = Pareto.front(g.points.compactMap { $0 })
            var ranked = 0
            out += "\n| model | resolution | params (M) | GMACs | top-1 (%) | source | median (ms) | Pareto |\n"
                + "|---|---:|---:|---:|---:|---|---:|---|\n"
            for (m, point) in zip(g.members, g.points) {
                var top1 = "—", source = "", pareto = "—"
                if let p = published(m["model"]) {
                    source = p.source
                    if point != nil {
                        top1 = String(format: "%.1f", p.top1)
                        pareto = front[ranked] ? "**yes**" : "no"
                        ranked += 1
                    } else if let r = p.resolution {
                        source = "published at \(r) px: \(p.source)"
                    }
                }
                let cells = [m["model"], m["resolution"], m["params_m"].isEmpty ? "—" : m["params_m"],
                             m["gmacs"].isEmpty ? "—" : m["gmacs"], top1, source,
                             Markdown.mark(Markdown.ms(m.median), m.noisy), pareto]
                out += "| " + cells.map(Markdown.escape).joined(separator: " | ") + " |\n"
            }
        }
        return .text(out)
    }

    /// Every successful row; `samples_ms` (long) and columns empty in every such row are left out.
    func raw(_ table: ResultTable, _ data: Measurements) -> Section {
        let ok = table.rows.indices.filter { !data.failedRows.contains($0) }
        guard !ok.isEmpty else { return .unavailable("No raw table: no configuration was measured.") }
        let columns = table.header.indices.filter { c in
            table.header[c] != "samples_ms" && ok.contains { !table.rows[$0][c].isEmpty }
        }
        var out = "## All measurements\n\n"
        if table.has("samples_ms") { out += "Per-run samples (`samples_ms`) are in the CSV.\n\n" }
        out += Markdown.table(header: columns.map { table.header[$0] }, rows: ok.map { r in columns.map { table.rows[r][$0] } })
        return .text(out)
    }

    /// The rows with an error: their configuration and the error.
    func failed(_ table: ResultTable, _ data: Measurements) -> String {
        guard !data.failedRows.isEmpty else { return "" }
        let columns = ResultColumns.key.filter(table.has) + data.machineAxis + ["error"]
        return "\n## Failed configurations\n\n"
            + Markdown.table(header: columns, rows: data.failedRows.sorted().map { r in columns.map { table.value(r, $0) } })
    }
}

/// Markdown formatting helpers.
enum Markdown {
    /// A cell: `|` escaped, line breaks as spaces.
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\r\n", with: " ")
            .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
    }

    static func table(header: [String], rows: [[String]]) -> String {
        var out = "| " + header.map(escape).joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: header.count) + "\n"
        for r in rows { out += "| " + r.map(escape).joined(separator: " | ") + " |\n" }
        return out
    }

    /// Milliseconds with about four significant digits.
    static func ms(_ v: Double) -> String {
        String(format: abs(v) >= 100 ? "%.1f" : abs(v) >= 10 ? "%.2f" : "%.3f", v)
    }

    static func ratio(_ v: Double) -> String { String(format: "%.2f×", v) }

    static func mark(_ s: String, _ noisy: Bool) -> String { noisy ? "~" + s : s }

    /// An image's alt text: brackets escaped, on one line.
    static func altText(_ s: String) -> String {
        escape(s).replacingOccurrences(of: "[", with: "\\[").replacingOccurrences(of: "]", with: "\\]")
    }

    /// A link target: spaces and parentheses percent-encoded so that the link stays one token.
    static func linkTarget(_ path: String) -> String {
        path.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: " ", with: "%20")
            .replacingOccurrences(of: "(", with: "%28").replacingOccurrences(of: ")", with: "%29")
    }
}

/// One configuration with its repetitions merged: the key columns' values (and `mixer`,
/// `params_m`, `gmacs`, `family` = the model name before any `:`), the median of the rows'
/// medians, and whether any row was noisy.
struct Measured {
    var values: [String: String]
    var median: Double
    var noisy: Bool
    var rows: [Int]

    subscript(_ column: String) -> String { values[column] ?? "" }
}

/// The rows of a table that pivots can use, and those that failed.
struct Measurements {
    let table: ResultTable
    /// Successful configurations with a median, repetitions merged, in order of first appearance.
    var measured: [Measured] = []
    /// Rows with a non-empty `error`.
    var failedRows: Set<Int> = []

    init(_ table: ResultTable) throws {
        self.table = table
        for r in table.rows.indices where !table.value(r, "error").trimmingCharacters(in: .whitespaces).isEmpty {
            failedRows.insert(r)
        }
        guard table.has("median_ms") else { return }
        // The machine is part of a configuration here: tables merged from several machines' files
        // keep one configuration per machine.
        let keyColumns = (ResultColumns.key + ["machine_id"]).filter(table.has)
        var order: [[String]] = []
        var byKey: [[String]: (rows: [Int], medians: [Double])] = [:]
        for r in table.rows.indices where !failedRows.contains(r) {
            guard let median = try table.number(r, "median_ms") else { continue }
            let key = keyColumns.map { table.value(r, $0) }
            if byKey[key] == nil { order.append(key) }
            byKey[key, default: ([], [])].rows.append(r)
            byKey[key]!.medians.append(median)
        }
        for key in order {
            let (rows, medians) = byKey[key]!
            var values: [String: String] = [:]
            for name in keyColumns + ["mixer", "params_m", "gmacs", "cpu"] { values[name] = table.value(rows[0], name) }
            values["family"] = values["model"].map { String($0.prefix { $0 != ":" }) } ?? ""
            measured.append(Measured(values: values, median: Self.median(medians),
                                     noisy: rows.contains { table.value($0, "noisy") == "yes" }, rows: rows))
        }
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted(), n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }

    /// The columns of `names` the table has.
    func present(_ names: [String]) -> [String] { names.filter(table.has) }

    /// `["machine_id"]` when the configurations come from more than one machine (tables merged
    /// from several machines' files), so that each pivot keeps the machines apart; else nothing.
    var machineAxis: [String] {
        table.has("machine_id") && Set(measured.map { $0["machine_id"] }).count > 1 ? ["machine_id"] : []
    }

    /// Throws when a column a section needs is missing.
    func require(_ names: [String], for purpose: String) throws {
        for n in names { _ = try table.require(n, for: purpose) }
    }

    /// Configurations grouped by the values of `columns`, groups and members in order of first appearance.
    static func group(_ items: [Measured], by columns: [String]) -> [(members: [Measured], key: [String])] {
        var order: [[String]] = []
        var groups: [[String]: [Measured]] = [:]
        for m in items {
            let key = columns.map { m[$0] }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(m)
        }
        return order.map { (groups[$0]!, $0) }
    }

    static func distinct(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    /// The distinct values of an integer column, sorted numerically; an error names the file,
    /// line and column of a value that is not an integer.
    func sortedInts(_ items: [Measured], _ column: String) throws -> [String] {
        var values: [Int: String] = [:]
        for m in items {
            guard let v = Int(m[column]) else {
                let line = table.lines[m.rows[0]]
                throw CSVError(file: table.source, line: line == 0 ? nil : line, column: table.column(column).map { $0 + 1 },
                               "\(column): '\(m[column])' is not an integer")
            }
            values[v] = m[column]
        }
        return values.keys.sorted().map { values[$0]! }
    }

    /// Of `columns`, those whose value differs between groups, and a description of the rest.
    static func split(_ columns: [String], _ groups: [(members: [Measured], key: [String])]) -> ([String], String) {
        var varying: [String] = [], constant: [String] = []
        for c in columns {
            let values = Set(groups.flatMap { $0.members.map { $0[c] } })
            if values.count > 1 { varying.append(c) } else if let v = values.first, !v.isEmpty { constant.append(describe([c], groups[0].members[0])) }
        }
        return (varying, constant.joined(separator: ", "))
    }

    /// "form inference, batch 1" for the given columns of a configuration.
    static func describe(_ columns: [String], _ m: Measured) -> String {
        columns.map { c in c == "family" ? "`\(m[c])`" : "\(c) \(m[c])" }.joined(separator: ", ")
    }
}

/// A model on the accuracy–latency plane.
public struct ParetoPoint: Sendable, Equatable {
    public var latency: Double
    public var accuracy: Double
    public init(latency: Double, accuracy: Double) {
        self.latency = latency
        self.accuracy = accuracy
    }
}

public enum Pareto {
    /// Whether each point is on the Pareto front: no other point is at least as fast and at least
    /// as accurate while strictly better in one of the two. (Points tied in both stay on it together.)
    public static func front(_ points: [ParetoPoint]) -> [Bool] {
        points.map { p in
            !points.contains { q in
                q.latency <= p.latency && q.accuracy >= p.accuracy && (q.latency < p.latency || q.accuracy > p.accuracy)
            }
        }
    }
}
