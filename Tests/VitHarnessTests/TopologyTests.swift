import Foundation
import XCTest
@testable import VitHarness

/// Topologies this machine does not have, written the way `lstopo --of xml` writes them: every
/// object carries cpuset, complete_cpuset, nodeset and complete_nodeset (hwloc 2.9 crashes on an
/// object with a set but not its complete_ twin; hwloc 2.15 refuses a cache, core or PU without
/// all four).
enum TopologyFixtures {
    /// The nodeset of every object of the one-NUMA-node fixtures.
    private static let node = #"nodeset="0x00000001" complete_nodeset="0x00000001""#

    /// A big.LITTLE ARM board (RK3588-like): 4 Cortex-A55 (PUs 0-3, 128 KiB L2 each) and 4
    /// Cortex-A76 (PUs 4-7, 512 KiB L2 each) under one 3 MiB L3, with hwloc 2.x `<cpukind>`s.
    static let bigLittle = """
        <?xml version="1.0" encoding="UTF-8"?>
        <!DOCTYPE topology SYSTEM "hwloc2.dtd">
        <topology version="2.0">
          <object type="Machine" os_index="0" cpuset="0x000000ff" complete_cpuset="0x000000ff" nodeset="0x00000001" complete_nodeset="0x00000001">
            <info name="Architecture" value="aarch64"/>
            <object type="Package" os_index="0" cpuset="0x000000ff" complete_cpuset="0x000000ff" nodeset="0x00000001" complete_nodeset="0x00000001">
              <info name="CPUModel" value="Rockchip RK3588"/>
              <object type="NUMANode" os_index="0" cpuset="0x000000ff" complete_cpuset="0x000000ff" nodeset="0x00000001" complete_nodeset="0x00000001" local_memory="8589934592"/>
              <object type="L3Cache" cpuset="0x000000ff" complete_cpuset="0x000000ff" nodeset="0x00000001" complete_nodeset="0x00000001" cache_size="3145728" depth="3" cache_linesize="64" cache_type="0">
        \((0..<8).map { core($0, l2: $0 < 4 ? 131_072 : 524_288) }.joined(separator: "\n"))
              </object>
            </object>
          </object>
          <cpukind cpuset="0x0000000f" forced_efficiency="0">
            <info name="CoreType" value="ARM Cortex-A55"/>
            <info name="FrequencyMaxMHz" value="1800"/>
          </cpukind>
          <cpukind cpuset="0x000000f0" forced_efficiency="1">
            <info name="CoreType" value="ARM Cortex-A76"/>
            <info name="FrequencyMaxMHz" value="2400"/>
          </cpukind>
        </topology>
        """

    private static func core(_ i: Int, l2: Int) -> String {
        let set = String(format: "0x%08x", 1 << i)
        return """
                <object type="L2Cache" cpuset="\(set)" complete_cpuset="\(set)" \(node) cache_size="\(l2)" depth="2" cache_linesize="64" cache_type="0">
                  <object type="Core" os_index="\(i)" cpuset="\(set)" complete_cpuset="\(set)" \(node)>
                    <object type="PU" os_index="\(i)" cpuset="\(set)" complete_cpuset="\(set)" \(node)/>
                  </object>
                </object>
        """
    }

    /// An Intel hybrid laptop chip: 2 P-cores with SMT (PUs 0,1 and 2,3), 4 E-cores sharing one
    /// L2 (PUs 4-7). `ranked: false` drops the efficiencies and core types, as on an OS that
    /// reports neither.
    static func intelHybrid(ranked: Bool = true) -> String {
        func kind(_ set: String, _ efficiency: Int, _ type: String) -> String {
            ranked ? "<cpukind cpuset=\"\(set)\" forced_efficiency=\"\(efficiency)\"><info name=\"CoreType\" value=\"\(type)\"/></cpukind>"
                : "<cpukind cpuset=\"\(set)\" forced_efficiency=\"-1\"/>"
        }
        func pu(_ os: Int) -> String {
            let set = String(format: "0x%08x", 1 << os)
            return "<object type=\"PU\" os_index=\"\(os)\" cpuset=\"\(set)\" complete_cpuset=\"\(set)\" \(node)/>"
        }
        func core(_ os: Int, _ pus: [Int]) -> String {
            let set = String(format: "0x%08x", pus.reduce(0) { $0 | 1 << $1 })
            return "<object type=\"Core\" os_index=\"\(os)\" cpuset=\"\(set)\" complete_cpuset=\"\(set)\" \(node)>\(pus.map(pu).joined())</object>"
        }
        func l2(_ size: Int, _ set: String, _ body: String) -> String {
            "<object type=\"L2Cache\" cpuset=\"\(set)\" complete_cpuset=\"\(set)\" \(node) cache_size=\"\(size)\" depth=\"2\" cache_linesize=\"64\" cache_type=\"0\">\(body)</object>"
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE topology SYSTEM "hwloc2.dtd">
            <topology version="2.0">
              <object type="Machine" os_index="0" cpuset="0x000000ff" complete_cpuset="0x000000ff" nodeset="0x00000001" complete_nodeset="0x00000001">
                <info name="Architecture" value="x86_64"/>
                <object type="Package" os_index="0" cpuset="0x000000ff" complete_cpuset="0x000000ff" nodeset="0x00000001" complete_nodeset="0x00000001">
                  <info name="CPUModel" value="12th Gen Intel(R) Core(TM) i5-1230U"/>
                  <object type="NUMANode" os_index="0" cpuset="0x000000ff" complete_cpuset="0x000000ff" nodeset="0x00000001" complete_nodeset="0x00000001" local_memory="17179869184"/>
                  <object type="L3Cache" cpuset="0x000000ff" complete_cpuset="0x000000ff" \(node) cache_size="12582912" depth="3" cache_linesize="64" cache_type="0">
                    \(l2(1_310_720, "0x00000003", core(0, [0, 1])))
                    \(l2(1_310_720, "0x0000000c", core(4, [2, 3])))
                    \(l2(2_097_152, "0x000000f0", core(8, [4]) + core(9, [5]) + core(10, [6]) + core(11, [7])))
                  </object>
                </object>
              </object>
              \(kind("0x000000f0", 0, "IntelAtom"))
              \(kind("0x0000000f", 1, "IntelCore"))
            </topology>
            """
    }

    /// 2 packages × 2 NUMA nodes × 8 cores × 2 PUs: PUs 0-15 on node 0, 16-31 node 1, ...
    static func server() throws -> Topology { try Topology.synthetic("pack:2 numa:2 core:8 pu:2") }
}

extension XCTestCase {
    /// Writes `text` to a fresh temporary file, removed when the test ends, and returns its path.
    func temporaryFile(_ text: String, name: String = "topology.xml") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitbench-topology-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Loads an XML topology the way a user previews one: from a file.
    func loadXML(_ xml: String) throws -> Topology { try Topology.xml(file: temporaryFile(xml)) }
}

final class TopologyTests: XCTestCase {
    func testSyntheticServerCountsAndNumbering() throws {
        let t = try TopologyFixtures.server()
        XCTAssertEqual(t.source, .synthetic("pack:2 numa:2 core:8 pu:2"))
        XCTAssertFalse(t.isThisSystem)
        XCTAssertEqual([t.packages.count, t.numaNodes.count, t.cores.count, t.pus.count], [2, 4, 32, 64])
        XCTAssertEqual(t.smtWidth, 2)
        XCTAssertEqual(t.pus.map(\.osIndex), Array(0..<64))
        XCTAssertEqual(t.cores[0].pus.map(\.osIndex), [0, 1])
        XCTAssertEqual(t.cores[0].pus.map(\.smtIndex), [0, 1])
        XCTAssertEqual(t.packages[1].cores, Array(16..<32))
        XCTAssertEqual(t.numaNodes[1].puOSIndexes, Array(16..<32))
        let pu40 = try XCTUnwrap(t.pu(osIndex: 40))
        XCTAssertEqual([pu40.core, pu40.package, pu40.numaNode], [20, 1, 2])
        XCTAssertEqual(t.countsSummary, "2 packages, 4 NUMA nodes, 32 cores, 64 PUs (SMT 2)")
        XCTAssertEqual(t.kindSummary, "none reported")
        XCTAssertFalse(t.isHybrid)
    }

    /// Scatter takes one core per package, then per NUMA node within them, before a second
    /// core anywhere.
    func testScatterOrderRoundRobinsPackagesThenNUMANodes() throws {
        let t = try TopologyFixtures.server()
        XCTAssertEqual(Array(t.scatterOrder.prefix(8)), [0, 16, 8, 24, 1, 17, 9, 25])
        XCTAssertEqual(t.scatterOrder.sorted(), Array(0..<32))
    }

    func testSyntheticCachesAreSummarisedBySize() throws {
        let t = try Topology.synthetic("pack:1 l3:2(size=16MiB) l2:4(size=1MiB) core:1 pu:2")
        XCTAssertEqual(t.cacheSummary, "L2 1 MiB ×8, L3 16 MiB ×2")
        XCTAssertEqual(t.caches.first { $0.level == 3 }?.puOSIndexes, Array(0..<8))
    }

    func testBigLittleXMLHasRankedKinds() throws {
        let t = try loadXML(TopologyFixtures.bigLittle)
        guard case .xml = t.source else { return XCTFail("source \(t.source)") }
        XCTAssertFalse(t.isThisSystem)
        XCTAssertEqual(t.cpuModel, "Rockchip RK3588")
        XCTAssertEqual(t.info("Architecture"), "aarch64")
        XCTAssertEqual([t.cores.count, t.pus.count, t.smtWidth], [8, 8, 1])
        XCTAssertTrue(t.isHybrid)
        XCTAssertEqual(t.kinds.map(\.efficiency), [0, 1])
        XCTAssertEqual(t.kinds.map(\.puOSIndexes), [[0, 1, 2, 3], [4, 5, 6, 7]])
        XCTAssertEqual(t.kinds[1].info("CoreType"), "ARM Cortex-A76")
        XCTAssertEqual(t.kinds[0].info("FrequencyMaxMHz"), "1800")
        XCTAssertEqual([t.kindLabel(0), t.kindLabel(1)], ["little", "big"])
        XCTAssertEqual(t.cores.map(\.kind), [0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(t.cacheSummary, "L2 128 KiB ×4, L2 512 KiB ×4, L3 3 MiB ×1")
        XCTAssertTrue(t.kindSummary.hasPrefix("little (efficiency 0): PUs 0-3 [CoreType=ARM Cortex-A55"), t.kindSummary)
    }

    func testIntelHybridXMLLabelsPAndECores() throws {
        let t = try loadXML(TopologyFixtures.intelHybrid())
        XCTAssertEqual([t.cores.count, t.pus.count, t.smtWidth], [6, 8, 2])
        XCTAssertEqual(t.cores.map { $0.pus.map(\.osIndex) }, [[0, 1], [2, 3], [4], [5], [6], [7]])
        XCTAssertEqual([t.kindLabel(0), t.kindLabel(1)], ["E-core", "P-core"])
        XCTAssertEqual(t.cores.map(\.kind), [1, 1, 0, 0, 0, 0])
        // L3's children are the two P-core L2s and the E-core cluster: one core from each first.
        XCTAssertEqual(t.scatterOrder, [0, 1, 2, 3, 4, 5])
        let unranked = try loadXML(TopologyFixtures.intelHybrid(ranked: false))
        XCTAssertEqual(unranked.kinds.map(\.efficiency), [-1, -1])
        XCTAssertEqual(unranked.kindLabel(0), "kind 0")
    }

    func testThisMachineIsBindableAndConsistent() throws {
        let t = try Topology.thisMachine()
        XCTAssertEqual(t.source, .thisMachine)
        XCTAssertTrue(t.isThisSystem)
        XCTAssertGreaterThanOrEqual(t.cores.count, 1)
        XCTAssertGreaterThanOrEqual(t.pus.count, t.cores.count)
        for core in t.cores {
            XCTAssertFalse(core.pus.isEmpty)
            XCTAssertTrue(core.pus.allSatisfy { $0.core == core.logicalIndex })
        }
        XCTAssertEqual(Set(t.cores.flatMap(\.pus)), Set(t.pus))
        // hwloc keeps only PUs this process may use (unless HWLOC_ALLOW=all says otherwise, as
        // when simulating a cgroup that refuses binding): they are all in its affinity mask.
        guard ProcessInfo.processInfo.environment["HWLOC_ALLOW"] == nil else { return }
        let allowed = try XCTUnwrap(ThreadAffinity.allowedCPUs(threadID: ThreadAffinity.currentThreadID()))
        XCTAssertTrue(Set(t.pus.map(\.osIndex)).isSubset(of: Set(allowed)), "\(t.pus) vs \(allowed)")
    }

    func testUnusableXMLNamesTheFile() throws {
        let missing = "/nonexistent/vitbench/board.xml"
        XCTAssertThrowsError(try Topology.xml(file: missing)) { XCTAssertTrue("\($0)".hasPrefix(missing), "\($0)") }

        let garbage = try temporaryFile("this is not XML", name: "garbage.xml")
        XCTAssertThrowsError(try Topology.xml(file: garbage)) {
            XCTAssertTrue("\($0)".contains(garbage) && "\($0)".contains("<topology>"), "\($0)")
        }
        let truncated = try temporaryFile(String(TopologyFixtures.bigLittle.prefix(400)), name: "truncated.xml")
        XCTAssertThrowsError(try Topology.xml(file: truncated)) { XCTAssertTrue("\($0)".contains(truncated), "\($0)") }

        // hwloc 2.9 segfaults on this (no complete_cpuset): it must be refused before hwloc sees it.
        let handWritten = try temporaryFile(
            TopologyFixtures.bigLittle.replacingOccurrences(of: #" complete_cpuset="0x00000001""#, with: ""), name: "hand.xml")
        XCTAssertThrowsError(try Topology.xml(file: handWritten)) {
            XCTAssertTrue("\($0)".contains(handWritten) && "\($0)".contains("complete_cpuset"), "\($0)")
        }
        // hwloc 2.15 refuses a cache, core or PU without a nodeset (2.9 accepted it): refused alike everywhere.
        let noNodeset = try temporaryFile(
            TopologyFixtures.bigLittle.replacingOccurrences(of: #" nodeset="0x00000001" complete_nodeset="0x00000001">"#, with: ">"),
            name: "nonodeset.xml")
        XCTAssertThrowsError(try Topology.xml(file: noNodeset)) {
            XCTAssertTrue("\($0)".contains(noNodeset) && "\($0)".contains("no nodeset"), "\($0)")
        }
    }

    func testInvalidSyntheticDescriptionExplains() {
        XCTAssertThrowsError(try Topology.synthetic("sockets:two")) {
            XCTAssertTrue("\($0)".contains("sockets:two") && "\($0)".contains("pack:2"), "\($0)")
        }
    }

    func testEnvironmentVariableSelectsAPreview() throws {
        XCTAssertNil(try Topology.fromEnvironment([:]))
        XCTAssertNil(try Topology.fromEnvironment(["VITBENCH_TOPOLOGY": " "]))
        let path = try temporaryFile(TopologyFixtures.bigLittle)
        XCTAssertEqual(try Topology.fromEnvironment(["VITBENCH_TOPOLOGY": path])?.source, .xml(path: path))
        XCTAssertEqual(try Topology.fromEnvironment(["VITBENCH_TOPOLOGY": "pack:2 core:2 pu:1"])?.cores.count, 4)
        XCTAssertThrowsError(try Topology.fromEnvironment(["VITBENCH_TOPOLOGY": "/missing/board.xml"])) {
            XCTAssertTrue("\($0)".contains("/missing/board.xml"), "\($0)")
        }
        XCTAssertThrowsError(try Topology.fromEnvironment(["VITBENCH_TOPOLOGY": "nonsense"])) {
            XCTAssertTrue("\($0)".contains("VITBENCH_TOPOLOGY"), "\($0)")
        }
    }

    func testRangesAndBytes() {
        XCTAssertEqual(Topology.ranges([0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11")
        XCTAssertEqual(Topology.ranges([]), "")
        XCTAssertEqual(Topology.bytes(32768), "32 KiB")
        XCTAssertEqual(Topology.bytes(1_310_720), "1.2 MiB")
    }

    // MARK: MachineInfo

    func testMachineIDIsStableAndFolderSafe() throws {
        let topology = try Topology.thisMachine()
        let a = try MachineInfo.collect(topology: topology, probeBinding: false)
        let b = try MachineInfo.collect(probeBinding: false)
        XCTAssertEqual(a.machineID, b.machineID)
        let id = a.machineID
        XCTAssertNotNil(id.range(of: #"^[a-z0-9-]+-[a-z0-9_]+-\d+c\d+t-[0-9a-f]{8}$"#, options: .regularExpression), id)
        XCTAssertTrue(id.contains("-\(a.arch)-\(topology.cores.count)c\(topology.pus.count)t-"), id)
        // A reading that changes from run to run must not change the id.
        var warmer = a
        warmer.frequencyMHz = "9999"
        warmer.governor = "performance"
        warmer.commit = "0000000"
        XCTAssertEqual(warmer.machineID, id)
    }

    func testMachineInfoFieldsAreOrderedAndComplete() throws {
        let info = try MachineInfo.collect(probeBinding: true)
        let names = info.fields.map(\.0)
        XCTAssertEqual(names.first, "machine_id")
        XCTAssertEqual(Set(names).count, names.count)
        for required in ["cpu", "cpu_signature", "arch", "isa_features", "packages", "numa_nodes", "cores", "pus", "caches", "cpu_kinds",
                         "thread_binding", "kernel", "governor", "frequency_mhz", "openblas_core", "openblas_version",
                         "swift_version", "commit"] {
            XCTAssertTrue(names.contains(required), required)
        }
        XCTAssertTrue(info.fields.allSatisfy { !$0.1.isEmpty }, "\(info.fields)")
        XCTAssertEqual(info.rowColumns.map(\.0), ["machine_id", "arch", "cpu", "commit", "os_kernel", "compiler"])
        XCTAssertTrue(info.swiftVersion.hasPrefix("6."), info.swiftVersion)
        XCTAssertTrue(info.threadBinding.hasPrefix("allowed") || info.threadBinding.hasPrefix("refused"), info.threadBinding)
        XCTAssertNotNil(info.commit.range(of: #"^([0-9a-f]{4,}(-dirty)?|unknown)$"#, options: .regularExpression), info.commit)
        #if arch(x86_64)
        XCTAssertEqual(info.arch, "x86_64")
        #elseif arch(arm64)
        XCTAssertEqual(info.arch, "aarch64")
        #endif
    }

    /// `git ARGS` in `folder`: its trimmed output, nil where git fails or is missing.
    private func git(_ folder: URL, _ args: String...) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", folder.path, "-c", "user.name=vitbench", "-c", "user.email=vitbench@invalid"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    func testCommitIsTheCheckoutTheBinaryLiesIn() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("vitbench-commit-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: root) }
        let checkout = root.appendingPathComponent("checkout"), bin = checkout.appendingPathComponent(".build/release")
        let elsewhere = root.appendingPathComponent("not-a-checkout")
        try fm.createDirectory(at: bin, withIntermediateDirectories: true)
        try fm.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try XCTSkipIf(git(checkout, "init", "-q") == nil, "git is not installed")
        try "a\n".write(to: checkout.appendingPathComponent("tracked.txt"), atomically: true, encoding: .utf8)
        XCTAssertNotNil(git(checkout, "add", "tracked.txt"))
        XCTAssertNotNil(git(checkout, "commit", "-q", "-m", "one"))
        let head = try XCTUnwrap(git(checkout, "rev-parse", "--short", "HEAD"))
        // A binary under the checkout's (untracked) build folder names the checkout's commit,
        // whatever the current directory is.
        XCTAssertEqual(MachineInfo.commit(executable: bin.appendingPathComponent("vitbench").path), head)
        try "b\n".write(to: checkout.appendingPathComponent("tracked.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(MachineInfo.commit(executable: bin.appendingPathComponent("vitbench").path), head + "-dirty")
        // Outside a checkout (an installed copy), or with no path: unknown.
        if git(elsewhere, "rev-parse", "HEAD") == nil {
            XCTAssertEqual(MachineInfo.commit(executable: elsewhere.appendingPathComponent("vitbench").path), "unknown")
        }
        XCTAssertEqual(MachineInfo.commit(executable: nil), "unknown")
        // This test's own executable resolves to a real file.
        let me = try XCTUnwrap(MachineInfo.executablePath())
        XCTAssertTrue(fm.isExecutableFile(atPath: me), me)
    }

    func testSlugDropsFrequencyAndTrademarks() {
        XCTAssertEqual(MachineInfo.slug("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"), "intel-xeon-gold-6338")
        XCTAssertEqual(MachineInfo.slug("AMD EPYC 7763 64-Core Processor"), "amd-epyc-7763-64-core")
        XCTAssertEqual(MachineInfo.slug("Apple M2 3.5 GHz"), "apple-m2")
        XCTAssertEqual(MachineInfo.slug("???"), "cpu")
        XCTAssertEqual(MachineInfo.fnv1a("vitbench"), MachineInfo.fnv1a("vitbench"))
        XCTAssertNotEqual(MachineInfo.fnv1a("a"), MachineInfo.fnv1a("b"))
    }

    /// /proc/cpuinfo of a big.LITTLE ARM board: features from `Features`, cores from implementer/part.
    func testCPUInfoOnARM() {
        let block = { (part: String) in
            """
            processor\t: 0
            BogoMIPS\t: 48.00
            Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp i8mm bf16 sve sve2
            CPU implementer\t: 0x41
            CPU architecture: 8
            CPU part\t: \(part)
            """
        }
        let info = CPUInfo([block("0xd05"), block("0xd05"), block("0xd0b")].joined(separator: "\n\n"))
        XCTAssertEqual(info.isaFeatures, ["NEON", "NEON-FP16", "DotProd", "I8MM", "BF16", "SVE", "SVE2"])
        XCTAssertEqual(info.armCores, ["Cortex-A55", "Cortex-A76"])
        let x86 = CPUInfo("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_bf16\n")
        XCTAssertEqual(x86.isaFeatures, ["SSE4.2", "AVX", "AVX2", "FMA", "AVX-512F", "AVX512-BF16"])
        XCTAssertEqual(x86.first("model name"), "Some CPU")
        XCTAssertEqual(x86.signature, "unknown")
        // Two CPUs that both call themselves "AMD EPYC" on this project's VMs.
        for (family, model, generation) in [(25, 1, "Zen 3"), (25, 17, "Zen 4"), (26, 2, "Zen 5")] {
            let epyc = CPUInfo("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: \(family)\nmodel\t\t: \(model)\nmodel name\t: AMD EPYC\nstepping\t: 1\n")
            XCTAssertEqual(epyc.signature, "family \(family) model \(model) stepping 1 (\(generation))")
        }
        XCTAssertEqual(info.signature, "implementer 0x41 part 0xd05")
        XCTAssertEqual(MachineInfo.openBLASVersion("OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH Haswell"), "0.3.21")
        XCTAssertTrue(info.isARM)
        XCTAssertFalse(x86.isARM)
        XCTAssertEqual(info.midrs.map(\.part), [0xD05, 0xD05, 0xD0B])
    }

    /// MIDR_EL1 (from sysfs, an ARM /proc/cpuinfo or `mrs`) names the cores and their revision.
    func testMIDRDecodesCoresAndRevisions() throws {
        let n1 = MIDR(0x413F_D0C1)
        XCTAssertEqual([n1.implementer, n1.variant, n1.part, n1.revision], [0x41, 3, 0xD0C, 1])
        XCTAssertEqual(n1.coreName, "Neoverse-N1")
        XCTAssertEqual(n1.signature, "implementer 0x41 part 0xd0c r3p1")
        XCTAssertEqual(MIDR(implementer: 0x41, variant: 3, part: 0xD0C, revision: 1), n1)
        XCTAssertEqual(MIDR(0x510F_8040).coreName, "Qualcomm part 0x804")
        XCTAssertEqual(MIDR(0x990F_1230).coreName, "implementer 0x99 part 0x123")

        let little = MIDR(0x412F_D050), big = MIDR(0x414F_D0B0)
        let board = ARMCPU(midrs: [little, little, big, big], board: "Rockchip RK3588", featureFlags: "fp asimd asimdhp asimddp")
        XCTAssertEqual(board.name, "Rockchip RK3588: Cortex-A55 + Cortex-A76")
        XCTAssertEqual(board.signature, "implementer 0x41 part 0xd05 r2p0 + implementer 0x41 part 0xd0b r4p0")
        XCTAssertEqual(board.isaFeatures, ["NEON", "NEON-FP16", "DotProd"])
        // Nothing ARM-side readable: say so, never borrow another machine's name.
        let blind = ARMCPU(midrs: [], board: nil, featureFlags: "")
        XCTAssertEqual([blind.name, blind.signature], ["unknown ARM CPU", "unknown"])
        XCTAssertEqual(blind.isaFeatures, [])

        // sysfs: cpuN/regs/identification/midr_el1, in CPU order (cpu10 after cpu2).
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitbench-sysfs-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for (cpu, midr) in [(0, "0x00000000412fd050"), (2, "0x00000000412fd050"), (10, "0x00000000414fd0b0")] {
            let regs = dir.appendingPathComponent("cpu\(cpu)/regs/identification")
            try FileManager.default.createDirectory(at: regs, withIntermediateDirectories: true)
            try (midr + "\n").write(to: regs.appendingPathComponent("midr_el1"), atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("cpufreq"), withIntermediateDirectories: true)
        XCTAssertEqual(ARMCPU.midrsFromSysfs(dir.path), [little, little, big])
        XCTAssertEqual(ARMCPU.midrsFromSysfs("/nonexistent/vitbench"), [])
    }

    /// On ARM the machine is described from ARM-side sources, even under qemu user-mode emulation
    /// on an x86 host, whose /proc/cpuinfo (model name, flags) the emulator passes through.
    func testMachineInfoOnARMDescribesTheARMCPU() throws {
        #if arch(arm64)
        let info = try MachineInfo.collect(probeBinding: false)
        XCTAssertTrue(info.isaFeatures.contains("NEON"), "\(info.isaFeatures)")
        XCTAssertFalse(info.isaFeatures.contains { $0.hasPrefix("AVX") || $0.hasPrefix("SSE") }, "\(info.isaFeatures)")
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let raw = CPUInfo(text)
        if let foreign = raw.first("model name"), !raw.isARM {
            XCTAssertFalse(info.cpu.contains(foreign), "\(info.cpu) is the host's x86 CPU")
            XCTAssertFalse(info.machineID.hasPrefix(MachineInfo.slug(foreign)), info.machineID)
        }
        XCTAssertTrue(info.cpu == "unknown ARM CPU" || info.cpuSignature.hasPrefix("implementer 0x"), "\(info.cpu), \(info.cpuSignature)")
        XCTAssertEqual(info.kernelISA, .neon)
        #else
        throw XCTSkip("arm64 only")
        #endif
    }
}
