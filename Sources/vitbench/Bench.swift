import ArgumentParser
import Foundation
import VitEngine
import VitHarness
import VitModels

/// Protocol options shared by every command that measures.
struct ProtocolOptions: ParsableArguments {
    @Option(help: "Warm-up runs (at least), after the cold first run.")
    var warmupRuns: Int?
    @Option(help: "Warm-up time in seconds (at least).")
    var warmupSeconds: Double?
    @Option(help: "Measured runs (at least).")
    var minRuns: Int?
    @Option(help: "Measured time in seconds (at least).")
    var minSeconds: Double?
    @Option(help: "Stop measuring after this many seconds.")
    var maxSeconds: Double?
    @Option(help: "Flag a result noisy above this coefficient of variation.")
    var noiseThreshold: Double?

    func apply(to base: MeasurementProtocol) throws -> MeasurementProtocol {
        var p = base
        if let v = warmupRuns { p.warmupRuns = v }
        if let v = warmupSeconds { p.warmupSeconds = v }
        if let v = minRuns { p.minRuns = v }
        if let v = minSeconds { p.minSeconds = v }
        if let v = maxSeconds { p.maxSeconds = v }
        if let v = noiseThreshold { p.noiseThreshold = v }
        guard p.minRuns >= 1, p.warmupRuns >= 0, p.minSeconds >= 0, p.maxSeconds > 0 else {
            throw ValidationError("protocol values must be positive")
        }
        return p
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure one configuration: a model (or mixer) at one resolution, batch and thread count.")

    @Option(help: "Model name (see `vitbench list`), e.g. fastvit_t8 or metaformer_s12.")
    var model: String

    @Option(help: "Token mixer of metaformer_s12: \(MetaFormerS12.Mixer.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mixer: String?

    @Option(help: "Input resolution (square); default: the model's published one.")
    var resolution: Int?

    @Option(help: "Batch size.")
    var batch = 1

    @Option(name: .shortAndLong, help: "Worker threads.")
    var threads = 1

    @Option(help: "train (multi-branch, as trained) or inference (reparameterised).")
    var form: ModelForm = .inference

    @Option(help: "Pinning of the engine's workers: \(PinningPolicy.syntax).")
    var pin = "none"

    @Option(help: "Backend: \(Backend.all.map(\.name).joined(separator: ", ")).")
    var backend = Backend.default.name

    @Flag(help: "Print one JSON object (the fields of a CSV row) instead of a Markdown row.")
    var json = false

    @OptionGroup var protocolOptions: ProtocolOptions

    func run() throws {
        var name = model
        if let mixer { name = model.contains(":") ? model : "\(model):\(mixer)" }
        let info = try ModelZoo.named(name)
        let config = BenchConfiguration(model: name, form: form, resolution: resolution ?? info.resolution, batch: batch,
                                        threads: threads, backend: backend, pin: pin)
        let proto = try protocolOptions.apply(to: MeasurementProtocol())
        let environment = try RunEnvironment.current()
        let pinned = try environment.makePool(config)
        FileHandle.standardError.write("pinning: \(pinned.status)\n".data(using: .utf8)!)
        let result = BenchmarkRunner.measure(config, protocol: proto, pool: pinned.pool)
        pinned.finish()
        let fields = environment.columns + [("pinning_status", pinned.status)] + result.fields(noiseThreshold: proto.noiseThreshold)
        if json {
            let body = fields.map { "\"\($0.0)\": \(jsonValue($0.1))" }.joined(separator: ", ")
            print("{\(body)}")
        } else {
            print("| " + fields.map(\.0).joined(separator: " | ") + " |")
            print("|" + String(repeating: "---|", count: fields.count))
            print("| " + fields.map(\.1).joined(separator: " | ") + " |")
        }
        if let error = result.error { throw ValidationError(error) }
    }
}

extension ModelForm: ExpressibleByArgument {}

/// Numbers stay numbers in JSON; everything else is a string.
func jsonValue(_ s: String) -> String {
    if !s.isEmpty, Double(s) != nil { return s }
    let escaped = s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\n", with: "\\n")
    return "\"\(escaped)\""
}
