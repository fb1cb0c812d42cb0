import ArgumentParser
import Foundation
import VitModels
import VitReports

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render results CSVs as Markdown (token-mixer, resolution, thread-scaling, backend, machine and accuracy-latency pivots, the raw table, failures) with SVG figures.",
        discussion: """
            Works on any results CSV, whatever its columns: each pivot looks up the columns it needs. \
            Several files are read as one table (their rows concatenated, columns matched by name), e.g. \
            `vitbench report Results/*/mixers.csv --pivot machines`. With --pivot all (the default) the \
            pivots the data cannot fill are left out; naming a pivot makes a missing column an error. \
            With --out DIR/NAME.md the figures go beside it as DIR/NAME-<figure>.svg and are linked from \
            it; --plots DIR puts them in DIR instead (and is the only way to get them when printing to \
            standard output). Profile CSVs (`vitbench profile --csv`) are recognised and rendered as time \
            per op kind, one column per file, with the `op-kinds` figure.
            """)

    enum Pivot: String, ExpressibleByArgument, CaseIterable {
        case mixers, resolutions, threads, backends, machines, accuracy, raw, all
    }

    @Argument(help: "Results CSVs (or profile CSVs from `vitbench profile --csv`), read as one table.")
    var files: [String]

    @Option(help: "What to render; repeat for several.")
    var pivot: [Pivot] = [.all]

    @Option(help: "The token mixer the mixer pivot's ratios are relative to.")
    var baseline = "pooling"

    @Option(help: "The backend the backends pivot's ratios are relative to (a backend, a kernel ISA, or backend·isa as labelled); default packed.")
    var baselineBackend: String?

    @Option(help: "The machine (machine_id) the machines pivot's ratios are relative to; default the first seen.")
    var baselineMachine: String?

    @Option(help: "Write to this file instead of standard output (its figures go beside it: NAME-<figure>.svg).")
    var out: String?

    @Option(help: "Write the SVG figures to this folder (default: beside --out; none when printing to standard output).")
    var plots: String?

    @Flag(help: "Print the rows as JSON (an array of objects in column order) instead of Markdown.")
    var json = false

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one CSV file") }
    }

    func run() throws {
        if let out { try OutputFile.prepare(out, option: "--out", createFolders: true) }
        if let plots { try OutputFile.prepareFolder(plots, option: "--plots") }
        let tables = try files.map { try ResultTable.read(contentsOf: $0) }
        let profiles = tables.filter(ProfileReport.isProfile)
        if !profiles.isEmpty && profiles.count != tables.count {
            throw ValidationError("cannot mix profile CSVs (\(profiles.map(\.source).joined(separator: ", "))) with results CSVs "
                + "(\(tables.filter { !ProfileReport.isProfile($0) }.map(\.source).joined(separator: ", ")))")
        }
        // Numbers are checked file by file, so that an error names the file and line it is on.
        if profiles.isEmpty { for t in tables { try MarkdownReport.validate(t) } }
        let table = try ResultTable.merged(tables)
        if json {
            try emit(table.json(), svgs: [])
            return
        }
        let stem = (((out ?? files[0]) as NSString).lastPathComponent as NSString).deletingPathExtension
        let outFolder = out.map { ($0 as NSString).deletingLastPathComponent } ?? ""
        let figureFolder = plots ?? (out != nil ? (outFolder.isEmpty ? "." : outFolder) : nil)
        let render: (String, String) throws -> (markdown: String, written: [String])
        if profiles.isEmpty {
            let sections = pivot.contains(.all) ? nil : Set(pivot.map { ReportSection(rawValue: $0.rawValue)! })
            let report = MarkdownReport(sections: sections, baselineMixer: baseline, baselineBackend: baselineBackend,
                                        baselineMachine: baselineMachine, published: Report.published)
            guard figureFolder != nil else { try emit(try report.render(table), svgs: []); return }
            render = { try report.render(table, figuresIn: $0, stem: stem, linkFolder: $1) }
        } else {
            guard figureFolder != nil else { try emit(try ProfileReport.render(tables).markdown, svgs: []); return }
            render = { try ProfileReport.render(tables, figuresIn: $0, stem: stem, linkFolder: $1) }
        }
        let folder = figureFolder!
        // Links are relative to the Markdown file's folder (or to the current one for standard output).
        let (markdown, written) = try render(folder, Report.relativePath(folder, from: outFolder.isEmpty ? "." : outFolder))
        try emit(markdown, svgs: written)
    }

    private func emit(_ text: String, svgs: [String]) throws {
        if let out { try OutputFile.write(text, to: out, option: "--out") } else { print(text, terminator: "") }
        for s in svgs { FileHandle.standardError.write("wrote \(s)\n".data(using: .utf8)!) }
    }

    /// `target` relative to the folder `base` ("" when they are the same folder).
    static func relativePath(_ target: String, from base: String) -> String {
        let t = URL(fileURLWithPath: target).standardizedFileURL.pathComponents
        let b = URL(fileURLWithPath: base).standardizedFileURL.pathComponents
        var common = 0
        while common < min(t.count, b.count) && t[common] == b[common] { common += 1 }
        return (Array(repeating: "..", count: b.count - common) + t[common...]).joined(separator: "/")
    }

    /// The zoo's published top-1 of a model, at the resolution it refers to.
    static func published(_ model: String) -> PublishedTop1? {
        guard let info = try? ModelZoo.named(model), let p = info.published else { return nil }
        return PublishedTop1(top1: p.top1, source: p.source, resolution: info.resolution)
    }
}
