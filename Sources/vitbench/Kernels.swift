import ArgumentParser
import CKernels
import Foundation
import VitEngine

struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the engine's kernels alone at FastViT-T8@256 shapes, beside a large sgemm.")

    @Option(name: .shortAndLong, help: "Worker threads (the calling thread included).")
    var threads = 1

    @Option(help: "Backend: \(Backend.all.map(\.name).joined(separator: ", ")).")
    var backend = Backend.default.name

    @Option(help: "Size n of the n x n x n sgemm that sets the ceiling.")
    var sgemmSize = 1024

    func run() throws {
        let backend = try parseBackend(backend)
        print("# vitbench kernels — \(threads) thread(s), backend \(backend.name), kernels \(String(cString: vb_kernel_isa())), OpenBLAS \(OpenBLAS.coreName)")
        print("| kernel | shape | median ms | GFLOP/s |")
        print("|---|---|---:|---:|")
        try KernelBenchmark.run(threads: threads, backend: backend, sgemmSize: sgemmSize) { r in
            print("| \(r.name) | \(r.shape) | \(String(format: "%.4f", r.medianMilliseconds)) | \(String(format: "%.1f", r.gflops)) |")
            fflush(stdout)
        }
    }
}

func parseBackend(_ name: String) throws -> Backend {
    guard let b = Backend.named(name) else {
        throw ValidationError("unknown backend '\(name)'; known: \(Backend.all.map(\.name).joined(separator: ", "))")
    }
    return b
}
