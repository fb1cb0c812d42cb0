import CBLAS

/// Every matrix product in the engine goes through this one interface, so that BLAS libraries
/// (OpenBLAS, BLIS, a reference BLAS) or a hand-written GEMM can be swapped and compared.
/// Row-major: C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C.
public protocol GEMMBackend: AnyObject, Sendable {
    var name: String { get }
    /// Library, version and kernel configuration ("OpenBLAS 0.3.21 Haswell"): what a result row
    /// records in its `blas` column.
    var identity: String { get }
    func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
               a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
               beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int)
}

/// OpenBLAS's `cblas_sgemm`. The engine calls it from its own workers, one call per tile, with
/// OpenBLAS's internal threading off (see `OpenBLAS.setThreads`), unless a run asks for
/// OpenBLAS's own threads instead.
public final class OpenBLASGEMM: GEMMBackend, @unchecked Sendable {
    public let name = "openblas"
    public init() {}
    public var identity: String {
        "OpenBLAS \(OpenBLAS.config.split(separator: " ").dropFirst().first.map(String.init) ?? "?") \(OpenBLAS.coreName)"
    }
    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// Triple loop, accumulating in Double: the oracle every GEMM path is tested against.
public final class ReferenceGEMM: GEMMBackend, @unchecked Sendable {
    public let name = "reference"
    public init() {}
    public var identity: String { "none (triple loop)" }
    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var acc = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    acc += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * Float(acc) + old
            }
        }
    }
}

/// Which implementation of each operator a plan binds.
public enum KernelSet: String, Sendable, CaseIterable {
    /// Vectorised C kernels and tiled GEMM calls: what latency is measured with.
    case optimized
    /// Plain loops written for clarity, independent of the optimised ones: the oracle.
    case reference
}

/// The backends a user can name (`--backend`, a suite's `backends:`), parsed once where the
/// text enters and carried typed to the row, which writes the raw value.
public enum BackendName: String, CaseIterable, Codable, Sendable {
    case packed, openblas, blis, netlib, xnnpack, reference
    /// Production runtimes, timed out of process on vitbench's ONNX export of the same network
    /// (`ExternalRuntime` in the harness): `bench` and `run` measure them; the engine's own
    /// commands (`infer`, `profile`, `kernels`) do not run them.
    case onnxruntime, openvino

    /// Whether the backend is a runtime other than vitbench's engine.
    public var isExternalRuntime: Bool { self == .onnxruntime || self == .openvino }

    /// The name as typed, or an error listing the valid ones.
    public init(parsing text: String) throws {
        guard let name = BackendName(rawValue: text.lowercased()) else {
            throw BLASLibraryError(message: "unknown backend '\(text)'; known: \(Backend.names.joined(separator: ", "))")
        }
        self = name
    }
}

/// A kernel set plus a GEMM: what `--backend` names.
public struct Backend: Sendable {
    public let name: String
    public let kernels: KernelSet
    /// Products whose operands both change per run (attention) — and every product unless
    /// `packsWeights`.
    public let gemm: GEMMBackend
    /// Products with a constant right-hand side (1x1 convs, linears, im2col convs) use the
    /// engine's packed-weight micro-kernels (`vb_gemm_packed`): weights packed once per plan,
    /// activations read in place.
    public let packsWeights: Bool
    /// Operators XNNPACK also has (convolutions, linears, pooling, elementwise) run through
    /// XNNPACK's operators; the plan's step kinds say which ("xnnpack:conv2d.1x1").
    public let delegatesToXNNPACK: Bool
    public let summary: String

    public init(name: String, kernels: KernelSet, gemm: GEMMBackend, packsWeights: Bool = false,
                delegatesToXNNPACK: Bool = false, summary: String) {
        self.name = name
        self.kernels = kernels
        self.gemm = gemm
        self.packsWeights = packsWeights
        self.delegatesToXNNPACK = delegatesToXNNPACK
        self.summary = summary
    }

    public static let openblas = Backend(
        name: "openblas", kernels: .optimized, gemm: OpenBLASGEMM(),
        summary: "optimised kernels; every matrix product through OpenBLAS cblas_sgemm")
    public static let packed = Backend(
        name: "packed", kernels: .optimized, gemm: OpenBLASGEMM(), packsWeights: true,
        summary: "optimised kernels; weight products through packed-weight micro-kernels, the rest through OpenBLAS")
    public static let reference = Backend(
        name: "reference", kernels: .reference, gemm: ReferenceGEMM(),
        summary: "plain-loop oracles and a triple-loop GEMM (slow; for checking)")

    /// The optimised kernels with every product through a BLAS loaded at run time (BLIS, the
    /// reference netlib BLAS): the same network and kernels, another GEMM.
    public static func loaded(_ library: BLASLibrary) throws -> Backend {
        Backend(name: library.rawValue, kernels: .optimized, gemm: try library.load(),
                summary: "optimised kernels; every matrix product through \(library.rawValue)'s cblas_sgemm (loaded at run time)")
    }

    /// XNNPACK's operators wherever it has them, the rest as `packed` runs it. Throws, naming
    /// the package, where XNNPACK is not installed.
    public static func xnnpack() throws -> Backend {
        try XNNPACK.load()
        return Backend(name: "xnnpack", kernels: .optimized, gemm: OpenBLASGEMM(), packsWeights: true,
                       delegatesToXNNPACK: true,
                       summary: "XNNPACK's operators for convolutions, linears, pooling and elementwise ops (loaded at run time); the rest as packed")
    }

    /// The runtime that executes the network, with its version where it is not vitbench's own
    /// engine: what a result row records in its `runtime` column.
    public var runtime: String { delegatesToXNNPACK ? XNNPACK.identity : "vitbench" }

    /// Every backend a user can name; `blis` and `netlib` need their library (`BLASLibrary`),
    /// `xnnpack` needs XNNPACK.
    public static let names = BackendName.allCases.map(\.rawValue)

    /// What runs unless a backend is named: the fastest measured (README, "Backends").
    public static let `default` = Backend.packed

    /// The backend called `name`; an unknown name, or a BLAS library this machine lacks, is an
    /// error that says what to do.
    public static func named(_ name: String) throws -> Backend {
        try named(BackendName(parsing: name))
    }

    /// The backend called `name`; a library this machine lacks is an error naming its package.
    public static func named(_ name: BackendName) throws -> Backend {
        switch name {
        case .packed: return .packed
        case .openblas: return .openblas
        case .reference: return .reference
        case .blis: return try loaded(.blis)
        case .netlib: return try loaded(.netlib)
        case .xnnpack: return try xnnpack()
        case .onnxruntime, .openvino:
            throw BLASLibraryError(message: "\(name.rawValue) is a runtime of its own, not a backend of vitbench's engine: "
                                   + "`vitbench bench` and suites measure it; this command runs the engine")
        }
    }
}

/// OpenBLAS's runtime controls and identity.
public enum OpenBLAS {
    /// Threads OpenBLAS itself may start inside one `sgemm` call. The engine runs with 1 and
    /// parallelises around the calls, so that the harness's pinning holds for all the work; a
    /// run that asks for OpenBLAS's own threads calls this with more (and a 1-worker pool).
    public static func setThreads(_ n: Int) {
        configured = true
        openblas_set_num_threads(Int32(n))
    }

    /// Threads OpenBLAS may start inside one call now.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    nonisolated(unsafe) private static var configured = false

    /// Called whenever a plan is built: OpenBLAS's default (one thread per core) would
    /// oversubscribe the engine's own workers.
    static func defaultToSingleThread() {
        if !configured { setThreads(1) }
    }
    public static var coreName: String { String(cString: openblas_get_corename()) }
    public static var config: String { String(cString: openblas_get_config()) }
}
