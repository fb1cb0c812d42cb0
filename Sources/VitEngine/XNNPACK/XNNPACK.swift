import CXNNPACK
import Foundation

/// XNNPACK — the operator library TensorFlow Lite runs on ARM and x86 CPUs — opened at run time
/// behind the `xnnpack` backend: convolutions, fully-connected layers, pooling and elementwise
/// ops run through its operators, the rest of the network on vitbench's kernels. The build never
/// needs it; where it is missing, the backend is an error naming the package.
public enum XNNPACK {
    /// The Debian/Ubuntu package whose operator API the backend calls (XNNPACK of 2022, the
    /// create/setup/run interface).
    public static let package = "libxnnpack-dev"

    /// Opens and initialises the library once per process; throws a sentence saying what to
    /// install when it cannot.
    public static func load() throws {
        var buffer = [CChar](repeating: 0, count: 512)
        if vx_load(&buffer, buffer.count) != 0 {
            let why = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw BLASLibraryError(message: "XNNPACK is not available here (\(why)); install it with: apt-get install \(package)")
        }
    }

    /// "XNNPACK 0.0~git20220216.ae108ef-2 (/usr/lib/x86_64-linux-gnu/libXNNPACK.so.0)": the
    /// library has no version call, so the version is the package manager's, and the file is
    /// the one this process mapped. Read once per process: every row of a run records it.
    public static let identity: String = {
        guard (try? load()) != nil else { return "XNNPACK (not loaded)" }
        let file = mappedPath() ?? String(cString: vx_library_path())
        let version = debianVersion(of: "libxnnpack0") ?? "version unknown"
        return "XNNPACK \(version) (\(file))"
    }()

    private static func mappedPath() -> String? {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return nil }
        for line in maps.split(separator: "\n") where line.contains("libXNNPACK") {
            if let slash = line.firstIndex(of: "/") { return String(line[slash...]) }
        }
        return nil
    }

    private static func debianVersion(of package: String) -> String? {
        guard let status = try? String(contentsOfFile: "/var/lib/dpkg/status", encoding: .utf8) else { return nil }
        for stanza in status.components(separatedBy: "\n\n") where stanza.hasPrefix("Package: \(package)\n") {
            for line in stanza.split(separator: "\n") where line.hasPrefix("Version: ") {
                return String(line.dropFirst("Version: ".count))
            }
        }
        return nil
    }
}

/// XNNPACK's thread pool for one plan. One thread: none (XNNPACK runs on the calling thread,
/// pinned as the engine's worker 0 is). More: a pthreadpool of that many threads, the caller
/// among them, its other threads confined to the PUs the engine's pool was pinned to — XNNPACK
/// places its own threads, so they are confined, not one per PU.
public final class XNNPACKThreads: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer?
    public let threads: Int

    init(alongside pool: ThreadPool) throws {
        try XNNPACK.load()
        let count = pool.threadCount
        threads = count
        if count == 1 {
            handle = nil
        } else {
            let peers = pool.workerThreads
            handle = peers.withUnsafeBufferPointer { vx_threadpool_create_confined(count, $0.baseAddress, $0.count) }
            guard handle != nil else { throw BLASLibraryError(message: "XNNPACK could not start \(count) threads") }
        }
    }

    deinit { vx_threadpool_destroy(handle) }
}

/// One XNNPACK operator, created with its weights and set up on a plan's pointers once; running
/// it is a forward pass of the step. Deleted with the last closure that holds it.
final class XNNPACKOperator: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    let threads: XNNPACKThreads

    /// `create` makes the operator; `setup` binds it to its pointers. A status other than
    /// success is a plan error naming what XNNPACK refused.
    init(_ what: String, threads: XNNPACKThreads, create: (UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Int32,
         setup: (UnsafeMutableRawPointer, UnsafeMutableRawPointer?) -> Int32) throws {
        var op: UnsafeMutableRawPointer?
        let created = create(&op)
        guard created == 0, let op else { throw ShapeError("XNNPACK refused to create \(what): \(Self.describe(created))") }
        handle = op
        self.threads = threads
        let status = setup(op, threads.handle)
        guard status == 0 else {
            vx_delete(op)
            throw ShapeError("XNNPACK refused to set up \(what): \(Self.describe(status))")
        }
    }

    deinit { vx_delete(handle) }

    @inline(__always) func run() {
        let status = vx_run(handle, threads.handle)
        precondition(status == 0, "xnn_run_operator failed with status \(status)")
    }

    static func describe(_ status: Int32) -> String {
        switch status {
        case 1: return "XNNPACK is not initialised"
        case 2: return "invalid parameter"
        case 3: return "invalid state"
        case 4: return "unsupported parameter"
        case 5: return "unsupported hardware"
        case 6: return "out of memory"
        default: return "status \(status)"
        }
    }
}

/// An operator that XNNPACK can run. `bindXNNPACK` returns nil where XNNPACK has no operator
/// for this instance (the engine's kernel runs it instead), and throws where XNNPACK refuses
/// one it should take.
protocol XNNPACKDelegable {
    func bindXNNPACK(_ context: StepContext, threads: XNNPACKThreads) throws -> (() -> Void)?
}
