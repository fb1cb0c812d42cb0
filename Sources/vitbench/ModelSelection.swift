import ArgumentParser
import VitEngine
import VitHarness
import VitModels

/// Which model, in which form, at which input size: the options every measuring command shares.
struct ModelSelection: ParsableArguments {
    @Option(help: "Model name (see `vitbench list`), e.g. fastvit_t8 or metaformer_s12.")
    var model: String

    @Option(help: "Token mixer of metaformer_s12: \(MetaFormerS12.Mixer.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mixer: String?

    @Option(help: "Input resolution (square); default: the model's published one.")
    var resolution: Int?

    @Option(help: "Batch size.")
    var batch = 1

    @Option(help: "train (multi-branch, as trained) or inference (reparameterised).")
    var form: ModelForm = .inference

    @Option(help: "Backend: \(Backend.all.map(\.name).joined(separator: ", ")).")
    var backend = Backend.default.name

    /// The zoo name (`metaformer_s12` + `--mixer attention` is `metaformer_s12:attention`).
    var name: String { mixer.map { model.contains(":") ? model : "\(model):\($0)" } ?? model }

    /// The zoo entry and the resolution to use (the model's published one by default).
    func resolve() throws -> (info: ModelInfo, resolution: Int) {
        let info = try ModelZoo.named(name)
        return (info, resolution ?? info.resolution)
    }
}

extension ModelForm: ExpressibleByArgument {}
