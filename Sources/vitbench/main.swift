import ArgumentParser
import CKernels
import Foundation
import VitEngine

@main
struct Vitbench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitbench",
        abstract: "How fast mobile vision transformers and their token mixers run on this CPU.",
        subcommands: [Kernels.self])
}

struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the engine's kernels alone at FastViT-T8@256 shapes, beside a large sgemm.")

    @Option(name: .shortAndLong, help: "Worker threads (the calling thread included).")
    var threads = 1

    @Option(help: "Backend: \(Backend.all.map(\.name).joined(separator: ", ")).")
    var backend = "openblas"

    @Option(help: "Size n of the n x n x n sgemm that sets the ceiling.")
    var sgemmSize = 1024

    func run() throws {
        guard let backend = Backend.named(backend) else {
            throw ValidationError("unknown backend '\(self.backend)'; known: \(Backend.all.map(\.name).joined(separator: ", "))")
        }
        OpenBLAS.setThreads(1)
        print("# vitbench kernels — \(threads) thread(s), backend \(backend.name), kernels \(String(cString: vb_kernel_isa())), OpenBLAS \(OpenBLAS.coreName)")
        print("| kernel | shape | median ms | GFLOP/s |")
        print("|---|---|---:|---:|")
        try KernelBenchmark.run(threads: threads, backend: backend, sgemmSize: sgemmSize) { r in
            print("| \(r.name) | \(r.shape) | \(String(format: "%.4f", r.medianMilliseconds)) | \(String(format: "%.1f", r.gflops)) |")
            fflush(stdout)
        }
    }
}
