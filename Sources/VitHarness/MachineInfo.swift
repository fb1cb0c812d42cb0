import CHwloc
import CKernels
import Foundation
import VitEngine

/// What a result depends on besides the configuration: the machine, its OS state and the
/// software that measured. `vitbench env` prints it; every result row records its `rowColumns`;
/// `machineID` names the results folder.
public struct MachineInfo: Sendable {
    public var cpu: String
    /// Family/model/stepping (x86) with the AMD core generation where it is known, or ARM's
    /// implementer/part: what tells apart CPUs that report the same name ("AMD EPYC" is Zen 3,
    /// Zen 4 or Zen 5 on this project's VMs).
    public var cpuSignature: String
    public var arch: String
    /// Vector extensions the CPU reports that matter to these kernels (AVX2, AVX-512F,
    /// AVX512-BF16, ... on x86; NEON, SVE, SVE2, I8MM, ... on ARM).
    public var isaFeatures: [String]
    /// Which variant of the C kernels runs by default: the best the CPU supports, or the one
    /// `--isa` chose. (Rows record the variant each configuration ran.)
    public var kernelISA: KernelISA
    public var packages: Int
    public var numaNodes: String
    public var cores: Int
    public var pus: Int
    public var smtWidth: Int
    public var caches: String
    public var cpuKinds: String
    /// The PUs this process may use, against those online (a cgroup or `taskset` shows here).
    public var allowedPUs: String
    /// Whether the OS lets a thread be bound to one PU (`Pinner.probe`).
    public var threadBinding: String
    /// OS kernel name and release.
    public var kernel: String
    public var governor: String
    /// Current frequency of the allowed PUs when it was read: a reading, never part of the id.
    public var frequencyMHz: String
    public var openBLASCore: String
    public var openBLASVersion: String
    public var openBLASConfig: String
    public var hwlocVersion: String
    public var swiftVersion: String
    public var commit: String
    /// What the hardware part of the id hashes; kept so the id can be recomputed and explained.
    private var identity: String

    /// The running machine, described through `topology` (this machine's; loaded when nil).
    /// - Parameter probeBinding: start a short-lived thread to see whether binding is allowed.
    public static func collect(topology: Topology? = nil, probeBinding: Bool = true) throws -> MachineInfo {
        let topo = try topology ?? Topology.thisMachine()
        let cpuinfo = CPUInfo.read()
        let arch = MachineInfo.unameFields().machine
        #if arch(arm64)
        // Never /proc/cpuinfo's x86 fields or hwloc's CPUModel here: under qemu user-mode
        // emulation they describe the host. The cores come from MIDR_EL1, the features from hwcaps.
        let arm = ARMCPU.read(cpuinfo)
        let cpu = arm.name
        let signature = arm.signature
        let isa = arm.isaFeatures
        #else
        let cpu = MachineInfo.cpuModel(topo, cpuinfo)
        let signature = cpuinfo.signature
        let isa = cpuinfo.isaFeatures
        #endif
        let numa = topo.numaNodes.count
        let memory = topo.numaNodes.reduce(UInt64(0)) { $0 + $1.memoryBytes }
        let allowed = topo.pus.map(\.osIndex).sorted()
        let online = (try? String(contentsOfFile: "/sys/devices/system/cpu/online", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let blasConfig = OpenBLAS.config
        let identity = [
            cpu, arch, "packages \(topo.packages.count)", "numa \(numa)", "cores \(topo.cores.count)", "pus \(topo.pus.count)",
            "caches " + topo.caches.map { "\($0.name):\($0.sizeBytes):\($0.puOSIndexes.count)" }.joined(separator: ";"),
            "kinds " + topo.kinds.map { k in
                "\(k.efficiency):\(Topology.ranges(k.puOSIndexes)):\(k.info("CoreType") ?? "")"
            }.joined(separator: ";"),
            "isa " + isa.joined(separator: " "),
        ].joined(separator: "|")
        let (governor, frequency) = MachineInfo.frequencyState(allowed, cpuinfo)
        return MachineInfo(
            cpu: cpu, cpuSignature: signature, arch: arch, isaFeatures: isa, kernelISA: KernelISA.selected,
            packages: topo.packages.count,
            numaNodes: numa == 0 ? "0" : "\(numa) (\(Topology.bytes(memory)))",
            cores: topo.cores.count, pus: topo.pus.count, smtWidth: topo.smtWidth,
            caches: topo.cacheSummary, cpuKinds: topo.kindSummary,
            allowedPUs: Topology.ranges(allowed) + (online.map { " (online: \($0))" } ?? ""),
            threadBinding: probeBinding ? Pinner.probe(topo) : "not probed",
            kernel: { let u = MachineInfo.unameFields(); return "\(u.sysname) \(u.release)" }(),
            governor: governor, frequencyMHz: frequency,
            openBLASCore: OpenBLAS.coreName, openBLASVersion: MachineInfo.openBLASVersion(blasConfig),
            openBLASConfig: blasConfig,
            hwlocVersion: topo.info("hwlocVersion") ?? HWLOC_VERSION,
            swiftVersion: MachineInfo.swiftVersion, commit: MachineInfo.commit(),
            identity: identity)
    }

    /// `<cpu>-<arch>-<cores>c<pus>t-<hash>`, e.g. `amd-epyc-x86_64-2c2t-5be1c3a0`: readable in a
    /// folder listing, and distinct for machines that share a model name but differ in what
    /// the hash covers (model, arch, packages, NUMA nodes, cores, PUs, caches, CPU kinds, ISA
    /// features). Never frequency, governor, time, OS or software versions: those change on
    /// the same machine and are recorded per row instead. Counts are of the PUs this process
    /// may use, so a run confined to 4 cores of a 16-core box files apart from a full one.
    public var machineID: String {
        "\(MachineInfo.slug(cpu))-\(arch)-\(cores)c\(pus)t-\(MachineInfo.fnv1a(identity))"
    }

    /// Every field, in print order, with stable snake_case names (those shared with result
    /// rows use the rows' names: `machine_id`, `cpu`, `arch`, `commit`).
    public var fields: [(String, String)] {
        [
            ("machine_id", machineID), ("cpu", cpu), ("cpu_signature", cpuSignature), ("arch", arch),
            ("isa_features", isaFeatures.isEmpty ? "none detected" : isaFeatures.joined(separator: " ")),
            ("kernel_isa", "\(kernelISA) — \(kernelISA.summary)"),
            ("kernel_isas", KernelISA.supported.map(\.rawValue).joined(separator: " ")), ("packages", "\(packages)"), ("numa_nodes", numaNodes), ("cores", "\(cores)"),
            ("pus", "\(pus)"), ("smt", smtWidth > 1 ? "\(smtWidth) PUs per core" : "off"), ("caches", caches),
            ("cpu_kinds", cpuKinds), ("allowed_pus", allowedPUs), ("thread_binding", threadBinding), ("kernel", kernel),
            ("governor", governor), ("frequency_mhz", frequencyMHz), ("openblas_core", openBLASCore),
            ("openblas_version", openBLASVersion), ("openblas_config", openBLASConfig), ("hwloc_version", hwlocVersion),
            ("swift_version", swiftVersion), ("commit", commit),
        ]
    }

    /// How the C kernels are compiled (Package.swift's `optimise`; each ISA variant adds its
    /// target features, see `kernel_isa`).
    public static let cFlags = "clang -O3 -ffp-contract=fast -fno-math-errno"

    /// The machine columns of a result row (see `ResultColumns`).
    public var rowColumns: [(String, String)] {
        [("machine_id", machineID), ("arch", arch), ("cpu", cpu), ("commit", commit), ("os_kernel", kernel),
         ("compiler", "\(swiftVersion); C kernels \(MachineInfo.cFlags)")]
    }

    // MARK: Pieces

    /// The compiler that built this binary, from `#if compiler(...)`: it is what produced the
    /// code being measured, whereas `swift --version` at run time names whatever toolchain is on
    /// the PATH now (or none, on a machine that only runs the binary).
    public static let swiftVersion: String = {
        #if compiler(>=6.5)
        return "6.5 or later"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3.3)
        return "6.3.3"
        #elseif compiler(>=6.3.2)
        return "6.3.2"
        #elseif compiler(>=6.3.1)
        return "6.3.1"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()

    /// The commit of the checkout the running binary was built in: `git rev-parse --short HEAD`
    /// in the executable's folder (`.build/…` lies inside the checkout), `-dirty` when tracked
    /// files differ from it (results from uncommitted code are not reproducible from the hash
    /// alone); "unknown" for a binary outside a checkout (an installed copy) or without git.
    /// Not the current directory's: a run started in another repository (a user's own suites)
    /// recorded that repository's commit, and the CI gate, which runs the base commit's binary
    /// from the new checkout, labelled both sides with the new commit.
    public static func commit(executable: String? = MachineInfo.executablePath()) -> String {
        guard let executable else { return "unknown" }
        let folder = URL(fileURLWithPath: executable).deletingLastPathComponent().path
        guard let head = git("-C", folder, "rev-parse", "--short", "HEAD"), !head.isEmpty else { return "unknown" }
        // --no-optional-locks: never write the index of a tree others are working in.
        let changes = git("-C", folder, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no") ?? ""
        return changes.isEmpty ? head : head + "-dirty"
    }

    /// The running executable's path with symbolic links resolved (`/proc/self/exe` on Linux),
    /// so that a link to the binary still finds its checkout.
    public static func executablePath() -> String? {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return target }
        guard let first = CommandLine.arguments.first, first.contains("/") else { return nil }
        return URL(fileURLWithPath: first).resolvingSymlinksInPath().path
    }

    private static func git(_ args: String...) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// hwloc's CPUModel, else /proc/cpuinfo's model name, else the ARM core names decoded from
    /// implementer/part. (On arm64 `collect` uses `ARMCPU` instead: see there.)
    static func cpuModel(_ topo: Topology, _ cpuinfo: CPUInfo) -> String {
        if let m = topo.cpuModel?.trimmingCharacters(in: .whitespaces), !m.isEmpty { return m }
        if let m = cpuinfo.first("model name") ?? cpuinfo.first("Model name") { return m }
        let arm = cpuinfo.armCores
        if !arm.isEmpty {
            let board = cpuinfo.first("Hardware") ?? cpuinfo.first("Model")
            return (board.map { "\($0): " } ?? "") + arm.joined(separator: " + ")
        }
        return "unknown CPU"
    }

    /// Governors and current frequencies of the allowed PUs, from cpufreq in sysfs, falling
    /// back to /proc/cpuinfo's "cpu MHz" (VMs often have no cpufreq).
    static func frequencyState(_ pus: [Int], _ cpuinfo: CPUInfo) -> (governor: String, mhz: String) {
        func read(_ cpu: Int, _ file: String) -> String? {
            (try? String(contentsOfFile: "/sys/devices/system/cpu/cpu\(cpu)/cpufreq/\(file)", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var governors: [String] = []
        for g in pus.compactMap({ read($0, "scaling_governor") }) where !governors.contains(g) { governors.append(g) }
        let governor = governors.isEmpty ? "unavailable (no cpufreq in sysfs)" : governors.joined(separator: "/")
        var mhz = pus.compactMap { read($0, "scaling_cur_freq").flatMap(Double.init) }.map { $0 / 1000 }
        var from = ""
        if mhz.isEmpty {
            mhz = cpuinfo.all("cpu MHz").compactMap(Double.init)
            from = " (/proc/cpuinfo)"
        }
        guard let lo = mhz.min(), let hi = mhz.max() else { return (governor, "unavailable") }
        let text = abs(hi - lo) < 1 ? String(format: "%.0f", lo) : String(format: "%.0f-%.0f", lo, hi)
        return (governor, text + from)
    }

    static func openBLASVersion(_ config: String) -> String {
        let words = config.split(separator: " ")
        guard let i = words.firstIndex(of: "OpenBLAS"), i + 1 < words.count else { return "unknown" }
        return String(words[i + 1])
    }

    static func unameFields() -> (sysname: String, release: String, machine: String) {
        var u = utsname()
        guard uname(&u) == 0 else { return ("unknown", "unknown", "unknown") }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return (text(u.sysname), text(u.release), text(u.machine))
    }

    /// A folder-safe, frequency-free short name: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
    /// → "intel-xeon-gold-6338".
    static func slug(_ model: String) -> String {
        var s = model.lowercased()
        if let at = s.firstIndex(of: "@") { s = String(s[..<at]) }
        for noise in ["(r)", "(tm)", " cpu", " processor"] { s = s.replacingOccurrences(of: noise, with: " ") }
        s = s.replacingOccurrences(of: #"\b\d+(\.\d+)?\s*[gm]hz\b"#, with: " ", options: .regularExpression)
        let words = s.split { !($0.isASCII && ($0.isLetter || $0.isNumber)) }
        let slug = words.joined(separator: "-")
        return slug.isEmpty ? "cpu" : String(slug.prefix(40)).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
    }

    /// FNV-1a, 32 bits in hex: deterministic across runs and platforms (Swift's Hasher is seeded
    /// per process, so it cannot name folders).
    static func fnv1a(_ text: String) -> String {
        var h: UInt32 = 0x811C_9DC5
        for b in text.utf8 { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return String(format: "%08x", h)
    }
}

/// /proc/cpuinfo as records of key/value pairs (one per processor; ARM adds a trailer).
struct CPUInfo {
    var records: [[(String, String)]]

    /// The file as the running architecture can trust it: on arm64, only an ARM file (qemu's
    /// user-mode emulation passes the host's through, an x86 one with `model name`, `flags` and
    /// `cpu MHz` that describe another CPU), else nothing.
    static func read(path: String = "/proc/cpuinfo") -> CPUInfo {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return CPUInfo(records: []) }
        let info = CPUInfo(text)
        #if arch(arm64)
        guard info.isARM else { return CPUInfo(records: []) }
        #endif
        return info
    }

    /// Whether the file is an ARM kernel's (implementer/part or `Features`, no x86 `flags`).
    var isARM: Bool { first("flags") == nil && (first("CPU implementer") != nil || first("Features") != nil) }

    init(records: [[(String, String)]]) { self.records = records }

    init(_ text: String) {
        records = text.components(separatedBy: "\n\n").map { block in
            block.split(separator: "\n").compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (line[..<colon].trimmingCharacters(in: .whitespaces),
                        line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
        }.filter { !$0.isEmpty }
    }

    func first(_ key: String) -> String? { all(key).first }

    func all(_ key: String) -> [String] { records.flatMap { $0.filter { $0.0 == key }.map(\.1) } }

    /// "family 26 model 2 stepping 1 (Zen 5)" on x86, "implementer 0x41 part 0xd0c" on ARM.
    var signature: String {
        if let f = first("cpu family").flatMap(Int.init), let m = first("model").flatMap(Int.init) {
            var s = "family \(f) model \(m)" + (first("stepping").map { " stepping \($0)" } ?? "")
            if first("vendor_id") == "AuthenticAMD", let gen = CPUInfo.amdGeneration(family: f, model: m) { s += " (\(gen))" }
            return s
        }
        if let i = first("CPU implementer"), let p = first("CPU part") { return "implementer \(i) part \(p)" }
        return "unknown"
    }

    /// AMD's core generation from family and model (AMD's published family/model ranges).
    static func amdGeneration(family: Int, model: Int) -> String? {
        switch (family, model) {
        case (23, 0x00...0x2F): return "Zen / Zen+"
        case (23, 0x30...0xFF): return "Zen 2"
        case (25, 0x00...0x0F), (25, 0x20...0x5F): return "Zen 3"
        case (25, 0x10...0x1F), (25, 0x60...0xAF): return "Zen 4"
        case (26, _): return "Zen 5"
        default: return nil
        }
    }

    /// x86 `flags` or ARM `Features` of the first processor, mapped to the names people use.
    /// Both are read on every architecture: the file says which it is.
    var isaFeatures: [String] { CPUInfo.isaFeatures(flags: first("flags") ?? first("Features") ?? "") }

    /// Space-separated kernel flag names (x86 `flags`, ARM `Features` or hwcaps) mapped to the
    /// names people use, in `featureNames` order.
    static func isaFeatures(flags text: String) -> [String] {
        let flags = Set(text.split(separator: " ").map(String.init))
        return featureNames.filter { flags.contains($0.flag) }.map(\.name)
    }

    static let featureNames: [(flag: String, name: String)] = [
        // x86-64
        ("sse4_2", "SSE4.2"), ("avx", "AVX"), ("avx2", "AVX2"), ("fma", "FMA"), ("f16c", "F16C"),
        ("avx_vnni", "AVX-VNNI"), ("avx512f", "AVX-512F"), ("avx512bw", "AVX-512BW"), ("avx512vl", "AVX-512VL"),
        ("avx512_vnni", "AVX512-VNNI"), ("avx512_bf16", "AVX512-BF16"), ("avx512_fp16", "AVX512-FP16"),
        ("amx_bf16", "AMX-BF16"), ("amx_int8", "AMX-INT8"),
        // AArch64
        ("asimd", "NEON"), ("asimdhp", "NEON-FP16"), ("asimddp", "DotProd"), ("i8mm", "I8MM"), ("bf16", "BF16"),
        ("sve", "SVE"), ("sve2", "SVE2"), ("sme", "SME"),
    ]

    /// Distinct ARM cores named from `CPU implementer` / `CPU part`, in processor order.
    var armCores: [String] { MIDR.distinctNames(midrs) }

    /// Each processor's MIDR_EL1, rebuilt from its `CPU implementer` / `variant` / `part` /
    /// `revision` lines (records without implementer and part are skipped).
    var midrs: [MIDR] {
        records.compactMap { r in
            func field(_ key: String) -> UInt64? {
                guard let v = r.first(where: { $0.0 == key })?.1 else { return nil }
                return v.hasPrefix("0x") ? UInt64(v.dropFirst(2), radix: 16) : UInt64(v)
            }
            guard let impl = field("CPU implementer"), let part = field("CPU part") else { return nil }
            return MIDR(implementer: impl, variant: field("CPU variant") ?? 0, part: part, revision: field("CPU revision") ?? 0)
        }
    }

    static let armImplementers = ["0x41": "ARM", "0x42": "Broadcom", "0x48": "HiSilicon", "0x4e": "NVIDIA", "0x51": "Qualcomm",
                                  "0x61": "Apple", "0xc0": "Ampere"]
    static let armPartNames = [
        "0x41/0xd03": "Cortex-A53", "0x41/0xd04": "Cortex-A35", "0x41/0xd05": "Cortex-A55", "0x41/0xd07": "Cortex-A57",
        "0x41/0xd08": "Cortex-A72", "0x41/0xd09": "Cortex-A73", "0x41/0xd0a": "Cortex-A75", "0x41/0xd0b": "Cortex-A76",
        "0x41/0xd0c": "Neoverse-N1", "0x41/0xd0d": "Cortex-A77", "0x41/0xd40": "Neoverse-V1", "0x41/0xd41": "Cortex-A78",
        "0x41/0xd44": "Cortex-X1", "0x41/0xd46": "Cortex-A510", "0x41/0xd47": "Cortex-A710", "0x41/0xd48": "Cortex-X2",
        "0x41/0xd49": "Neoverse-N2", "0x41/0xd4d": "Cortex-A715", "0x41/0xd4e": "Cortex-X3", "0x41/0xd4f": "Neoverse-V2",
        "0x41/0xd80": "Cortex-A520", "0x41/0xd81": "Cortex-A720", "0x41/0xd82": "Cortex-X4", "0xc0/0xac3": "Ampere-1",
    ]
}

/// An ARM core's Main ID Register (MIDR_EL1): who designed the core (implementer), which core it
/// is (part number) and its revision (variant = major, revision = minor, as in "r3p1").
struct MIDR: Equatable, Sendable {
    var value: UInt64

    init(_ value: UInt64) { self.value = value }

    init(implementer: UInt64, variant: UInt64, part: UInt64, revision: UInt64) {
        value = (implementer & 0xFF) << 24 | (variant & 0xF) << 20 | 0xF << 16 | (part & 0xFFF) << 4 | (revision & 0xF)
    }

    var implementer: Int { Int(value >> 24 & 0xFF) }
    var variant: Int { Int(value >> 20 & 0xF) }
    var part: Int { Int(value >> 4 & 0xFFF) }
    var revision: Int { Int(value & 0xF) }

    private var implementerHex: String { String(format: "0x%02x", implementer) }
    private var partHex: String { String(format: "0x%03x", part) }

    /// "Neoverse-N1", or "Qualcomm part 0x804" / "implementer 0x99 part 0x123" for parts not in
    /// the table.
    var coreName: String {
        CPUInfo.armPartNames[implementerHex + "/" + partHex]
            ?? "\(CPUInfo.armImplementers[implementerHex] ?? "implementer \(implementerHex)") part \(partHex)"
    }

    /// "implementer 0x41 part 0xd0c r3p1".
    var signature: String { "implementer \(implementerHex) part \(partHex) r\(variant)p\(revision)" }

    /// Distinct core names in CPU order (big.LITTLE boards have two or three).
    static func distinctNames(_ midrs: [MIDR]) -> [String] {
        var out: [String] = []
        for m in midrs where !out.contains(m.coreName) { out.append(m.coreName) }
        return out
    }
}

/// What an ARM machine says about its CPU, from sources that describe the ARM CPU even under qemu
/// user-mode emulation (where /proc/cpuinfo is the host's): MIDR_EL1 per CPU from sysfs, else the
/// implementer/part lines of an ARM /proc/cpuinfo, else the register itself (`mrs`, which Linux
/// and qemu emulate for user space); ISA features from the hwcaps of the auxiliary vector.
struct ARMCPU: Sendable {
    /// One MIDR per CPU, in CPU order; empty when no source could be read.
    var midrs: [MIDR]
    /// The board, from an ARM /proc/cpuinfo's `Hardware` or `Model` line (phones, Raspberry Pis).
    var board: String?
    /// Kernel names of the features (hwcaps), e.g. "fp asimd ... asimddp sve".
    var featureFlags: String

    /// "Neoverse-N1", "Raspberry Pi 4 Model B Rev 1.4: Cortex-A72", "Cortex-A55 + Cortex-A76";
    /// "unknown ARM CPU" when nothing ARM-side could be read (never another machine's name).
    var name: String {
        let cores = MIDR.distinctNames(midrs)
        guard !cores.isEmpty else { return (board.map { "\($0): " } ?? "") + "unknown ARM CPU" }
        return (board.map { "\($0): " } ?? "") + cores.joined(separator: " + ")
    }

    /// Each distinct core's `MIDR.signature`, joined with " + "; "unknown" without a MIDR.
    var signature: String {
        var out: [String] = []
        for m in midrs where !out.contains(m.signature) { out.append(m.signature) }
        return out.isEmpty ? "unknown" : out.joined(separator: " + ")
    }

    var isaFeatures: [String] { CPUInfo.isaFeatures(flags: featureFlags) }

    /// This machine's (meant for arm64; elsewhere the sysfs files and hwcaps are absent).
    /// `cpuinfo` is `CPUInfo.read()`, which on arm64 is empty unless it is an ARM file.
    static func read(_ cpuinfo: CPUInfo, sysfs: String = "/sys/devices/system/cpu") -> ARMCPU {
        var midrs = midrsFromSysfs(sysfs)
        if midrs.isEmpty { midrs = cpuinfo.midrs }
        if midrs.isEmpty, case let m = vb_cpu_midr(), m != 0 { midrs = [MIDR(m)] }
        var flags = String(cString: vb_cpu_hwcap_features())
        if flags.isEmpty, cpuinfo.isARM { flags = cpuinfo.first("Features") ?? "" }
        let board = cpuinfo.isARM ? cpuinfo.first("Hardware") ?? cpuinfo.first("Model") : nil
        return ARMCPU(midrs: midrs, board: board, featureFlags: flags)
    }

    /// `cpuN/regs/identification/midr_el1` of every CPU under `dir` that has one, by N.
    static func midrsFromSysfs(_ dir: String) -> [MIDR] {
        let cpus = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap { name -> Int? in
            name.hasPrefix("cpu") ? Int(name.dropFirst(3)) : nil
        }.sorted()
        return cpus.compactMap { n in
            guard let text = try? String(contentsOfFile: "\(dir)/cpu\(n)/regs/identification/midr_el1", encoding: .utf8)
            else { return nil }
            let hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return UInt64(hex.hasPrefix("0x") ? String(hex.dropFirst(2)) : hex, radix: 16).map(MIDR.init)
        }
    }
}
