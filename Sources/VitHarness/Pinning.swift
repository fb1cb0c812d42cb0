import CHwloc
import VitEngine
import Foundation

/// Where the engine's workers run: which PU each worker is bound to, in worker order.
///
/// Written `compact`, `scatter`, `cores=0,2,4-7`, `kind=big|little|all|N` or `none`, with `+smt`
/// appended to allow SMT siblings (`compact+smt`). Without `+smt` a policy places at most one
/// worker per core — the first hardware thread of each core — because two workers sharing a
/// core's execution units measure SMT, not scaling; `+smt` is how one asks for that.
///
/// Each policy is an order over PUs and a plan for n threads is its first n PUs, so growing a
/// thread sweep only ever adds workers:
/// - `compact`: cores in hwloc's logical order, which is depth-first, so one cache domain (L2
///   cluster, L3, die, NUMA node, package) fills before the next. `+smt`: a core's siblings are
///   taken together (2 threads = both hardware threads of core 0).
/// - `scatter`: round-robin over every level of the tree — packages first, then NUMA nodes,
///   dies and shared caches within them — so n workers get as many packages, memory
///   controllers and caches as possible. `+smt`: siblings only after every core has one worker.
/// - `cores=LIST`: the listed cores (logical indexes, as `vitbench env` shows them), in the
///   order given. `+smt`: each core's siblings together.
/// - `kind=big|little`: the most / least performant kind of core on a hybrid chip (P / E cores on
///   Intel), compact within the kind; `kind=N`: hwloc's kind N (0 = least performant);
///   `kind=all`: every kind, most performant first, so a sweep spills onto little cores last.
/// - `none`: no binding; the OS schedules the workers.
public struct PinningPolicy: Sendable, Hashable, CustomStringConvertible {
    public enum Placement: Sendable, Hashable {
        case none, compact, scatter
        case cores([Int])
        case kind(KindSelector)
    }

    public enum KindSelector: Sendable, Hashable, CustomStringConvertible {
        case big, little, all
        case index(Int)

        public var description: String {
            switch self {
            case .big: "big"
            case .little: "little"
            case .all: "all"
            case .index(let i): "\(i)"
            }
        }
    }

    public var placement: Placement
    /// Whether SMT siblings may take workers (`+smt`).
    public var smt: Bool

    public init(_ placement: Placement, smt: Bool = false) {
        self.placement = placement
        self.smt = smt && placement != .none
    }

    public static let none = PinningPolicy(.none)

    /// What `--pin` and suites accept, for help texts and errors.
    public static let syntax = "none, compact, scatter, cores=LIST (core logical indexes, e.g. cores=0,2,4-7), "
        + "kind=big|little|all|N (hybrid CPUs); append +smt to let SMT siblings take workers (e.g. compact+smt)"

    /// Parses `compact`, `scatter+smt`, `cores=0,2,4-7`, `kind=big`, `none`.
    public init(parsing text: String) throws {
        var body = text.trimmingCharacters(in: .whitespaces).lowercased()
        var smt = false
        if body.hasSuffix("+smt") {
            smt = true
            body.removeLast(4)
        }
        let (name, argument): (String, String?) = {
            guard let eq = body.firstIndex(of: "=") else { return (body, nil) }
            return (String(body[..<eq]), String(body[body.index(after: eq)...]))
        }()
        func bad(_ why: String) -> PinningError { PinningError("invalid pinning policy '\(text)': \(why)") }
        switch (name, argument) {
        case ("none", nil):
            if smt { throw bad("+smt needs a policy that binds (none binds nothing)") }
            self.init(.none)
        case ("compact", nil): self.init(.compact, smt: smt)
        case ("scatter", nil): self.init(.scatter, smt: smt)
        case ("cores", let list?):
            do {
                self.init(.cores(try PinningPolicy.parseIndexList(list)), smt: smt)
            } catch let error as PinningError {
                throw bad(error.message)
            }
        case ("kind", let k?):
            switch k {
            case "big": self.init(.kind(.big), smt: smt)
            case "little": self.init(.kind(.little), smt: smt)
            case "all": self.init(.kind(.all), smt: smt)
            default:
                guard let i = Int(k), i >= 0 else { throw bad("kind must be big, little, all or a kind index (0, 1, ...)") }
                self.init(.kind(.index(i)), smt: smt)
            }
        case ("compact", _), ("scatter", _), ("none", _):
            throw bad("\(name) takes no '=' argument")
        case ("cores", nil), ("kind", nil):
            throw bad("\(name) needs a value, e.g. \(name == "cores" ? "cores=0,2,4-7" : "kind=big")")
        default:
            throw bad("unknown policy '\(name)'; known: \(PinningPolicy.syntax)")
        }
    }

    /// The largest core index `cores=` accepts (Linux builds for at most 8192 CPUs): bounds the
    /// list at parse time, so that `cores=0-4294967295` is an error, not a loop over 2^32 cores.
    public static let maximumCoreIndex = 8191

    /// `0,2,4-7` → [0, 2, 4, 5, 6, 7]; duplicates and reversed ranges are mistakes, not no-ops.
    static func parseIndexList(_ text: String) throws -> [Int] {
        var out: [Int] = []
        var seen = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let lo = Int(bounds[0]), let hi = Int(bounds.last!), lo >= 0 else {
                throw PinningError("'\(item)' is not a core index or range (e.g. 0,2,4-7)")
            }
            guard lo <= hi else { throw PinningError("range \(item) runs backwards") }
            guard hi <= maximumCoreIndex else {
                throw PinningError("core \(hi) is out of range: core indexes go up to \(maximumCoreIndex) at most (see `vitbench env` for this machine's)")
            }
            for i in lo...hi {
                if !seen.insert(i).inserted { throw PinningError("core \(i) is listed twice") }
                out.append(i)
            }
        }
        return out
    }

    /// Canonical text: parses back to the same policy; what result rows record.
    public var description: String {
        let base: String
        switch placement {
        case .none: base = "none"
        case .compact: base = "compact"
        case .scatter: base = "scatter"
        case .cores(let list): base = "cores=" + Topology.ranges(list)
        case .kind(let k): base = "kind=\(k)"
        }
        return smt ? base + "+smt" : base
    }

    /// Whether the policy binds workers at all.
    public var binds: Bool { placement != .none }

    /// Every PU the policy may give a worker, in the order workers take them. Empty for `none`.
    public func order(on topology: Topology) throws -> [Topology.PU] {
        let cores: [Topology.Core]
        switch placement {
        case .none: return []
        case .compact: cores = topology.cores
        case .scatter: cores = topology.scatterOrder.map { topology.cores[$0] }
        case .cores(let list):
            let n = topology.cores.count
            if let bad = list.first(where: { $0 >= n }) {
                throw PinningError("\(self): core \(bad) is out of range: \(topology.source) has \(n) core"
                                   + "\(n == 1 ? "" : "s") (logical indexes 0-\(n - 1); see `vitbench env`)")
            }
            cores = list.map { topology.cores[$0] }
        case .kind(let selector):
            cores = try kindCores(selector, topology)
        }
        guard smt else { return cores.map { $0.pus[0] } }
        if placement == .scatter {
            return (0..<topology.smtWidth).flatMap { s in cores.compactMap { s < $0.pus.count ? $0.pus[s] : nil } }
        }
        return cores.flatMap(\.pus)
    }

    private func kindCores(_ selector: KindSelector, _ topology: Topology) throws -> [Topology.Core] {
        let kinds = topology.kinds
        guard kinds.count > 1 else {
            throw PinningError("\(self): \(topology.source) reports \(kinds.isEmpty ? "no CPU kinds" : "a single kind of core") "
                               + "(not a hybrid big.LITTLE / P+E chip); use compact, scatter or cores=LIST")
        }
        func cores(ofKind k: Int) -> [Topology.Core] { topology.cores.filter { $0.kind == k } }
        let ranked = kinds.allSatisfy { $0.efficiency >= 0 }
        switch selector {
        case .index(let i):
            guard kinds.indices.contains(i) else {
                throw PinningError("\(self): kind \(i) does not exist; \(topology.source) has kinds 0-\(kinds.count - 1)")
            }
            return cores(ofKind: i)
        case .big, .little:
            guard ranked else {
                throw PinningError("\(self): hwloc could not rank the \(kinds.count) CPU kinds of \(topology.source) (efficiency unknown), "
                                   + "so big and little are undefined; use kind=0...\(kinds.count - 1) or cores=LIST (see `vitbench env`)")
            }
            // hwloc orders kinds from least to most performant.
            return cores(ofKind: selector == .big ? kinds.count - 1 : 0)
        case .all:
            // Most performant first; cores hwloc put in no kind go last.
            return topology.cores.sorted { ($0.kind.map { -$0 } ?? 1, $0.logicalIndex) < ($1.kind.map { -$0 } ?? 1, $1.logicalIndex) }
        }
    }

    /// How many workers `all` means: the cores (or, with `+smt`, the PUs) the policy may use;
    /// every core for `none`.
    public func capacity(on topology: Topology) throws -> Int {
        binds ? try order(on: topology).count : topology.cores.count
    }

    /// The PU of each worker, worker 0 (the calling thread) first. Empty for `none`: any thread
    /// count runs, unbound.
    public func plan(threads: Int, on topology: Topology) throws -> [Topology.PU] {
        guard threads >= 1 else { throw PinningError("a plan needs at least 1 thread (got \(threads))") }
        let order = try order(on: topology)
        guard binds else { return [] }
        guard threads <= order.count else {
            let unit = smt ? "PU" : "core"
            var message = "\(self): \(threads) threads but the policy has only \(order.count) \(unit)\(order.count == 1 ? "" : "s") "
                + "on \(topology.source)"
            if !smt && topology.smtWidth > 1, let withSMT = try? PinningPolicy(placement, smt: true).order(on: topology).count {
                message += "; append +smt to let SMT siblings take workers (\(withSMT) PUs)"
            }
            throw PinningError(message + ", or ask for fewer threads")
        }
        return Array(order.prefix(threads))
    }
}

/// Thread counts of a sweep, from `--threads` or a suite: `4`, `1,2,all`, `1..N`, `1..all*2`.
public enum ThreadSweep {
    /// - Items are separated by commas: a count, `all` (or `N`): every core the policy may use,
    ///   or a range `a..b` (both ends included), `a..b:k` (every k-th), `a..b*k` (geometric,
    ///   ×k), whose ends are counts or `all`. A range always includes its upper end, so
    ///   `1..all*2` on 12 cores is 1, 2, 4, 8, 12.
    /// - Counts keep the order written; repeats are dropped.
    /// - Parameter maximum: the largest count allowed (the PUs of the machine unless
    ///   oversubscription is allowed; never more than `ThreadPool.maximumThreads`); checked on
    ///   every count and range end before a range is expanded.
    /// - Parameter maximumReason: why counts stop there, for the error.
    public static func parse(_ spec: String, all: Int, maximum: Int = ThreadPool.maximumThreads,
                             maximumReason: String? = nil) throws -> [Int] {
        func bad(_ why: String) -> PinningError { PinningError("invalid thread sweep '\(spec)': \(why)") }
        let limit = min(maximum, ThreadPool.maximumThreads)
        func count(_ s: Substring) throws -> Int {
            let t = s.trimmingCharacters(in: .whitespaces)
            if t == "all" || t == "N" || t == "n" { return all }
            guard let v = Int(t) else { throw bad("'\(t)' is not a thread count (a number, all or N)") }
            guard v >= 1 else { throw bad("thread counts start at 1 (got \(v))") }
            guard v <= limit else {
                if limit < ThreadPool.maximumThreads, let maximumReason {
                    throw bad("\(v) threads is more than \(maximumReason)")
                }
                throw bad("\(v) threads is more than the engine's limit of \(ThreadPool.maximumThreads) threads")
            }
            return v
        }
        var out: [Int] = []
        for item in spec.split(separator: ",", omittingEmptySubsequences: false) {
            guard let dots = item.range(of: "..") else {
                out.append(try count(item))
                continue
            }
            let lo = try count(item[..<dots.lowerBound])
            var rest = item[dots.upperBound...]
            var step = 1, factor = 1
            if let i = rest.firstIndex(where: { $0 == ":" || $0 == "*" }) {
                guard let k = Int(rest[rest.index(after: i)...]) else { throw bad("'\(item)': the step after \(rest[i]) must be a number") }
                if rest[i] == ":" { step = k } else { factor = k }
                guard step >= 1, factor >= 1, rest[i] == ":" || factor >= 2 else { throw bad("'\(item)': step must be ≥ 1, factor ≥ 2") }
                rest = rest[..<i]
            }
            let hi = try count(rest)
            guard lo <= hi else { throw bad("range \(item) runs backwards (\(lo) > \(hi))") }
            var v = lo
            while v < hi {
                out.append(v)
                // Both ends are at most `limit`: a step or factor past it ends the range.
                let (n, overflow) = factor > 1 ? v.multipliedReportingOverflow(by: factor) : v.addingReportingOverflow(step)
                v = overflow ? hi : n
            }
            out.append(hi)
        }
        var seen = Set<Int>()
        return out.filter { seen.insert($0).inserted }
    }

    /// Counts for `policy` on `topology`: `all` is the policy's capacity (cores, or PUs with +smt).
    /// Counts beyond the topology's PUs are refused unless `allowOversubscription`
    /// (`--allow-oversubscription`, a suite's `allow_oversubscription: true`), and then still
    /// bounded by `ThreadPool.maximumThreads`.
    public static func parse(_ spec: String, policy: PinningPolicy, topology: Topology,
                             allowOversubscription: Bool = false) throws -> [Int] {
        let pus = max(topology.pus.count, 1)
        return try parse(spec, all: policy.capacity(on: topology),
                         maximum: allowOversubscription ? ThreadPool.maximumThreads : pus,
                         maximumReason: "the \(pus) PU\(pus == 1 ? "" : "s") of \(topology.source) "
                            + "(--allow-oversubscription, or allow_oversubscription: true in a suite, runs more threads than PUs)")
    }

    /// The warning to print when `counts` put more workers than PUs on `topology` (allowed by
    /// `--allow-oversubscription`); nil when they fit.
    public static func oversubscriptionWarning(_ counts: [Int], topology: Topology) -> String? {
        let pus = max(topology.pus.count, 1)
        guard let most = counts.max(), most > pus else { return nil }
        return "warning: \(most) threads on \(pus) PU\(pus == 1 ? "" : "s"): workers share PUs (oversubscribed), "
            + "so timings measure the OS scheduler as much as the engine"
    }
}

/// How binding one thread went.
public enum BindingOutcome: Sendable, Equatable, CustomStringConvertible {
    case bound
    /// The OS (or hwloc) said no: containers, restricted cgroups, seccomp. The run goes on unbound.
    case refused(errno: Int32, reason: String)
    /// Not attempted, and why (policy `none`, one NUMA node, not supported on this OS).
    case skipped(String)

    public var description: String {
        switch self {
        case .bound: "bound"
        case .refused(let e, let reason): "refused (\(errnoName(e)): \(reason))"
        case .skipped(let why): "skipped (\(why))"
        }
    }

    public var isRefused: Bool { if case .refused = self { true } else { false } }
}

/// What happened when one worker started.
public struct WorkerBinding: Sendable, Equatable {
    /// The pool's worker index: 0 is the thread that created the pool.
    public let worker: Int
    /// The Linux thread id (`/proc/self/task/<tid>`); -1 where unknown.
    public let threadID: Int
    /// OS index of the PU the plan gave this worker; nil when not pinned.
    public let pu: Int?
    public let cpu: BindingOutcome
    public let memory: BindingOutcome
}

/// One worker's affinity as the kernel reports it, against the plan.
public struct AffinityCheck: Sendable, Equatable {
    public let worker: Int
    public let threadID: Int
    public let pu: Int?
    /// `Cpus_allowed_list` of the thread; nil when it could not be read (thread gone, no /proc).
    public let allowed: [Int]?
    /// The thread may run on exactly its planned PU.
    public var isExact: Bool { pu != nil && allowed == [pu!] }
}

/// Binds the engine's workers to the PUs of a plan, as they start, and keeps how each binding
/// went, so that a run where the OS refused says so instead of passing for pinned:
///
/// ```swift
/// let pinner = try Pinner(policy: PinningPolicy(parsing: "compact"), threads: 4, topology: .thisMachine())
/// let pool = ThreadPool(threads: 4, onWorkerStart: pinner.hook)
/// // ... run; record pinner.status ...
/// pinner.restoreCallingThread()   // on the same thread, once the pool is gone
/// ```
///
/// Each worker's memory policy is also bound to its NUMA node (hwloc's MEMBIND_BIND, thread
/// scope) on machines with more than one node; a refused memory binding is noted in `status`
/// but does not make the worker unpinned.
public final class Pinner: @unchecked Sendable {
    /// When to bind a worker's memory to its PU's NUMA node.
    public enum MemoryBinding: Sendable {
        /// Only where there is more than one node: on one node binding changes nothing and can
        /// only produce noise (containers often refuse `set_mempolicy`).
        case whenNUMA
        case always
        case never
    }

    public let policy: PinningPolicy
    public let topology: Topology
    /// The PU of each worker; empty for `none`.
    public let plan: [Topology.PU]
    public let threads: Int

    private let memory: MemoryBinding
    private let binder: Binder
    private let lock = NSLock()
    private var recorded: [WorkerBinding] = []
    private var callerCPUs: HwlocBitmap?
    private var callerMemory: (nodes: HwlocBitmap, policy: hwloc_membind_policy_t)?
    private var callerThreadID = -1

    /// - Throws: a `PinningError` when the policy cannot place `threads` workers, or when the
    ///   topology is a preview (synthetic / XML): hwloc would "bind" with it by doing nothing.
    public convenience init(policy: PinningPolicy, threads: Int, topology: Topology,
                            memory: MemoryBinding = .whenNUMA) throws {
        try self.init(policy: policy, threads: threads, topology: topology, memory: memory, binder: .hwloc(topology))
    }

    init(policy: PinningPolicy, threads: Int, topology: Topology, memory: MemoryBinding, binder: Binder) throws {
        if policy.binds && !topology.isThisSystem {
            throw PinningError("cannot bind threads with \(topology.source): it describes another machine "
                               + "(use it to preview plans with `vitbench env`; bind with this machine's topology)")
        }
        self.policy = policy
        self.topology = topology
        self.threads = threads
        self.memory = memory
        self.binder = binder
        plan = try policy.plan(threads: threads, on: topology)
    }

    /// Pass as `ThreadPool(threads:onWorkerStart:)`: binds the calling worker to its planned PU.
    public var hook: @Sendable (Int) -> Void { { [self] worker in bindCurrentThread(worker: worker) } }

    /// Binds the current thread as worker `worker` and records the outcome. Never fails: a
    /// refusal is recorded and the thread runs unbound.
    public func bindCurrentThread(worker: Int) {
        let tid = ThreadAffinity.currentThreadID()
        guard policy.binds else {
            record(WorkerBinding(worker: worker, threadID: tid, pu: nil, cpu: .skipped("policy none"), memory: .skipped("policy none")))
            return
        }
        guard plan.indices.contains(worker) else {
            let why = "worker \(worker) has no PU: the plan is for \(plan.count) thread\(plan.count == 1 ? "" : "s")"
            record(WorkerBinding(worker: worker, threadID: tid, pu: nil, cpu: .refused(errno: EINVAL, reason: why),
                                 memory: .skipped("not pinned")))
            return
        }
        let pu = plan[worker]
        if worker == 0 { saveCallingThread(tid) }
        let cpu = binder.cpu(pu)
        let mem: BindingOutcome
        switch memory {
        case .never: mem = .skipped("memory binding off")
        case .whenNUMA where topology.numaNodes.count <= 1: mem = .skipped("\(topology.numaNodes.count) NUMA node")
        default: mem = binder.memory(pu)
        }
        record(WorkerBinding(worker: worker, threadID: tid, pu: pu.osIndex, cpu: cpu, memory: mem))
    }

    private func record(_ b: WorkerBinding) {
        lock.lock()
        defer { lock.unlock() }
        recorded.removeAll { $0.worker == b.worker }
        recorded.append(b)
    }

    /// Every worker's outcome so far, by worker index.
    public var outcomes: [WorkerBinding] {
        lock.lock()
        defer { lock.unlock() }
        return recorded.sorted { $0.worker < $1.worker }
    }

    /// Every planned worker's CPU binding succeeded.
    public var isFullyPinned: Bool {
        let o = outcomes
        return policy.binds && o.count == plan.count && o.allSatisfy { $0.cpu == .bound }
    }

    /// One line for a result row's pinning status and the console: `pinned 4/4 (PUs 0,2,4,6)`,
    /// or what was refused and why — a refused run is never reported as pinned.
    public var status: String {
        let o = outcomes
        guard policy.binds else { return "not pinned (policy none)" }
        if o.isEmpty { return "not bound yet (no pool has started with this pinner's hook)" }
        let bound = o.filter { $0.cpu == .bound }
        let unbound = o.filter { $0.cpu != .bound }
        var s: String
        if unbound.isEmpty {
            s = "pinned \(bound.count)/\(plan.count) (PUs \(bound.compactMap(\.pu).map(String.init).joined(separator: ",")))"
        } else if bound.isEmpty {
            s = "NOT pinned: binding refused for \(o.count == 1 ? "the only worker" : "all \(o.count) workers") (\(Pinner.reasons(unbound.map(\.cpu)))); ran unpinned"
        } else {
            s = "partly pinned: \(bound.count)/\(o.count) bound; worker\(unbound.count == 1 ? "" : "s") "
                + "\(unbound.map { String($0.worker) }.joined(separator: ",")) "
                + "refused (\(Pinner.reasons(unbound.map(\.cpu)))) and ran unpinned"
        }
        let memRefused = o.map(\.memory).filter(\.isRefused)
        if !memRefused.isEmpty {
            s += "; memory binding refused for \(memRefused.count) worker\(memRefused.count == 1 ? "" : "s") (\(Pinner.reasons(memRefused)))"
        }
        return s
    }

    /// Distinct reasons, in order: `EPERM: Operation not permitted; hwloc cannot bind ...`.
    private static func reasons(_ outcomes: [BindingOutcome]) -> String {
        var seen = Set<String>()
        return outcomes.compactMap { o -> String? in
            let text: String
            switch o {
            case .bound: return nil
            case .refused(let e, let reason): text = "\(errnoName(e)): \(reason)"
            case .skipped(let why): text = why
            }
            return seen.insert(text).inserted ? text : nil
        }.joined(separator: "; ")
    }

    /// Each worker's affinity as the kernel reports it now (the pool must still be alive).
    public func verify() -> [AffinityCheck] {
        outcomes.map {
            AffinityCheck(worker: $0.worker, threadID: $0.threadID, pu: $0.pu,
                          allowed: ThreadAffinity.allowedCPUs(threadID: $0.threadID))
        }
    }

    // MARK: The calling thread

    /// Worker 0 is the thread that created the pool, and it stays bound after the pool is gone;
    /// threads it creates later inherit that binding — so an unpinned pool made next would run
    /// all its workers on worker 0's PU. Call this on that thread when the pool is done.
    /// - Returns: false when called on another thread or nothing was bound (nothing is changed).
    @discardableResult
    public func restoreCallingThread() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let cpus = callerCPUs, callerThreadID == ThreadAffinity.currentThreadID() else { return false }
        let threadFlag = Int32(HWLOC_CPUBIND_THREAD.rawValue)
        var ok = hwloc_set_cpubind(topology.handle, cpus.raw, threadFlag) == 0
        if let mem = callerMemory {
            ok = hwloc_set_membind(topology.handle, mem.nodes.raw, mem.policy, Pinner.membindThreadFlags) == 0 && ok
        }
        callerCPUs = nil
        callerMemory = nil
        return ok
    }

    private func saveCallingThread(_ tid: Int) {
        // A pinner reused for another pool before restoring keeps the first, unpinned state.
        guard binder.touchesThread, lock.withLock({ callerCPUs == nil }) else { return }
        let cpus = HwlocBitmap()
        guard hwloc_get_cpubind(topology.handle, cpus.raw, Int32(HWLOC_CPUBIND_THREAD.rawValue)) == 0 else { return }
        let nodes = HwlocBitmap()
        var policy = HWLOC_MEMBIND_DEFAULT
        let memOK = hwloc_get_membind(topology.handle, nodes.raw, &policy, Pinner.membindThreadFlags) == 0
        lock.lock()
        defer { lock.unlock() }
        callerCPUs = cpus
        callerMemory = memOK ? (nodes, policy) : nil
        callerThreadID = tid
    }

    static let membindThreadFlags = Int32(HWLOC_MEMBIND_THREAD.rawValue | HWLOC_MEMBIND_BYNODESET.rawValue)

    // MARK: Probing

    /// Whether this machine lets a thread be bound to a single PU: binds a short-lived thread to
    /// the last PU, reads its `Cpus_allowed_list` back, and says what happened. For `vitbench
    /// env` and result rows: results from a machine that refuses binding are unpinned whatever
    /// their policy says.
    public static func probe(_ topology: Topology) -> String {
        guard topology.isThisSystem else { return "not probed (\(topology.source) is not this machine)" }
        let last = topology.cores.count - 1
        guard let pinner = try? Pinner(policy: PinningPolicy(.cores([last])), threads: 1, topology: topology, memory: .never)
        else { return "not probed" }
        let done = DispatchSemaphore(value: 0)
        let result = ProbeResult()
        let thread = Thread {
            pinner.bindCurrentThread(worker: 0)
            let o = pinner.outcomes.first
            if o?.cpu == .bound {
                let check = pinner.verify().first
                result.text = check?.isExact == true
                    ? "allowed (a thread bound to P#\(pinner.plan[0].osIndex) runs only there)"
                    : "bound but not verified (Cpus_allowed_list \(check?.allowed.map(Topology.ranges) ?? "unreadable"))"
            } else {
                result.text = "\(o.map { "\($0.cpu)" } ?? "refused (no outcome)"); pinned runs will not be pinned here"
            }
            done.signal()
        }
        thread.start()
        done.wait()
        return result.text
    }

    /// Written by the probe thread before it signals, read after the wait.
    private final class ProbeResult: @unchecked Sendable { var text = "" }
}

/// The two calls binding makes, separable so tests can make the OS refuse.
struct Binder: Sendable {
    /// Binds the current thread to the PU: `.bound` or why not.
    var cpu: @Sendable (Topology.PU) -> BindingOutcome
    var memory: @Sendable (Topology.PU) -> BindingOutcome
    /// Whether the calls act on the real thread (then the calling thread's binding is saved).
    var touchesThread: Bool

    static func hwloc(_ topology: Topology) -> Binder {
        let support = hwloc_topology_get_support(topology.handle)
        let canBindThread = support?.pointee.cpubind?.pointee.set_thisthread_cpubind ?? 0 != 0
        let canBindMemory = (support?.pointee.membind?.pointee.set_thisthread_membind ?? 0 != 0)
            && (support?.pointee.membind?.pointee.bind_membind ?? 0 != 0)
        return Binder(
            cpu: { pu in
                guard canBindThread else { return .skipped("hwloc cannot bind threads on this OS") }
                guard let obj = hwloc_get_pu_obj_by_os_index(topology.handle, UInt32(pu.osIndex)) else {
                    return .refused(errno: ENOENT, reason: "P#\(pu.osIndex) is not in the topology")
                }
                errno = 0
                if hwloc_set_cpubind(topology.handle, obj.pointee.cpuset, Int32(HWLOC_CPUBIND_THREAD.rawValue)) == 0 {
                    return .bound
                }
                return .refused(errno: errno, reason: String(cString: strerror(errno)))
            },
            memory: { pu in
                guard canBindMemory else { return .skipped("hwloc cannot bind thread memory on this OS") }
                guard let obj = hwloc_get_pu_obj_by_os_index(topology.handle, UInt32(pu.osIndex)), let nodes = obj.pointee.nodeset
                else { return .skipped("P#\(pu.osIndex) has no NUMA node") }
                errno = 0
                if hwloc_set_membind(topology.handle, nodes, HWLOC_MEMBIND_BIND, Pinner.membindThreadFlags) == 0 {
                    return .bound
                }
                return .refused(errno: errno, reason: String(cString: strerror(errno)))
            },
            touchesThread: true)
    }
}

/// Reading a thread's identity and affinity back from the kernel, independently of hwloc: the
/// check that pinning really happened.
public enum ThreadAffinity {
    /// The Linux thread id of the calling thread (from `/proc/thread-self`: Swift cannot call
    /// the variadic `syscall(SYS_gettid)`, and Glibc's `gettid` is not exported); -1 elsewhere.
    public static func currentThreadID() -> Int {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard n > 0 else { return -1 }
        // "<pid>/task/<tid>"
        let text = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "/").last.flatMap { Int($0) } ?? -1
    }

    /// The CPUs a thread of this process may run on (`Cpus_allowed_list` in
    /// `/proc/self/task/<tid>/status`); nil when unreadable.
    public static func allowedCPUs(threadID: Int) -> [Int]? {
        guard threadID > 0, let status = try? String(contentsOfFile: "/proc/self/task/\(threadID)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return nil }
        return parseCPUList(String(line.dropFirst("Cpus_allowed_list:".count)))
    }

    /// The kernel's CPU list format: `0-3,8,10-11`.
    public static func parseCPUList(_ text: String) -> [Int]? {
        var out: [Int] = []
        for item in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let b = item.split(separator: "-")
            guard (1...2).contains(b.count), let lo = Int(b[0]), let hi = Int(b[b.count - 1]), lo <= hi else { return nil }
            out += Array(lo...hi)
        }
        return out
    }
}

/// `EPERM`, `EINVAL`, ...: the name people search for, beside strerror's sentence.
func errnoName(_ e: Int32) -> String {
    switch e {
    case EPERM: "EPERM"
    case EINVAL: "EINVAL"
    case ENOSYS: "ENOSYS"
    case EXDEV: "EXDEV"
    case ENOENT: "ENOENT"
    case EACCES: "EACCES"
    case ESRCH: "ESRCH"
    case ENOMEM: "ENOMEM"
    default: "errno \(e)"
    }
}

/// A pinning policy or thread sweep that cannot be used, saying why and what would work.
public struct PinningError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A policy is stored as its canonical text (`compact`, `cores=0,2`, `scatter+smt`) and read back
/// by parsing it, so a stored configuration reads as it was written.
extension PinningPolicy: Codable {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
