import Foundation
import XCTest

/// The `vitbench` binary end to end: exit codes and messages on good and bad input.
final class CLITests: VitbenchCLITestCase {
    @discardableResult
    func vitbench(_ args: String...) throws -> (status: Int32, output: String) { try vitbench(args) }

    @discardableResult
    func vitbench(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try runCapturingOutput(binary, args, environment: environment)
    }

    /// A float32 NCHW .npy written by hand (the CLI tests do not link the engine).
    func writeInput(_ shape: [Int], to name: String) throws -> String {
        let count = shape.reduce(1, *)
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", ")),), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(header.data(using: .ascii)!)
        var values = (0..<count).map { Float(sin(Double($0))) }
        data.append(Data(bytes: &values, count: count * 4))
        let path = scratch.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    func testInferWritesLogits() throws {
        let input = try writeInput([2, 3, 40, 48], to: "x.npy")
        let output = scratch.appendingPathComponent("y.npy").path
        let r = try vitbench("infer", "--model", "metaformer_s12:repmixer", "--input", input, "--output", output,
                             "--reparameterize", "--threads", "2")
        XCTAssertEqual(r.status, 0, r.output)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        XCTAssertTrue(String(decoding: bytes.prefix(80), as: UTF8.self).contains("'shape': (2, 1000)"))
        XCTAssertEqual(bytes.count % 64, (2 * 1000 * 4) % 64)
    }

    func testInferRejectsBadInput() throws {
        let output = scratch.appendingPathComponent("y.npy").path
        let unknown = try vitbench("infer", "--model", "fastvit_t9", "--input", "x", "--output", output)
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.output.contains("unknown model 'fastvit_t9'"), unknown.output)
        XCTAssertTrue(unknown.output.contains("poolformer_s12"), unknown.output)

        // A size the model cannot take is refused before anything is said about resampling to it.
        let odd = try writeInput([1, 3, 20, 20], to: "odd.npy")
        let deit = try vitbench("infer", "--model", "deit_tiny_patch16_224", "--input", odd, "--output", output)
        XCTAssertNotEqual(deit.status, 0)
        XCTAssertTrue(deit.output.contains("multiple of the patch size 16"), deit.output)
        XCTAssertFalse(deit.output.contains("note:"), deit.output)

        let rank3 = try writeInput([3, 32, 32], to: "rank3.npy")
        let r3 = try vitbench("infer", "--model", "poolformer_s12", "--input", rank3, "--output", output)
        XCTAssertNotEqual(r3.status, 0)
        XCTAssertTrue(r3.output.contains("[N, 3, H, W]"), r3.output)

        let gray = try writeInput([1, 1, 32, 32], to: "gray.npy")
        let rg = try vitbench("infer", "--model", "poolformer_s12", "--input", gray, "--output", output)
        XCTAssertNotEqual(rg.status, 0)
        XCTAssertTrue(rg.output.contains("[1, 1, 32, 32]"), rg.output)

        let tiny = try writeInput([1, 3, 2, 2], to: "tiny.npy")
        let rt = try vitbench("infer", "--model", "poolformer_s12", "--input", tiny, "--output", output)
        XCTAssertNotEqual(rt.status, 0)
        XCTAssertTrue(rt.output.contains("2x2"), rt.output)

        let missing = try vitbench("infer", "--model", "poolformer_s12", "--weights", "/nonexistent.safetensors",
                                   "--input", tiny, "--output", output)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("/nonexistent.safetensors"), missing.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "no output on failure")
    }

    func testListAndInfo() throws {
        let list = try vitbench("list")
        XCTAssertEqual(list.status, 0, list.output)
        XCTAssertTrue(list.output.contains("| poolformer_s12 | poolformer | 11.915 |"), list.output)
        let info = try vitbench("info", "metaformer_s12:repmixer", "--resolution", "256")
        XCTAssertEqual(info.status, 0, info.output)
        XCTAssertTrue(info.output.contains("11.967 / 11.937 M"), info.output)
        let bad = try vitbench("info", "nope")
        XCTAssertNotEqual(bad.status, 0)
    }

    /// `list --json` holds what the Markdown table holds, a row for a row, for scripts.
    func testListAsJSONMatchesTheTable() throws {
        let table = try vitbench("list"), json = try vitbench("list", "--json")
        XCTAssertEqual(json.status, 0, json.output)
        let models = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]], json.output)
        let tableRows = table.output.split(separator: "\n").dropFirst(2)
        XCTAssertEqual(models.map { $0["model"] as? String }, tableRows.map { $0.split(separator: "|")[0].trimmingCharacters(in: .whitespaces) })
        let t8 = try XCTUnwrap(models.first { $0["model"] as? String == "fastvit_t8" })
        XCTAssertEqual(t8["resolution"] as? Int, 256)
        XCTAssertEqual(t8["params"] as? Int, 4_026_232)
        XCTAssertEqual(t8["params_reparameterized"] as? Int, 3_996_040)
        XCTAssertEqual(try XCTUnwrap(t8["gmacs"] as? Double), 0.685, accuracy: 0.0005)
        XCTAssertEqual(t8["published_top1"] as? Double, 76.2)
        XCTAssertEqual(t8["source"] as? String, "apple/ml-fastvit README")
        let psvit = try XCTUnwrap(models.first { $0["model"] as? String == "psvit_1d_tiny" })
        XCTAssertTrue(psvit["published_top1"] is NSNull && psvit["source"] is NSNull, "\(psvit)")
        let blocks = try vitbench("list", "--blocks", "--json")
        XCTAssertEqual(blocks.status, 0, blocks.output)
        let listed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(blocks.output.utf8)) as? [[String: Any]], blocks.output)
        let repmixer = try XCTUnwrap(listed.first { $0["block"] as? String == "fastvit.repmixer" })
        XCTAssertEqual(repmixer["dim"] as? Int, 48)
        XCTAssertEqual(repmixer["resolution"] as? Int, 64)
    }

    /// The commit a result records is the binary's checkout's, not the current directory's: run
    /// from inside another repository (a user's own suites, or the CI gate running the base
    /// commit's binary from the new checkout), `env` still names vitbench's commit.
    func testTheCommitIsTheBinarysNotTheCurrentDirectorys() throws {
        let git = URL(fileURLWithPath: "/usr/bin/env")
        let identity = ["git", "-c", "user.name=vitbench", "-c", "user.email=vitbench@invalid"]
        guard let initialised = try? runCapturingOutput(git, identity + ["-C", scratch.path, "init", "-q"]), initialised.status == 0 else {
            throw XCTSkip("git is not installed")
        }
        let committed = try runCapturingOutput(git, identity + ["-C", scratch.path, "commit", "-q", "--allow-empty", "-m", "other"])
        XCTAssertEqual(committed.status, 0, committed.output)
        let other = try runCapturingOutput(git, ["-C", scratch.path, "rev-parse", "--short", "HEAD"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let env = try runCapturingOutput(binary, ["env"], in: scratch)
        XCTAssertEqual(env.status, 0, env.output)
        let commit = try XCTUnwrap(envField(env.output, "commit"), env.output)
        XCTAssertFalse(commit.hasPrefix(other), "\(commit) is the current directory's commit")
        // Where this test's own checkout is a git checkout (not an exported tree), the binary
        // built in it names its HEAD.
        let ours = try runCapturingOutput(git, ["-C", repositoryRoot.path, "rev-parse", "--short", "HEAD"])
        if ours.status == 0 {
            let head = ours.output.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertTrue(commit == head || commit == head + "-dirty", "\(commit), HEAD \(head)")
        }
    }

    /// `--isa` runs the named variant of the kernels and the row says which ran.
    func testKernelISAIsChosenAndRecorded() throws {
        for isa in ["baseline", "avx2", "neon"] {
            let r = try vitbench("bench", "--block", "fastvit.repmixer", "--dim", "16", "--resolution", "9", "--isa", isa,
                                 "--json", "--warmup-runs", "0", "--min-runs", "2", "--min-seconds", "0")
            if r.output.contains("cannot run on this machine") { XCTAssertEqual(r.status, 64, r.output); continue }
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertTrue(r.output.contains("\"kernel_isa\": \"\(isa)\""), r.output)
        }
    }

    /// `vitbench kernels` prints a column pair per ISA asked for and a row per kernel, the two
    /// GEMMs last, every time and rate a positive number; bad sizes, thread counts and unknown
    /// ISAs are usage errors.
    func testKernelsPrintsEveryKernelOnTheISAsAskedFor() throws {
        // The last ISA `env` lists (the baseline: SSE2 on x86-64, NEON on ARM64) and, where there
        // is another, the first (the best).
        let env = try vitbench("env")
        let listed = envField(env.output, "kernel_isas")?.split(separator: " ").map(String.init) ?? []
        let baseline = try XCTUnwrap(listed.last, env.output)
        let isas = listed.count > 1 ? [baseline, listed[0]] : [baseline]
        let r = try vitbench(["kernels", "--isa"] + isas + ["--sgemm-size", "64"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("| kernel | shape | " + isas.map { "\($0) ms | \($0) GFLOP/s" }.joined(separator: " | ") + " |"), r.output)
        XCTAssertTrue(r.output.contains("the fastest of 3 medians"), r.output)
        // Each sgemm column on OpenBLAS's kernels of its level (on x86-64, the baseline's in a
        // process loaded with Prescott's, where OpenBLAS's own choice is wider and can be switched).
        XCTAssertTrue(r.output.contains("The sgemm row runs OpenBLAS's kernels of each column's level: \(baseline) "), r.output)
        if let core = try pairedCore(env.output, isa: baseline) {
            XCTAssertTrue(r.output.contains(": \(baseline) \(core), "), r.output)
            XCTAssertTrue(r.output.contains("(\(core) each in a process of its own"), r.output)
        }
        let rows = r.output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("| ") && !$0.hasPrefix("| kernel |") }
        XCTAssertGreaterThan(rows.count, 20, r.output)
        XCTAssertTrue(rows.last?.hasPrefix("| gemm (packed weights) | 64x64x64 |") == true, r.output)
        XCTAssertTrue(rows.contains { $0.hasPrefix("| sgemm (openblas) | 64x64x64 |") }, r.output)
        for row in rows {
            let numbers = row.split(separator: "|").suffix(2 * isas.count).compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            XCTAssertEqual(numbers.count, 2 * isas.count, row)
            XCTAssertTrue(numbers.allSatisfy { $0 > 0 && $0.isFinite }, row)
        }
        for bad in [["--threads", "0"], ["--sgemm-size", "8"], ["--sgemm-size", "1e9"], ["--isa", "sse9"]] {
            let e = try vitbench(["kernels"] + bad)
            XCTAssertEqual(e.status, 64, "\(bad): \(e.output)")
        }
    }

    /// The value of one field of `vitbench env`'s output (the text after the name), or nil.
    func envField(_ env: String, _ name: String) -> String? {
        env.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { $0.dropFirst(name.count).trimmingCharacters(in: .whitespaces) }
    }

    /// The OpenBLAS core `vitbench` pairs `isa` with on this machine, from `env`'s output: nil
    /// where OpenBLAS's own core is not wider (or not known), or where this OpenBLAS cannot
    /// switch cores (a build without DYNAMIC_ARCH ignores OPENBLAS_CORETYPE).
    func pairedCore(_ env: String, isa: String) throws -> String? {
        let core = try XCTUnwrap(envField(env, "openblas_core"), env), config = try XCTUnwrap(envField(env, "openblas_config"), env)
        guard config.contains("DYNAMIC_ARCH") else { return nil }
        // The table under test (KernelISA.openBLASCoreToPair), restated for the cores CI meets.
        let wider: [String: Set<String>] = ["baseline": ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "sandybridge"],
                                            "avx2": ["skylakex", "cooperlake", "sapphirerapids"]]
        let pairs = ["baseline": "Prescott", "avx2": "Haswell"]
        return wider[isa]?.contains(core.lowercased()) == true ? pairs[isa] : nil
    }

    /// A command that runs one forced ISA runs OpenBLAS at that ISA's level (it re-runs itself
    /// with OPENBLAS_CORETYPE set), keeps a core the user set, and then says where the two differ.
    func testAForcedISARunsOpenBLASAtItsLevel() throws {
        let env = try vitbench("env")
        let core = try XCTUnwrap(envField(env.output, "openblas_core"), env.output)
        guard let paired = try pairedCore(env.output, isa: "baseline") else {
            throw XCTSkip("OpenBLAS here (\(core)) is not wider than the baseline, or cannot switch cores")
        }
        let args = ["profile", "--model", "mobileone_s0", "--resolution", "32", "--passes", "1", "--isa", "baseline", "--backend", "openblas"]
        let r = try vitbench(args)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("openblas, kernels baseline, OpenBLAS \(paired)\n"), r.output)
        XCTAssertFalse(r.output.contains("note: OpenBLAS ran"), r.output)
        let run = try vitbench(["bench", "--model", "mobileone_s0", "--resolution", "32", "--isa", "baseline", "--json",
                                "--warmup-runs", "0", "--min-runs", "2", "--min-seconds", "0"])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("\"kernel_isa\": \"baseline\", \"blas\": \"OpenBLAS "), run.output)
        XCTAssertTrue(run.output.contains(" \(paired)\", \"blas_threads\""), run.output)
        // The user's own choice stands, and the output says it is wider than the kernels.
        let kept = try vitbench(args, environment: ["OPENBLAS_CORETYPE": core])
        XCTAssertEqual(kept.status, 0, kept.output)
        XCTAssertTrue(kept.output.contains("kernels baseline, OpenBLAS \(core)\n"), kept.output)
        XCTAssertTrue(kept.output.contains("note: OpenBLAS ran its \(core) kernels beside the engine's baseline ones"), kept.output)
        XCTAssertTrue(kept.output.contains("OPENBLAS_CORETYPE=\(paired)"), kept.output)
        // A suite of two ISAs runs in one process: OpenBLAS stays as it loaded, the run warns,
        // and the narrower ISA's row says so.
        let best = try XCTUnwrap(envField(env.output, "kernel_isas")?.split(separator: " ").first.map(String.init), env.output)
        try XCTSkipIf(best == "baseline", "this CPU runs only the baseline")
        let suite = scratch.appendingPathComponent("mixed.yaml")
        try """
            name: mixed
            protocol: {warmup_runs: 0, warmup_seconds: 0, min_runs: 2, min_seconds: 0}
            runs:
              - blocks: [fastvit.repmixer]
                dims: [16]
                resolutions: [9]
                backends: [openblas]
                isas: [\(best), baseline]
            """.write(to: suite, atomically: true, encoding: .utf8)
        let out = scratch.appendingPathComponent("out")
        let mixed = try vitbench(["run", suite.path, "--out", out.path])
        XCTAssertEqual(mixed.status, 0, mixed.output)
        XCTAssertTrue(mixed.output.contains("note: this suite runs several kernel ISAs in one process, so OpenBLAS keeps its \(core) kernels"), mixed.output)
        let rows = try String(contentsOf: out.appendingPathComponent("mixed.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        XCTAssertEqual(rows.count, 2, mixed.output)
        for row in rows {
            XCTAssertEqual(row.contains("OpenBLAS ran its \(core) kernels"), row.contains(",baseline,"), String(row))
        }
    }

    /// Backend and pinning are parsed once at the command line: a row writes each in one
    /// spelling (so `Compact` and `compact` pair in `compare` and `--resume`), and a name the
    /// tool does not know is a usage error listing the valid ones.
    func testBackendAndPinningAreTypedAndCanonical() throws {
        let r = try vitbench("bench", "--block", "fastvit.repmixer", "--dim", "16", "--resolution", "9", "--pin", "Compact",
                             "--backend", "openblas", "--json", "--warmup-runs", "0", "--min-runs", "2", "--min-seconds", "0")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("\"pinning\": \"compact\""), r.output)
        XCTAssertTrue(r.output.contains("\"backend\": \"openblas\""), r.output)
        XCTAssertTrue(r.output.contains("\"runtime\": \"vitbench\""), r.output)
        let badBackend = try vitbench("bench", "--model", "fastvit_t8", "--backend", "mkl")
        XCTAssertEqual(badBackend.status, 64, badBackend.output)
        for name in ["packed", "openblas", "blis", "netlib", "xnnpack", "reference"] {
            XCTAssertTrue(badBackend.output.contains("- \(name)\n"), badBackend.output)
        }
        let badPin = try vitbench("profile", "--model", "fastvit_t8", "--pin", "nearest")
        XCTAssertEqual(badPin.status, 64, badPin.output)
        XCTAssertTrue(badPin.output.contains("nearest"), badPin.output)
        let help = try vitbench("infer", "--help")
        let flatHelp = help.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(flatHelp.contains("values: packed, openblas, blis, netlib, xnnpack, reference"), help.output)
    }

    /// `export` writes an ONNX file for a model or a block, and refuses what it cannot write.
    func testExportWritesONNXAndRefusesBadRequests() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitbench-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("m.onnx").path
        let r = try vitbench("export", "--model", "mobileone_s0", "--resolution", "64", "--form", "train", "--onnx", model)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("mobileone_s0, train form, batch 1, 64x64"), r.output)
        // An ONNX ModelProto: field 1 (ir_version) first, and the producer's name inside.
        let data = try Data(contentsOf: URL(fileURLWithPath: model))
        XCTAssertEqual(data.first, 0x08)
        XCTAssertNotNil(data.range(of: Data("vitbench".utf8)))
        let block = try vitbench("export", "--block", "fastvit.repmixer", "--dim", "16", "--resolution", "8",
                                 "--onnx", dir.appendingPathComponent("b.onnx").path)
        XCTAssertEqual(block.status, 0, block.output)
        let unknown = try vitbench("export", "--model", "resnet50", "--onnx", model)
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.output.contains("resnet50"), unknown.output)
        let unwritable = try vitbench("export", "--model", "mobileone_s0", "--resolution", "64", "--onnx", "/nonexistent/dir/m.onnx")
        XCTAssertNotEqual(unwritable.status, 0)
        XCTAssertTrue(unwritable.output.contains("/nonexistent/dir/m.onnx"), unwritable.output)
        let blockWeights = try vitbench("export", "--block", "fastvit.repmixer", "--weights", model, "--onnx", model)
        XCTAssertNotEqual(blockWeights.status, 0)
        XCTAssertTrue(blockWeights.output.contains("--weights applies to models"), blockWeights.output)
    }

    func testBlocksAreListedDescribedAndMeasured() throws {
        let list = try vitbench("list", "--blocks")
        XCTAssertEqual(list.status, 0, list.output)
        XCTAssertTrue(list.output.contains("| fastvit.repmixer | 48 @64 |"), list.output)
        let info = try vitbench("info", "metaformer.pooling", "--dim", "32", "--resolution", "7")
        XCTAssertEqual(info.status, 0, info.output)
        XCTAssertTrue(info.output.contains("input: [1, 7, 7, 32]"), info.output)
        let bench = try vitbench("bench", "--block", "fastvit.repmixer", "--dim", "16", "--resolution", "9", "--form", "train",
                                 "--json", "--warmup-runs", "0", "--min-runs", "2", "--min-seconds", "0")
        XCTAssertEqual(bench.status, 0, bench.output)
        XCTAssertTrue(bench.output.contains("\"model\": \"fastvit.repmixer\""), bench.output)
        XCTAssertTrue(bench.output.contains("\"dim\": 16"), bench.output)
        XCTAssertTrue(bench.output.contains("\"resolution\": 9"), bench.output)
        for (args, message) in [(["bench", "--block", "fastvit.mixer"], "unknown block 'fastvit.mixer'"),
                                (["bench", "--block", "fastvit.repmixer", "--model", "fastvit_t8"], "either --model or --block"),
                                (["bench", "--model", "fastvit_t8", "--dim", "8"], "--dim applies to blocks"),
                                (["profile", "--block", "fastvit.repmixer", "--dim", "0"], "--dim must be positive"),
                                (["bench", "--model", "fastvit_t8", "--isa", "sse9"], "unknown kernel ISA 'sse9'")] {
            let r = try vitbench(args)
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertTrue(r.output.contains(message), r.output)
        }
    }
}
