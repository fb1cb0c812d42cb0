import CBLAS
import Foundation

/// The BLAS libraries a run can put behind the engine's matrix products, loaded at run time:
/// OpenBLAS (linked, as the `packed` and `openblas` backends use it), BLIS and the reference
/// (netlib) BLAS, each through its own `cblas_sgemm` found with `dlsym` in a library opened
/// `RTLD_LOCAL | RTLD_DEEPBIND` — the libraries export the same symbol names, so they never meet
/// in one link, and each library's calls stay inside it.
public enum BLASLibrary: String, CaseIterable, Sendable {
    case openblas, blis, netlib

    /// Where Debian and Ubuntu install each library (multiarch directory), and the package that
    /// brings it: what the error says when it is missing.
    var candidates: [String] {
        let dir = "/usr/lib/\(BLASLibrary.multiarch)"
        switch self {
        case .openblas: return ["libopenblas.so.0"]
        case .blis: return ["libblis.so.4", "\(dir)/libblis.so.4", "libblis.so"]
        case .netlib: return ["\(dir)/blas/libblas.so.3", "/usr/lib64/libblas.so.3"]
        }
    }

    public var package: String {
        switch self {
        case .openblas: return "libopenblas-dev"
        case .blis: return "libblis-dev"
        case .netlib: return "libblas-dev"
        }
    }

    static var multiarch: String {
        #if arch(x86_64)
        return "x86_64-linux-gnu"
        #elseif arch(arm64)
        return "aarch64-linux-gnu"
        #else
        return ""
        #endif
    }

    /// glibc's RTLD_DEEPBIND: the library's own references (netlib's and BLIS's `cblas_sgemm`
    /// call their `sgemm_`) bind inside it first. Without it they bound to the `sgemm_` of the
    /// OpenBLAS this process links, and every "BLIS" and "netlib" product ran OpenBLAS — the
    /// three backends measured within 2% of each other.
    static let deepBind: Int32 = 0x0008

    nonisolated(unsafe) private static var loaded: [BLASLibrary: GEMMBackend] = [:]
    private static let lock = NSLock()

    /// The library's GEMM, opened once per process. Throws a sentence naming the package to
    /// install when it is not on this machine.
    public func load() throws -> GEMMBackend {
        if self == .openblas { return OpenBLASGEMM() }
        BLASLibrary.lock.lock()
        defer { BLASLibrary.lock.unlock() }
        if let g = BLASLibrary.loaded[self] { return g }
        var reasons: [String] = []
        for path in candidates {
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | BLASLibrary.deepBind) else {
                reasons.append(String(cString: dlerror()))
                continue
            }
            guard let symbol = dlsym(handle, "cblas_sgemm") else {
                reasons.append("\(path) has no cblas_sgemm")
                dlclose(handle)
                continue
            }
            let g = LoadedBLAS(library: self, handle: handle, path: path, sgemm: unsafeBitCast(symbol, to: LoadedBLAS.SGEMM.self))
            BLASLibrary.loaded[self] = g
            return g
        }
        throw BLASLibraryError(message: "\(rawValue) BLAS is not installed here (\(reasons.first ?? "not found")); install it with: apt-get install \(package)")
    }
}

public struct BLASLibraryError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// A `cblas_sgemm` from a library opened at run time. Threads inside one call: one, as with
/// OpenBLAS (the engine parallelises around the calls; BLIS reads `BLIS_NUM_THREADS`, default 1).
public final class LoadedBLAS: GEMMBackend, @unchecked Sendable {
    typealias SGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                                      UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    public let library: BLASLibrary
    public let path: String
    private let handle: UnsafeMutableRawPointer
    private let call: SGEMM
    public var name: String { library.rawValue }

    init(library: BLASLibrary, handle: UnsafeMutableRawPointer, path: String, sgemm: SGEMM) {
        self.library = library
        self.handle = handle
        self.path = path
        self.call = sgemm
    }

    /// "BLIS 0.9.0 zen3", "netlib BLAS 3.11.0": version and kernel configuration where the
    /// library says them, else the version in the file name of the library it resolved to.
    public var identity: String {
        if library == .blis,
           let version = dlsym(handle, "bli_info_get_version_str").map({ unsafeBitCast($0, to: (@convention(c) () -> UnsafePointer<CChar>?).self) }),
           let query = dlsym(handle, "bli_arch_query_id"), let string = dlsym(handle, "bli_arch_string") {
            let id = unsafeBitCast(query, to: (@convention(c) () -> Int32).self)()
            let arch = unsafeBitCast(string, to: (@convention(c) (Int32) -> UnsafePointer<CChar>?).self)(id)
            return "BLIS \(version().map { String(cString: $0) } ?? "?") \(arch.map { String(cString: $0) } ?? "?")"
        }
        let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? path
        let version = URL(fileURLWithPath: resolved).lastPathComponent.components(separatedBy: ".so.").last ?? "?"
        return "\(library == .netlib ? "netlib BLAS" : library.rawValue) \(version)"
    }

    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        // CBLAS's enums: CblasRowMajor 101, CblasNoTrans 111, CblasTrans 112.
        call(101, transA ? 112 : 111, transB ? 112 : 111, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
             beta, c, Int32(ldc))
    }
}
