import ArgumentParser
import Foundation
import VitReports
import VitEngine
import VitHarness

struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe this machine (topology, CPU, ISA, OS, software) and preview thread pinning plans.",
        discussion: """
            With --pin and/or --threads, prints which PU each worker gets. On this machine it also binds a \
            pool with that plan and reads every worker's affinity back from /proc, so a machine that refuses \
            binding (containers, restricted cgroups) is reported as such. With --topology FILE.xml (from \
            `lstopo --of xml` on another machine), --synthetic, or VITBENCH_TOPOLOGY set to either, it \
            previews plans for that machine instead, without binding anything.

            Pinning policies: \(PinningPolicy.syntax).
            Thread sweeps: 4, 1,2,all, 1..N, 1..all*2 (doubling), 2..16:2 (every 2nd); all = every core the \
            policy may use (every PU with +smt).
            """)

    @Option(help: ArgumentHelp("Preview an XML topology exported on another machine (`lstopo --of xml > FILE.xml`).",
                               valueName: "file.xml"))
    var topology: String?

    @Option(help: ArgumentHelp("Preview a synthetic hwloc topology.", valueName: "\"pack:2 numa:2 core:8 pu:2\""))
    var synthetic: String?

    @Option(help: ArgumentHelp("Pinning policy to plan (default compact when --threads is given).", valueName: "policy"),
            transform: PinningPolicy.init(parsing:))
    var pin: PinningPolicy?

    @Option(help: ArgumentHelp("Thread counts to plan (default all when --pin is given).", valueName: "spec"))
    var threads: String?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        if topology != nil && synthetic != nil { throw ValidationError("give --topology or --synthetic, not both") }
        let preview: Topology?
        if let topology {
            preview = try Topology.xml(file: topology)
        } else if let synthetic {
            preview = try Topology.synthetic(synthetic)
        } else {
            preview = try Topology.fromEnvironment()
        }
        let topo = try preview ?? Topology.thisMachine()

        var doc: [(String, JSONValue)] = []
        var text: [String] = []
        if preview == nil {
            let info = try MachineInfo.collect(topology: topo)
            text.append("# vitbench env — this machine")
            let width = info.fields.map(\.0.count).max() ?? 0
            text += info.fields.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            doc.append(("machine", .object(info.fields.map { ($0.0, .string($0.1)) })))
        } else {
            let fromEnv = topology == nil && synthetic == nil ? " (from VITBENCH_TOPOLOGY)" : ""
            text.append("# vitbench env — preview of \(topo.source)\(fromEnv); nothing is bound")
            let facts: [(String, String)] = [
                ("cpu", topo.cpuModel ?? "not recorded"), ("arch", topo.info("Architecture") ?? "not recorded"),
                ("topology", topo.countsSummary), ("caches", topo.cacheSummary), ("cpu_kinds", topo.kindSummary),
            ]
            text += facts.map { "\($0.0): \($0.1)" }
            doc.append(("preview", .object([("source", .string("\(topo.source)"))] + facts.map { ($0.0, .string($0.1)) })))
        }
        text.append("")
        text.append("## Topology: \(topo.countsSummary)")
        text += Env.topologyLines(topo)

        var failures: [String] = []
        if pin != nil || threads != nil {
            let policy = pin ?? PinningPolicy(.compact)
            let spec = threads ?? "all"
            let counts = try ThreadSweep.parse(spec, policy: policy, topology: topo)
            let (lines, rows, planned) = Env.planTable(policy, spec: spec, counts, topo, failures: &failures)
            text.append("")
            text += lines
            var planDoc: [(String, JSONValue)] = [("policy", .string("\(policy)")), ("rows", .array(rows))]
            if preview == nil, policy.binds, let largest = planned.max() {
                let (checkLines, checkDoc) = try Env.bindingCheck(policy, threads: largest, topo)
                text.append("")
                text += checkLines
                planDoc.append(("binding_check", checkDoc))
            }
            doc.append(("plan", .object(planDoc)))
        }

        print(json ? JSONValue.object(doc).rendered : text.joined(separator: "\n"))
        if !failures.isEmpty {
            throw PinningError("no plan for " + failures.joined(separator: "; "))
        }
    }

    /// Packages, NUMA nodes, kinds and SMT siblings: what a policy's choices can be checked against.
    static func topologyLines(_ topo: Topology) -> [String] {
        func pus(_ list: [Int]) -> String { "P#" + Topology.ranges(list.sorted()) }
        var lines: [String] = []
        for p in topo.packages {
            let puList = p.cores.flatMap { topo.cores[$0].pus.map(\.osIndex) }
            lines.append("package L#\(p.logicalIndex) (P#\(p.osIndex)): cores L#\(Topology.ranges(p.cores)), PUs \(pus(puList))")
        }
        for n in topo.numaNodes {
            lines.append("NUMA node L#\(n.logicalIndex) (P#\(n.osIndex), \(Topology.bytes(n.memoryBytes))): PUs \(pus(n.puOSIndexes))")
        }
        for k in topo.kinds where topo.isHybrid {
            let cores = topo.cores.filter { $0.kind == k.index }.map(\.logicalIndex)
            let infos = k.infos.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
            lines.append("kind \(k.index) \(topo.kindLabel(k.index)) (efficiency \(k.efficiency)): cores L#\(Topology.ranges(cores)), "
                         + "PUs \(pus(k.puOSIndexes))" + (infos.isEmpty ? "" : " [\(infos)]"))
        }
        let shown = topo.cores.prefix(4).map { "L#\($0.logicalIndex) = P#\($0.pus.map { String($0.osIndex) }.joined(separator: ","))" }
        lines.append("cores → PUs: " + shown.joined(separator: "; ") + (topo.cores.count > 4 ? "; …" : ""))
        return lines.map { "- " + $0 }
    }

    /// One row per thread count: the PUs in worker order and what they span.
    static func planTable(_ policy: PinningPolicy, spec: String, _ counts: [Int], _ topo: Topology, failures: inout [String])
        -> (lines: [String], rows: [JSONValue], planned: [Int])
    {
        let all = (try? policy.capacity(on: topo)).map { " (all = \($0))" } ?? ""
        var lines = ["## Pinning plan: \(policy) — threads \(spec) → \(counts.map(String.init).joined(separator: ","))\(all)"]
        guard policy.binds else {
            lines.append("Workers are not bound: the OS places all \(counts.max() ?? 0) of them.")
            return (lines, counts.map { .object([("threads", .int($0)), ("pus", .array([]))]) }, counts)
        }
        func distinct(_ values: [Int?]) -> [Int] { Array(Set(values.compactMap { $0 })).sorted() }
        lines += ["| threads | PUs (P#, worker order) | cores (L#) | packages | NUMA nodes |" + (topo.isHybrid ? " kinds |" : ""),
                  "|---:|---|---|---|---|" + (topo.isHybrid ? "---|" : "")]
        var rows: [JSONValue] = []
        var planned: [Int] = []
        for n in counts {
            do {
                let plan = try policy.plan(threads: n, on: topo)
                let p = plan.map(\.osIndex), c = plan.map(\.core)
                let packages = distinct(plan.map(\.package)), numa = distinct(plan.map(\.numaNode))
                let kinds = distinct(plan.map(\.kind)).map { topo.kindLabel($0) }
                lines.append("| \(n) | \(p.map(String.init).joined(separator: ",")) | \(c.map(String.init).joined(separator: ",")) | "
                             + "\(Topology.ranges(packages)) | \(Topology.ranges(numa)) |" + (topo.isHybrid ? " \(kinds.joined(separator: ",")) |" : ""))
                rows.append(.object([("threads", .int(n)), ("pus", .array(p.map(JSONValue.int))), ("cores", .array(c.map(JSONValue.int))),
                                     ("packages", .array(packages.map(JSONValue.int))), ("numa_nodes", .array(numa.map(JSONValue.int)))]))
                planned.append(n)
            } catch {
                lines.append("| \(n) | no plan: \(error) | | | |" + (topo.isHybrid ? " |" : ""))
                rows.append(.object([("threads", .int(n)), ("error", .string("\(error)"))]))
                failures.append("\(n) threads (\(error))")
            }
        }
        return (lines, rows, planned)
    }

    /// Binds a real pool with the plan and reads each worker's affinity back from the kernel.
    static func bindingCheck(_ policy: PinningPolicy, threads: Int, _ topo: Topology) throws -> ([String], JSONValue) {
        let pinner = try Pinner(policy: policy, threads: threads, topology: topo)
        var lines = ["## Binding check: a pool of \(threads) with \(policy) on this machine"]
        var workers: [JSONValue] = []
        do {
            let pool = ThreadPool(threads: threads, onWorkerStart: pinner.hook)
            let bindings = Dictionary(uniqueKeysWithValues: pinner.outcomes.map { ($0.worker, $0) })
            for check in pinner.verify() {
                let b = bindings[check.worker]
                let allowed = check.allowed.map { Topology.ranges($0) } ?? "unreadable"
                let verdict = check.isExact ? "exact" : "NOT exact"
                lines.append("- worker \(check.worker) tid \(check.threadID) → P#\(check.pu.map(String.init) ?? "—"): "
                             + "cpu \(b.map { "\($0.cpu)" } ?? "?"), memory \(b.map { "\($0.memory)" } ?? "?"); "
                             + "Cpus_allowed_list \(allowed) (\(verdict))")
                workers.append(.object([
                    ("worker", .int(check.worker)), ("tid", .int(check.threadID)), ("pu", check.pu.map(JSONValue.int) ?? .null),
                    ("cpu", .string(b.map { "\($0.cpu)" } ?? "")), ("memory", .string(b.map { "\($0.memory)" } ?? "")),
                    ("cpus_allowed_list", .string(allowed)), ("exact", .bool(check.isExact)),
                ]))
            }
            withExtendedLifetime(pool) {}
        }
        pinner.restoreCallingThread()
        lines.append("status: \(pinner.status)")
        return (lines, .object([("status", .string(pinner.status)), ("workers", .array(workers))]))
    }
}

/// Just enough JSON to keep fields in the order they are printed (JSONSerialization sorts or
/// scrambles keys) and to keep text that looks numeric — a commit like 1234567 — a string.
enum JSONValue {
    case string(String), int(Int), bool(Bool), null
    /// A finite number in Swift's shortest round-tripping form; not finite: null.
    case number(Double)
    case array([JSONValue])
    case object([(String, JSONValue)])

    var rendered: String {
        switch self {
        case .string(let s): return JSONValue.quote(s)
        case .int(let i): return "\(i)"
        case .number(let d): return d.isFinite ? "\(d)" : "null"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let a): return "[" + a.map(\.rendered).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.map { JSONValue.quote($0.0) + ": " + $0.1.rendered }.joined(separator: ", ") + "}"
        }
    }

    static func quote(_ s: String) -> String { JSON.string(s) }
}
