import ArgumentParser
import Foundation
import VitEngine
import VitHarness
import VitModels

/// What to run, as `bench`, `profile` and `export` take it: a model (or mixer) or a block, at
/// one resolution, batch and form.
struct ModelSelection: ParsableArguments {
    @Option(help: "Model name (see `vitbench list`), e.g. fastvit_t8 or metaformer_s12.")
    var model: String?

    @Option(help: "A block alone instead of a model (see `vitbench list --blocks`), e.g. fastvit.repmixer.")
    var block: String?

    @Option(help: "Width (input channels) of the block; default: the block's own.")
    var dim: Int?

    @Option(help: "Token mixer of metaformer_s12: \(MetaFormerS12.Mixer.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mixer: String?

    @Option(help: "Input resolution (square); for a block, the side of its input grid. Default: the model's published one, the block's own.")
    var resolution: Int?

    @Option(help: "Batch size.")
    var batch = 1

    @Option(help: "train (multi-branch, as trained) or inference (reparameterised).")
    var form: ModelForm = .inference

    func validate() throws {
        guard (model == nil) != (block == nil) else { throw ValidationError("name either --model or --block") }
        if block != nil && mixer != nil { throw ValidationError("--mixer applies to models; blocks name their mixer (metaformer.pooling)") }
        if model != nil && dim != nil { throw ValidationError("--dim applies to blocks; models have their own widths") }
        if let dim, dim < 1 { throw ValidationError("--dim must be positive") }
        if let resolution, resolution < 1 { throw ValidationError("--resolution must be positive") }
        if batch < 1 { throw ValidationError("--batch must be positive") }
    }

    /// The zoo name (`metaformer_s12` + `--mixer attention` is `metaformer_s12:attention`) or the block's.
    var name: String {
        if let block { return block }
        let model = model ?? ""
        return mixer.map { model.contains(":") ? model : "\(model):\($0)" } ?? model
    }

    /// The configuration to measure with `threads` and `pin`, defaults filled in from the zoo.
    func configuration(threads: Int, backend: BackendName = .packed, pin: PinningPolicy = .none, isa: KernelISA = .best,
                       blasThreads: Int = 1) throws -> BenchConfiguration {
        var dim: Int? = nil, res = resolution
        if let block {
            let info = try BlockZoo.named(block)
            dim = self.dim ?? info.defaultDim
            res = res ?? info.defaultResolution
        } else {
            res = try res ?? ModelZoo.named(name).resolution
        }
        return BenchConfiguration(model: name, form: form, resolution: res!, batch: batch, threads: threads, backend: backend,
                                  pin: pin, dim: dim, isa: isa, blasThreads: blasThreads)
    }
}

extension ModelForm: ExpressibleByArgument {}

/// `--backend` for the commands that run a model.
struct BackendOption: ParsableArguments {
    @Option(help: "Backend (see README, \"Backends\").")
    var backend = BackendName.packed
}

/// `--memory-limit SIZE` for the commands that build a plan (`bench`, `profile`, `infer`, `run`,
/// `export`): the memory budget a configuration's estimate must fit (default: the memory
/// available, MemAvailable or the cgroup's limit if lower). One over it is refused with the
/// estimate and the budget (in a suite, an error row).
struct MemoryLimitOption: ParsableArguments {
    @Option(help: ArgumentHelp("Memory budget per configuration, e.g. 8G, 512M (default: the memory available: MemAvailable, or the cgroup's limit if lower).",
                               valueName: "size"))
    var memoryLimit: String?

    func validate() throws {
        if let memoryLimit {
            do { _ = try MemoryBudget.parse(memoryLimit) } catch { throw ValidationError("--memory-limit: \(error)") }
        }
    }

    /// Sets the budget for the rest of the process.
    func apply() throws {
        guard let memoryLimit else { return }
        do { MemoryBudget.limit = try MemoryBudget.parse(memoryLimit) } catch { throw ValidationError("--memory-limit: \(error)") }
    }
}

/// `--allow-oversubscription`: thread counts beyond this machine's PUs are refused unless given.
struct OversubscriptionOption: ParsableArguments {
    @Flag(help: "Allow more threads than this machine has PUs (refused otherwise; a warning is printed). At most \(ThreadPool.maximumThreads) threads.")
    var allowOversubscription = false

    /// Checks a plain thread count (`profile`, `infer`): at least 1, at most the PUs (or, with
    /// the flag, `ThreadPool.maximumThreads`, with a warning past the PUs).
    func check(threads: Int, topology: Topology) throws {
        do {
            let counts = try ThreadSweep.parse("\(threads)", policy: .none, topology: topology,
                                               allowOversubscription: allowOversubscription)
            warn(counts, topology: topology)
        } catch {
            throw ValidationError("--threads: \(error)")
        }
    }

    func warn(_ counts: [Int], topology: Topology) {
        if let warning = ThreadSweep.oversubscriptionWarning(counts, topology: topology) {
            FileHandle.standardError.write((warning + "\n").data(using: .utf8)!)
        }
    }
}

/// An error in the data or the measurement, not in how the command was called: exit status 1
/// (ArgumentParser gives `ValidationError` 64, the usage status).
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
