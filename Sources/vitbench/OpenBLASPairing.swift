import Foundation
import VitEngine

/// Runs OpenBLAS at the level of a forced kernel ISA (see `KernelISA.openBLASCore`). OpenBLAS
/// reads `OPENBLAS_CORETYPE` only as it loads, before `main`, so a command that runs one ISA
/// narrower than OpenBLAS's own choice re-runs itself with the variable set: the process then
/// holds one level throughout. A variable the user set is theirs and is kept; a row whose
/// kernels and OpenBLAS still differ says so in its notes (`KernelISA.openBLASMismatch`).
enum OpenBLASPairing {
    /// Replaces this process by the same command with `OPENBLAS_CORETYPE` set to `isa`'s core,
    /// where OpenBLAS runs wider kernels than `isa`'s and the variable is unset (which also
    /// stops a second re-run). Call before printing or writing anything.
    static func reexecIfNeeded(for isa: KernelISA?) {
        let variable = OpenBLAS.coreTypeVariable
        guard let isa, getenv(variable) == nil, let core = isa.openBLASCoreToPair(current: OpenBLAS.coreName) else { return }
        setenv(variable, core, 1)
        fflush(stdout)
        fflush(stderr)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached if the exec failed: carry on, unpaired; each row's notes say so.
        let why = String(cString: strerror(errno))
        unsetenv(variable)
        FileHandle.standardError.write("note: could not re-run with \(variable)=\(core) (\(why)); OpenBLAS keeps its \(OpenBLAS.coreName) kernels\n".data(using: .utf8)!)
    }

    /// Cores to measure the sgemm of each of `isas` on, in a process of its own: the ISAs whose
    /// level OpenBLAS's current kernels exceed, where `backend` multiplies with OpenBLAS and the
    /// user set no core.
    static func childCores(for isas: [KernelISA], backend: Backend) -> [KernelISA: String] {
        guard backend.gemm is OpenBLASGEMM, getenv(OpenBLAS.coreTypeVariable) == nil else { return [:] }
        var cores: [KernelISA: String] = [:]
        for isa in isas { cores[isa] = isa.openBLASCoreToPair(current: OpenBLAS.coreName) }
        return cores
    }

    /// One median of `vitbench kernels --sgemm-only` run with OpenBLAS loaded as `core`: nan
    /// where that process failed or OpenBLAS did not take the core (a build without
    /// DYNAMIC_ARCH ignores the variable), after saying why on standard error.
    static func childSGEMMSeconds(core: String, threads: Int, backend: BackendName, size: Int) -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["kernels", "--sgemm-only", "--threads", "\(threads)", "--backend", backend.rawValue,
                             "--sgemm-size", "\(size)"]
        var environment = ProcessInfo.processInfo.environment
        environment[OpenBLAS.coreTypeVariable] = core
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        do { try process.run() } catch {
            warn("could not start the sgemm of OpenBLAS \(core): \(error)")
            return .nan
        }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "sgemm_seconds S core NAME"
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard process.terminationStatus == 0, words.count == 4, words[0] == "sgemm_seconds",
              let seconds = Double(words[1]), seconds.isFinite, seconds > 0 else {
            warn("the sgemm of OpenBLAS \(core) exited with status \(process.terminationStatus) and no time")
            return .nan
        }
        guard words[3].lowercased() == core.lowercased() else {
            warn("OpenBLAS did not take \(OpenBLAS.coreTypeVariable)=\(core) (it ran \(words[3])): this build cannot switch cores")
            return .nan
        }
        return seconds
    }

    private static func warn(_ text: String) {
        FileHandle.standardError.write("note: \(text)\n".data(using: .utf8)!)
    }
}
