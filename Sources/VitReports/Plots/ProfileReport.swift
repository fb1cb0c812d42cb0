import Foundation

/// The report of `vitbench profile --csv` files (one row per plan step: `index, module, op,
/// output_shape, macs, bytes, median_ms, percent, gflops, flop_per_byte`): time per op kind, a
/// table and a bar chart, one column / bar series per file (say, one profile per backend).
public enum ProfileReport {
    /// Whether a table is a profile CSV rather than a results CSV: it has the steps' `module`,
    /// `op` and `median_ms` and no `model`.
    public static func isProfile(_ table: ResultTable) -> Bool {
        table.has("module") && table.has("op") && table.has("median_ms") && !table.has("model")
    }

    /// Per file, the total median time of each op kind, kinds ordered by their largest total.
    static func kinds(_ tables: [ResultTable]) throws -> (kinds: [String], ms: [[String: Double]]) {
        var ms: [[String: Double]] = [], order: [String] = []
        for t in tables {
            _ = try t.require("op", for: "a profile report")
            var sum: [String: Double] = [:]
            for r in t.rows.indices {
                let kind = t.value(r, "op")
                if sum[kind] == nil && !order.contains(kind) { order.append(kind) }
                sum[kind, default: 0] += try t.number(r, "median_ms") ?? 0
            }
            ms.append(sum)
        }
        let largest = Dictionary(order.map { k in (k, ms.map { $0[k] ?? 0 }.max() ?? 0) }, uniquingKeysWith: { a, _ in a })
        return (order.sorted { largest[$0]! > largest[$1]! }, ms)
    }

    /// The Markdown and, with `figureLink`, the op-kinds figure linked from it.
    public static func render(_ tables: [ResultTable], figureLink: ((String) -> String)? = nil) throws -> (markdown: String, figures: [Figure]) {
        let (kinds, ms) = try kinds(tables)
        let names = tables.map { ($0.source as NSString).lastPathComponent }
        var out = "# Profile: \(tables.map(\.source).joined(separator: ", "))\n\n"
        out += "Time per pass by op kind: the sum of the medians of the plan's steps of that kind, in ms, and its share of the pass.\n\n"
        out += "| op kind | " + names.map { "\(Markdown.escape($0)) (ms) | %" }.joined(separator: " | ") + " |\n|---|"
            + String(repeating: "---:|---:|", count: tables.count) + "\n"
        let totals = ms.map { $0.values.reduce(0, +) }
        for k in kinds {
            let cells = ms.indices.map { i -> String in
                guard let v = ms[i][k] else { return "— | —" }
                return Markdown.ms(v) + " | " + String(format: "%.1f", totals[i] > 0 ? 100 * v / totals[i] : 0)
            }
            out += "| \(Markdown.escape(k)) | " + cells.joined(separator: " | ") + " |\n"
        }
        out += "| **total** | " + totals.map { "**\(Markdown.ms($0))** | 100.0" }.joined(separator: " | ") + " |\n"
        guard let figureLink, !kinds.isEmpty else { return (out, []) }
        let chart = BarChart(frame: ChartFrame(title: "Time per op kind", xLabel: "time per pass (ms)", yLabel: ""),
                             categories: kinds, series: names, values: kinds.map { k in ms.map { $0[k] } }, xLog: false)
        let figure = Figure(name: "op-kinds", title: chart.frame.title, svg: chart.svg)
        out += "\n![\(Markdown.altText(figure.title))](\(Markdown.linkTarget(figureLink(figure.name))))\n"
        return (out, [figure])
    }

    /// Renders and writes the figure as `figureFolder/stem-op-kinds.svg` (see ``MarkdownReport/render(_:figuresIn:stem:linkFolder:)``).
    public static func render(_ tables: [ResultTable], figuresIn figureFolder: String, stem: String, linkFolder: String) throws
        -> (markdown: String, written: [String]) {
        try Figure.render(figuresIn: figureFolder, stem: stem, linkFolder: linkFolder) { try render(tables, figureLink: $0) }
    }
}
