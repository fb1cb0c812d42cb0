import ArgumentParser
import Foundation
import VitEngine
import VitHarness
import VitModels

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time every step of a model's (or a block's) plan: per layer, block, stage and op kind, with the profiler's own overhead.")

    @OptionGroup var selection: ModelSelection
    @OptionGroup var backendOption: BackendOption
    @Option(name: .shortAndLong, help: "Worker threads.")
    var threads = 1
    @Option(help: "Pinning of the engine's workers: \(PinningPolicy.syntax). (default: none)", transform: PinningPolicy.init(parsing:))
    var pin = PinningPolicy.none
    @Option(help: "Profiled passes (each step's median is over these).")
    var passes = 20
    @Option(help: "Rows in the slowest-steps table.")
    var top = 15
    @Option(help: "Also write every step as CSV here.")
    var csv: String?
    @Option(help: "Also write a Chrome trace (chrome://tracing, Perfetto) of one pass here.")
    var trace: String?
    @OptionGroup var kernelISA: KernelISAOption
    @OptionGroup var memoryLimit: MemoryLimitOption
    @OptionGroup var oversubscription: OversubscriptionOption

    /// The most profiled passes and table rows: beyond them a typo, not a plan.
    static let maximumPasses = 100_000
    static let maximumTop = 100_000

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard (1...Profile.maximumPasses).contains(passes) else {
            throw ValidationError("--passes must be between 1 and \(Profile.maximumPasses), got \(passes)")
        }
        guard (1...Profile.maximumTop).contains(top) else {
            throw ValidationError("--top must be between 1 and \(Profile.maximumTop), got \(top)")
        }
    }

    func run() throws {
        if let csv { try OutputFile.prepare(csv, option: "--csv") }
        if let trace { try OutputFile.prepare(trace, option: "--trace") }
        try kernelISA.apply()
        try memoryLimit.apply()
        let topology = try Topology.thisMachine()
        try oversubscription.check(threads: threads, topology: topology)
        let c = try selection.configuration(threads: threads, backend: backendOption.backend)
        let backend = try parseBackend(c.backend), batch = c.batch, res = c.resolution
        let pinned = try PinnedPool(threads: threads, pin: pin, topology: topology)
        defer { pinned.finish() }
        FileHandle.standardError.write("pinning: \(pinned.status)\n".data(using: .utf8)!)
        let lowered = try BenchmarkRunner.lower(c, backend: backend, pool: pinned.pool)
        for note in lowered.notes { FileHandle.standardError.write("note: \(note)\n".data(using: .utf8)!) }
        let plan = lowered.plan
        var rng = SplitMix64(seed: 0x5EED)
        try plan.setInput(Tensor(randomNormal: plan.inputShapes[0], rng: &rng))
        var proto = MeasurementProtocol()
        proto.minSeconds = 1
        let p = LayerProfile.measure(plan, passes: passes, protocol: proto)
        let width = c.dim.map { ", dim \($0)" } ?? ""
        let blas = backend.gemm is OpenBLASGEMM ? ", OpenBLAS \(OpenBLAS.coreName)" : ""
        let title = "\(c.model), \(c.form.rawValue) form, \(res)x\(res)\(width), batch \(batch), \(threads) thread(s), \(backend.name), kernels \(KernelISA.selected)\(blas)"
        print(p.markdown(title: title, top: top))
        if let csv { try OutputFile.write(p.csv(), to: csv, option: "--csv") }
        if let trace { try OutputFile.write(p.chromeTrace(process: title), to: trace, option: "--trace") }
    }
}
