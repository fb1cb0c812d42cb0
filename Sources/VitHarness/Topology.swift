import CHwloc
import Foundation

/// A machine's processing units as hwloc sees them: this machine, or — to preview pinning plans
/// for a machine one does not have — a synthetic description or an XML export (`lstopo --of xml`).
///
/// Everything the planner and the reports need is copied into plain values at load time, so
/// callers never touch hwloc objects; the hwloc handle stays alive only because binding
/// (`Pinner`) needs it. Only PUs the process is allowed to use appear (hwloc drops PUs outside
/// the cgroup's cpuset by default), so "all cores" means all cores this run may use.
///
/// `@unchecked Sendable`: after `hwloc_topology_load` the handle is only read, and hwloc allows
/// concurrent read-only use and binding calls on one topology from several threads.
public final class Topology: @unchecked Sendable {
    /// Where the topology came from.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case thisMachine
        case synthetic(String)
        case xml(path: String)

        public var description: String {
            switch self {
            case .thisMachine: "this machine"
            case .synthetic(let text): "synthetic topology \"\(text)\""
            case .xml(let path): "XML topology \(path)"
            }
        }
    }

    /// hwloc's name/value info attributes, in hwloc's order.
    public struct Info: Sendable, Hashable {
        public let name: String
        public let value: String
    }

    /// A hardware thread: what a worker is bound to.
    public struct PU: Sendable, Hashable, CustomStringConvertible {
        /// hwloc's logical index: position in a depth-first walk of the tree, so neighbours in
        /// logical order share caches.
        public let logicalIndex: Int
        /// The OS's CPU number (`taskset`, `/proc`, `Cpus_allowed_list`).
        public let osIndex: Int
        /// Logical index of the core holding this PU (into `Topology.cores`).
        public let core: Int
        /// Position among its core's PUs: 0 for the first hardware thread, 1 for its SMT sibling...
        public let smtIndex: Int
        /// Logical index of the package (socket), when the topology has packages.
        public let package: Int?
        /// Logical index of the nearest NUMA node, when the topology has one.
        public let numaNode: Int?
        /// Index into `Topology.kinds`, when hwloc reports CPU kinds.
        public let kind: Int?

        public var description: String { "P#\(osIndex)" }
    }

    public struct Core: Sendable, Hashable {
        public let logicalIndex: Int
        public let osIndex: Int
        /// The core's PUs, in logical order.
        public let pus: [PU]
        public let package: Int?
        public let numaNode: Int?
        public let kind: Int?
    }

    public struct Package: Sendable, Hashable {
        public let logicalIndex: Int
        public let osIndex: Int
        /// Logical indexes of its cores.
        public let cores: [Int]
        public let infos: [Info]
    }

    public struct NUMANode: Sendable, Hashable {
        public let logicalIndex: Int
        public let osIndex: Int
        public let memoryBytes: UInt64
        /// OS indexes of the PUs local to this node.
        public let puOSIndexes: [Int]
    }

    public struct Cache: Sendable, Hashable {
        public enum Kind: String, Sendable { case unified = "", data = "d", instruction = "i" }
        public let level: Int
        public let kind: Kind
        public let sizeBytes: UInt64
        public let lineSize: Int
        /// OS indexes of the PUs sharing this cache.
        public let puOSIndexes: [Int]

        /// `L1d`, `L2`, `L1i`, ...
        public var name: String { "L\(level)\(kind.rawValue)" }
    }

    /// A set of identical cores on a hybrid chip (big/little on ARM, P/E cores on Intel).
    public struct CPUKind: Sendable, Hashable {
        public let index: Int
        /// hwloc's ranking: higher is faster (and less power-efficient); -1 when hwloc could not
        /// rank the kinds (then every kind has -1).
        public let efficiency: Int
        public let puOSIndexes: [Int]
        /// e.g. `CoreType` (`IntelAtom`, `IntelCore`, `ARM Cortex-A55`), `FrequencyMaxMHz`.
        public let infos: [Info]

        public func info(_ name: String) -> String? { infos.first { $0.name == name }?.value }
    }

    public let source: Source
    public let packages: [Package]
    public let numaNodes: [NUMANode]
    /// Cores in logical order; each has at least one PU.
    public let cores: [Core]
    /// PUs in logical order.
    public let pus: [PU]
    /// Every cache object, outermost levels last (hwloc's depth order, deepest first).
    public let caches: [Cache]
    /// Ordered as hwloc ranks them: least performant first. Empty when the OS reports nothing;
    /// a single kind on a homogeneous machine.
    public let kinds: [CPUKind]
    /// Machine-level infos (Architecture, OSName, Backend, ...), then the first package's
    /// (CPUVendor, CPUModel, ...), as hwloc found them or as the XML recorded them.
    public let infos: [Info]
    /// Cores in "scatter" order: round-robin over the children of every level of the tree
    /// (packages, then NUMA groups, dies and shared caches inside them), so the first n cores
    /// are as far apart as the tree allows.
    public let scatterOrder: [Int]
    /// Whether binding with this topology acts on the running machine. False for synthetic and
    /// XML topologies: hwloc turns binding into a silent no-op for those, so `Pinner` refuses them.
    public let isThisSystem: Bool

    let handle: hwloc_topology_t

    // MARK: Loading

    /// The running machine.
    public static func thisMachine() throws -> Topology {
        try Topology(source: .thisMachine) { _ in 0 }
    }

    /// A topology from hwloc's synthetic description, e.g. `pack:2 numa:2 core:8 pu:2`
    /// (see `lstopo --input "…"`; `l3:2(size=32MB)` adds caches, `pu:2(indexes=0,8,…)` sets OS
    /// numbering).
    public static func synthetic(_ description: String) throws -> Topology {
        try Topology(source: .synthetic(description)) { hwloc_topology_set_synthetic($0, description) }
    }

    /// A topology exported by `lstopo --of xml` (or `hwloc-gather-topology`) on another machine.
    public static func xml(file path: String) throws -> Topology {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw TopologyError("\(path): no such file or not readable (expected an XML topology from `lstopo --of xml`)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TopologyError("\(path): not UTF-8 text, so not an XML topology from `lstopo --of xml`")
        }
        if let problem = xmlExportProblem(text) { throw TopologyError("\(path): \(problem)") }
        return try Topology(source: .xml(path: path)) { hwloc_topology_set_xml($0, path) }
    }

    /// What makes `text` unsafe to hand to hwloc, or nil. hwloc 2.9 trusts its XML: an object
    /// with a cpuset (nodeset) but no complete_cpuset (complete_nodeset) crashes it instead of
    /// failing; hwloc 2.15 refuses an object with a cpuset but no nodeset. So hand-written files
    /// are held to what `lstopo --of xml` always writes.
    static func xmlExportProblem(_ text: String) -> String? {
        guard text.contains("<topology") else {
            return "no <topology> element: not an hwloc XML topology (export one with `lstopo --of xml`)"
        }
        var line = 1
        var scanned = text.startIndex
        for tag in text.matches(of: try! Regex(#"<object\b[^>]*>"#)) {
            line += text[scanned..<tag.range.lowerBound].reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
            scanned = tag.range.lowerBound
            let attributes = String(text[tag.range])
            for set in ["cpuset", "nodeset"] where attributes.contains(" \(set)=\"") && !attributes.contains(" complete_\(set)=\"") {
                return "line \(line): an <object> has \(set) but no complete_\(set); write every object as `lstopo --of xml` does "
                    + "(cpuset, complete_cpuset, nodeset, complete_nodeset) — hwloc crashes on such files"
            }
            if attributes.contains(" cpuset=\"") && !attributes.contains(" nodeset=\"") {
                return "line \(line): an <object> has cpuset but no nodeset; write every object as `lstopo --of xml` does "
                    + "(cpuset, complete_cpuset, nodeset, complete_nodeset) — newer hwloc (2.15) refuses such files"
            }
        }
        return nil
    }

    /// The topology named by `VITBENCH_TOPOLOGY`, or nil when it is unset or empty: an XML file,
    /// or a synthetic description when the value is not a path. Lets a user preview plans for
    /// another machine with any command that plans.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> Topology?
    {
        guard let value = environment["VITBENCH_TOPOLOGY"]?.trimmingCharacters(in: .whitespaces), !value.isEmpty
        else { return nil }
        if FileManager.default.fileExists(atPath: value) || value.contains("/") || value.lowercased().hasSuffix(".xml") {
            return try xml(file: value)
        }
        do {
            return try synthetic(value)
        } catch {
            throw TopologyError("VITBENCH_TOPOLOGY=\"\(value)\" is neither an XML file nor a synthetic description: \(error)")
        }
    }

    private init(source: Source, configure: (hwloc_topology_t) -> Int32) throws {
        var topo: hwloc_topology_t?
        guard hwloc_topology_init(&topo) == 0, let topo else {
            throw TopologyError("hwloc could not initialise a topology: \(String(cString: strerror(errno)))")
        }
        func fail(_ what: String) -> TopologyError {
            let reason = errno == 0 ? "" : " (\(String(cString: strerror(errno))))"
            hwloc_topology_destroy(topo)
            return TopologyError(what + reason)
        }
        // hwloc drops instruction caches by default; `env` lists them beside the data caches.
        hwloc_topology_set_icache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL)
        errno = 0
        if configure(topo) != 0 {
            switch source {
            case .thisMachine: throw fail("hwloc could not set up discovery of this machine")
            case .synthetic(let text):
                throw fail("invalid synthetic topology \"\(text)\": expected levels like \"pack:2 numa:2 core:8 pu:2\"")
            case .xml(let path): throw fail("\(path): not a readable hwloc XML topology")
            }
        }
        errno = 0
        guard hwloc_topology_load(topo) == 0 else {
            if case .xml(let path) = source { throw fail("\(path): hwloc could not build a topology from it") }
            throw fail("hwloc could not load \(source)")
        }
        handle = topo
        self.source = source
        isThisSystem = hwloc_topology_is_thissystem(topo) != 0
        (packages, numaNodes, cores, pus, caches, kinds, infos, scatterOrder) = Topology.snapshot(topo)
        if pus.isEmpty {
            // Nothing to plan on (an XML whose PUs are all disallowed, say): refuse now, clearly.
            throw TopologyError("\(source) has no usable PUs")
        }
    }

    deinit { hwloc_topology_destroy(handle) }

    // MARK: Derived facts

    /// The most PUs any core has: 1 without SMT.
    public var smtWidth: Int { cores.map(\.pus.count).max() ?? 1 }

    /// Whether hwloc reports more than one kind of core.
    public var isHybrid: Bool { kinds.count > 1 }

    /// The CPU model, from hwloc's infos (x86 and most ARM servers); nil when none recorded it.
    public var cpuModel: String? { info("CPUModel") }

    public func info(_ name: String) -> String? { infos.first { $0.name == name }?.value }

    public func pu(osIndex: Int) -> PU? { pus.first { $0.osIndex == osIndex } }

    /// Caches grouped by name and size, innermost first: `L1d 32 KiB ×8, L2 1 MiB ×8, L3 32 MiB ×1`.
    /// Sizes that differ within a level (hybrid chips) are listed separately.
    public var cacheSummary: String {
        var groups: [(name: String, size: UInt64, level: Int, kind: String, count: Int, sharing: Int)] = []
        for c in caches {
            if let i = groups.firstIndex(where: { $0.name == c.name && $0.size == c.sizeBytes }) {
                groups[i].count += 1
            } else {
                groups.append((c.name, c.sizeBytes, c.level, c.kind.rawValue, 1, c.puOSIndexes.count))
            }
        }
        if groups.isEmpty { return "none reported" }
        return groups.sorted { ($0.level, $0.kind, $0.size) < ($1.level, $1.kind, $1.size) }
            .map { "\($0.name) \(Topology.bytes($0.size)) ×\($0.count)" }.joined(separator: ", ")
    }

    /// One line per kind, least performant first, with a big/little (or P/E) label.
    public var kindSummary: String {
        if kinds.isEmpty { return "none reported" }
        if kinds.count == 1 { return "1 kind (homogeneous)" + Topology.infoSuffix(kinds[0].infos) }
        return kinds.map { kind in
            "\(kindLabel(kind.index)) (efficiency \(kind.efficiency)): PUs \(Topology.ranges(kind.puOSIndexes))"
                + Topology.infoSuffix(kind.infos)
        }.joined(separator: "; ")
    }

    /// `big`/`little` (`P-core`/`E-core` on Intel), `mid` between them, `kind N` when hwloc
    /// could not rank the kinds.
    public func kindLabel(_ index: Int) -> String {
        guard kinds.indices.contains(index), kinds.count > 1, kinds[index].efficiency >= 0 else { return "kind \(index)" }
        let type = kinds[index].info("CoreType")
        if type == "IntelCore" { return "P-core" }
        if type == "IntelAtom" { return "E-core" }
        if index == kinds.count - 1 { return "big" }
        return index == 0 ? "little" : "mid"
    }

    /// `2 packages, 4 NUMA nodes, 32 cores, 64 PUs (SMT 2)`.
    public var countsSummary: String {
        func n(_ count: Int, _ what: String) -> String { "\(count) \(what)\(count == 1 ? "" : "s")" }
        var s = [n(packages.count, "package"), n(numaNodes.count, "NUMA node"), n(cores.count, "core"), n(pus.count, "PU")]
            .joined(separator: ", ")
        s += smtWidth > 1 ? " (SMT \(smtWidth))" : " (no SMT)"
        return s
    }

    /// Compact text of a list of indexes: `0-3,8,10-11`.
    public static func ranges(_ indexes: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < indexes.count {
            var j = i
            while j + 1 < indexes.count && indexes[j + 1] == indexes[j] + 1 { j += 1 }
            parts.append(j > i ? "\(indexes[i])-\(indexes[j])" : "\(indexes[i])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// 32 KiB, 1 MiB, 11.1 GiB: binary units, as caches are sized.
    public static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return v == v.rounded() ? "\(Int(v)) \(units[u])" : String(format: "%.1f %@", v, units[u])
    }

    private static func infoSuffix(_ infos: [Info]) -> String {
        infos.isEmpty ? "" : " [" + infos.map { "\($0.name)=\($0.value)" }.joined(separator: ", ") + "]"
    }

    // MARK: Reading hwloc

    private static func snapshot(_ topo: hwloc_topology_t)
        -> ([Package], [NUMANode], [Core], [PU], [Cache], [CPUKind], [Info], [Int])
    {
        func objects(_ type: hwloc_obj_type_t) -> [hwloc_obj_t] {
            var out: [hwloc_obj_t] = []
            var obj = hwloc_get_next_obj_by_type(topo, type, nil)
            while let o = obj { out.append(o); obj = hwloc_get_next_obj_by_type(topo, type, o) }
            return out
        }
        let kinds = cpuKinds(topo)
        let kindOf = Dictionary(kinds.flatMap { k in k.puOSIndexes.map { ($0, k.index) } }, uniquingKeysWith: { a, _ in a })

        let numaObjects = objects(HWLOC_OBJ_NUMANODE)
        let numaNodes = numaObjects.map { o in
            NUMANode(logicalIndex: Int(o.pointee.logical_index), osIndex: Int(o.pointee.os_index),
                     memoryBytes: o.pointee.attr?.pointee.numanode.local_memory ?? 0,
                     puOSIndexes: indexes(o.pointee.cpuset))
        }
        /// The NUMA node a PU allocates from: the one whose nodeset the PU's nodeset names first.
        func numa(of pu: hwloc_obj_t) -> Int? {
            guard let first = indexes(pu.pointee.nodeset).first else { return nil }
            return numaNodes.first { $0.osIndex == first }?.logicalIndex
        }
        func package(of o: hwloc_obj_t) -> Int? {
            hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, o).map { Int($0.pointee.logical_index) }
        }

        // Cores: hwloc's Core objects, or — where a topology has none (some VMs, synthetic
        // strings without `core:`) — each PU as its own core, so policies still work.
        let coreObjects = objects(HWLOC_OBJ_CORE)
        let puObjects = objects(HWLOC_OBJ_PU)
        var coreGroups: [(obj: hwloc_obj_t, pus: [hwloc_obj_t])] = coreObjects.map { c in
            (c, puObjects.filter { hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, $0) == c })
        }.filter { !$0.pus.isEmpty }
        for p in puObjects where hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, p) == nil {
            coreGroups.append((p, [p]))
        }
        var cores: [Core] = []
        var pus: [PU] = []
        var coreOfObject: [hwloc_obj_t: Int] = [:]
        for (ci, group) in coreGroups.enumerated() {
            let corePUs = group.pus.enumerated().map { si, p in
                PU(logicalIndex: Int(p.pointee.logical_index), osIndex: Int(p.pointee.os_index), core: ci, smtIndex: si,
                   package: package(of: p), numaNode: numa(of: p), kind: kindOf[Int(p.pointee.os_index)])
            }
            coreOfObject[group.obj] = ci
            pus += corePUs
            cores.append(Core(logicalIndex: ci, osIndex: Int(group.obj.pointee.os_index), pus: corePUs,
                              package: corePUs[0].package, numaNode: corePUs[0].numaNode, kind: corePUs[0].kind))
        }
        pus.sort { $0.logicalIndex < $1.logicalIndex }

        let packages = objects(HWLOC_OBJ_PACKAGE).map { o in
            let index = Int(o.pointee.logical_index)
            return Package(logicalIndex: index, osIndex: Int(o.pointee.os_index),
                           cores: cores.filter { $0.package == index }.map(\.logicalIndex), infos: infoList(o))
        }

        var caches: [Cache] = []
        for depth in stride(from: hwloc_topology_get_depth(topo) - 1, through: 0, by: -1) {
            for i in 0..<hwloc_get_nbobjs_by_depth(topo, depth) {
                guard let o = hwloc_get_obj_by_depth(topo, depth, i), hwloc_obj_type_is_cache(o.pointee.type) != 0,
                      let attr = o.pointee.attr?.pointee.cache else { continue }
                let kind: Cache.Kind = attr.type == HWLOC_OBJ_CACHE_DATA ? .data
                    : attr.type == HWLOC_OBJ_CACHE_INSTRUCTION ? .instruction : .unified
                caches.append(Cache(level: Int(attr.depth), kind: kind, sizeBytes: attr.size, lineSize: Int(attr.linesize),
                                    puOSIndexes: indexes(o.pointee.cpuset)))
            }
        }

        // Scatter: interleave the orders of an object's children, recursively, down to cores.
        func scatter(_ o: hwloc_obj_t) -> [Int] {
            if let core = coreOfObject[o] { return [core] }
            let children = (0..<Int(o.pointee.arity)).compactMap { o.pointee.children[$0] }.map(scatter)
            var out: [Int] = []
            for round in 0..<(children.map(\.count).max() ?? 0) {
                for child in children where round < child.count { out.append(child[round]) }
            }
            return out
        }
        let root = hwloc_get_root_obj(topo)!
        var scatterOrder = scatter(root)
        // Cores the walk missed (none in a well-formed tree) still belong somewhere.
        scatterOrder += cores.indices.filter { !Set(scatterOrder).contains($0) }

        let machineInfos = infoList(root) + (packages.first?.infos ?? [])
        return (packages, numaNodes, cores, pus, caches, kinds, machineInfos, scatterOrder)
    }

    private static func cpuKinds(_ topo: hwloc_topology_t) -> [CPUKind] {
        let count = hwloc_cpukinds_get_nr(topo, 0)
        guard count > 0, let set = hwloc_bitmap_alloc() else { return [] }
        defer { hwloc_bitmap_free(set) }
        return (0..<Int(count)).compactMap { k in
            var efficiency: Int32 = -1
            var nInfos: UInt32 = 0
            var infos: UnsafeMutablePointer<hwloc_info_s>?
            guard hwloc_cpukinds_get_info(topo, UInt32(k), set, &efficiency, &nInfos, &infos, 0) == 0 else { return nil }
            // The infos array belongs to the topology: copied, never freed here.
            return CPUKind(index: k, efficiency: Int(efficiency), puOSIndexes: indexes(set),
                           infos: infoArray(infos, Int(nInfos)))
        }
    }

    private static func infoList(_ o: hwloc_obj_t) -> [Info] { infoArray(o.pointee.infos, Int(o.pointee.infos_count)) }

    private static func infoArray(_ infos: UnsafeMutablePointer<hwloc_info_s>?, _ count: Int) -> [Info] {
        guard let infos else { return [] }
        return (0..<count).compactMap { i in
            guard let name = infos[i].name, let value = infos[i].value else { return nil }
            return Info(name: String(cString: name), value: String(cString: value))
        }
    }
}

/// OS indexes set in an hwloc bitmap, ascending; empty for a NULL or infinite bitmap.
func indexes(_ set: hwloc_const_bitmap_t?) -> [Int] {
    guard let set, hwloc_bitmap_weight(set) >= 0 else { return [] }
    var out: [Int] = []
    var i = hwloc_bitmap_first(set)
    while i >= 0 {
        out.append(Int(i))
        i = hwloc_bitmap_next(set, i)
    }
    return out
}

/// An hwloc bitmap owned by Swift: freed when the value goes away, so no early return leaks one.
final class HwlocBitmap {
    let raw: hwloc_bitmap_t

    init() {
        // hwloc_bitmap_alloc fails only when malloc does.
        raw = hwloc_bitmap_alloc()!
    }

    convenience init(_ indexes: [Int]) {
        self.init()
        for i in indexes { hwloc_bitmap_set(raw, UInt32(i)) }
    }

    deinit { hwloc_bitmap_free(raw) }

    var indexes: [Int] { VitHarness.indexes(raw) }
}

/// A topology that could not be loaded, with the file or description and what to do about it.
public struct TopologyError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
