import Foundation
import VitEngine
import VitModels

/// ONNX Runtime and OpenVINO as backends: the configuration's model (or block), in its form and
/// with the deterministic random weights the engine measures, exported to ONNX
/// (`exportONNX`), then timed by the project's runner (`scripts/onnx/time_runtime.py`) under the
/// same protocol, thread count and PUs, every sample returned into the same row.
public enum ExternalRuntime {
    /// The interpreter with the runtimes: `VITBENCH_PEER_PYTHON`, else the peer environment
    /// `scripts/peers/setup.sh` makes.
    public static var python: String {
        ProcessInfo.processInfo.environment["VITBENCH_PEER_PYTHON"] ?? "\(NSHomeDirectory())/.vitbench-peers/bin/python"
    }

    /// The runner script: `VITBENCH_SCRIPTS`/onnx/time_runtime.py, else found above the binary
    /// (a checkout's `.build/release/vitbench`) or the working directory.
    static var script: String? {
        let relative = "onnx/time_runtime.py"
        if let dir = ProcessInfo.processInfo.environment["VITBENCH_SCRIPTS"] { return "\(dir)/\(relative)" }
        let starts = [URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent(),
                      URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        for start in starts {
            var dir = start
            for _ in 0..<6 {
                let candidate = dir.appendingPathComponent("scripts").appendingPathComponent(relative).path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }

    /// Exports, times and reports one configuration; every failure is the row's error.
    public static func measure(_ c: BenchConfiguration, protocol proto: MeasurementProtocol, cpus: [Int]?) -> BenchResult {
        var macs = 0, parameters = 0, notes: [String] = []
        do {
            guard c.blasThreads == 1 else {
                throw ModelInputError("blas_threads applies to OpenBLAS's products, not to \(c.backend.rawValue)")
            }
            guard (1...4096).contains(c.threads) else { throw ModelInputError("threads must be between 1 and 4096 (got \(c.threads))") }
            guard FileManager.default.isExecutableFile(atPath: python) else {
                throw ModelInputError("\(c.backend.rawValue) needs the peer environment (\(python) is missing): "
                                      + "install it with scripts/peers/setup.sh, or set VITBENCH_PEER_PYTHON")
            }
            guard let script else {
                throw ModelInputError("\(c.backend.rawValue) needs scripts/onnx/time_runtime.py from vitbench's repository "
                                      + "(run vitbench from the checkout, or set VITBENCH_SCRIPTS to its scripts folder)")
            }
            let onnx: Data
            if BlockZoo.contains(c.model) {
                let block = try BlockZoo.named(c.model).random(dim: c.dim, height: c.resolution)
                if c.form == .inference { block.reparameterize() }
                onnx = try block.exportONNX(batch: c.batch, height: c.resolution, width: c.resolution)
                macs = try block.macs(height: c.resolution, width: c.resolution)
                parameters = block.parameterCount
            } else {
                let model = try ModelZoo.named(c.model).random()
                if c.form == .inference { model.reparameterize() }
                onnx = try model.exportONNX(batch: c.batch, height: c.resolution, width: c.resolution)
                macs = try model.macs(height: c.resolution, width: c.resolution)
                parameters = model.parameterCount
                notes = model.notes(height: c.resolution, width: c.resolution)
            }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("vitbench-\(UUID().uuidString).onnx")
            try onnx.write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            var arguments = [script, "--runtime", c.backend.rawValue, "--onnx", file.path, "--threads", "\(c.threads)",
                             "--warmup-runs", "\(proto.warmupRuns)", "--warmup-seconds", "\(proto.warmupSeconds)",
                             "--min-runs", "\(proto.minRuns)", "--min-seconds", "\(proto.minSeconds)",
                             "--max-seconds", "\(proto.maxSeconds)"]
            if let cpus { arguments += ["--cpus", cpus.map(String.init).joined(separator: ",")] }
            let reply = try run(python, arguments)
            guard let object = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any] else {
                throw ModelInputError("\(c.backend.rawValue)'s runner did not answer in JSON: \(reply.prefix(500))")
            }
            if let error = object["error"] as? String { throw ModelInputError(error) }
            guard let samples = object["samples_ms"] as? [Double], !samples.isEmpty, let cold = object["cold_ms"] as? Double,
                  let name = object["runtime"] as? String, let settings = object["settings"] as? String else {
                throw ModelInputError("\(c.backend.rawValue)'s runner answered without samples: \(reply.prefix(500))")
            }
            let measurement = Measurement(samples: samples.map { $0 * 1e-3 }, coldSeconds: cold * 1e-3)
            var result = BenchResult(configuration: c, measurement: measurement, macs: macs, parameters: parameters, error: nil)
            result.runtime = "\(name) (\(settings))"
            result.notes = notes
            return result
        } catch {
            return BenchResult(configuration: c, measurement: nil, macs: macs, parameters: parameters, error: "\(error)")
        }
    }

    /// Runs a process to completion; its standard output (the last line: the runner's JSON).
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read stderr concurrently so that a chatty runtime cannot fill its pipe and stall.
        let errData = ErrorBuffer()
        let reader = Thread { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        let lastLine = output.split(separator: "\n").last.map(String.init) ?? ""
        if lastLine.isEmpty {
            let why = String(decoding: errData.data, as: UTF8.self).suffix(800)
            throw ModelInputError("the runner exited with status \(process.terminationStatus) and no answer: \(why)")
        }
        return lastLine
    }

    private final class ErrorBuffer: @unchecked Sendable {
        var data = Data()
    }
}
