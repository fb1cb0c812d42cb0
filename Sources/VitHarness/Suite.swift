import Foundation
import VitEngine
import VitModels
import Yams

/// A benchmark suite read from YAML: which models (and mixers, forms) to measure at which
/// resolutions, batch sizes, thread counts, pinning policies and backends, under which protocol.
///
/// ```yaml
/// name: mixers
/// description: metaformer_s12 with every token mixer
/// protocol: {min_runs: 10, min_seconds: 1}
/// repetitions: 1          # measure every configuration this many times
/// interleave: false       # shuffle configurations across repetitions (seeded) to spread drift
/// cooldown_seconds: 0     # pause between configurations
/// baseline: {mixer: pooling}
/// defaults: {batch: [1], threads: [1], pin: none, backends: [packed], forms: [inference]}
/// runs:
///   - model: metaformer_s12
///     mixers: [pooling, repmixer, attention, dwconv]
///     forms: [train, inference]
///     resolutions: [224, 512]
///     batch: [1, 8]
///     isas: [avx512, avx2, baseline]   # kernel variants (default: this CPU's best, or --isa)
///   - blocks: [fastvit.repmixer, metaformer.pooling]   # blocks alone (`vitbench list --blocks`)
///     dims: [64, 128]                                  # their width; default: the block's own
///     resolutions: [56]                                # their input grid; default: the block's own
/// ```
/// Every field is checked against what the suite may contain: a mistake is reported with the
/// file, line and field, and the valid values.
public struct Suite {
    public struct Run {
        /// Zoo models and blocks (`family.block`).
        public var models: [String]
        /// Widths of the blocks; nil: each block's default. Models ignore it.
        public var dims: [Int]?
        public var forms: [ModelForm]
        public var resolutions: [Int]?
        public var batches: [Int]
        public var threads: [String]
        public var backends: [BackendName]
        public var pins: [PinningPolicy]
        /// Kernel ISA variants; nil: the machine's default (or `--isa`).
        public var isas: [KernelISA]?
        /// OpenBLAS's own threads per product.
        public var blasThreads: [Int] = [1]
        /// Lines of `pin:` and `threads:` (for errors found against the machine's topology).
        public var pinLine: Int? = nil
        public var threadsLine: Int? = nil
    }

    /// The most repetitions and runs a suite may ask for: beyond them a typo, not a plan.
    public static let maximumRepetitions = 10_000
    public static let maximumRuns = 10_000_000
    /// The longest duration (seconds) a protocol or cooldown may name: one day.
    public static let maximumSeconds = 86_400.0

    public var name: String
    public var description: String
    public var file: String
    public var measurement: MeasurementProtocol
    public var repetitions: Int
    public var interleave: Bool
    public var seed: UInt64
    public var cooldownSeconds: Double
    public var baselineMixer: String
    public var runs: [Run]
    /// `allow_oversubscription: true`: thread counts beyond the machine's PUs are measured
    /// (with a warning) instead of refused.
    public var allowOversubscription = false

    /// Every configuration, in run order (repetitions included; shuffled when `interleave`).
    /// `threadCounts` turns a thread spec ("1", "all", "1..4") into counts for this machine.
    /// `defaultISA` is the kernel variant of runs that name none (`isas:`).
    public func configurations(threadCounts: (String) throws -> [Int], defaultISA: KernelISA = .best) throws -> [BenchConfiguration] {
        try configurations(threadCounts: { spec, _ in try threadCounts(spec) }, defaultISA: defaultISA)
    }

    /// The same, with thread counts that depend on the pinning policy (`all` is the policy's
    /// capacity, as in `vitbench bench`: cores, or PUs with `+smt`).
    public func configurations(threadCounts: (_ spec: String, _ pin: PinningPolicy) throws -> [Int],
                               defaultISA: KernelISA = .best) throws -> [BenchConfiguration] {
        var once: [BenchConfiguration] = []
        var seen = Set<String>()
        for run in runs {
            for model in run.models {
                let block = BlockZoo.contains(model) ? try BlockZoo.named(model) : nil
                let defaultResolution = try block?.defaultResolution ?? ModelZoo.named(model).resolution
                let dims: [Int?] = block.map { b in run.dims ?? [b.defaultDim] } ?? [nil]
                for form in run.forms {
                    for res in run.resolutions ?? [defaultResolution] {
                        for dim in dims {
                            for batch in run.batches {
                                for spec in run.threads {
                                    for pin in run.pins {
                                        for t in try threadCounts(spec, pin) {
                                            for backend in run.backends {
                                                for isa in run.isas ?? [defaultISA] {
                                                    for bt in run.blasThreads {
                                                        let c = BenchConfiguration(model: model, form: form, resolution: res, batch: batch,
                                                                                   threads: t, backend: backend, pin: pin, dim: dim, isa: isa,
                                                                                   blasThreads: bt)
                                                        if seen.insert(c.key).inserted { once.append(c) }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var all: [BenchConfiguration] = []
        var rng = SplitMix64(seed: seed)
        for _ in 0..<repetitions { all += interleave ? once.shuffled(using: &rng) : once }
        return all
    }
}

extension Suite {
    /// Checks what depends on the machine before anything runs, with file and line: every
    /// pinning policy can be placed on `topology` (cores in range, kinds that exist) and every
    /// thread count fits its PUs (or `allow_oversubscription: true`, or `allowOversubscription`
    /// from `run --allow-oversubscription`).
    public func validate(on topology: Topology, allowOversubscription: Bool = false) throws {
        for (i, run) in runs.enumerated() {
            for pin in run.pins {
                do { _ = try pin.order(on: topology) } catch {
                    throw SuiteError(file: file, line: run.pinLine, field: "runs[\(i)].pin", message: "\(error)")
                }
                for spec in run.threads {
                    do {
                        _ = try ThreadSweep.parse(spec, policy: pin, topology: topology,
                                                  allowOversubscription: allowOversubscription || self.allowOversubscription)
                    } catch {
                        throw SuiteError(file: file, line: run.threadsLine, field: "runs[\(i)].threads", message: "\(error)")
                    }
                }
            }
        }
    }
}

/// A mistake in a suite file: where, which field, what is allowed.
public struct SuiteError: Error, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let field: String
    public let message: String
    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(field): \(message)"
    }
}

extension Suite {
    /// The largest suite file read. Suites are a few KiB; a 3 GiB file of zeros was read whole
    /// (7 GB resident) and still being parsed a minute later.
    public static let maximumFileBytes = 16 << 20

    public static func load(_ path: String) throws -> Suite {
        func refuse(_ why: String) -> SuiteError {
            SuiteError(file: path, line: nil, field: "file", message: "cannot read the suite file: \(why)")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw refuse("no such file") }
        guard !isFolder.boolValue else { throw refuse("a folder, not a file") }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maximumFileBytes else {
            throw refuse("\(size) bytes, more than any suite (at most \(maximumFileBytes >> 20) MiB is read)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw refuse(FileManager.default.isReadableFile(atPath: path) ? "not UTF-8 text" : "permission denied")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ yaml: String, file: String) throws -> Suite {
        try checkNesting(yaml, file: file)  // before Yams, whose node building and release recurse
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw SuiteError(file: file, line: nil, field: "file", message: "the suite is empty")
            }
            root = node
        } catch let e as SuiteError {
            throw e
        } catch let e as YamlError {
            throw SuiteError(file: file, line: yamlErrorLine(e), field: "syntax", message: "not valid YAML: \(shortened(e))")
        }
        let r = Reader(file: file)
        let top = try r.mapping(root, "suite", allowed: ["name", "description", "protocol", "repetitions", "interleave", "seed",
                                                          "cooldown_seconds", "baseline", "defaults", "runs", "allow_oversubscription"])
        var proto = MeasurementProtocol()
        if let p = top["protocol"] {
            let m = try r.mapping(p, "protocol", allowed: ["warmup_runs", "warmup_seconds", "min_runs", "min_seconds",
                                                            "max_seconds", "noise_threshold"])
            if let v = m["warmup_runs"] { proto.warmupRuns = try r.int(v, "protocol.warmup_runs", min: 0, max: Suite.maximumRuns) }
            if let v = m["warmup_seconds"] { proto.warmupSeconds = try r.double(v, "protocol.warmup_seconds", min: 0, max: Suite.maximumSeconds) }
            if let v = m["min_runs"] { proto.minRuns = try r.int(v, "protocol.min_runs", min: 1, max: Suite.maximumRuns) }
            if let v = m["min_seconds"] { proto.minSeconds = try r.double(v, "protocol.min_seconds", min: 0, max: Suite.maximumSeconds) }
            if let v = m["max_seconds"] { proto.maxSeconds = try r.double(v, "protocol.max_seconds", min: 0.001, max: Suite.maximumSeconds) }
            if let v = m["noise_threshold"] { proto.noiseThreshold = try r.double(v, "protocol.noise_threshold", min: 0, max: 1e6) }
        }
        var baseline = "pooling"
        if let b = top["baseline"] {
            let m = try r.mapping(b, "baseline", allowed: ["mixer"])
            if let v = m["mixer"] {
                baseline = try r.string(v, "baseline.mixer", oneOf: MetaFormerS12.Mixer.allCases.map(\.rawValue))
            }
        }
        let runFields = ["model", "models", "block", "blocks", "mixers", "dims", "forms", "resolutions", "batch", "threads",
                         "backends", "pin", "isas", "blas_threads"]
        let defaults = try top["defaults"].map { try r.mapping($0, "defaults", allowed: Array(runFields.dropFirst(4))) } ?? [:]
        guard let runsNode = top["runs"] else {
            throw SuiteError(file: file, line: root.mark?.line, field: "runs", message: "a suite needs a list of runs")
        }
        guard case .sequence(let seq) = runsNode, !seq.isEmpty else {
            throw SuiteError(file: file, line: runsNode.mark?.line, field: "runs", message: "expected a non-empty list of runs")
        }
        var runs: [Run] = []
        for (i, node) in seq.enumerated() {
            let f = "runs[\(i)]"
            let m = try r.mapping(node, f, allowed: runFields)
            func field(_ k: String) -> Node? { m[k] ?? defaults[k] }
            var names: [String] = [], blocks: [String] = []
            if let v = m["model"] { names = [try r.string(v, "\(f).model")] }
            if let v = m["models"] { names += try r.strings(v, "\(f).models") }
            let knownBlocks = BlockZoo.all.map(\.name)
            if let v = m["block"] { blocks = [try r.string(v, "\(f).block", oneOf: knownBlocks)] }
            if let v = m["blocks"] { blocks += try r.strings(v, "\(f).blocks", oneOf: knownBlocks) }
            guard !names.isEmpty || !blocks.isEmpty else {
                throw SuiteError(file: file, line: node.mark?.line, field: "\(f).model",
                                 message: "each run names a model (model/models) or blocks (block/blocks)")
            }
            let dims = try field("dims").map { try r.ints($0, "\(f).dims", min: 1) }
            if let d = m["dims"], blocks.isEmpty {
                throw SuiteError(file: file, line: d.mark?.line, field: "\(f).dims", message: "dims are the widths of blocks; this run names no blocks")
            }
            // `model: metaformer_s12` + `mixers: [pooling, ...]` names `metaformer_s12:pooling`, ...: the
            // variants of a family (token mixers, ablations) are the zoo names with a colon.
            let known = ModelZoo.all.map(\.name)
            var variants: [String: [String]] = [:]
            for name in known where name.contains(":") {
                let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
                variants[parts[0], default: []].append(parts[1])
            }
            var models: [String] = []
            if names.isEmpty, let given = m["mixers"] {
                throw SuiteError(file: file, line: given.mark?.line, field: "\(f).mixers",
                                 message: "`mixers` applies to models with variants; this run names only blocks")
            }
            let mixerNode = field("mixers")
            let mixers = try mixerNode.map { try r.strings($0, "\(f).mixers") }
            let nameNode = m["model"] ?? m["models"] ?? node
            for n in names {
                if let valid = variants[n], mixers != nil || !known.contains(n) {
                    guard let mixers else {
                        throw SuiteError(file: file, line: nameNode.mark?.line, field: "\(f).mixers",
                                         message: "\(n) needs `mixers` (one or more of \(valid.joined(separator: ", ")))")
                    }
                    for v in mixers where !valid.contains(v) {
                        throw SuiteError(file: file, line: mixerNode?.mark?.line, field: "\(f).mixers",
                                         message: "'\(v)' is not a variant of \(n); valid values: \(valid.joined(separator: ", "))")
                    }
                    models += mixers.map { "\(n):\($0)" }
                } else if known.contains(n) {
                    if let given = m["mixers"] {
                        let withVariants = variants.keys.sorted().joined(separator: ", ")
                        throw SuiteError(file: file, line: given.mark?.line, field: "\(f).mixers",
                                         message: "\(n) has no variants, so `mixers` does not apply to it; models with variants: \(withVariants)")
                    }
                    models.append(n)
                } else {
                    throw SuiteError(file: file, line: nameNode.mark?.line, field: "\(f).model",
                                     message: "unknown model '\(n)'; known: \((known + variants.keys.sorted()).joined(separator: ", "))")
                }
            }
            let forms = try field("forms").map { try r.strings($0, "\(f).forms", oneOf: ModelForm.allCases.map(\.rawValue)) } ?? ["inference"]
            let resolutions = try field("resolutions").map { try r.ints($0, "\(f).resolutions", min: 1) }
            let batches = try field("batch").map { try r.ints($0, "\(f).batch", min: 1) } ?? [1]
            let threads = try field("threads").map { try r.strings($0, "\(f).threads") } ?? ["1"]
            // Syntax and the engine's hard limit now; the machine's PUs in `validate(on:)`.
            for spec in threads {
                do { _ = try ThreadSweep.parse(spec, all: 1) } catch {
                    throw SuiteError(file: file, line: field("threads")?.mark?.line, field: "\(f).threads", message: "\(error)")
                }
            }
            let backends = try field("backends").map { try r.strings($0, "\(f).backends", oneOf: Backend.names) }?
                .compactMap(BackendName.init(rawValue:)) ?? [.packed]
            // Checked here and kept in one spelling (`Compact` and `compact` are one configuration).
            let pins = try field("pin").map { node in
                try r.strings(node, "\(f).pin").map { text in
                    do { return try PinningPolicy(parsing: text) } catch { throw r.fail(node, "\(f).pin", "\(error)") }
                }
            } ?? [PinningPolicy.none]
            // Names are checked here; whether this CPU runs them, per configuration (an error row).
            let isas = try field("isas").map { try r.strings($0, "\(f).isas", oneOf: KernelISA.allCases.map(\.rawValue)) }
            runs.append(Run(models: models + blocks, dims: dims, forms: forms.compactMap(ModelForm.init(rawValue:)), resolutions: resolutions,
                            batches: batches, threads: threads, backends: backends, pins: pins,
                            isas: isas?.compactMap(KernelISA.init(rawValue:)),
                            blasThreads: try field("blas_threads").map { try r.ints($0, "\(f).blas_threads", min: 1, max: 1024) } ?? [1],
                            pinLine: field("pin")?.mark?.line, threadsLine: field("threads")?.mark?.line))
        }
        let name = try top["name"].map { try r.string($0, "name") } ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        return Suite(
            name: name, description: try top["description"].map { try r.string($0, "description") } ?? "", file: file,
            measurement: proto, repetitions: try top["repetitions"].map { try r.int($0, "repetitions", min: 1, max: Suite.maximumRepetitions) } ?? 1,
            interleave: try top["interleave"].map { try r.bool($0, "interleave") } ?? false,
            seed: UInt64(try top["seed"].map { try r.int($0, "seed", min: 0) } ?? 1),
            cooldownSeconds: try top["cooldown_seconds"].map { try r.double($0, "cooldown_seconds", min: 0, max: Suite.maximumSeconds) } ?? 0,
            baselineMixer: baseline, runs: runs,
            allowOversubscription: try top["allow_oversubscription"].map { try r.bool($0, "allow_oversubscription") } ?? false)
    }

    private static func yamlErrorLine(_ e: YamlError) -> Int? {
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }
}

/// Typed reads of YAML nodes that fail with the node's line and the field's name.
private struct Reader {
    let file: String

    func fail(_ node: Node, _ field: String, _ message: String) -> SuiteError {
        SuiteError(file: file, line: node.mark?.line, field: field, message: message)
    }

    func mapping(_ node: Node, _ field: String, allowed: [String]) throws -> [String: Node] {
        guard case .mapping(let m) = node else { throw fail(node, field, "expected a mapping of \(allowed.joined(separator: ", "))") }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard let key = k.string else { throw fail(k, field, "keys must be names") }
            guard allowed.contains(key) else {
                throw fail(k, field.isEmpty || field == "suite" ? key : "\(field).\(key)",
                           "unknown field; valid fields: \(allowed.joined(separator: ", "))")
            }
            out[key] = v
        }
        return out
    }

    func scalar(_ node: Node, _ field: String) throws -> String {
        guard case .scalar(let s) = node else { throw fail(node, field, "expected a single value") }
        return s.string
    }

    func string(_ node: Node, _ field: String, oneOf valid: [String]? = nil) throws -> String {
        let s = try scalar(node, field)
        if let valid, !valid.contains(s) {
            throw fail(node, field, "'\(s)' is not valid; valid values: \(valid.joined(separator: ", "))")
        }
        return s
    }

    func int(_ node: Node, _ field: String, min: Int, max: Int = Int.max) throws -> Int {
        let s = try scalar(node, field)
        guard let v = Int(s), v >= min else { throw fail(node, field, "expected an integer ≥ \(min), got '\(s)'") }
        guard v <= max else { throw fail(node, field, "expected an integer between \(min) and \(max), got '\(s)'") }
        return v
    }

    /// A finite number in min...max: `.inf`, `.nan` and absurd durations are refused.
    func double(_ node: Node, _ field: String, min: Double, max: Double = .greatestFiniteMagnitude) throws -> Double {
        let s = try scalar(node, field)
        let yaml = ["inf": Double.infinity, "+inf": .infinity, "-inf": -.infinity, "nan": .nan]  // YAML's .inf, .nan
        let key = s.lowercased().hasPrefix(".") ? String(s.lowercased().dropFirst()) : s.lowercased()
        guard let v = Double(s) ?? yaml[key], v >= min else { throw fail(node, field, "expected a number ≥ \(min), got '\(s)'") }
        guard v.isFinite, v <= max else { throw fail(node, field, "expected a finite number between \(min) and \(max), got '\(s)'") }
        return v
    }

    func bool(_ node: Node, _ field: String) throws -> Bool {
        let s = try scalar(node, field)
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(node, field, "expected true or false, got '\(s)'")
        }
    }

    /// A list, or a single value standing for a list of one.
    func list(_ node: Node, _ field: String) throws -> [Node] {
        switch node {
        case .sequence(let s):
            guard !s.isEmpty else { throw fail(node, field, "expected at least one value") }
            return Array(s)
        default: return [node]
        }
    }

    func strings(_ node: Node, _ field: String, oneOf valid: [String]? = nil) throws -> [String] {
        try list(node, field).map { try string($0, field, oneOf: valid) }
    }

    func ints(_ node: Node, _ field: String, min: Int, max: Int = Int.max) throws -> [Int] {
        try list(node, field).map { try int($0, field, min: min, max: max) }
    }
}

// MARK: - Nesting bound

extension Suite {
    /// How deep a suite may nest, aliases expanded. Suites nest four deep (suite → runs → run →
    /// list). libyaml refuses text nested over 1000 levels ("Maximum nesting level reached"), but
    /// each alias copies its anchored tree one level further down: a 100 000-line chain of aliases
    /// built a tree whose release overflowed the stack (SIGSEGV).
    public static let maxNesting = 5000

    /// Refuses, before Yams sees it, text whose aliases could expand it deeper than `maxNesting`.
    /// The bound is deliberately coarse, so that no quoting or comment can hide a level from it:
    /// the text's depth is taken as every `[` and `{` anywhere plus twice the widest run of
    /// indentation and block indicators (`- `, `? `, `: `) that starts a line (at most libyaml's
    /// 1000), and each alias (`*name`) may add that much again.
    /// Yams quotes the offending line whole: a 200 000-character line made a 200 kB message.
    static func shortened(_ error: YamlError) -> String {
        let lines = "\(error)".split(separator: "\n", omittingEmptySubsequences: false).map { (line: Substring) -> String in
            line.count > 160 ? "\(line.prefix(160))… (\(line.count) characters)" : String(line)
        }
        return lines.joined(separator: "\n")
    }

    static func checkNesting(_ yaml: String, file: String) throws {
        var brackets = 0, aliases = 0, widestPrefix = 0, prefix = 0, atLineStart = true
        var previous = UInt8(ascii: "\n")
        for byte in yaml.utf8 {
            if byte == 0x0A || byte == 0x0D {
                widestPrefix = max(widestPrefix, prefix)
                prefix = 0
                atLineStart = true
            } else if atLineStart {
                if byte == 0x20 || byte == 0x09 || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: ":") {
                    prefix += 1
                } else {
                    widestPrefix = max(widestPrefix, prefix)
                    atLineStart = false
                }
            }
            if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") { brackets += 1 }
            // An alias starts a node: after a space, a line break, a flow indicator or ':'.
            if byte == UInt8(ascii: "*"), [0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","), UInt8(ascii: ":")].contains(previous) {
                aliases += 1
            }
            previous = byte
        }
        guard aliases > 0 else { return }  // the text alone: libyaml's own limit applies
        widestPrefix = max(widestPrefix, prefix)
        let levels = min(brackets + 2 * (widestPrefix + 1), 1000)
        let (bound, overflow) = levels.multipliedReportingOverflow(by: aliases + 1)
        guard overflow || bound > maxNesting else { return }
        throw SuiteError(file: file, line: nil, field: "syntax",
                         message: "its \(aliases) alias(es) could nest the suite up to \(overflow ? "more than \(Int.max)" : String(bound)) levels deep "
                            + "(\(levels) levels of text, every bracket and indentation counted, times \(aliases + 1)); "
                            + "the limit is \(maxNesting) (a suite nests 4 deep): use fewer aliases")
    }
}
