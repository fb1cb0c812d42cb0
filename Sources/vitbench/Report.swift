import ArgumentParser
import Foundation
import VitModels
import VitReports

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render a results CSV as Markdown: token-mixer, thread-scaling, backend and accuracy-latency pivots, the raw table, failures.",
        discussion: """
            Works on any results CSV, whatever its columns: each pivot looks up the columns it needs. \
            With --pivot all (the default) the pivots the data cannot fill are left out; naming a pivot \
            makes a missing column an error.
            """)

    enum Pivot: String, ExpressibleByArgument, CaseIterable {
        case mixers, threads, backends, accuracy, raw, all
    }

    @Argument(help: "A results CSV.")
    var file: String

    @Option(help: "What to render; repeat for several.")
    var pivot: [Pivot] = [.all]

    @Option(help: "The token mixer the mixer pivot's ratios are relative to.")
    var baseline = "pooling"

    @Option(help: "The backend the backends pivot's ratios are relative to (a backend, a kernel ISA, or backend·isa as labelled); default packed.")
    var baselineBackend: String?

    @Option(help: "Write to this file instead of standard output.")
    var out: String?

    @Flag(help: "Print the rows as JSON (an array of objects in column order) instead of Markdown.")
    var json = false

    func run() throws {
        let table = try ResultTable.read(contentsOf: file)
        let text: String
        if json {
            text = table.json()
        } else {
            let sections = pivot.contains(.all) ? nil : Set(pivot.map { ReportSection(rawValue: $0.rawValue)! })
            text = try MarkdownReport(sections: sections, baselineMixer: baseline, baselineBackend: baselineBackend, published: Report.published).render(table)
        }
        if let out { try text.write(toFile: out, atomically: true, encoding: .utf8) } else { print(text, terminator: "") }
    }

    /// The zoo's published top-1 of a model, at the resolution it refers to.
    static func published(_ model: String) -> PublishedTop1? {
        guard let info = try? ModelZoo.named(model), let p = info.published else { return nil }
        return PublishedTop1(top1: p.top1, source: p.source, resolution: info.resolution)
    }
}
