import ArgumentParser

@main
struct Vitbench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitbench",
        abstract: "How fast mobile vision transformers and their token mixers run on this CPU.",
        subcommands: [List.self, Info.self, Infer.self, Bench.self, Profile.self, Run.self, Kernels.self, Export.self, Env.self, Report.self, Compare.self])
}
