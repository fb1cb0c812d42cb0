import ArgumentParser
import Foundation
import VitEngine
import VitHarness
import VitModels

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time every step of a model's plan: per layer, block, stage and op kind, with the profiler's own overhead.")

    @OptionGroup var selection: ModelSelection
    @Option(name: .shortAndLong, help: "Worker threads.")
    var threads = 1
    @Option(help: "Profiled passes (each step's median is over these).")
    var passes = 20
    @Option(help: "Rows in the slowest-steps table.")
    var top = 15
    @Option(help: "Also write every step as CSV here.")
    var csv: String?
    @Option(help: "Also write a Chrome trace (chrome://tracing, Perfetto) of one pass here.")
    var trace: String?

    func run() throws {
        let (info, res) = try selection.resolve()
        let backend = try parseBackend(selection.backend), batch = selection.batch
        let m = try info.random()
        if selection.form == .inference { m.reparameterize() }
        let plan = try m.plan(batch: batch, height: res, width: res, backend: backend, pool: ThreadPool(threads: threads))
        var rng = SplitMix64(seed: 0x5EED)
        try plan.setInput(Tensor(randomNormal: [batch, 3, res, res], rng: &rng))
        var proto = MeasurementProtocol()
        proto.minSeconds = 1
        let p = LayerProfile.measure(plan, passes: passes, protocol: proto)
        let title = "\(selection.name), \(selection.form.rawValue) form, \(res)x\(res), batch \(batch), \(threads) thread(s), \(backend.name)"
        print(p.markdown(title: title, top: top))
        if let csv { try p.csv().write(toFile: csv, atomically: true, encoding: .utf8) }
        if let trace { try p.chromeTrace(process: title).write(toFile: trace, atomically: true, encoding: .utf8) }
    }
}
