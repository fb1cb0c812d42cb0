import ArgumentParser
import Foundation
import VitEngine
import VitHarness

struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the engine's kernels alone at FastViT-T8@256 shapes on each kernel ISA this CPU runs, beside a large sgemm.")

    @Option(name: .shortAndLong, help: "Worker threads (the calling thread included).")
    var threads = 1

    @Option(help: "Backend (see README, \"Backends\").")
    var backend = BackendName.packed

    @Option(name: .customLong("isa"), parsing: .upToNextOption,
            help: ArgumentHelp("Kernel ISAs to measure (default: every one this CPU runs).", valueName: "isa"),
            transform: { try KernelISA(parsing: $0) })
    var isas: [KernelISA] = []

    @Option(help: "Size n of the n x n x n sgemm that sets the ceiling.")
    var sgemmSize = 1024

    /// Internal: one median of the sgemm alone, for a parent whose column needs OpenBLAS loaded
    /// with another core's kernels (`OpenBLASPairing.childSGEMMSeconds`).
    @Flag(help: .private)
    var sgemmOnly = false

    func validate() throws {
        guard (1...4096).contains(threads) else { throw ValidationError("--threads must be between 1 and 4096") }
        guard (16...8192).contains(sgemmSize) else { throw ValidationError("--sgemm-size must be between 16 and 8192") }
    }

    func run() throws {
        let backend = try parseBackend(backend)
        if sgemmOnly {
            let seconds = KernelBenchmark.sgemmMedianSeconds(threads: threads, backend: backend, size: sgemmSize)
            print("sgemm_seconds \(seconds) core \(OpenBLAS.coreName)")
            return
        }
        let isas = self.isas.isEmpty ? KernelISA.supported : self.isas
        // One ISA: this whole process at its level. Several: each sgemm column that needs
        // OpenBLAS at a narrower level than its own is measured in a process loaded so.
        if isas.count == 1 { OpenBLASPairing.reexecIfNeeded(for: isas[0]) }
        let childCores = OpenBLASPairing.childCores(for: isas, backend: backend)
        let machine = try MachineInfo.collect(probeBinding: false)
        print("# vitbench kernels — \(machine.cpu) (\(machine.cpuSignature)), \(threads) thread(s), backend \(backend.name), kernel ISAs \(isas.map(\.summary).joined(separator: ", ")), OpenBLAS \(OpenBLAS.coreName)")
        print("Each cell: the fastest of \(KernelBenchmark.rounds) medians, the ISAs alternating round by round.")
        if backend.gemm is OpenBLASGEMM {
            let cores = isas.map { "\($0) \(childCores[$0] ?? OpenBLAS.coreName)" }.joined(separator: ", ")
            let apart = childCores.isEmpty ? "" : " (\(childCores.values.sorted().joined(separator: ", ")) each in a process of its own: OpenBLAS picks its kernels as it loads)"
            print("The sgemm row runs OpenBLAS's kernels of each column's level: \(cores)\(apart).")
            if let mismatch = isas.compactMap({ childCores[$0] == nil ? $0.openBLASMismatch : nil }).first {
                print("Note: \(mismatch).")
            }
        }
        print("| kernel | shape | " + isas.map { "\($0) ms | \($0) GFLOP/s" }.joined(separator: " | ") + " |")
        print("|---|---|" + String(repeating: "---:|---:|", count: isas.count))
        var failed: Set<KernelISA> = []
        try KernelBenchmark.run(threads: threads, backend: backend, isas: isas, sgemmSize: sgemmSize, blasSeconds: { isa, here in
            guard let core = childCores[isa] else { return here() }
            if failed.contains(isa) { return .nan }
            let seconds = OpenBLASPairing.childSGEMMSeconds(core: core, threads: threads, backend: self.backend, size: sgemmSize)
            if seconds.isNaN { failed.insert(isa) }
            return seconds
        }) { r in
            let cells = r.timings.map { $0.medianMilliseconds.isNaN ? "— | —" : String(format: "%.4f | %.1f", $0.medianMilliseconds, $0.gflops) }
            print("| \(r.name) | \(r.shape) | " + cells.joined(separator: " | ") + " |")
            fflush(stdout)
        }
    }
}

/// The backend a command runs; a library this machine lacks is a usage error naming its package.
func parseBackend(_ name: BackendName) throws -> Backend {
    do { return try Backend.named(name) } catch { throw ValidationError("\(error)") }
}

extension BackendName: ExpressibleByArgument {}

/// `--isa` for the commands that run models: which variant of the engine's kernels runs.
struct KernelISAOption: ParsableArguments {
    @Option(name: .customLong("isa"),
            help: ArgumentHelp("Kernel ISA: \(KernelISA.allCases.map(\.rawValue).joined(separator: ", ")) (default: the best this CPU runs, \(KernelISA.best)).",
                               valueName: "isa"),
            transform: { try KernelISA(parsing: $0) })
    var isa: KernelISA?

    /// Selects the variant for the rest of the process (`profile`, `infer`: one plan each; `bench`
    /// and `run` carry it in each configuration instead), with OpenBLAS at its level
    /// (`OpenBLASPairing`: this may re-run the command, so call it before any output).
    func apply() throws {
        OpenBLASPairing.reexecIfNeeded(for: isa)
        try isa?.select()
    }
}
