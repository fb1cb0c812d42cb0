import Foundation
import XCTest
import VitEngine
import VitHarness
import VitModels

final class SuiteTests: XCTestCase {
    static let suites = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Suites").standardizedFileURL

    func counts(_ spec: String) throws -> [Int] {
        spec == "all" ? [2] : spec.split(separator: ",").map { Int($0)! }
    }

    func testShippedSuitesParseAndExpand() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.suites.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertEqual(Set(files), ["default.yaml", "mixers.yaml", "fastvit.yaml", "accuracy-latency.yaml", "resolution-scaling.yaml", "ci.yaml",
                                  "blocks.yaml", "backends.yaml"])
        for f in files {
            let suite = try Suite.load(Self.suites.appendingPathComponent(f).path)
            XCTAssertFalse(try suite.configurations(threadCounts: counts).isEmpty, f)
        }
        let mixers = try Suite.load(Self.suites.appendingPathComponent("mixers.yaml").path)
        let configs = try mixers.configurations(threadCounts: counts)
        // 5 mixers × 4 resolutions + 4 mixers × 2 resolutions, × 2 forms × 2 batches.
        XCTAssertEqual(configs.count, (5 * 4 + 4 * 2) * 2 * 2)
        XCTAssertTrue(configs.contains { $0.model == "metaformer_s12:repmixer" && $0.form == .train && $0.resolution == 1024 && $0.batch == 8 })
        XCTAssertFalse(configs.contains { $0.model == "metaformer_s12:attention" && $0.resolution > 512 })
        XCTAssertEqual(mixers.baselineMixer, "pooling")
        // Every model of the zoo is in the accuracy-latency table; every block in the blocks suite.
        let table = try Suite.load(Self.suites.appendingPathComponent("accuracy-latency.yaml").path).configurations(threadCounts: counts)
        XCTAssertEqual(Set(table.map(\.model)), Set(ModelZoo.all.map(\.name).filter { !$0.contains(":") }))
        let blocks = try Suite.load(Self.suites.appendingPathComponent("blocks.yaml").path).configurations(threadCounts: counts)
        XCTAssertTrue(Set(blocks.map(\.model)).isSuperset(of: BlockZoo.all.map(\.name)))
    }

    func testDefaultsRepetitionsAndInterleaving() throws {
        let yaml = """
            name: t
            repetitions: 3
            interleave: true
            seed: 7
            defaults: {batch: [1, 2], threads: "1"}
            runs:
              - models: [poolformer_s12, mobileone_s0]
                resolutions: 64
            """
        let suite = try Suite.parse(yaml, file: "t.yaml")
        let configs = try suite.configurations(threadCounts: counts)
        XCTAssertEqual(configs.count, 2 * 2 * 3)
        XCTAssertEqual(Set(configs.map(\.key)).count, 4)
        // Each repetition holds every configuration once, in its own shuffled order.
        for r in 0..<3 { XCTAssertEqual(Set(configs[(r * 4)..<(r * 4 + 4)].map(\.key)).count, 4) }
        XCTAssertEqual(configs.map(\.key), try Suite.parse(yaml, file: "t.yaml").configurations(threadCounts: counts).map(\.key),
                       "the shuffle is seeded")
        XCTAssertTrue(configs.allSatisfy { $0.resolution == 64 && $0.pin == .none })
    }

    func assertSuiteError(_ yaml: String, line: Int?, contains parts: [String], file: StaticString = #filePath, fileLine: UInt = #line) {
        XCTAssertThrowsError(try Suite.parse(yaml, file: "bad.yaml"), file: file, line: fileLine) { error in
            guard let e = error as? SuiteError else { return XCTFail("\(error)", file: file, line: fileLine) }
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: fileLine)
            for p in parts { XCTAssertTrue(e.description.contains(p), "\(e) lacks '\(p)'", file: file, line: fileLine) }
            XCTAssertTrue(e.description.hasPrefix("bad.yaml"), "\(e)", file: file, line: fileLine)
        }
    }

    func testMistakesNameFileLineFieldAndValidValues() {
        assertSuiteError("runs:\n  - model: poolformer_s13\n", line: 2, contains: ["runs[0].model", "unknown model 'poolformer_s13'", "poolformer_s12", "fastvit_t8"])
        assertSuiteError("runs:\n  - model: metaformer_s12\n    mixers: [pooling, mlp]\n", line: 3, contains: ["runs[0].mixers", "'mlp'", "repmixer"])
        assertSuiteError("runs:\n  - model: metaformer_s12\n", line: 2, contains: ["runs[0].mixers", "needs `mixers`"])
        assertSuiteError("name: x\nresolution: 224\nruns: []\n", line: 2, contains: ["resolution", "unknown field", "runs"])
        assertSuiteError("runs:\n  - model: fastvit_t8\n    batch: [1, zero]\n", line: 3, contains: ["runs[0].batch", "integer", "'zero'"])
        assertSuiteError("runs:\n  - model: fastvit_t8\n    forms: [fused]\n", line: 3, contains: ["runs[0].forms", "train, inference"])
        assertSuiteError("runs:\n  - model: fastvit_t8\n    backends: mkl\n", line: 3, contains: ["backends", "packed, openblas, blis, netlib, xnnpack, reference"])
        assertSuiteError("protocol: {min_runs: 0}\nruns:\n  - model: fastvit_t8\n", line: 1, contains: ["protocol.min_runs", "≥ 1"])
        assertSuiteError("runs:\n  - model: [fastvit_t8\n", line: 3, contains: ["syntax", "not valid YAML"])
        assertSuiteError("name: x\n", line: 1, contains: ["runs", "list of runs"])
    }

    func testBlocksRunAtTheirDefaultsOrTheSuitesDimsAndGrids() throws {
        let yaml = """
        runs:
          - blocks: [fastvit.repmixer, metaformer.pooling]
          - block: fastvit.repmixer
            dims: [32, 64]
            resolutions: [28]
          - model: fastvit_t8
        """
        let configs = try Suite.parse(yaml, file: "t.yaml").configurations(threadCounts: { _ in [1] })
        let isa = KernelISA.best
        XCTAssertEqual(configs.map(\.key), [
            "fastvit.repmixer|inference|64|1|1|packed|none|48|\(isa)|1", "metaformer.pooling|inference|56|1|1|packed|none|64|\(isa)|1",
            "fastvit.repmixer|inference|28|1|1|packed|none|32|\(isa)|1", "fastvit.repmixer|inference|28|1|1|packed|none|64|\(isa)|1",
            "fastvit_t8|inference|256|1|1|packed|none||\(isa)|1",
        ])
        assertSuiteError("runs:\n  - blocks: [fastvit.mixer]\n", line: 2, contains: ["runs[0].blocks", "'fastvit.mixer'", "fastvit.repmixer"])
        assertSuiteError("runs:\n  - model: fastvit_t8\n    dims: [64]\n", line: 3, contains: ["runs[0].dims", "no blocks"])
        assertSuiteError("runs:\n  - block: fastvit.repmixer\n    dims: [0]\n", line: 3, contains: ["runs[0].dims", "≥ 1"])
        assertSuiteError("runs:\n  - forms: [train]\n", line: 2, contains: ["runs[0].model", "blocks"])
    }

    /// `isas:` multiplies configurations by kernel variant; names are checked when the suite is
    /// read, whether the CPU runs them when each configuration is measured (an error row).
    func testKernelISAsAreAConfigurationDimension() throws {
        let yaml = """
        defaults: {isas: [baseline]}
        runs:
          - model: fastvit_t8
            isas: [avx512, avx2, baseline, neon]
          - model: levit_128s
        """
        let suite = try Suite.parse(yaml, file: "t.yaml")
        let configs = try suite.configurations(threadCounts: { _ in [1] })
        XCTAssertEqual(configs.map(\.isa), [.avx512, .avx2, .baseline, .neon, .baseline])
        XCTAssertEqual(Set(configs.map(\.key)).count, configs.count)
        let plain = try Suite.parse("runs:\n  - model: levit_128s\n", file: "t.yaml")
        XCTAssertEqual(try plain.configurations(threadCounts: { _ in [1] }, defaultISA: .baseline).map(\.isa), [.baseline])
        assertSuiteError("runs:\n  - model: fastvit_t8\n    isas: [sse9]\n", line: 3, contains: ["runs[0].isas", "'sse9'", "avx512, avx2, baseline, neon, portable"])
        // A variant this CPU cannot run is an error row naming what it can run; a supported one runs it.
        let unsupported = KernelISA.allCases.first { !$0.isSupported }!
        let block = BenchConfiguration(model: "fastvit.repmixer", resolution: 7, dim: 16, isa: unsupported)
        let failed = BenchmarkRunner.measure(block, protocol: .quick)
        XCTAssertNil(failed.measurement)
        XCTAssertTrue(failed.error?.contains("cannot run on this machine") == true, "\(String(describing: failed.error))")
        XCTAssertEqual(failed.fields(noiseThreshold: 0.05).first { $0.0 == "kernel_isa" }?.1, unsupported.rawValue)
        var ran = block
        ran.isa = KernelISA.supported.last!
        XCTAssertNotNil(BenchmarkRunner.measure(ran, protocol: .quick).measurement)
        XCTAssertEqual(KernelISA.selected, KernelISA.best, "the default variant is selected again afterwards")
    }

    /// Pinning policies are checked when the suite is read and kept in one spelling, and `all`
    /// threads means the policy's capacity, as in `vitbench bench`.
    func testPinsAreCheckedAndSpelledOneWay() throws {
        let suite = try Suite.parse("runs:\n  - model: fastvit_t8\n    threads: [all]\n    pin: [Compact, compact, 'cores=0-1', SCATTER+SMT]\n", file: "t.yaml")
        let configs = try suite.configurations(threadCounts: { spec, pin in spec == "all" ? [pin.smt ? 4 : 2] : [1] })
        XCTAssertEqual(configs.map(\.pin.description), ["compact", "cores=0-1", "scatter+smt"])
        XCTAssertEqual(configs.map(\.threads), [2, 2, 4])
        assertSuiteError("runs:\n  - model: fastvit_t8\n    pin: [compact, nearest]\n", line: 3, contains: ["runs[0].pin", "unknown policy 'nearest'"])
    }

    /// `blas_threads:` hands a product's parallelism to OpenBLAS: one engine worker only, the
    /// openblas or packed backend only, and OpenBLAS is single-threaded again afterwards.
    func testBLASThreadsAreAConfigurationDimension() throws {
        let suite = try Suite.parse("runs:\n  - block: fastvit.repmixer\n    dims: [16]\n    resolutions: [7]\n    backends: [openblas]\n    blas_threads: [1, 2]\n", file: "t.yaml")
        let configs = try suite.configurations(threadCounts: { _ in [1] })
        XCTAssertEqual(configs.map(\.blasThreads), [1, 2])
        let measured = BenchmarkRunner.measure(configs[1], protocol: .quick)
        XCTAssertNil(measured.error)
        XCTAssertEqual(measured.fields(noiseThreshold: 0.05).first { $0.0 == "blas_threads" }?.1, "2")
        XCTAssertEqual(OpenBLAS.threads, 1, "OpenBLAS is single-threaded again after the configuration")
        var twoEngines = configs[1]
        twoEngines.threads = 2
        XCTAssertTrue(BenchmarkRunner.measure(twoEngines, protocol: .quick).error?.contains("oversubscribe") == true)
        var reference = configs[1]
        reference.backend = .reference
        XCTAssertTrue(BenchmarkRunner.measure(reference, protocol: .quick).error?.contains("applies to OpenBLAS's products") == true)
        assertSuiteError("runs:\n  - model: fastvit_t8\n    blas_threads: [0]\n", line: 3, contains: ["runs[0].blas_threads", "≥ 1"])
    }

    func testMissingFileIsAClearError() {
        XCTAssertThrowsError(try Suite.load("/nonexistent/suite.yaml")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/suite.yaml"), "\(error)")
        }
    }
}
