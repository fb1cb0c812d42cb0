import Foundation
import XCTest
import VitEngine
import VitModels

/// `exportONNX` writes the network the engine runs: every zoo model in both forms and every block
/// is exported, run by ONNX Runtime (scripts/onnx/run_onnxruntime.py, which also checks each file
/// with onnx.checker), and compared with the engine's own output on the same random input.
/// ONNX Runtime comes from the peer environment (`scripts/peers/setup.sh --light`, which CI
/// runs; `VITBENCH_PEER_PYTHON` names another interpreter). Without it the test is skipped with
/// that command, and fails in CI.
final class ONNXExportTests: XCTestCase {
    struct Case {
        let name: String
        let export: () throws -> Data
        let run: (Tensor) throws -> Tensor
        let inputShape: [Int]
    }

    static var python: String? {
        let env = ProcessInfo.processInfo.environment
        let candidate = env["VITBENCH_PEER_PYTHON"] ?? "\(NSHomeDirectory())/.vitbench-peers/bin/python"
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/onnx/run_onnxruntime.py").path
    }

    /// The smallest of a few resolutions the model takes: small, so that the whole zoo runs in
    /// seconds.
    static func resolution(_ model: ImageClassifier) -> Int? {
        [64, 96, 128, 224].first { (try? model.checkInput(height: $0, width: $0)) != nil }
    }

    static func modelCases() throws -> [Case] {
        var cases: [Case] = []
        for info in ModelZoo.all {
            for fused in [false, true] {
                let model = try info.random()
                if fused {
                    guard model.isReparameterizable else { continue }
                    model.reparameterize()
                }
                guard let r = resolution(model) else { XCTFail("\(info.name): no small resolution fits"); continue }
                cases.append(Case(name: "\(info.name)\(fused ? "@inference" : "@train")@\(r)",
                                  export: { try model.exportONNX(batch: 1, height: r, width: r) },
                                  run: { x in
                                      let plan = try model.plan(batch: 1, height: r, width: r, pool: ThreadPool(threads: 1))
                                      try plan.setInput(x)
                                      plan.run()
                                      return plan.output()
                                  }, inputShape: [1, 3, r, r]))
            }
        }
        return cases
    }

    static func blockCases() throws -> [Case] {
        var cases: [Case] = []
        for info in BlockZoo.all {
            for fused in [false, true] {
                let block = try info.random()
                if fused {
                    guard block.isReparameterizable else { continue }
                    block.reparameterize()
                }
                let r = info.defaultResolution
                cases.append(Case(name: "\(info.name)\(fused ? "@inference" : "@train")",
                                  export: { try block.exportONNX(batch: 2, height: r, width: r) },
                                  run: { x in
                                      let plan = try block.plan(batch: 2, height: r, width: r, pool: ThreadPool(threads: 1))
                                      try plan.setInput(x)
                                      plan.run()
                                      return plan.output()
                                  }, inputShape: block.inputShape(batch: 2, height: r, width: r)))
            }
        }
        return cases
    }

    /// Operators with every option their export handles, alone on well-scaled random data: what
    /// the zoo does not reach, or reaches only inside an ill-conditioned random network.
    static func operatorCases() -> [Case] {
        var rng = SplitMix64(seed: 11)
        func r(_ shape: [Int], _ scale: Float = 1) -> Tensor { Tensor(randomNormal: shape, scale: scale, rng: &rng) }
        let map = [2, 7, 6, 16]
        let tokens = [2, 9, 24]
        let ops: [(String, Operator, [Int])] = [
            ("squeeze_excite", SqueezeExcite(reduceWeight: r([4, 16], 0.3), reduceBias: r([4], 0.1), expandWeight: r([16, 4], 0.3),
                                             expandBias: r([16], 0.1), innerActivation: .relu, gate: .hardsigmoid), map),
            ("groupnorm4", GroupNorm(groups: 4, gamma: r([16]).data, beta: r([16]).data), map),
            ("groupnorm_tokens", GroupNorm(groups: 1, gamma: r([24]).data, beta: r([24]).data), tokens),
            ("avgpool_pad_counted", Pool2d(.average, kernel: 3, stride: 2, padding: 1, countIncludePad: true), map),
            ("avgpool_pad_excluded", Pool2d(.average, kernel: 3, stride: 1, padding: 1, countIncludePad: false), map),
            ("maxpool", Pool2d(.max, kernel: 3, stride: 2, padding: 1), map),
            ("subsample", Pool2d(.max, kernel: 1, stride: 2), map),
            ("resize_up", BilinearResize(height: 11, width: 9), map),
            ("resize_down", BilinearResize(height: 3, width: 4), map),
            ("conv_grouped_silu_tanh", Conv2d(weight: r([8, 4, 3, 1], 0.3), bias: r([8], 0.1), stride: (2, 1), padding: (1, 0),
                                              groups: 4, activation: .geluTanh), map),
            ("linear_hardswish", Linear(weight: r([10, 24], 0.3), bias: r([10], 0.1), activation: .hardswish), tokens),
            ("affine_silu", ChannelAffine(scale: r([24]).data, shift: r([24]).data, activation: .silu), tokens),
            ("scaled_residual", ScaledResidual(scale: r([24]).data), tokens),
            ("softmax", Softmax(), tokens),
            ("slice_tokens", SliceTokens(start: 2, count: 3), tokens),
            ("permute", Permute([0, 2, 1]), tokens),
        ]
        var cases = ops.map { name, op, shape in
            operatorCase("op.\(name)", shape) { b, x in
                // A second input, where the op takes one, derived from the first.
                let inputs = op is ScaledResidual ? [x, try b.apply(ActivationOp(.sigmoid), [x])] : [x]
                return try b.apply(op, inputs, name: name)
            }
        }
        cases.append(operatorCase("op.matmul_transposed_scaled", [2, 12, 8]) { b, x in
            let a = try b.apply(SliceTokens(start: 0, count: 5), [x]), k = try b.apply(SliceTokens(start: 5, count: 7), [x])
            return try b.apply(MatMul(transposeB: true, alpha: 0.25), [a, k], name: "matmul")
        })
        cases.append(operatorCase("op.binary_per_image", map) { b, x in
            try b.apply(Binary(.mul), [x, try b.apply(GlobalAvgPool(), [x])], name: "gate")
        })
        cases.append(operatorCase("op.concat_and_view", tokens) { b, x in
            let head = try b.apply(SliceTokens(start: 0, count: 4), [x])
            let joined = try b.apply(Concat(axis: 1), [x, head], name: "concat")
            return try b.apply(ActivationOp(.relu), [try b.reshape(joined, [2, 13 * 24])], name: "relu")
        })
        return cases
    }

    /// A graph of a few operators on one input, built by `body`, as a case.
    static func operatorCase(_ name: String, _ shape: [Int], _ body: @escaping (PlanBuilder, Value) throws -> Value) -> Case {
        Case(name: name,
             export: {
                 let b = PlanBuilder(pool: ThreadPool(threads: 1))
                 return try b.exportONNX(outputs: [try body(b, b.input(shape))])
             },
             run: { x in
                 let b = PlanBuilder(pool: ThreadPool(threads: 1))
                 let plan = try b.build(outputs: [try body(b, b.input(shape))])
                 try plan.setInput(x)
                 plan.run()
                 return plan.output()
             }, inputShape: shape)
    }

    func testEveryModelAndBlockAgreesWithONNXRuntime() throws {
        guard let python = Self.python else {
            let why = "ONNX Runtime is not installed: run scripts/peers/setup.sh --light (or set VITBENCH_PEER_PYTHON)"
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail(why) } else { print("skipped: \(why)") }
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitbench-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // VITBENCH_KEEP_ONNX=1 keeps the files (their folder is printed) to look into a failure;
        // VITBENCH_ONNX_FILTER=text runs only the cases whose name contains it.
        let env = ProcessInfo.processInfo.environment
        let keep = env["VITBENCH_KEEP_ONNX"] != nil
        defer { if !keep { try? FileManager.default.removeItem(at: dir) } }
        if keep { print("keeping \(dir.path)") }

        var cases = try Self.modelCases() + Self.blockCases()
        XCTAssertGreaterThan(cases.count, 60)
        cases += Self.operatorCases()
        if let filter = env["VITBENCH_ONNX_FILTER"] { cases = cases.filter { $0.name.contains(filter) } }
        var rng = SplitMix64(seed: 7)
        var jobs: [[String: String]] = [], expected: [String: Tensor] = [:], illConditioned: Set<String> = []
        for (i, c) in cases.enumerated() {
            let onnx = dir.appendingPathComponent("\(i).onnx").path
            let input = dir.appendingPathComponent("\(i).input.npy").path
            let output = dir.appendingPathComponent("\(i).output.npy").path
            // An input on which the network is well-conditioned: random-weight networks can be
            // chaotic on most inputs (mobileone_s4 in either form: a 1e-6 relative nudge of one
            // input moved its logits by 11%, so no two float implementations agree there). Three
            // independent nudges must each leave the output within 2e-5: with one, a chaotic
            // network now and then passed by luck (mobileone_s4 then disagreed with ONNX Runtime
            // by 1.4e-3 after a change of exp's rounding in the last bit).
            var chosen: (Tensor, Tensor)?
            for _ in 0..<12 where chosen == nil {
                let x = Tensor(randomNormal: c.inputShape, rng: &rng)
                let y = try c.run(x)
                var steady = true
                for _ in 0..<3 where steady {
                    let nudged = Tensor(shape: x.shape, data: zip(x.data, Tensor(randomNormal: x.shape, rng: &rng).data).map { $0 * (1 + 1e-6 * $1) })
                    steady = try c.run(nudged).relativeError(to: y) <= 2e-5
                }
                if steady { chosen = (x, y) }
            }
            let wellConditioned = chosen != nil
            if !wellConditioned {
                // Random weights can make a network chaotic everywhere: mobileone_s4's SE gates see
                // pre-activations of order 1e5 (its random-weight branches sum without any
                // normalisation), where sigmoid(z) ≈ e^z turns a 1e-6 relative change into a 10%
                // one. There the runtimes cannot agree to 1e-4 with anything; the export is still
                // written, checked and run, and its output's shape and finiteness are checked.
                print("note: \(c.name) is ill-conditioned with random weights: agreement not checked, only that it runs")
                illConditioned.insert(c.name)
                let x = Tensor(randomNormal: c.inputShape, rng: &rng)
                chosen = (x, try c.run(x))
            }
            let (x, y) = chosen!
            do {
                try c.export().write(to: URL(fileURLWithPath: onnx))
            } catch {
                XCTFail("\(c.name): export failed: \(error)")
                continue
            }
            try Npy.write(x, to: input)
            expected[output] = y
            jobs.append(["onnx": onnx, "input": input, "output": output, "name": c.name])
        }
        let manifest = dir.appendingPathComponent("jobs.json")
        try JSONSerialization.data(withJSONObject: jobs).write(to: manifest)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Self.script, manifest.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print(log.split(separator: "\n").last ?? "")

        for job in jobs {
            let name = job["name"]!, output = job["output"]!
            guard FileManager.default.fileExists(atPath: output) else {
                let reason = log.split(separator: "\n").first { $0.contains(job["onnx"]!) } ?? "no output"
                XCTFail("\(name): ONNX Runtime did not run the export: \(reason)")
                continue
            }
            let got = try Npy.read(output), want = expected[output]!
            XCTAssertEqual(got.shape, want.shape, "\(name): output shape")
            guard got.shape == want.shape else { continue }
            if illConditioned.contains(name) {
                XCTAssertTrue(got.data.allSatisfy(\.isFinite), "\(name): ONNX Runtime's output is not finite")
                continue
            }
            let err = got.relativeError(to: want)
            XCTAssertLessThanOrEqual(err, 1e-4, "\(name): ONNX Runtime vs vitbench max|Δ|/max|ref| = \(err)")
        }
    }
}
