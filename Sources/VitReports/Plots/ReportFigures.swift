import Foundation

/// One figure of a report: an SVG document, written as `<stem>-<name>.svg` beside the Markdown
/// and linked from it after the section it illustrates.
public struct Figure: Sendable, Equatable {
    /// File-name part: `latency-resolution`, `resolutions`, `thread-scaling`, `backends`,
    /// `machines`, `accuracy-latency`, `op-kinds`.
    public let name: String
    public let title: String
    public let svg: String
}

extension MarkdownReport {
    /// The report with its figures: each linked from the Markdown as `![title](link(name))`.
    public func renderWithFigures(_ table: ResultTable, link: @escaping (String) -> String) throws -> (markdown: String, figures: [Figure]) {
        try render(table, figureLink: link)
    }

    /// Renders the report and writes its figures as `figureFolder/stem-<name>.svg`, linked from
    /// the Markdown as `linkFolder/stem-<name>.svg` (`linkFolder` empty: the bare file name, for
    /// a Markdown file in the same folder). Returns the Markdown and the SVG paths written.
    public func render(_ table: ResultTable, figuresIn figureFolder: String, stem: String, linkFolder: String) throws
        -> (markdown: String, written: [String]) {
        try Figure.render(figuresIn: figureFolder, stem: stem, linkFolder: linkFolder) { try render(table, figureLink: $0) }
    }

    /// Writes the report to `markdownPath` and its figures beside it, as `NAME-<figure>.svg` for
    /// `NAME.md`. Returns the SVG paths written.
    @discardableResult
    public func write(_ table: ResultTable, toMarkdown markdownPath: String) throws -> [String] {
        let folder = (markdownPath as NSString).deletingLastPathComponent
        let stem = ((markdownPath as NSString).lastPathComponent as NSString).deletingPathExtension
        let (markdown, written) = try render(table, figuresIn: folder.isEmpty ? "." : folder, stem: stem, linkFolder: "")
        try markdown.write(toFile: markdownPath, atomically: true, encoding: .utf8)
        return written
    }

    // MARK: Figures of the sections

    /// The figures of a section the data supports (none for `raw`).
    func figures(_ section: ReportSection, _ data: Measurements) throws -> [Figure] {
        switch section {
        case .mixers: return try mixerFigure(data).map { [$0] } ?? []
        case .resolutions: return try resolutionsFigure(data).map { [$0] } ?? []
        case .threads: return threadsFigure(data).map { [$0] } ?? []
        case .backends: return try backendsFigure(data).map { [$0] } ?? []
        case .machines: return try machinesFigure(data).map { [$0] } ?? []
        case .accuracy: return accuracyFigure(data).map { [$0] } ?? []
        case .raw: return []
        }
    }

    /// Latency against resolution per token mixer (log–log), for the mixer group with the most
    /// measurements, with FastViT's claim — RepMixer faster than pooling (and attention) at high
    /// resolution — set against what was measured: where RepMixer's line crosses pooling's, and
    /// the ratio at the highest resolution both were measured at.
    func mixerFigure(_ data: Measurements) throws -> Figure? {
        let (context, groups) = mixerGroups(data)
        // The setting with the most measurements; among equals the inference form, then the smallest batch.
        func rank(_ g: (members: [Measured], key: [String])) -> (Int, Int, Int) {
            (g.members.count, g.members[0]["form"] == "inference" ? 1 : 0, -(Int(g.members[0]["batch"]) ?? 0))
        }
        guard let g = groups.enumerated().max(by: { a, b in rank(a.element) < rank(b.element) || (rank(a.element) == rank(b.element) && a.offset > b.offset) })?.element
        else { return nil }
        var mixers = Measurements.distinct(g.members.map { $0["mixer"] })
        if let i = mixers.firstIndex(of: baselineMixer) { mixers.insert(mixers.remove(at: i), at: 0) }
        let series = try mixers.map { mixer in
            Series(name: mixer, points: try g.members.filter { $0["mixer"] == mixer }.map { (x: try data.resolution($0), y: $0.median) })
        }
        let resolutions = Set(series.flatMap { $0.points.map(\.x) }).sorted()
        let setting = Measurements.describe(context, g.members[0]).replacingOccurrences(of: "`", with: "")
        var frame = ChartFrame(title: "Latency vs resolution per token mixer", notes: [setting],
                               xLabel: "resolution (px)", yLabel: "latency (ms)")
        var annotations: [Annotation] = []
        if let rep = series.first(where: { $0.name == "repmixer" }), let top = rep.points.max(by: { $0.x < $1.x }) {
            let (note, crossing) = Self.claim(rep, against: series.filter { $0.name == "pooling" || $0.name == "attention" })
            frame.notes.append(note)
            annotations.append(crossing ?? Annotation(x: top.x, y: top.y, text: "RepMixer (FastViT claim: faster at high resolution)"))
        }
        var chart = LineChart(frame: frame, series: series, xLog: true, yLog: true, xTicks: resolutions)
        chart.annotations = annotations
        return Figure(name: "latency-resolution", title: frame.title, svg: chart.svg)
    }

    /// The note setting FastViT's claim against the measurement, and where RepMixer's line last
    /// crosses pooling's going up in resolution (interpolated in log–log), if it does.
    static func claim(_ rep: Series, against others: [Series]) -> (note: String, crossing: Annotation?) {
        var note = "FastViT claim: RepMixer faster than pooling/attention at high resolution."
        let repAt = Dictionary(rep.points.map { ($0.x, $0.y) }, uniquingKeysWith: { a, _ in a })
        var measured: [String] = []
        var crossing: Annotation?
        for other in others {
            let common = other.points.filter { repAt[$0.x] != nil }.sorted { $0.x < $1.x }
            guard let last = common.last else { continue }
            measured.append(Markdown.ratio(repAt[last.x]! / last.y) + " \(other.name) at \(Scale.label(last.x)) px")
            guard other.name == "pooling" else { continue }
            // d > 0: RepMixer slower. The last change from slower to faster is the crossing.
            let d = common.map { log(repAt[$0.x]!) - log($0.y) }
            guard let dLast = d.last, dLast < 0 else { continue }
            for i in common.indices.dropLast() where d[i] >= 0 && d[i + 1] < 0 {
                let t = d[i] / (d[i] - d[i + 1])
                let x = exp(log(common[i].x) + t * (log(common[i + 1].x) - log(common[i].x)))
                let y = exp(log(common[i].y) + t * (log(common[i + 1].y) - log(common[i].y)))
                crossing = Annotation(x: x, y: y, text: String(format: "RepMixer overtakes pooling ≈ %.0f px", x))
            }
        }
        if !measured.isEmpty { note += " Measured: RepMixer \(measured.joined(separator: ", "))." }
        return (note, crossing)
    }

    /// Latency against resolution of every configuration of the resolutions pivot (log–log).
    func resolutionsFigure(_ data: Measurements) throws -> Figure? {
        let (context, groups) = resolutionGroups(data)
        guard !groups.isEmpty else { return nil }
        let (varying, constant) = Measurements.split(context.filter { $0 != "model" }, groups)
        let series = try groups.map { g in
            Series(name: Self.label(g.members[0], ["model"] + varying),
                   points: try g.members.map { (x: try data.resolution($0), y: $0.median) })
        }
        let frame = ChartFrame(title: "Latency vs resolution", notes: constant.isEmpty ? [] : [constant],
                               xLabel: "resolution (px)", yLabel: "latency (ms)")
        let chart = LineChart(frame: frame, series: series, xLog: true, yLog: true,
                              xTicks: Set(series.flatMap { $0.points.map(\.x) }).sorted())
        return Figure(name: "resolutions", title: frame.title, svg: chart.svg)
    }

    /// Speed-up over the smallest thread count measured, against threads, per configuration,
    /// with ideal (linear) scaling dashed.
    func threadsFigure(_ data: Measurements) -> Figure? {
        let context = data.present(["model", "form", "resolution", "batch", "backend", "kernel_isa", "pinning"]) + data.machineAxis
        let groups = Measurements.group(data.measured, by: context).filter { Set($0.members.map { $0["threads"] }).count >= 2 }
        guard !groups.isEmpty else { return nil }
        let (varying, constant) = Measurements.split(context.filter { $0 != "model" }, groups)
        var counts = Set<Double>()
        let series = groups.compactMap { g -> Series? in
            let byCount = g.members.compactMap { m in Double(m["threads"]).map { (n: $0, ms: m.median) } }
            guard let base = byCount.min(by: { $0.n < $1.n }) else { return nil }
            counts.formUnion(byCount.map(\.n))
            return Series(name: Self.label(g.members[0], ["model"] + varying), points: byCount.map { (x: $0.n, y: base.ms / $0.ms) })
        }
        let lowest = counts.min() ?? 1
        let frame = ChartFrame(title: "Thread scaling", notes: constant.isEmpty ? [] : [constant],
                               xLabel: "threads", yLabel: "speed-up over \(Scale.label(lowest)) thread\(lowest == 1 ? "" : "s") (×)")
        var chart = LineChart(frame: frame, series: series, xTicks: counts.sorted(), yFromZero: true)
        chart.reference = ("ideal", counts.sorted().map { (x: $0, y: $0 / lowest) })
        return Figure(name: "thread-scaling", title: frame.title, svg: chart.svg)
    }

    /// Grouped horizontal bars: latency per configuration on each backend (and kernel ISA).
    func backendsFigure(_ data: Measurements) throws -> Figure? {
        let axes = data.present(["backend", "kernel_isa"]).filter { c in Set(data.measured.map { $0[c] }).count > 1 }
        guard !axes.isEmpty else { return nil }
        let label = { (m: Measured) in axes.map { m[$0] }.joined(separator: "·") }
        let context = (data.present(["model", "form", "resolution", "dim", "batch", "threads", "pinning", "backend", "kernel_isa"]) + data.machineAxis)
            .filter { !axes.contains($0) }
        let variants = Measurements.distinct(data.measured.map(label))
        return barFigure(data, name: "backends", title: "Latency per backend", context: context, series: variants, seriesOf: label)
    }

    /// Grouped horizontal bars: latency per configuration on each machine.
    func machinesFigure(_ data: Measurements) throws -> Figure? {
        guard data.table.has("machine_id"), let (machines, _) = try machineColumns(data) else { return nil }
        let names = machines.map { $0.cpu.isEmpty ? $0.id : "\($0.id) (\($0.cpu))" }
        let byID = Dictionary(zip(machines.map(\.id), names), uniquingKeysWith: { a, _ in a })
        return barFigure(data, name: "machines", title: "Latency per machine", context: data.present(ResultColumns.key),
                         series: names, seriesOf: { byID[$0["machine_id"]] ?? $0["machine_id"] })
    }

    func barFigure(_ data: Measurements, name: String, title: String, context: [String], series: [String],
                   seriesOf: (Measured) -> String) -> Figure {
        // Only what can be compared: configurations measured on two or more of the series.
        let all = Measurements.group(data.measured, by: context)
        let compared = all.filter { Set($0.members.map(seriesOf)).count >= 2 }
        let groups = compared.isEmpty ? all : compared
        let (varying, constant) = Measurements.split(context.filter { $0 != "model" }, groups)
        let categories = groups.map { Self.label($0.members[0], (context.contains("model") ? ["model"] : []) + varying) }
        let values = groups.map { g in series.map { s in g.members.first { seriesOf($0) == s }?.median } }
        var notes = constant.isEmpty ? [] : [constant]
        if groups.count < all.count { notes.append("Configurations measured on two or more only (the table has all \(all.count)).") }
        let frame = ChartFrame(title: title, notes: notes, xLabel: "latency (ms, log scale)", yLabel: "")
        let chart = BarChart(frame: frame, categories: categories, series: series, values: values)
        return Figure(name: name, title: title, svg: chart.svg)
    }

    /// Published top-1 against measured latency, every model labelled, the Pareto front drawn, for
    /// the setting with the most models that have a published top-1.
    func accuracyFigure(_ data: Measurements) -> Figure? {
        let context = data.present(["form", "batch", "threads", "backend", "kernel_isa", "pinning"]) + data.machineAxis
        var best: (members: [Measured], points: [ParetoPoint])?
        for g in Measurements.group(data.measured, by: context) {
            let ranked = g.members.compactMap { m -> (Measured, ParetoPoint)? in
                guard let p = published(m["model"]), p.resolution == nil || String(p.resolution!) == m["resolution"] else { return nil }
                return (m, ParetoPoint(latency: m.median, accuracy: p.top1))
            }
            if ranked.count >= 2 && ranked.count > (best?.points.count ?? 0) { best = (ranked.map(\.0), ranked.map(\.1)) }
        }
        guard let best else { return nil }
        let front = Pareto.front(best.points)
        let points = zip(best.members, zip(best.points, front)).map { m, pf in
            ScatterChart.Point(x: pf.0.latency, y: pf.0.accuracy, label: m["model"], highlighted: pf.1)
        }
        let setting = Measurements.describe(context, best.members[0])
        let frame = ChartFrame(title: "Accuracy vs latency", notes: setting.isEmpty ? [] : [setting],
                               xLabel: "latency (ms, log scale)", yLabel: "top-1 (%)")
        return Figure(name: "accuracy-latency", title: frame.title, svg: ScatterChart(frame: frame, points: points).svg)
    }

    /// "fastvit_t8, 256 px, 2 thr." for the given columns of a configuration (empty values left out).
    static func label(_ m: Measured, _ columns: [String]) -> String {
        columns.filter { !m[$0].isEmpty }.map { c in
            switch c {
            case "resolution": return "\(m[c]) px"
            case "threads": return "\(m[c]) thr."
            case "batch", "dim", "blas_threads": return "\(c) \(m[c])"
            default: return m[c]
            }
        }.joined(separator: ", ")
    }
}

extension Figure {
    /// Runs `body` with a link function (`linkFolder/stem-<name>.svg`, or the bare file name for
    /// an empty `linkFolder`) and writes the figures it returns as `figureFolder/stem-<name>.svg`.
    static func render(figuresIn figureFolder: String, stem: String, linkFolder: String,
                       _ body: (@escaping (String) -> String) throws -> (markdown: String, figures: [Figure])) throws -> (markdown: String, written: [String]) {
        let file = { (name: String) in "\(stem)-\(name).svg" }
        let (markdown, figures) = try body { linkFolder.isEmpty ? file($0) : (linkFolder as NSString).appendingPathComponent(file($0)) }
        var written: [String] = []
        if !figures.isEmpty { try FileManager.default.createDirectory(atPath: figureFolder, withIntermediateDirectories: true) }
        for f in figures {
            let path = (figureFolder as NSString).appendingPathComponent(file(f.name))
            try f.svg.write(toFile: path, atomically: true, encoding: .utf8)
            written.append(path)
        }
        return (markdown, written)
    }
}

extension Measurements {
    /// A configuration's resolution as a number; an error names the file, line and column.
    func resolution(_ m: Measured) throws -> Double {
        guard let v = Double(m["resolution"]), v > 0 else {
            let line = table.lines[m.rows[0]]
            throw CSVError(file: table.source, line: line == 0 ? nil : line, column: table.column("resolution").map { $0 + 1 },
                           "resolution: '\(m["resolution"])' is not a positive number")
        }
        return v
    }
}
