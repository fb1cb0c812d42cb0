import ArgumentParser
import Foundation
import VitEngine
import VitHarness
import VitModels

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the network a model (or block) runs as an ONNX file (opset 17, float32), with its weights.",
        discussion: """
            The file holds exactly the steps the engine runs, in the engine's layout (NHWC inside; \
            the model's input is NCHW [batch, 3, H, W], named `input`; the output is named `output`), \
            so ONNX Runtime or OpenVINO run the same network and weights as vitbench. Without \
            --weights the model has vitbench's deterministic random weights (as `bench` measures).
            """)

    @OptionGroup var selection: ModelSelection

    @Option(help: "Weights: a safetensors file with timm's state_dict keys (models only).")
    var weights: String?

    @Option(help: "Where to write the ONNX file.")
    var onnx: String

    @OptionGroup var memoryLimit: MemoryLimitOption

    func run() throws {
        try OutputFile.prepare(onnx, option: "--onnx")
        try memoryLimit.apply()
        let c = try selection.configuration(threads: 1)
        // Before the weights are built (the plan's arena is never allocated: the estimate over-counts).
        try BenchmarkRunner.checkMemory(c)
        let data: Data
        if BlockZoo.contains(c.model) {
            guard weights == nil else { throw ValidationError("--weights applies to models; blocks take random weights") }
            let block = try BlockZoo.named(c.model).random(dim: c.dim, height: c.resolution)
            if c.form == .inference { block.reparameterize() }
            data = try block.exportONNX(batch: c.batch, height: c.resolution, width: c.resolution)
        } else {
            let info = try ModelZoo.named(c.model)
            let model = try weights.map { try info.load(Weights(file: $0)) } ?? info.random()
            if c.form == .inference { model.reparameterize() }
            data = try model.exportONNX(batch: c.batch, height: c.resolution, width: c.resolution)
        }
        do {
            try data.write(to: URL(fileURLWithPath: onnx), options: .atomic)
        } catch {
            throw CommandFailure("--onnx \(onnx): cannot write: \(ResultsFolder.reason(error, path: onnx))")
        }
        print("wrote \(onnx): \(c.model), \(c.form.rawValue) form, batch \(c.batch), \(c.resolution)x\(c.resolution), "
              + String(format: "%.1f MB", Double(data.count) / 1e6))
    }
}
