import CKernels

/// An instruction-set variant of the engine's C kernels. Every kernel is compiled once per variant
/// the architecture has (x86-64: `avx512`, `avx2`, `baseline`; ARM64: `neon`; anything else:
/// `portable`); the best one the CPU supports runs unless a run forces another, so that one
/// machine can measure — and the tests can check — every path it is able to run.
///
/// The choice is process-wide (the C dispatcher's table), and covers the engine's kernels only:
/// OpenBLAS picks its own kernels for the CPU (`OPENBLAS_CORETYPE` forces those).
public enum KernelISA: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case avx512, avx2, baseline, neon, portable

    var c: vb_isa {
        switch self {
        case .avx512: return VB_ISA_AVX512
        case .avx2: return VB_ISA_AVX2
        case .baseline: return VB_ISA_BASELINE
        case .neon: return VB_ISA_NEON
        case .portable: return VB_ISA_PORTABLE
        }
    }

    init(_ c: vb_isa) {
        self = KernelISA.allCases.first { $0.c == c } ?? .portable
    }

    /// Whether this build has the variant and this CPU can run it.
    public var isSupported: Bool { vb_isa_supported(c) != 0 }

    /// e.g. "x86-64-v4 (AVX-512)".
    public var summary: String { String(cString: vb_isa_description(c)) }

    public var description: String { rawValue }

    /// The variants this machine can run, fastest first.
    public static var supported: [KernelISA] { allCases.filter(\.isSupported) }

    /// What runs by default here.
    public static var best: KernelISA { KernelISA(vb_isa_best()) }

    /// What runs now.
    public static var selected: KernelISA { KernelISA(vb_isa_selected()) }

    /// Parses a name from the command line or a suite; unknown names and variants this machine
    /// cannot run are errors that list what it can.
    public init(parsing text: String) throws {
        guard let isa = KernelISA(rawValue: text.lowercased()) else {
            throw KernelISAError(message: "unknown kernel ISA '\(text)'; known: \(KernelISA.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard isa.isSupported else { throw KernelISAError.unsupported(isa) }
        self = isa
    }

    /// Makes every kernel call run this variant from now on (all threads). Not while a plan runs.
    public func select() throws {
        guard vb_isa_select(c) == 0 else { throw KernelISAError.unsupported(self) }
    }

    /// Runs `body` with this variant selected, then restores the previous one.
    public func whileSelected<T>(_ body: () throws -> T) throws -> T {
        let previous = KernelISA.selected
        try select()
        defer { _ = vb_isa_select(previous.c) }
        return try body()
    }
}

public struct KernelISAError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }

    static func unsupported(_ isa: KernelISA) -> KernelISAError {
        KernelISAError(message: "kernel ISA '\(isa.rawValue)' cannot run on this machine; it runs: \(KernelISA.supported.map(\.rawValue).joined(separator: ", "))")
    }
}

/// OpenBLAS beside a forced variant. OpenBLAS picks its kernels once, as it loads, for the CPU
/// it finds (`OPENBLAS_CORETYPE` overrides the choice, and is read then only). A run that forces
/// a narrower variant of the engine's kernels (`--isa avx2` on an AVX-512 CPU) measures what a
/// CPU of that level runs only if OpenBLAS's kernels are no wider: beside the baseline kernels,
/// `--backend openblas` ran MobileOne-S0 in 10.0 ms on OpenBLAS's Cooperlake (AVX-512) kernels
/// and in 17.0–18.1 ms on its Prescott (SSE3) ones, which are what a CPU without AVX runs (Zen 4,
/// 1 thread, interleaved suites within one hour), and `openblas` looked twice as fast as
/// `packed` there. The commands pair them (`vitbench` re-runs itself with `OPENBLAS_CORETYPE`
/// set); a suite that mixes variants in one process notes each row where they differ.
extension KernelISA {
    /// The OpenBLAS core type whose kernels are as wide as this variant's: SkylakeX's AVX-512,
    /// Haswell's AVX2 + FMA, and Prescott's SSE3 (the oldest x86-64 core OpenBLAS has; SSE2 is
    /// the baseline's level). Nil for `neon` and `portable`: OpenBLAS's ARM64 cores all use NEON.
    public var openBLASCore: String? {
        switch self {
        case .avx512: return "SkylakeX"
        case .avx2: return "Haswell"
        case .baseline:
            #if arch(x86_64)
            return "Prescott"
            #else
            return nil
            #endif
        case .neon, .portable: return nil
        }
    }

    /// The x86-64 instruction-set level this variant compiles for: 0 SSE, 1 AVX, 2 AVX2 + FMA,
    /// 3 AVX-512.
    public var vectorLevel: Int? {
        switch self {
        case .avx512: return 3
        case .avx2: return 2
        case .baseline: return 0
        case .neon, .portable: return nil
        }
    }

    /// The core OpenBLAS must be forced to (`OPENBLAS_CORETYPE`) so that its kernels are no
    /// wider than this variant's, where the core it runs, `current`, is wider; nil where it is not,
    /// or where either width is unknown (a core name this table lacks, ARM64).
    public func openBLASCoreToPair(current: String) -> String? {
        guard let core = openBLASCore, let mine = vectorLevel,
              let theirs = OpenBLAS.vectorLevel(ofCore: current), theirs > mine else { return nil }
        return core
    }
}

extension OpenBLAS {
    /// The x86-64 instruction-set level of an OpenBLAS core's kernels (names as
    /// `openblas_get_corename` gives them, any case; the scale of `KernelISA.vectorLevel`), nil
    /// for a name not listed.
    public static func vectorLevel(ofCore name: String) -> Int? {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return 3
        case "haswell", "zen": return 2
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": return 1
        case "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn", "dunnington",
             "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat": return 0
        default: return nil
        }
    }

    /// The environment variable OpenBLAS reads, as it loads, to override its choice of core.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
}

extension KernelISA {
    /// Where OpenBLAS runs wider kernels than this variant's — its core chosen by the user's
    /// `OPENBLAS_CORETYPE`, by a build that cannot switch cores, or for another variant of the
    /// same suite — the note a result carries; nil where they are paired.
    public var openBLASMismatch: String? {
        let current = OpenBLAS.coreName
        guard let core = openBLASCoreToPair(current: current) else { return nil }
        return "OpenBLAS ran its \(current) kernels beside the engine's \(self) ones; a CPU of that level would run its "
            + "\(core) kernels (\(OpenBLAS.coreTypeVariable)=\(core), which vitbench sets where a command runs one kernel ISA)"
    }
}
