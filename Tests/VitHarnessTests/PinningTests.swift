import Foundation
import VitEngine
import XCTest
@testable import VitHarness

final class PinningTests: XCTestCase {
    /// OS indexes of the PUs `policy` gives `threads` workers.
    func pus(_ policy: String, _ threads: Int, on t: Topology) throws -> [Int] {
        try PinningPolicy(parsing: policy).plan(threads: threads, on: t).map(\.osIndex)
    }

    func all(_ policy: String, on t: Topology) throws -> Int { try PinningPolicy(parsing: policy).capacity(on: t) }

    // MARK: Parsing

    func testPoliciesParseAndPrintCanonically() throws {
        let cases: [(String, PinningPolicy, String)] = [
            ("none", .none, "none"),
            ("compact", PinningPolicy(.compact), "compact"),
            (" Scatter+SMT ", PinningPolicy(.scatter, smt: true), "scatter+smt"),
            ("cores=0,2,4-7", PinningPolicy(.cores([0, 2, 4, 5, 6, 7])), "cores=0,2,4-7"),
            ("cores=3,1+smt", PinningPolicy(.cores([3, 1]), smt: true), "cores=3,1+smt"),
            ("kind=big", PinningPolicy(.kind(.big)), "kind=big"),
            ("kind=little+smt", PinningPolicy(.kind(.little), smt: true), "kind=little+smt"),
            ("kind=all", PinningPolicy(.kind(.all)), "kind=all"),
            ("kind=2", PinningPolicy(.kind(.index(2))), "kind=2"),
        ]
        for (text, policy, canonical) in cases {
            let parsed = try PinningPolicy(parsing: text)
            XCTAssertEqual(parsed, policy, text)
            XCTAssertEqual(parsed.description, canonical, text)
            XCTAssertEqual(try PinningPolicy(parsing: canonical), policy, canonical)
        }
    }

    func testBadPoliciesSayWhatIsWrong() {
        let cases: [(String, String)] = [
            ("fastest", "unknown policy 'fastest'"), ("", "unknown policy"), ("cores=", "not a core index"),
            ("cores=1,a", "'a' is not a core index"), ("cores=5-2", "runs backwards"), ("cores=1,1", "listed twice"),
            ("cores", "needs a value"), ("kind=medium", "big, little, all"), ("compact=2", "takes no '=' argument"),
            ("none+smt", "binds nothing"), ("compact+ht", "unknown policy"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try PinningPolicy(parsing: text), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "'\(text)': \(error)")
                XCTAssertTrue("\(error)".contains("'\(text)'"), "'\(text)': \(error)")
            }
        }
    }

    // MARK: Plans on a synthetic 2-package server (PUs 2c and 2c+1 are core c's siblings)

    func testCompactFillsOneCacheDomainFirst() throws {
        let t = try TopologyFixtures.server()
        XCTAssertEqual(try pus("compact", 1, on: t), [0])
        XCTAssertEqual(try pus("compact", 2, on: t), [0, 2])
        XCTAssertEqual(try pus("compact", 8, on: t), [0, 2, 4, 6, 8, 10, 12, 14])
        XCTAssertEqual(try all("compact", on: t), 32)
        XCTAssertEqual(try pus("compact", 32, on: t), Array(stride(from: 0, to: 64, by: 2)))
        // +smt: a core's siblings together.
        XCTAssertEqual(try pus("compact+smt", 1, on: t), [0])
        XCTAssertEqual(try pus("compact+smt", 2, on: t), [0, 1])
        XCTAssertEqual(try pus("compact+smt", 8, on: t), Array(0..<8))
        XCTAssertEqual(try all("compact+smt", on: t), 64)
        XCTAssertEqual(try pus("compact+smt", 64, on: t), Array(0..<64))
    }

    func testScatterSpreadsOverPackagesAndNUMANodes() throws {
        let t = try TopologyFixtures.server()
        XCTAssertEqual(try pus("scatter", 1, on: t), [0])
        XCTAssertEqual(try pus("scatter", 2, on: t), [0, 32])  // one per package
        XCTAssertEqual(try pus("scatter", 4, on: t), [0, 32, 16, 48])  // one per NUMA node
        XCTAssertEqual(try pus("scatter", 8, on: t), [0, 32, 16, 48, 2, 34, 18, 50])
        XCTAssertEqual(try all("scatter", on: t), 32)
        let everyCore = try pus("scatter", 32, on: t)
        XCTAssertEqual(everyCore.sorted(), Array(stride(from: 0, to: 64, by: 2)))
        // +smt: siblings only once every core has a worker.
        XCTAssertEqual(try pus("scatter+smt", 2, on: t), [0, 32])
        XCTAssertEqual(try pus("scatter+smt", 8, on: t), [0, 32, 16, 48, 2, 34, 18, 50])
        XCTAssertEqual(try all("scatter+smt", on: t), 64)
        let everyPU = try pus("scatter+smt", 64, on: t)
        XCTAssertEqual(Array(everyPU.prefix(32)), everyCore)
        XCTAssertEqual(Array(everyPU.suffix(32)), everyCore.map { $0 + 1 })
    }

    func testExplicitCoresInTheOrderGiven() throws {
        let t = try TopologyFixtures.server()
        XCTAssertEqual(try pus("cores=0,2,4-7", 1, on: t), [0])
        XCTAssertEqual(try pus("cores=0,2,4-7", 2, on: t), [0, 4])
        XCTAssertEqual(try all("cores=0,2,4-7", on: t), 6)
        XCTAssertEqual(try pus("cores=0,2,4-7", 6, on: t), [0, 4, 8, 10, 12, 14])
        XCTAssertEqual(try pus("cores=20,3", 2, on: t), [40, 6])
        XCTAssertEqual(try pus("cores=0,2,4-7+smt", 2, on: t), [0, 1])
        XCTAssertEqual(try pus("cores=0,2,4-7+smt", 8, on: t), [0, 1, 4, 5, 8, 9, 10, 11])
        XCTAssertEqual(try all("cores=0,2,4-7+smt", on: t), 12)
        XCTAssertThrowsError(try pus("cores=0,40", 1, on: t)) { error in
            XCTAssertTrue("\(error)".contains("core 40 is out of range") && "\(error)".contains("0-31"), "\(error)")
        }
    }

    func testTooManyThreadsExplainsTheLimit() throws {
        let t = try TopologyFixtures.server()
        XCTAssertThrowsError(try pus("compact", 33, on: t)) { error in
            XCTAssertTrue("\(error)".contains("only 32 cores") && "\(error)".contains("+smt") && "\(error)".contains("64 PUs"), "\(error)")
        }
        XCTAssertThrowsError(try pus("compact+smt", 65, on: t)) { XCTAssertTrue("\($0)".contains("only 64 PUs"), "\($0)") }
        XCTAssertThrowsError(try pus("compact", 0, on: t)) { XCTAssertTrue("\($0)".contains("at least 1"), "\($0)") }
        // Unbound runs may use any count: nothing is placed.
        XCTAssertEqual(try PinningPolicy.none.plan(threads: 100, on: t), [])
        XCTAssertEqual(try all("none", on: t), 32)
    }

    /// Intel numbers SMT siblings far apart (P#0 and P#4 share a core): policies go by cores,
    /// not by OS numbers.
    func testSiblingsNumberedApartStillShareACore() throws {
        let t = try Topology.synthetic("pack:1 core:4 pu:2(indexes=0,4,1,5,2,6,3,7)")
        XCTAssertEqual(try pus("compact", 4, on: t), [0, 1, 2, 3])
        XCTAssertEqual(try pus("compact+smt", 2, on: t), [0, 4])
        XCTAssertEqual(try pus("scatter+smt", 8, on: t), [0, 1, 2, 3, 4, 5, 6, 7])
    }

    // MARK: Hybrid chips

    func testKindsOnABigLittleBoard() throws {
        let t = try loadXML(TopologyFixtures.bigLittle)
        for (policy, expected) in [("kind=big", [4, 5, 6, 7]), ("kind=little", [0, 1, 2, 3]), ("kind=1", [4, 5, 6, 7])] {
            XCTAssertEqual(try pus(policy, 1, on: t), [expected[0]], policy)
            XCTAssertEqual(try pus(policy, 2, on: t), Array(expected.prefix(2)), policy)
            XCTAssertEqual(try all(policy, on: t), 4, policy)
            XCTAssertEqual(try pus(policy, 4, on: t), expected, policy)
            XCTAssertThrowsError(try pus(policy, 8, on: t), policy)
            // No SMT here: +smt changes nothing.
            XCTAssertEqual(try pus(policy + "+smt", 4, on: t), expected, policy)
        }
        // kind=all: big cores first, so a sweep spills onto little cores last.
        XCTAssertEqual(try pus("kind=all", 2, on: t), [4, 5])
        XCTAssertEqual(try pus("kind=all", 8, on: t), [4, 5, 6, 7, 0, 1, 2, 3])
        XCTAssertEqual(try pus("compact", 8, on: t), Array(0..<8))
        XCTAssertThrowsError(try pus("kind=2", 1, on: t)) { XCTAssertTrue("\($0)".contains("kinds 0-1"), "\($0)") }
    }

    func testKindsOnAnIntelHybridWithSMT() throws {
        let t = try loadXML(TopologyFixtures.intelHybrid())
        XCTAssertEqual(try pus("kind=big", 1, on: t), [0])
        XCTAssertEqual(try pus("kind=big", 2, on: t), [0, 2])
        XCTAssertEqual(try all("kind=big", on: t), 2)
        XCTAssertEqual(try pus("kind=big+smt", 2, on: t), [0, 1])
        XCTAssertEqual(try all("kind=big+smt", on: t), 4)
        XCTAssertEqual(try pus("kind=little", 4, on: t), [4, 5, 6, 7])
        XCTAssertEqual(try pus("kind=little+smt", 4, on: t), [4, 5, 6, 7])
        XCTAssertEqual(try pus("kind=all", 6, on: t), [0, 2, 4, 5, 6, 7])
        XCTAssertEqual(try pus("kind=all+smt", 8, on: t), [0, 1, 2, 3, 4, 5, 6, 7])
        // Cores of different widths: siblings come after every core, P-cores' only.
        XCTAssertEqual(try pus("scatter+smt", 8, on: t), [0, 2, 4, 5, 6, 7, 1, 3])
        XCTAssertEqual(try pus("compact", 6, on: t), [0, 2, 4, 5, 6, 7])
    }

    func testKindPoliciesExplainWhyTheyCannotApply() throws {
        let server = try TopologyFixtures.server()
        XCTAssertThrowsError(try pus("kind=big", 1, on: server)) { error in
            XCTAssertTrue("\(error)".contains("no CPU kinds") && "\(error)".contains("hybrid"), "\(error)")
        }
        let unranked = try loadXML(TopologyFixtures.intelHybrid(ranked: false))
        XCTAssertThrowsError(try pus("kind=little", 1, on: unranked)) { error in
            XCTAssertTrue("\(error)".contains("could not rank") && "\(error)".contains("kind=0...1"), "\(error)")
        }
        XCTAssertEqual(try pus("kind=0", 4, on: unranked).count, 4)
    }

    // MARK: Thread sweeps

    func testThreadSweeps() throws {
        XCTAssertEqual(try ThreadSweep.parse("4", all: 8), [4])
        XCTAssertEqual(try ThreadSweep.parse("1,2,all", all: 8), [1, 2, 8])
        XCTAssertEqual(try ThreadSweep.parse("1..N", all: 4), [1, 2, 3, 4])
        XCTAssertEqual(try ThreadSweep.parse("1..all", all: 3), [1, 2, 3])
        XCTAssertEqual(try ThreadSweep.parse("2..5", all: 8), [2, 3, 4, 5])
        XCTAssertEqual(try ThreadSweep.parse("1..all*2", all: 12), [1, 2, 4, 8, 12])
        XCTAssertEqual(try ThreadSweep.parse("2..9:3", all: 12), [2, 5, 8, 9])
        XCTAssertEqual(try ThreadSweep.parse("8,1,all", all: 8), [8, 1])
        XCTAssertEqual(try ThreadSweep.parse("all", all: 1), [1])
        for (bad, expected) in [("", "not a thread count"), ("0", "start at 1"), ("x", "'x'"), ("4..2", "backwards"),
                                ("1..4*1", "factor"), ("1..4:z", "must be a number"), ("1,,2", "not a thread count")] {
            XCTAssertThrowsError(try ThreadSweep.parse(bad, all: 8), bad) { XCTAssertTrue("\($0)".contains(expected), "'\(bad)': \($0)") }
        }
        let t = try TopologyFixtures.server()
        XCTAssertEqual(try ThreadSweep.parse("1,2,8,all", policy: PinningPolicy(parsing: "scatter"), topology: t), [1, 2, 8, 32])
        XCTAssertEqual(try ThreadSweep.parse("all", policy: PinningPolicy(parsing: "scatter+smt"), topology: t), [64])
        XCTAssertEqual(try ThreadSweep.parse("all", policy: PinningPolicy(parsing: "cores=1-3"), topology: t), [3])
    }

    // MARK: Binding on this machine

    /// `Cpus_allowed_list` of one of this process's threads, read straight from the kernel.
    func allowedList(_ tid: Int) throws -> String {
        let status = try String(contentsOfFile: "/proc/self/task/\(tid)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        return line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
    }

    /// A real pool with the binding hook: each worker is pinned to exactly its PU — or, where the
    /// OS refuses binding, the refusal is reported and the pool still runs.
    func testPinnedPoolWorkersRunOnTheirPUOnly() throws {
        let t = try Topology.thisMachine()
        let threads = min(2, t.cores.count)
        let pinner = try Pinner(policy: PinningPolicy(parsing: "compact"), threads: threads, topology: t)
        let callerTID = ThreadAffinity.currentThreadID()
        let callerBefore = try allowedList(callerTID)
        do {
            let pool = ThreadPool(threads: threads, onWorkerStart: pinner.hook)
            let outcomes = pinner.outcomes
            XCTAssertEqual(outcomes.map(\.worker), Array(0..<threads))
            XCTAssertEqual(outcomes.map(\.pu), pinner.plan.map(\.osIndex))
            XCTAssertEqual(outcomes[0].threadID, callerTID)
            XCTAssertEqual(Set(outcomes.map(\.threadID)).count, threads, "every worker is its own thread")
            for o in outcomes {
                switch o.cpu {
                case .bound:
                    XCTAssertEqual(try allowedList(o.threadID), "\(o.pu!)", "worker \(o.worker)")
                case .refused(_, let reason):
                    XCTAssertFalse(reason.isEmpty)
                    XCTAssertFalse(pinner.isFullyPinned)
                    XCTAssertTrue(pinner.status.contains("refused") && pinner.status.contains("unpinned"), pinner.status)
                case .skipped(let why):
                    XCTFail("worker \(o.worker) skipped: \(why)")
                }
            }
            if outcomes.allSatisfy({ $0.cpu == .bound }) {
                XCTAssertTrue(pinner.isFullyPinned)
                XCTAssertTrue(pinner.status.hasPrefix("pinned \(threads)/\(threads)"), pinner.status)
                XCTAssertTrue(pinner.verify().allSatisfy(\.isExact), "\(pinner.verify())")
            }
            // Pinned or not, the pool works.
            let sum = Counter(0)
            pool.parallelFor(100) { task, _ in sum.add(task) }
            XCTAssertEqual(sum.value, 4950)
        }
        XCTAssertTrue(pinner.restoreCallingThread() || !pinner.isFullyPinned)
        XCTAssertEqual(try allowedList(callerTID), callerBefore, "the calling thread gets its old affinity back")
    }

    /// What a container that forbids sched_setaffinity looks like: every worker refused, the
    /// status says so, nothing crashes, the pool still runs.
    func testRefusedBindingIsReportedNotHidden() throws {
        let t = try Topology.thisMachine()
        let refuse = Binder(cpu: { _ in .refused(errno: EPERM, reason: "Operation not permitted") },
                            memory: { _ in .refused(errno: EPERM, reason: "Operation not permitted") }, touchesThread: false)
        let threads = min(2, t.cores.count)
        let pinner = try Pinner(policy: PinningPolicy(.compact), threads: threads, topology: t, memory: .always, binder: refuse)
        let pool = ThreadPool(threads: threads, onWorkerStart: pinner.hook)
        let sum = Counter(0)
        pool.parallelFor(10) { task, _ in sum.add(task) }
        XCTAssertEqual(sum.value, 45)
        XCTAssertFalse(pinner.isFullyPinned)
        XCTAssertEqual(pinner.outcomes.map(\.cpu), Array(repeating: .refused(errno: EPERM, reason: "Operation not permitted"), count: threads))
        XCTAssertTrue(pinner.status.hasPrefix("NOT pinned"), pinner.status)
        XCTAssertTrue(pinner.status.contains("EPERM: Operation not permitted"), pinner.status)
        XCTAssertTrue(pinner.status.contains("ran unpinned"), pinner.status)
        XCTAssertEqual("\(pinner.outcomes[0].cpu)", "refused (EPERM: Operation not permitted)")
        XCTAssertFalse(pinner.restoreCallingThread(), "nothing was bound, nothing to restore")

        // An OS hwloc cannot bind threads on reads the same way.
        let unsupported = Binder(cpu: { _ in .skipped("hwloc cannot bind threads on this OS") }, memory: { _ in .bound },
                                 touchesThread: false)
        let other = try Pinner(policy: PinningPolicy(.compact), threads: 1, topology: t, memory: .never, binder: unsupported)
        other.bindCurrentThread(worker: 0)
        XCTAssertEqual(other.status, "NOT pinned: binding refused for the only worker (hwloc cannot bind threads on this OS); ran unpinned")
    }

    /// A pool larger than the plan: extra workers are reported, not crashed on.
    func testWorkersBeyondThePlanAreReported() throws {
        let t = try Topology.thisMachine()
        let fake = Binder(cpu: { _ in .bound }, memory: { _ in .bound }, touchesThread: false)
        let pinner = try Pinner(policy: PinningPolicy(.compact), threads: 1, topology: t, memory: .never, binder: fake)
        _ = ThreadPool(threads: 3, onWorkerStart: pinner.hook)
        XCTAssertEqual(pinner.outcomes.map(\.cpu.isRefused), [false, true, true])
        XCTAssertTrue(pinner.status.hasPrefix("partly pinned: 1/3"), pinner.status)
        XCTAssertEqual(pinner.outcomes[1].memory, .skipped("not pinned"))
    }

    func testMemoryBindingOnThisMachineIsBoundOrANote() throws {
        let t = try Topology.thisMachine()
        let pinner = try Pinner(policy: PinningPolicy(.compact), threads: 1, topology: t, memory: .always)
        let done = expectation(description: "bound")
        let thread = Thread {
            pinner.bindCurrentThread(worker: 0)
            done.fulfill()
        }
        thread.start()
        wait(for: [done], timeout: 10)
        let o = try XCTUnwrap(pinner.outcomes.first)
        switch o.memory {
        case .bound: XCTAssertFalse(pinner.status.contains("memory binding refused"), pinner.status)
        case .refused: XCTAssertTrue(pinner.status.contains("memory binding refused"), pinner.status)
        case .skipped(let why): XCTAssertTrue(why.contains("cannot bind"), why)
        }
        // A memory refusal alone leaves the worker pinned.
        XCTAssertEqual(pinner.isFullyPinned, o.cpu == .bound)
        let defaulted = try Pinner(policy: PinningPolicy(.compact), threads: 1, topology: t)
        defaulted.bindCurrentThread(worker: 0)
        defer { defaulted.restoreCallingThread() }
        if t.numaNodes.count <= 1 { XCTAssertEqual(defaulted.outcomes.first?.memory, .skipped("1 NUMA node")) }
    }

    func testNoneLeavesThreadsAlone() throws {
        let t = try Topology.thisMachine()
        let before = try allowedList(ThreadAffinity.currentThreadID())
        let pinner = try Pinner(policy: .none, threads: 2, topology: t)
        XCTAssertEqual(pinner.plan, [])
        _ = ThreadPool(threads: 2, onWorkerStart: pinner.hook)
        XCTAssertEqual(pinner.outcomes.map(\.pu), [nil, nil])
        XCTAssertEqual(pinner.outcomes.map(\.cpu), [.skipped("policy none"), .skipped("policy none")])
        XCTAssertEqual(pinner.status, "not pinned (policy none)")
        XCTAssertEqual(try allowedList(ThreadAffinity.currentThreadID()), before)
    }

    func testPreviewTopologiesCannotBind() throws {
        let t = try TopologyFixtures.server()
        XCTAssertThrowsError(try Pinner(policy: PinningPolicy(.compact), threads: 2, topology: t)) { error in
            XCTAssertTrue("\(error)".contains("another machine") && "\(error)".contains("synthetic"), "\(error)")
        }
        XCTAssertNoThrow(try Pinner(policy: .none, threads: 2, topology: t))
        XCTAssertTrue(Pinner.probe(t).hasPrefix("not probed"))
    }

    func testProbeSaysWhetherBindingIsAllowed() throws {
        let verdict = Pinner.probe(try Topology.thisMachine())
        XCTAssertTrue(verdict.hasPrefix("allowed") || verdict.hasPrefix("refused"), verdict)
    }

    func testKernelCPUListFormat() {
        XCTAssertEqual(ThreadAffinity.parseCPUList("0-3,8,10-11\n"), [0, 1, 2, 3, 8, 10, 11])
        XCTAssertEqual(ThreadAffinity.parseCPUList("5"), [5])
        XCTAssertNil(ThreadAffinity.parseCPUList("3-1"))
        XCTAssertGreaterThan(ThreadAffinity.currentThreadID(), 0)
        XCTAssertNil(ThreadAffinity.allowedCPUs(threadID: -1))
    }
}

/// A counter workers add to.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int
    init(_ value: Int) { total = value }
    func add(_ v: Int) {
        lock.lock()
        total += v
        lock.unlock()
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return total
    }
}
