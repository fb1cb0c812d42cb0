import VitEngine

/// MobileOne (timm `byobnet.py`, `mobileone_s0` … `mobileone_s4`): a plain ReLU CNN in which every
/// conv is a `MobileOneBlock` — parallel conv+BN branches for training, one conv each after
/// `reparameterize()`. The stem is a 3x3/2 block (always one conv branch: timm's 'one' stem does
/// not pass `num_conv_branches`). Each stage halves the resolution at its first block and repeats
/// a 3x3 depthwise block that keeps the width and a 1x1 block to the stage width; the last
/// `se_blocks` of them put squeeze-excitation (`attn`, ratio 1/16, divisor 8) on both halves.
/// There is no final conv (`num_features=0`); the head is global average pooling → `head.fc`.
/// timm names: `stem`, `stages.i.{2j, 2j+1}` (depthwise, pointwise), each with `conv_kxk.N`,
/// `conv_scale`, `identity`, `attn.{fc1, fc2}` or, fused, `reparam_conv`; `head.fc`.
public final class MobileOne: ImageClassifier {
    public struct Config: Codable, Sendable {
        /// MobileOne blocks per stage, each a depthwise and a pointwise `MobileOneBlock`.
        public var depths: [Int] = [2, 8, 10, 1]
        /// Output channels per stage (timm: 64/128/256/512 × the variant's width factors).
        public var widths: [Int]
        /// Also the width of stage 0's depthwise block: timm gives that block min(64, 64·wf₀),
        /// which equals `stem_chs` in every variant.
        public var stemWidth: Int = 64
        public var numConvBranches: Int = 1
        /// SE on the last n blocks of each stage; empty for none (timm's `se_blocks=()`).
        public var seBlocks: [Int] = []
        public var numClasses: Int = 1000
        enum CodingKeys: String, CodingKey {
            case depths, widths, stemWidth = "stem_width", numConvBranches = "num_conv_branches",
                 seBlocks = "se_blocks", numClasses = "num_classes"
        }
        public init(widths: [Int], stemWidth: Int, numConvBranches: Int = 1, seBlocks: [Int] = []) {
            self.widths = widths
            self.stemWidth = stemWidth
            self.numConvBranches = numConvBranches
            self.seBlocks = seBlocks
        }
    }

    public let config: Config
    let stem: MobileOneBlock
    /// Per stage, timm's flat `Sequential`: depthwise at 2j, pointwise at 2j+1.
    let stages: [[MobileOneBlock]]
    let head: LinearLayer
    public var numClasses: Int { config.numClasses }
    public var isReparameterizable: Bool { true }

    public init(_ w: Weights, config c: Config) throws {
        guard !c.depths.isEmpty, c.widths.count == c.depths.count, c.seBlocks.isEmpty || c.seBlocks.count == c.depths.count,
              c.numConvBranches >= 1 else {
            throw ModelInputError("MobileOne config: depths \(c.depths), widths \(c.widths) and se_blocks \(c.seBlocks) "
                                  + "need one entry per stage, num_conv_branches (\(c.numConvBranches)) at least 1")
        }
        config = c
        stem = w.scope("stem") { MobileOneBlock(w, in: 3, out: c.stemWidth, kernel: 3, stride: 2, activation: .relu) }
        var stages: [[MobileOneBlock]] = [], width = c.stemWidth
        for (i, depth) in c.depths.enumerated() {
            let seFrom = depth - (c.seBlocks.isEmpty ? 0 : c.seBlocks[i])
            var blocks: [MobileOneBlock] = []
            for j in 0..<depth {
                // SEModule's rd_channels: make_divisible(c / 16, 8, round_limit=0).
                let se = { (ch: Int) -> (name: String, reduced: Int)? in
                    j >= seFrom ? ("attn", makeDivisible(Double(ch) / 16, 8, roundLimit: 0)) : nil
                }
                blocks.append(w.scope("stages.\(i).\(2 * j)") {
                    MobileOneBlock(w, in: width, out: width, kernel: 3, stride: j == 0 ? 2 : 1, groups: width,
                                   branches: c.numConvBranches, activation: .relu, se: se(width))
                })
                blocks.append(w.scope("stages.\(i).\(2 * j + 1)") {
                    MobileOneBlock(w, in: width, out: c.widths[i], kernel: 1, branches: c.numConvBranches,
                                   activation: .relu, se: se(c.widths[i]))
                })
                width = c.widths[i]
            }
            stages.append(blocks)
        }
        self.stages = stages
        head = w.scope("head.fc") { LinearLayer(w, in: width, out: c.numClasses) }
    }

    /// Every stride-2 conv is 3x3 with padding 1 (or 1x1 without), so any input of at least one
    /// pixel keeps at least one pixel down to the last stage, as in timm.
    public func checkInput(height: Int, width: Int) throws {
        guard height >= 1, width >= 1 else {
            throw ModelInputError("MobileOne needs an input of at least 1x1 pixels, got \(height)x\(width)")
        }
    }

    public func reparameterize() {
        stem.reparameterize()
        for block in stages.joined() { block.reparameterize() }
    }

    public func collect(_ sd: inout StateDict) {
        sd.scope("stem") { stem.collect(&$0) }
        for (i, stage) in stages.enumerated() {
            for (j, block) in stage.enumerated() { sd.scope("stages.\(i).\(j)") { block.collect(&$0) } }
        }
        sd.scope("head.fc") { head.collect(&$0) }
    }

    public func forward(_ b: PlanBuilder, _ input: Value) throws -> Value {
        var x = try b.scope("stem") { try stem.forward(b, input) }
        for (i, stage) in stages.enumerated() {
            for (j, block) in stage.enumerated() {
                x = try b.scope("stages.\(i).\(j)") { try block.forward(b, x) }
            }
        }
        return try b.scope("head") {
            let pooled = try b.apply(GlobalAvgPool(), [x], name: "global_pool")
            return try b.scope("fc") { try head.forward(b, pooled) }
        }
    }
}

extension ModelZoo {
    static var mobileOne: [ModelInfo] {
        let variants: [(String, Int, [Double], Int, [Int], Double, Double, Double)] = [
            // name, stem_chs, width factors of 64/128/256/512, conv branches, SE blocks per stage (timm
            // model_cfgs), published top-1 (apple/ml-mobileone README), timm unfused params (M), GMACs@224
            // (docs/published-figures.md)
            ("mobileone_s0", 48, [0.75, 1, 1, 2], 4, [], 71.4, 5.29, 0.275),
            ("mobileone_s1", 64, [1.5, 1.5, 2, 2.5], 1, [], 75.9, 4.83, 0.82),
            ("mobileone_s2", 64, [1.5, 2, 2.5, 4], 1, [], 77.4, 7.88, 1.30),
            ("mobileone_s3", 64, [2, 2.5, 3, 4], 1, [], 78.1, 10.17, 1.89),
            ("mobileone_s4", 64, [3, 3.5, 3.5, 4], 1, [0, 0, 5, 1], 79.4, 14.95, 2.98),
        ]
        return variants.map { v in
            let widths = zip([64.0, 128, 256, 512], v.2).map { makeDivisible($0 * $1) }
            let config = MobileOne.Config(widths: widths, stemWidth: v.1, numConvBranches: v.3, seBlocks: v.4)
            let extras = (v.3 > 1 ? ", \(v.3) conv branches" : "") + (v.4.isEmpty ? "" : ", SE on the last \(v.4.map(String.init).joined(separator: "/")) blocks")
            return ModelInfo(
                name: v.0, family: "mobileone", resolution: 224,
                published: PublishedAccuracy(top1: v.5, source: "apple/ml-mobileone README"),
                referenceParams: v.6, referenceGMACs: v.7,
                summary: "MobileOne, blocks 2/8/10/1, widths \(widths.map(String.init).joined(separator: "/"))\(extras), ReLU, reparameterisable",
                make: { w, overrides in try MobileOne(w, config: config.merged(with: overrides)) })
        }
    }
}

extension BlockZoo {
    static var mobileOne: [BlockInfo] {
        [
            BlockInfo(name: "mobileone.block",
                      summary: "MobileOne block: 3x3 depthwise + 1x1 pointwise MobileOneBlock, 4 conv branches each, ReLU, "
                          + "stride 1, on an NHWC map; default: mobileone_s0 stage 2 at 224 (128 channels, 28x28)",
                      defaultDim: 128, defaultResolution: 28) { w, dim, _, _ in
                let pair = MobileOnePair(w, channels: dim, branches: 4)
                return AdaptedBlock(pair, layout: .featureMap, channels: dim, reparameterizable: true, forward: pair.forward)
            },
        ]
    }
}

/// One MobileOne block as the stages hold it: depthwise at `0`, pointwise at `1`.
final class MobileOnePair: Module {
    let depthwise: MobileOneBlock, pointwise: MobileOneBlock

    init(_ w: Weights, channels c: Int, branches: Int) {
        depthwise = w.scope("0") { MobileOneBlock(w, in: c, out: c, kernel: 3, groups: c, branches: branches, activation: .relu) }
        pointwise = w.scope("1") { MobileOneBlock(w, in: c, out: c, kernel: 1, branches: branches, activation: .relu) }
    }

    func reparameterize() {
        depthwise.reparameterize()
        pointwise.reparameterize()
    }

    func collect(_ sd: inout StateDict) {
        sd.scope("0") { depthwise.collect(&$0) }
        sd.scope("1") { pointwise.collect(&$0) }
    }

    func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
        let y = try b.scope("0") { try depthwise.forward(b, x) }
        return try b.scope("1") { try pointwise.forward(b, y) }
    }
}
