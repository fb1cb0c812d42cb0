import Foundation
import XCTest
import VitEngine
@testable import VitModels

/// The mobile-level ViT (IPE + APF), which has no public code or weights to compare with: its
/// shapes, its parameter counts and MACs against formulas written here from the config, and its
/// numerics against unfused compositions of the engine's reference operators (plus plain double
/// arithmetic for the token bookkeeping), built from the state dict by name.
final class MobileLevelViTTests: XCTestCase {
    typealias Model = MobileLevelViT

    /// A small config: stride-8 patch embedding, so a 64x64 input gives an 8x8 map and IPE grids
    /// 4x4 + 2x2 + 1x1 = 21 tokens.
    static let small: [String: Any] = [
        "img_size": 64, "patch_embed_chs": [8, 12, 16], "ipe_exp_ratio": 2.0, "embed_dim": 32, "depth": 2,
        "num_heads": 2, "num_classes": 10,
    ]

    static let variants = ["mlvit_mobile", "mlvit_mobile:no_ipe", "mlvit_mobile:no_apf", "mlvit_mobile:no_pos"]

    // MARK: Shapes and ablation switches

    /// The encoder's input: 7x7 + 4x4 + 1x1 = 66 tokens at 224, 196 without IPE, one more with a
    /// class token; the logits' shape for every variant.
    func testTokenCountsOfEveryVariant() throws {
        let expected = ["mlvit_mobile": 66, "mlvit_mobile:no_ipe": 196, "mlvit_mobile:no_apf": 67, "mlvit_mobile:no_pos": 66]
        for name in Self.variants {
            let model = try XCTUnwrap(ModelZoo.named(name).random() as? Model)
            let plan = try model.plan(batch: 2, height: 224, width: 224, pool: ThreadPool(threads: 1))
            let first = try XCTUnwrap(plan.steps.first { $0.name == "blocks.0.attn.qkv" }, name)
            XCTAssertEqual(first.inputShapes, [[2, expected[name]!, 256]], name)
            XCTAssertEqual(plan.outputShapes, [[2, 1000]], name)
            XCTAssertEqual(model.tokenLayout(height: 224, width: 224).count, expected[name], name)
        }
        let ipe = try XCTUnwrap(ModelZoo.named("mlvit_mobile").random() as? Model)
        XCTAssertEqual(ipe.tokenLayout(height: 224, width: 224).grids.map(\.description), ["7x7", "4x4", "1x1"])
    }

    /// Each switch removes exactly its part: IPE's branches (for `patch_embed.proj`), APF (for a
    /// class token and its position row), the position embedding.
    func testAblationSwitchesChangeWhatTheyShould() throws {
        func keys(_ name: String) throws -> Set<String> { Set(try ModelZoo.named(name).random().stateDict.entries.map(\.name)) }
        let base = try keys("mlvit_mobile")
        let noIPE = try keys("mlvit_mobile:no_ipe"), noAPF = try keys("mlvit_mobile:no_apf"), noPos = try keys("mlvit_mobile:no_pos")
        XCTAssertTrue(base.contains("ipe.branches.2.se.fc1.weight") && base.contains("apf.global_weight") && base.contains("pos_embed"))
        XCTAssertEqual(base.subtracting(noIPE), Set(base.filter { $0.hasPrefix("ipe.") }))
        XCTAssertEqual(noIPE.subtracting(base), ["patch_embed.proj.weight", "patch_embed.proj.bias"])
        XCTAssertEqual(base.subtracting(noAPF), Set(base.filter { $0.hasPrefix("apf.") }))
        XCTAssertEqual(noAPF.subtracting(base), ["cls_token"])
        XCTAssertEqual(base.subtracting(noPos), ["pos_embed"])
        XCTAssertTrue(noPos.isSubset(of: base))
        let params = try Self.variants.map { try ModelZoo.named($0).random().parameterCount }
        XCTAssertEqual(params[0] - params[3], 66 * 256, "no_pos drops the 66x256 position embedding")
        XCTAssertEqual(params[2] - params[3], 67 * 256 + 256 - Self.apfParameters(dim: 256, hidden: 64, tokens: 66),
                       "no_apf: a class token and its position row instead of APF")
    }

    // MARK: Counts

    /// Parameters by formula, for every zoo variant and for the small config with each switch.
    func testParameterCountsMatchTheFormula() throws {
        for name in Self.variants {
            let model = try XCTUnwrap(ModelZoo.named(name).random() as? Model)
            XCTAssertEqual(model.parameterCount, Self.expectedParameters(model.config), name)
        }
        for switches in Self.allSwitches {
            let model = try XCTUnwrap(ModelZoo.named("mlvit_mobile").load(.random(), overrides: Self.small.merging(switches) { $1 }) as? Model)
            XCTAssertEqual(model.parameterCount, Self.expectedParameters(model.config), "\(switches)")
        }
    }

    /// The reference model: 66 tokens, MACs and parameters inside the budget the doc comment
    /// states (≤ 0.6 GMACs at 224; 0.55 G and 8.4 M as configured).
    func testMobileBudget() throws {
        let model = try ModelZoo.named("mlvit_mobile").random()
        let gmacs = Double(try model.macs(height: 224, width: 224)) / 1e9
        XCTAssertLessThanOrEqual(gmacs, 0.6)
        XCTAssertEqual(gmacs, 0.55, accuracy: 0.01)
        XCTAssertEqual(Double(model.parameterCount) / 1e6, 8.4, accuracy: 0.05)
    }

    /// MACs by formula for the small config at its own size and at an odd, non-square one, with
    /// every combination of switches.
    func testMACsMatchTheFormula() throws {
        for switches in Self.allSwitches {
            let model = try XCTUnwrap(ModelZoo.named("mlvit_mobile").load(.random(), overrides: Self.small.merging(switches) { $1 }) as? Model)
            for (h, w) in [(64, 64), (72, 40), (1, 1)] {
                XCTAssertEqual(try model.macs(height: h, width: w), Self.expectedMACs(model.config, height: h, width: w),
                               "\(switches) at \(h)x\(w)")
            }
        }
    }

    func testFamilyCounts() throws {
        // No timm reference exists for this family: checkCounts verifies whatever
        // reference_counts.json holds for it (nothing, unless a reference implementation is added).
        try CountsTests.checkCounts(family: "mlvit")
        XCTAssertTrue(ModelZoo.all.filter { $0.family == "mlvit" }.allSatisfy { $0.published == nil && $0.summary.contains("no published weights") })
    }

    // MARK: Numerics against reference compositions

    /// The whole model, every switch combination, two images, at the native size and at one that
    /// resamples `pos_embed` and `apf.global_weight`: the optimised plan (BN folded, activations
    /// and residuals in epilogues, SE after pooling, tokens assembled in one step) against the
    /// unfused reference.
    func testModelMatchesReferenceComposition() throws {
        var rng = SplitMix64(seed: 7)
        for switches in Self.allSwitches {
            let model = try Self.randomized(Self.small.merging(switches) { $1 }, &rng)
            for (h, w) in [(64, 64), (50, 83)] {
                let image = Tensor(randomNormal: [2, 3, h, w], scale: 1, rng: &rng)
                let expected = try Self.referenceLogits(model, image: image)
                let plan = try model.plan(batch: 2, height: h, width: w, pool: ThreadPool(threads: 2))
                try plan.setInput(image)
                plan.run()
                let err = plan.output().relativeError(to: expected)
                XCTAssertLessThanOrEqual(err, 1e-4, "\(switches) at \(h)x\(w): max|Δ|/max|ref| = \(err)")
            }
        }
    }

    /// `mlvit.ipe` at its default shape and an odd one: each branch as reference convs, BN,
    /// hard-swish and SE (the global branch pooling after SE, as written), concatenated with the
    /// position embedding by hand.
    func testIPEBlockMatchesReferenceComposition() throws {
        var rng = SplitMix64(seed: 11)
        let info = try BlockZoo.named("mlvit.ipe")
        for (dim, h, w) in [(info.defaultDim, info.defaultResolution, info.defaultResolution), (12, 9, 11)] {
            let block = try info.load(.random(seed: 3), dim: dim, height: h, width: w)
            let x = Tensor(randomNormal: [2, h, w, dim], scale: 1, rng: &rng)
            let tensors = block.stateDict.tensors
            let net = MLViTReferenceNet(tensors)
            let input = net.b.input(x.shape)
            let parts = try (0..<3).map { try net.ipeBranch(input, "ipe.branches.\($0)", stride: [2, 4, nil][$0]) }
            let outs = try net.run([x], parts)
            let native = Self.nativeLayout(grid: info.defaultResolution)
            let actual = Self.layout(h, w)
            let positions = Model.resampleTokens(try XCTUnwrap(tensors["pos_embed"]), from: native, to: actual)
            let expected = Self.assemble(outs, prefix: nil, positions: positions)
            let got = try Self.run(block, x, height: h, width: w)
            XCTAssertEqual(got.shape, [2, actual.count, 2 * dim])
            XCTAssertLessThanOrEqual(got.relativeError(to: expected), 1e-5, "dim \(dim) at \(h)x\(w)")
        }
    }

    /// `mlvit.apf`: reference linears and GELU for the scores, then softmax over tokens, the
    /// product with the global weight and the weighted sum in double.
    func testAPFBlockMatchesReferenceComposition() throws {
        var rng = SplitMix64(seed: 13)
        let info = try BlockZoo.named("mlvit.apf")
        for (dim, h, w) in [(info.defaultDim, info.defaultResolution, info.defaultResolution), (20, 5, 9)] {
            let block = try Self.randomizedBlock(info, dim: dim, h: h, w: w, &rng)
            let tokens = Self.layout(h, w).count
            let x = Tensor(randomNormal: [3, tokens, dim], scale: 1, rng: &rng)
            let tensors = block.stateDict.tensors
            let g = Model.resampleTokens(try XCTUnwrap(tensors["global_weight"]), from: Self.nativeLayout(grid: info.defaultResolution),
                                         to: Self.layout(h, w)).data
            let net = MLViTReferenceNet(tensors)
            let input = net.b.input(x.shape)
            let scores = try net.linear(net.act(net.linear(input, "mlp.fc1"), .gelu), "mlp.fc2")
            let s = try net.run([x], [scores])[0]
            let expected = Self.fuse(x, scores: s, globalWeight: g)
            XCTAssertEqual(try Self.run(block, x, height: h, width: w).relativeError(to: expected), 0, accuracy: 1e-5, "dim \(dim) at \(h)x\(w)")
        }
    }

    /// `mlvit.block`: reference LayerNorm, linears, textbook attention, GELU and additions.
    func testEncoderBlockMatchesReferenceComposition() throws {
        var rng = SplitMix64(seed: 17)
        let info = try BlockZoo.named("mlvit.block")
        for (dim, h, w) in [(info.defaultDim, info.defaultResolution, info.defaultResolution), (128, 3, 7)] {
            let block = try info.load(.random(seed: 5), dim: dim, height: h, width: w)
            let x = Tensor(randomNormal: block.inputShape(batch: 2, height: h, width: w), scale: 1, rng: &rng)
            let net = MLViTReferenceNet(block.stateDict.tensors)
            let input = net.b.input(x.shape)
            let expected = try net.run([x], [net.encoderBlock(input, "", heads: dim / 64)])[0]
            XCTAssertEqual(try Self.run(block, x, height: h, width: w).relativeError(to: expected), 0, accuracy: 1e-5, "dim \(dim)")
        }
    }

    /// Resampling follows PyTorch's `interpolate(mode='bilinear', align_corners=False)` (values
    /// from torch 2.x), up and down, per grid; prefix rows are kept.
    func testResamplingMatchesPyTorchBilinear() {
        let from = Model.TokenLayout(prefix: 1, grids: [Model.Grid(h: 2, w: 3), Model.Grid(h: 4, w: 5)])
        let to = Model.TokenLayout(prefix: 1, grids: [Model.Grid(h: 3, w: 4), Model.Grid(h: 2, w: 3)])
        let rows = Tensor(shape: [1, from.count], data: [-7, 1, 2, 4, 8, 16, 32] + (0..<20).map(Float.init))
        let out = Model.resampleTokens(rows, from: from, to: to)
        XCTAssertEqual(out.shape, [1, 1 + 12 + 6])
        let expected: [Float] = [-7, 1.0, 1.625, 2.75, 4.0, 4.5, 7.3125, 12.375, 18.0, 8.0, 13.0, 22.0, 32.0,
                                 2.8333333, 4.5, 6.1666667, 12.833333, 14.5, 16.166667]
        for (a, b) in zip(out.data, expected) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(Model.resampleTokens(rows, from: from, to: from), rows)
    }

    // MARK: Resolutions and errors

    /// Any size of at least 1x1 leaves a token in every branch; a note names what was resampled.
    func testOtherResolutions() throws {
        let model = try XCTUnwrap(ModelZoo.named("mlvit_mobile").random() as? Model)
        XCTAssertEqual(model.notes(height: 224, width: 224), [])
        XCTAssertEqual(model.tokenLayout(height: 256, width: 256).grids.map(\.description), ["8x8", "4x4", "1x1"])
        let note = model.notes(height: 256, width: 192).joined()
        XCTAssertTrue(note.contains("pos_embed and apf.global_weight") && note.contains("7x7+4x4+1x1") && note.contains("8x6+4x3+1x1")
                      && note.contains("256x192"), note)
        let noPos = try ModelZoo.named("mlvit_mobile:no_pos").random()
        XCTAssertTrue(noPos.notes(height: 256, width: 256).joined().hasPrefix("mlvit: apf.global_weight resampled"))
        let small = try ModelZoo.named("mlvit_mobile").load(.random(), overrides: Self.small)
        for (h, w) in [(1, 1), (17, 5), (130, 96)] {
            let plan = try small.plan(batch: 1, height: h, width: w, pool: ThreadPool(threads: 1))
            try plan.setInput(Tensor(repeating: 0.5, shape: [1, 3, h, w]))
            plan.run()
            XCTAssertEqual(plan.output().shape, [1, 10])
            XCTAssertTrue(plan.output().data.allSatisfy(\.isFinite), "\(h)x\(w)")
        }
        for (h, w) in [(0, 64), (64, -1)] {
            XCTAssertThrowsError(try model.plan(batch: 1, height: h, width: w, pool: ThreadPool(threads: 1))) { error in
                XCTAssertTrue(error is ModelInputError && "\(error)".contains("at least 1x1, got \(h)x\(w)"), "\(error)")
            }
        }
    }

    func testBadConfigsAreClearErrors() throws {
        let info = try ModelZoo.named("mlvit_mobile")
        let cases: [([String: Any], String)] = [
            (["num_heads": 3], "embed_dim 256 does not split into num_heads 3 heads"),
            (["ipe_kernels": [3, 5]], "ipe_strides and ipe_kernels need one entry per IPE branch, got 3 and 2"),
            (["ipe_kernels": [3, 4, 3]], "IPE branch 1: kernel must be odd and positive, got 4"),
            (["ipe_strides": [2, 0, NSNull()]], "IPE branch 1: stride must be positive (or null for global pooling), got 0"),
            (["ipe_strides": [Int](), "ipe_kernels": [Int]()], "one entry per IPE branch"),
            (["patch_embed_chs": [Int]()], "patch_embed_chs needs at least one positive width"),
            (["depth": 0], "depth must be at least 1"),
            (["apf_mlp_ratio": 0.001], "leaves no hidden units in the APF MLP"),
            (["ipe_exp_ratio": 0.0], "leaves no expanded channels"),
            (["img_size": 0], "img_size must be positive"),
            (["num_classes": 0], "num_classes must be positive"),
            (["patch_size": 16], "unknown config field 'patch_size'"),
        ]
        for (overrides, message) in cases {
            XCTAssertThrowsError(try info.load(.random(), overrides: overrides)) { error in
                XCTAssertTrue(error is ModelInputError, "\(overrides): \(error)")
                XCTAssertTrue("\(error)".contains(message), "\(overrides): \(error)")
            }
        }
        // Ablated parts are not validated: without IPE its branch lists do not matter.
        XCTAssertNoThrow(try info.load(.random(), overrides: ["use_ipe": false, "ipe_kernels": [2]]))
        XCTAssertThrowsError(try BlockZoo.named("mlvit.block").random(dim: 100)) { error in
            XCTAssertTrue("\(error)".contains("width 100 is not a multiple of the head dim 64"), "\(error)")
        }
    }

    /// A checkpoint that misses or mis-shapes a tensor is named, with shapes.
    func testCheckpointThatDoesNotFitListsTheKeys() throws {
        let info = try ModelZoo.named("mlvit_mobile")
        var tensors = try info.load(.random(), overrides: Self.small).stateDict.tensors
        tensors["apf.global_weight"] = Tensor(zeros: [1, 66])
        tensors.removeValue(forKey: "ipe.branches.1.se.fc2.bias")
        XCTAssertThrowsError(try info.load(Weights(tensors: tensors, origin: "ckpt"), overrides: Self.small)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("apf.global_weight: expected shape [1, 21], file has [1, 66]"), text)
            XCTAssertTrue(text.contains("ipe.branches.1.se.fc2.bias (expected shape [32])"), text)
        }
    }

    // MARK: Blocks

    /// A block's tensors are the model's, with the shapes they have there: the encoder layer's
    /// under `blocks.0.`, APF's under `apf.`, IPE's with the position embedding under their own
    /// names.
    func testBlocksCarryTheModelsTensors() throws {
        let model = try ModelZoo.named("mlvit_mobile").random().stateDict.entries
        for (block, prefix, keep) in [("mlvit.block", "blocks.0.", false), ("mlvit.apf", "apf.", false), ("mlvit.ipe", "", true)] {
            let expected = Dictionary(uniqueKeysWithValues: model.filter {
                keep ? $0.name.hasPrefix("ipe.") || $0.name == "pos_embed" : $0.name.hasPrefix(prefix)
            }.map { (String($0.name.dropFirst(prefix.count)), $0.tensor.shape) })
            let entries = try BlockZoo.named(block).random().stateDict.entries
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.tensor.shape) }), expected, block)
        }
    }


    /// Every block builds, runs at its default shape and an odd one, and has the parameters its
    /// formula gives.
    func testBlocksRunAndCountParameters() throws {
        for info in BlockZoo.all where info.family == "mlvit" {
            for (dim, h, w) in [(info.defaultDim, info.defaultResolution, info.defaultResolution), (64, 5, 11)] {
                let block = try info.random(dim: dim, height: h, width: w)
                let plan = try block.plan(batch: 2, height: h, width: w, pool: ThreadPool(threads: 2))
                let tokens = Self.layout(h, w).count
                plan.run()
                XCTAssertTrue(plan.output().data.allSatisfy(\.isFinite), info.name)
                switch info.name {
                case "mlvit.ipe":
                    XCTAssertEqual(plan.outputShapes, [[2, tokens, 2 * dim]])
                    let mid = 4 * dim, rd = Self.seReduced(mid, 0.25)
                    XCTAssertEqual(block.parameterCount, [3, 5, 3].reduce(0) { $0 + Self.branchParameters(dim, mid, rd, 2 * dim, $1) } + 66 * 2 * dim)
                case "mlvit.apf":
                    XCTAssertEqual(plan.outputShapes, [[2, dim]])
                    XCTAssertEqual(block.parameterCount, Self.apfParameters(dim: dim, hidden: dim / 4, tokens: 66))
                case "mlvit.block":
                    XCTAssertEqual(plan.outputShapes, [[2, tokens, dim]])
                    XCTAssertEqual(block.parameterCount, Self.blockParameters(dim, hidden: 4 * dim))
                default:
                    XCTFail("untested block \(info.name)")
                }
            }
        }
        XCTAssertEqual(Set(BlockZoo.all.filter { $0.family == "mlvit" }.map(\.name)), ["mlvit.ipe", "mlvit.apf", "mlvit.block"])
        XCTAssertEqual(try BlockZoo.named("mlvit.apf").random().inputShape(batch: 1, height: 14, width: 14), [1, 66, 256])
    }
}

// MARK: - Formulas

extension MobileLevelViTTests {
    static let allSwitches: [[String: Any]] = [false, true].flatMap { ipe in
        [false, true].flatMap { apf in [false, true].map { pos in ["use_ipe": ipe, "use_apf": apf, "use_pos_embed": pos] } }
    }

    /// ⌈n / 2⌉ per stride-2 conv of the patch embedding.
    static func patchGrid(_ n: Int, steps: Int) -> Int { (0..<steps).reduce(n) { s, _ in (s + 1) / 2 } }

    /// A branch grid over an h×w map: ⌊(n + 2⌊k/2⌋ − k)/s⌋ + 1.
    static func grid(_ h: Int, _ w: Int, _ k: Int, _ s: Int) -> Model.Grid {
        Model.Grid(h: (h + 2 * (k / 2) - k) / s + 1, w: (w + 2 * (k / 2) - k) / s + 1)
    }

    /// The default IPE's tokens over an h×w map.
    static func layout(_ h: Int, _ w: Int) -> Model.TokenLayout {
        Model.TokenLayout(prefix: 0, grids: [grid(h, w, 3, 2), grid(h, w, 5, 4), Model.Grid(h: 1, w: 1)])
    }

    static func nativeLayout(grid n: Int) -> Model.TokenLayout { layout(n, n) }

    /// timm's SE width: the expanded width times the ratio, to a multiple of 8 (at least 8).
    static func seReduced(_ mid: Int, _ ratio: Double) -> Int { max(8, Int(Double(mid) * ratio + 4) / 8 * 8) }

    static func branchParameters(_ cin: Int, _ mid: Int, _ rd: Int, _ out: Int, _ k: Int) -> Int {
        cin * mid + 2 * mid + mid * k * k + 2 * mid + (mid * rd + rd) + (rd * mid + mid) + mid * out + 2 * out
    }

    static func blockParameters(_ d: Int, hidden: Int) -> Int {
        2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * hidden + hidden) + (hidden * d + d)
    }

    static func apfParameters(dim d: Int, hidden a: Int, tokens: Int) -> Int { tokens + (d * a + a) + (a + 1) }

    /// The tokens per IPE branch (or the one uniform grid) of an H×W input, and the map they come from.
    static func tokenGrids(_ c: Model.Config, height: Int, width: Int) -> (map: Model.Grid, grids: [Model.Grid]) {
        let map = Model.Grid(h: patchGrid(height, steps: c.patchEmbedChs.count), w: patchGrid(width, steps: c.patchEmbedChs.count))
        guard c.useIpe else { return (map, [map]) }
        let grids = zip(c.ipeStrides, c.ipeKernels).map { s, k in s.map { grid(map.h, map.w, k, $0) } ?? Model.Grid(h: 1, w: 1) }
        return (map, grids)
    }

    static func expectedParameters(_ c: Model.Config) -> Int {
        let chs = c.patchEmbedChs, d = c.embedDim
        var p = 27 * chs[0] + 2 * chs[0]
        for (ci, co) in zip(chs, chs.dropFirst()) { p += 9 * ci + 2 * ci + ci * co + 2 * co }
        let grids = tokenGrids(c, height: c.imgSize, width: c.imgSize).grids
        var tokens = grids.reduce(0) { $0 + $1.h * $1.w }
        if c.useIpe {
            let mid = Int(Double(chs.last!) * c.ipeExpRatio), rd = seReduced(mid, c.ipeSeRatio)
            p += c.ipeKernels.reduce(0) { $0 + branchParameters(chs.last!, mid, rd, d, $1) }
        } else {
            p += chs.last! * d + d
        }
        if !c.useApf {
            p += d
            tokens += 1
        }
        if c.usePosEmbed { p += tokens * d }
        p += c.depth * blockParameters(d, hidden: Int(Double(d) * c.mlpRatio)) + 2 * d
        if c.useApf { p += apfParameters(dim: d, hidden: Int(Double(d) * c.apfMlpRatio), tokens: tokens) }
        return p + d * c.numClasses + c.numClasses
    }

    static func expectedMACs(_ c: Model.Config, height: Int, width: Int) -> Int {
        let chs = c.patchEmbedChs, d = c.embedDim
        var h = patchGrid(height, steps: 1), w = patchGrid(width, steps: 1)
        var macs = h * w * chs[0] * 27
        for (ci, co) in zip(chs, chs.dropFirst()) {
            (h, w) = ((h + 1) / 2, (w + 1) / 2)
            macs += h * w * ci * 9 + h * w * ci * co
        }
        let (map, grids) = tokenGrids(c, height: height, width: width)
        var tokens = grids.reduce(0) { $0 + $1.h * $1.w }
        if c.useIpe {
            let mid = Int(Double(chs.last!) * c.ipeExpRatio), rd = seReduced(mid, c.ipeSeRatio)
            for ((s, k), g) in zip(zip(c.ipeStrides, c.ipeKernels), grids) {
                let dwPixels = s == nil ? map.h * map.w : g.h * g.w
                macs += map.h * map.w * chs.last! * mid + dwPixels * mid * k * k + 2 * mid * rd + g.h * g.w * mid * d
            }
        } else {
            macs += map.h * map.w * chs.last! * d
        }
        if !c.useApf { tokens += 1 }
        let hidden = Int(Double(d) * c.mlpRatio)
        macs += c.depth * (tokens * d * 3 * d + 2 * tokens * tokens * d + tokens * d * d + 2 * tokens * d * hidden)
        if c.useApf {
            let a = Int(Double(d) * c.apfMlpRatio)
            macs += tokens * d * a + tokens * a + tokens * d
        }
        return macs + d * c.numClasses
    }
}

// MARK: - Reference compositions

extension MobileLevelViTTests {
    /// The model with every tensor random, the global weights too (the random source draws them
    /// near 1, which would hide a missing product).
    static func randomized(_ overrides: [String: Any], _ rng: inout SplitMix64) throws -> Model {
        let info = try ModelZoo.named("mlvit_mobile")
        var tensors = try info.load(.random(seed: rng.next()), overrides: overrides).stateDict.tensors
        if let g = tensors["apf.global_weight"] { tensors["apf.global_weight"] = Tensor(randomNormal: g.shape, scale: 1, rng: &rng) }
        return try XCTUnwrap(info.load(Weights(tensors: tensors), overrides: overrides) as? Model)
    }

    static func randomizedBlock(_ info: BlockInfo, dim: Int, h: Int, w: Int, _ rng: inout SplitMix64) throws -> BenchmarkBlock {
        var tensors = try info.random(dim: dim, height: h, width: w, seed: rng.next()).stateDict.tensors
        let g = try XCTUnwrap(tensors["global_weight"])
        tensors["global_weight"] = Tensor(randomNormal: g.shape, scale: 1, rng: &rng)
        return try info.load(Weights(tensors: tensors), dim: dim, height: h, width: w)
    }

    static func run(_ block: BenchmarkBlock, _ x: Tensor, height: Int, width: Int) throws -> Tensor {
        let plan = try block.plan(batch: x.shape[0], height: height, width: width, pool: ThreadPool(threads: 2))
        XCTAssertEqual(plan.inputShapes, [x.shape])
        try plan.setInput(x)
        plan.run()
        return plan.output()
    }

    /// [prefix; parts...] + positions per image, parts given as [N, Tᵢ, C].
    static func assemble(_ parts: [Tensor], prefix: Tensor?, positions: Tensor?) -> Tensor {
        let n = parts[0].shape[0], c = parts[0].shape[2]
        var out: [Float] = []
        for img in 0..<n {
            var rows = prefix?.data ?? []
            for p in parts {
                let per = p.shape[1] * c
                rows += p.data[(img * per)..<((img + 1) * per)]
            }
            if let positions { rows = zip(rows, positions.data).map { $0 + $1 } }
            out += rows
        }
        return Tensor(shape: [n, out.count / (n * c), c], data: out)
    }

    /// Σₜ gₜ · softmaxₜ(scoreₜ) · xₜ per image, in double.
    static func fuse(_ x: Tensor, scores: Tensor, globalWeight g: [Float]) -> Tensor {
        let (n, t, c) = (x.shape[0], x.shape[1], x.shape[2])
        var out = [Float](repeating: 0, count: n * c)
        for img in 0..<n {
            let s = (0..<t).map { Double(scores.data[img * t + $0]) }
            let m = s.max()!, e = s.map { exp($0 - m) }, sum = e.reduce(0, +)
            for ch in 0..<c {
                var acc = 0.0
                for k in 0..<t { acc += Double(g[k]) * e[k] / sum * Double(x.data[(img * t + k) * c + ch]) }
                out[img * c + ch] = Float(acc)
            }
        }
        return Tensor(shape: [n, c], data: out)
    }

    /// The model's logits from its state dict, unfused: patch embedding and IPE on reference ops
    /// (SE before the global pooling), tokens assembled by hand, encoder on reference ops, APF or
    /// the class token and the head in double.
    static func referenceLogits(_ model: Model, image: Tensor) throws -> Tensor {
        let c = model.config, t = model.stateDict.tensors
        let (n, h, w) = (image.shape[0], image.shape[2], image.shape[3])
        let front = MLViTReferenceNet(t)
        let input = front.b.input(image.shape)
        var x = try front.b.apply(Permute([0, 2, 3, 1]), [input])
        x = try front.convBNAct(x, "patch_embed.conv_stem", "patch_embed.bn1", stride: 2)
        for i in 0..<(c.patchEmbedChs.count - 1) {
            let p = "patch_embed.blocks.\(i)"
            x = try front.convBNAct(x, p + ".conv_dw", p + ".bn1", stride: 2, depthwise: true)
            x = try front.convBNAct(x, p + ".conv_pw", p + ".bn2")
        }
        let parts: [Value]
        if c.useIpe {
            parts = try c.ipeStrides.indices.map { try front.ipeBranch(x, "ipe.branches.\($0)", stride: c.ipeStrides[$0]) }
        } else {
            parts = [try front.flatten(front.conv(x, "patch_embed.proj"))]
        }
        let layout = model.tokenLayout(height: h, width: w), native = model.tokenLayout(height: c.imgSize, width: c.imgSize)
        let positions = t["pos_embed"].map { Model.resampleTokens($0, from: native, to: layout) }
        let tokens = assemble(try front.run([image], parts), prefix: t["cls_token"], positions: positions)
        XCTAssertEqual(tokens.shape[1], layout.count)

        let encoder = MLViTReferenceNet(t)
        var y = encoder.b.input(tokens.shape)
        for j in 0..<c.depth { y = try encoder.encoderBlock(y, "blocks.\(j).", heads: c.numHeads) }
        y = try encoder.layerNorm(y, "norm")
        let pooled: Tensor
        if c.useApf {
            let scores = try encoder.linear(encoder.act(encoder.linear(y, "apf.mlp.fc1"), .gelu), "apf.mlp.fc2")
            let outs = try encoder.run([tokens], [y, scores])
            let g = Model.resampleTokens(try XCTUnwrap(t["apf.global_weight"]), from: native, to: layout).data
            pooled = fuse(outs[0], scores: outs[1], globalWeight: g)
        } else {
            let normed = try encoder.run([tokens], [y])[0]
            let per = layout.count * c.embedDim
            pooled = Tensor(shape: [n, c.embedDim], data: (0..<n).flatMap { normed.data[($0 * per)..<($0 * per + c.embedDim)] })
        }
        let head = MLViTReferenceNet(t)
        let p = head.b.input(pooled.shape)
        return try head.run([pooled], [head.linear(p, "head")])[0]
    }
}

/// Unfused compositions of engine operators bound to their reference kernels, reading the
/// tensors by their state-dict names.
private final class MLViTReferenceNet {
    let b = PlanBuilder(backend: .reference, pool: ThreadPool(threads: 1))
    let tensors: [String: Tensor]

    init(_ tensors: [String: Tensor]) { self.tensors = tensors }

    func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw ModelInputError("reference: no tensor \(name)") }
        return t
    }

    func conv(_ x: Value, _ name: String, stride: Int = 1, depthwise: Bool = false) throws -> Value {
        let w = try tensor(name + ".weight")
        return try b.apply(Conv2d(weight: w, bias: tensors[name + ".bias"], stride: stride, padding: w.shape[2] / 2,
                                  groups: depthwise ? w.shape[0] : 1), [x])
    }

    func batchNorm(_ x: Value, _ name: String) throws -> Value {
        let p = BatchNormParameters(gamma: try tensor(name + ".weight").data, beta: try tensor(name + ".bias").data,
                                    mean: try tensor(name + ".running_mean").data, variance: try tensor(name + ".running_var").data)
        return try b.apply(ChannelAffine(batchNorm: p), [x])
    }

    func act(_ x: Value, _ a: Activation) throws -> Value { try b.apply(ActivationOp(a), [x]) }

    func convBNAct(_ x: Value, _ conv: String, _ bn: String, stride: Int = 1, depthwise: Bool = false,
                   activation: Activation = .hardswish) throws -> Value {
        try act(batchNorm(self.conv(x, conv, stride: stride, depthwise: depthwise), bn), activation)
    }

    func flatten(_ x: Value) throws -> Value {
        let s = b.shape(of: x)
        return try b.reshape(x, [s[0], s[1] * s[2], s[3]])
    }

    /// An IPE branch as written: SE on the full map, then (global branch) the pooling.
    func ipeBranch(_ x: Value, _ p: String, stride: Int?) throws -> Value {
        var y = try convBNAct(x, p + ".conv_pw", p + ".bn1")
        y = try convBNAct(y, p + ".conv_dw", p + ".bn2", stride: stride ?? 1, depthwise: true)
        y = try b.apply(SqueezeExcite(reduceWeight: tensor(p + ".se.fc1.weight"), reduceBias: tensor(p + ".se.fc1.bias"),
                                      expandWeight: tensor(p + ".se.fc2.weight"), expandBias: tensor(p + ".se.fc2.bias"),
                                      innerActivation: .relu, gate: .hardsigmoid), [y])
        if stride == nil { y = try b.apply(GlobalAvgPool(keepDims: true), [y]) }
        return try flatten(batchNorm(conv(y, p + ".conv_pwl"), p + ".bn3"))
    }

    func linear(_ x: Value, _ name: String) throws -> Value {
        try b.apply(Linear(weight: tensor(name + ".weight"), bias: tensors[name + ".bias"]), [x])
    }

    func layerNorm(_ x: Value, _ name: String) throws -> Value {
        try b.apply(LayerNorm(gamma: tensor(name + ".weight").data, beta: tensor(name + ".bias").data, eps: 1e-6), [x])
    }

    func add(_ x: Value, _ y: Value) throws -> Value { try b.apply(Binary(.add), [x, y]) }

    /// timm's ViT block with textbook attention (the full score matrix).
    func encoderBlock(_ x: Value, _ p: String, heads: Int) throws -> Value {
        let d = b.shape(of: x)[2]
        let qkv = try linear(layerNorm(x, p + "norm1"), p + "attn.qkv")
        let o = try b.apply(ScaledDotProductAttention.fusedQKV(heads: heads, headDim: d / heads), [qkv])
        let x1 = try add(x, linear(o, p + "attn.proj"))
        let hidden = try act(linear(layerNorm(x1, p + "norm2"), p + "mlp.fc1"), .gelu)
        return try add(x1, linear(hidden, p + "mlp.fc2"))
    }

    func run(_ inputs: [Tensor], _ outputs: [Value]) throws -> [Tensor] {
        let plan = try b.build(outputs: outputs)
        for (i, x) in inputs.enumerated() { try plan.setInput(x, at: i) }
        plan.run()
        return outputs.indices.map { plan.output($0) }
    }
}
