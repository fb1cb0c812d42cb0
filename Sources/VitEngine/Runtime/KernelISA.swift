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
