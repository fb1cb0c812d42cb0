import Foundation
import XCTest
@testable import VitEngine
@testable import VitHarness
import VitModels

/// Issue 14: one bad configuration is one clean error — never a crash, a hang or a lost run.
/// Every class of unbounded input: memory (resolution, batch, width), overflowing shapes, thread
/// counts, CPU lists, durations, run counts; the thread pool's start failures; suites' pins and
/// mixers checked at parse time with file and line.
final class BoundsTests: XCTestCase {
    override func tearDown() {
        MemoryBudget.limit = nil
        ThreadPool._failThreadCreation = nil
    }

    // MARK: Memory

    func testMemoryLimitSizesParse() throws {
        XCTAssertEqual(try MemoryBudget.parse("8G"), 8 << 30)
        XCTAssertEqual(try MemoryBudget.parse("512M"), 512 << 20)
        XCTAssertEqual(try MemoryBudget.parse("1.5GiB"), 3 << 29)
        XCTAssertEqual(try MemoryBudget.parse("64k"), 64 << 10)
        XCTAssertEqual(try MemoryBudget.parse("4096"), 4096)
        for bad in ["0", "-1G", "inf", "nan", "12Q", "", "G", "1e30T"] {
            XCTAssertThrowsError(try MemoryBudget.parse(bad), bad) { XCTAssertTrue("\($0)".contains("invalid memory limit"), "\($0)") }
        }
        XCTAssertNotNil(MemoryBudget.available(), "MemAvailable is readable on Linux")
    }

    /// The estimate of a small configuration is counted exactly: the arena and scratch equal
    /// what the plan then allocates.
    func testEstimateMatchesThePlan() throws {
        let c = BenchConfiguration(model: "metaformer_s12:pooling", resolution: 64, batch: 2, threads: 2)
        let e = try BenchmarkRunner.estimateMemory(c)
        XCTAssertFalse(e.extrapolated)
        let pool = try ThreadPool(starting: 2)
        let plan = try BenchmarkRunner.lower(c, backend: .default, pool: pool).plan
        XCTAssertEqual(e.activationBytes, Double(plan.arenaBytes))
        XCTAssertEqual(e.scratchBytes, Double(plan.scratchBytes))
        XCTAssertGreaterThan(e.weightBytes, 4 * 11e6, "metaformer_s12 has ~12M parameters")
        XCTAssertGreaterThan(e.totalBytes, e.activationBytes + e.weightBytes)
    }

    /// The weights are counted once, as the larger form: DeiT has nothing to fuse and keeps the
    /// very same tensors (counting a "fused copy" overstated DeiT-B by half), and MobileOne
    /// releases its branches as it fuses, so its train-time form, the larger, bounds it.
    func testEstimateCountsTheWeightsOfTheLargerFormOnce() throws {
        for (name, fuses) in [("deit_tiny_patch16_224", false), ("mobileone_s0", true)] {
            let info = try ModelZoo.named(name)
            let model = try info.placeholder()
            let train = model.stateDict.elementCount
            model.reparameterize()
            let fused = model.stateDict.elementCount
            if fuses { XCTAssertLessThan(fused, train, name) } else { XCTAssertEqual(fused, train, name) }
            for reparameterized in [false, true] {
                let e = try MemoryGuard.estimate(.model(info), reparameterized: reparameterized, batch: 1,
                                                 height: info.resolution, width: info.resolution, threads: 1)
                XCTAssertEqual(e.weightBytes, 4 * Double(train), "\(name), reparameterized \(reparameterized)")
            }
        }
    }

    /// Impossible sizes are refused before anything is built, with what they need and the budget.
    func testImpossibleConfigurationsAreErrorsNotCrashes() throws {
        MemoryBudget.limit = 2 << 30
        let cases: [(BenchConfiguration, String)] = [
            (BenchConfiguration(model: "levit_128s", resolution: 8192), "levit_128s at 8192x8192"),      // r^4 bias tables
            (BenchConfiguration(model: "metaformer_s12:pooling", resolution: 4096, batch: 64), "batch 64"),  // activations
            (BenchConfiguration(model: "fastvit.repmixer", resolution: 56, dim: 1_000_000), "width 1000000"),  // d^2 weights
            (BenchConfiguration(model: "deit_tiny_patch16_224", resolution: 6144), "deit_tiny_patch16_224"),  // position embedding, tokens
        ]
        for (c, subject) in cases {
            let start = Date()
            let r = BenchmarkRunner.measure(c, protocol: .quick)
            XCTAssertNil(r.measurement)
            let error = try XCTUnwrap(r.error, c.key)
            XCTAssertTrue(error.contains("out of memory budget") && error.contains(subject) && error.contains("2.0 GiB")
                          && error.contains("--memory-limit"), error)
            XCTAssertLessThan(Date().timeIntervalSince(start), 30, "refused from shapes, quickly: \(c.key)")
        }
    }

    func testOverflowingShapesAreClearErrors() throws {
        for c in [BenchConfiguration(model: "fastvit_t8", resolution: 1 << 40),
                  BenchConfiguration(model: "fastvit_t8", resolution: 1 << 20, batch: Int.max / 2),
                  BenchConfiguration(model: "fastvit.repmixer", resolution: 1 << 31, dim: 1 << 31)] {
            let r = BenchmarkRunner.measure(c, protocol: .quick)
            let error = try XCTUnwrap(r.error)
            XCTAssertTrue(error.contains("too large") && error.contains("overflows"), error)
        }
        XCTAssertNil(PlanBuilder.checkedElements([1 << 40, 1 << 40]))
        XCTAssertNil(PlanBuilder.checkedElements([2, -1]))
        XCTAssertEqual(PlanBuilder.checkedElements([2, 3, 4]), 24)
    }

    /// The plan builder refuses an arena over the budget before allocating it (the backstop of
    /// every path that builds plans, `infer` included).
    func testPlanBuilderRefusesAnArenaOverTheBudget() throws {
        let b = PlanBuilder(pool: try ThreadPool(starting: 1))
        let x = b.input([1, 256, 256, 64])
        let y = try b.apply(ActivationOp(.relu), [x])
        MemoryBudget.limit = 8 << 20
        XCTAssertThrowsError(try b.build(outputs: [y])) { XCTAssertTrue($0 is MemoryLimitError, "\($0)") }
        MemoryBudget.limit = nil
        XCTAssertNoThrow(try b.build(outputs: [y]))
    }

    // MARK: Threads

    func testThreadCountsAreBoundedBeforeExpansion() throws {
        XCTAssertThrowsError(try ThreadSweep.parse("100000", all: 2)) { XCTAssertTrue("\($0)".contains("limit of \(ThreadPool.maximumThreads)"), "\($0)") }
        XCTAssertThrowsError(try ThreadSweep.parse("0", all: 2)) { XCTAssertTrue("\($0)".contains("start at 1"), "\($0)") }
        let start = Date()
        XCTAssertThrowsError(try ThreadSweep.parse("1..999999999", all: 2))
        XCTAssertThrowsError(try ThreadSweep.parse("1..999999999:1", all: 2))
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "refused before the range is expanded")
        XCTAssertEqual(try ThreadSweep.parse("1..8*9223372036854775807", all: 2), [1, 8], "an overflowing factor ends the range")
        XCTAssertEqual(try ThreadSweep.parse("1..8:9223372036854775807", all: 2), [1, 8])
        // Beyond the PUs: refused unless oversubscription is allowed, then warned about.
        let t = try Topology.synthetic("pack:1 core:2 pu:1")
        XCTAssertThrowsError(try ThreadSweep.parse("3", policy: .none, topology: t)) {
            XCTAssertTrue("\($0)".contains("more than the 2 PUs") && "\($0)".contains("--allow-oversubscription"), "\($0)")
        }
        XCTAssertEqual(try ThreadSweep.parse("3", policy: .none, topology: t, allowOversubscription: true), [3])
        XCTAssertNotNil(ThreadSweep.oversubscriptionWarning([1, 3], topology: t))
        XCTAssertNil(ThreadSweep.oversubscriptionWarning([1, 2], topology: t))
        XCTAssertThrowsError(try ThreadSweep.parse("100000", policy: .none, topology: t, allowOversubscription: true))
    }

    func testCoreListsAreBounded() {
        let start = Date()
        XCTAssertThrowsError(try PinningPolicy(parsing: "cores=0-4294967295")) { XCTAssertTrue("\($0)".contains("8191"), "\($0)") }
        XCTAssertThrowsError(try PinningPolicy(parsing: "cores=99999999999999999999"))
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        XCTAssertNoThrow(try PinningPolicy(parsing: "cores=0-8191"))
    }

    /// A worker that cannot start is an error, and the workers already started are stopped:
    /// no hang, no thread left behind.
    func testThreadPoolStartFailureIsAnErrorNotAHang() throws {
        XCTAssertThrowsError(try ThreadPool(starting: 0))
        XCTAssertThrowsError(try ThreadPool(starting: ThreadPool.maximumThreads + 1))
        ThreadPool._failThreadCreation = 3
        let start = Date()
        XCTAssertThrowsError(try ThreadPool(starting: 4)) { error in
            XCTAssertTrue("\(error)".contains("pthread_create failed") && "\(error)".contains("worker thread 3 of 4"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        ThreadPool._failThreadCreation = nil
        let pool = try ThreadPool(starting: 4)
        var sum = [Int](repeating: 0, count: 100)
        sum.withUnsafeMutableBufferPointer { buf in
            let p = buf.baseAddress!
            pool.parallelFor(100) { t, _ in p[t] = t }
        }
        XCTAssertEqual(sum.reduce(0, +), 4950)
        // Through the harness: a configuration whose pool cannot start is an error row.
        ThreadPool._failThreadCreation = 1
        let r = BenchmarkRunner.measure(BenchConfiguration(model: "metaformer_s12:pooling", resolution: 32, threads: 2), protocol: .quick)
        XCTAssertTrue(r.error?.contains("pthread_create failed") == true, "\(r.error ?? "no error")")
    }

    // MARK: Suites

    private func assertSuiteError(_ yaml: String, line: Int, contains parts: [String], file: StaticString = #filePath, fileLine: UInt = #line) {
        XCTAssertThrowsError(try Suite.parse(yaml, file: "bad.yaml"), file: file, line: fileLine) { error in
            guard let e = error as? SuiteError else { return XCTFail("\(error)", file: file, line: fileLine) }
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: fileLine)
            XCTAssertTrue(e.description.hasPrefix("bad.yaml:\(line): "), "\(e)", file: file, line: fileLine)
            for p in parts { XCTAssertTrue(e.description.contains(p), "\(e) lacks '\(p)'", file: file, line: fileLine) }
        }
    }

    func testSuitesRefuseUnboundedValuesWithFileAndLine() {
        assertSuiteError("protocol: {min_seconds: .inf}\nruns:\n  - model: fastvit_t8\n", line: 1, contains: ["protocol.min_seconds", "finite"])
        assertSuiteError("protocol: {max_seconds: .nan}\nruns:\n  - model: fastvit_t8\n", line: 1, contains: ["protocol.max_seconds"])
        assertSuiteError("cooldown_seconds: 1e12\nruns:\n  - model: fastvit_t8\n", line: 1, contains: ["cooldown_seconds", "86400"])
        assertSuiteError("repetitions: 1000000000\nruns:\n  - model: fastvit_t8\n", line: 1, contains: ["repetitions", "10000"])
        assertSuiteError("protocol: {min_runs: 99999999999}\nruns:\n  - model: fastvit_t8\n", line: 1, contains: ["protocol.min_runs"])
        assertSuiteError("runs:\n  - model: fastvit_t8\n    threads: ['1..999999999']\n", line: 3, contains: ["runs[0].threads", "1024"])
        assertSuiteError("runs:\n  - model: fastvit_t8\n    pin: 'cores=0-4294967295'\n", line: 3, contains: ["runs[0].pin", "8191"])
        assertSuiteError("runs:\n  - model: fastvit_t8\n    mixers: [pooling]\n", line: 3, contains: ["runs[0].mixers", "fastvit_t8 has no variants", "metaformer_s12"])
        assertSuiteError("runs:\n  - blocks: [fastvit.repmixer]\n    mixers: [pooling]\n", line: 3, contains: ["runs[0].mixers", "only blocks"])
    }

    /// Pins and thread counts are checked against the machine before anything runs, with the
    /// line of the field.
    func testSuitesAreValidatedAgainstTheTopology() throws {
        let t = try Topology.synthetic("pack:1 core:2 pu:1")
        let pins = try Suite.parse("runs:\n  - model: fastvit_t8\n    pin: [compact, 'cores=7']\n", file: "p.yaml")
        XCTAssertThrowsError(try pins.validate(on: t)) { error in
            XCTAssertTrue("\(error)".hasPrefix("p.yaml:3: runs[0].pin: ") && "\(error)".contains("core 7 is out of range"), "\(error)")
        }
        let threads = try Suite.parse("runs:\n  - model: fastvit_t8\n    threads: [1, 8]\n", file: "t.yaml")
        XCTAssertThrowsError(try threads.validate(on: t)) { error in
            XCTAssertTrue("\(error)".hasPrefix("t.yaml:3: runs[0].threads: ") && "\(error)".contains("2 PUs"), "\(error)")
        }
        XCTAssertNoThrow(try threads.validate(on: t, allowOversubscription: true))
        let allowed = try Suite.parse("allow_oversubscription: true\nruns:\n  - model: fastvit_t8\n    threads: [1, 8]\n", file: "a.yaml")
        XCTAssertTrue(allowed.allowOversubscription)
        XCTAssertNoThrow(try allowed.validate(on: t))
    }

    /// A suite's impossible configuration is one error; the configurations around it measure.
    func testAnImpossibleConfigurationLeavesTheOthersIntact() throws {
        MemoryBudget.limit = 2 << 30
        let suite = try Suite.parse("""
            protocol: {warmup_runs: 0, warmup_seconds: 0, min_runs: 2, min_seconds: 0, max_seconds: 2}
            runs:
              - model: metaformer_s12
                mixers: [pooling]
                resolutions: [32, 65536, 48]
            """, file: "s.yaml")
        let configs = try suite.configurations(threadCounts: { _ in [1] })
        let results = configs.map { BenchmarkRunner.measure($0, protocol: suite.measurement) }
        XCTAssertEqual(results.map(\.configuration.resolution), [32, 65536, 48])
        XCTAssertNotNil(results[0].measurement, results[0].error ?? "")
        XCTAssertTrue(results[1].error?.contains("out of memory budget") == true, results[1].error ?? "no error")
        XCTAssertNotNil(results[2].measurement, results[2].error ?? "")
    }
}
