import Foundation
import XCTest
import VitEngine
@testable import VitModels

/// PSViT has no reference implementation to export goldens from, so it is checked against
/// compositions of the engine's reference operators written here from the definitions (layers,
/// token pooling, whole small models), and its counts against formulas computed here from the
/// configuration alone.
final class PSViTTests: XCTestCase {
    static let zoo = ["psvit_1d_tiny", "psvit_2d_tiny", "psvit_1d_small", "psvit_2d_small"]

    /// A small model of each kind: three stages, a sharing layer after a sharing layer, a stage
    /// without sharing, widths that are not multiples of 16.
    static func smallConfig(_ pooling: String) -> [String: Any] {
        ["token_pooling": pooling, "img_size": 64, "embed_dims": [20, 36, 52], "depths": [2, 3, 2], "num_heads": [2, 3, 4],
         "share_attention": [[false, true], [false, true, true], [false, false]], "num_classes": 10]
    }

    static func small(_ pooling: String) throws -> PSViT {
        try XCTUnwrap(try ModelZoo.named("psvit_\(pooling)_tiny").load(.random(seed: 7), overrides: smallConfig(pooling)) as? PSViT)
    }

    // MARK: - Counts by formula

    /// Parameters from the configuration, counted here tensor by tensor.
    static func expectedParameters(_ c: PSViT.Config) -> Int {
        let oneD = c.tokenPooling == "1d", p = c.patchSize, g = c.imgSize / c.patchSize, c0 = c.embedDims[0]
        var total = 3 * p * p * c0 + c0                            // patch_embed.proj
        total += (oneD ? c0 : 0) + ((oneD ? 1 : 0) + g * g) * c0   // cls_token, pos_embed
        for (i, d) in c.embedDims.enumerated() {
            if i > 0 {
                let cin = c.embedDims[i - 1]
                total += oneD ? (3 * cin * d + d) + (cin * d + d) : 9 * cin * d + d
            }
            let hidden = Int(Double(d) * c.mlpRatio)
            for shares in c.shareAttention[i] {
                let projections = shares ? d : 3 * d               // attn.v or attn.qkv
                total += 2 * d + (projections * d + projections) + (d * d + d) + 2 * d + (d * hidden + hidden) + (hidden * d + d)
            }
        }
        let last = c.embedDims.last!
        return total + 2 * last + last * c.numClasses + c.numClasses
    }

    /// MACs of one image at H×W, from the token counts the strides leave: convs and linears,
    /// QKᵀ and PV per basic layer, only PV per sharing layer.
    static func expectedMACs(_ c: PSViT.Config, height: Int, width: Int) -> Int {
        let oneD = c.tokenPooling == "1d", p = c.patchSize
        var (gh, gw) = (height / p, width / p)
        var tokens = gh * gw
        var total = tokens * 3 * p * p * c.embedDims[0]
        for (i, d) in c.embedDims.enumerated() {
            if i > 0 {
                let cin = c.embedDims[i - 1]
                if oneD {
                    total += tokens * 3 * cin * d + cin * d        // conv1d on the patches, fc on the class token
                    tokens = (tokens + 3) / 4
                } else {
                    (gh, gw) = ((gh + 1) / 2, (gw + 1) / 2)
                    tokens = gh * gw
                    total += tokens * 9 * cin * d
                }
            }
            let t = tokens + (oneD ? 1 : 0), hidden = Int(Double(d) * c.mlpRatio)
            for shares in c.shareAttention[i] {
                total += shares ? t * (d * d + d * d + 2 * d * hidden) + t * t * d
                                : t * (3 * d * d + d * d + 2 * d * hidden) + 2 * t * t * d
            }
        }
        return total + c.embedDims.last! * c.numClasses
    }

    func testZooParametersMatchTheFormula() throws {
        for name in Self.zoo {
            let model = try XCTUnwrap(try ModelZoo.named(name).random() as? PSViT)
            XCTAssertEqual(model.parameterCount, Self.expectedParameters(model.config), name)
            XCTAssertEqual(model.stateDict.entries.count, Set(model.stateDict.entries.map(\.name)).count, "\(name): duplicate names")
        }
    }

    func testSmallModelMACsMatchTheFormula() throws {
        for pooling in ["1d", "2d"] {
            let model = try Self.small(pooling)
            XCTAssertEqual(model.parameterCount, Self.expectedParameters(model.config), pooling)
            for (h, w) in [(64, 64), (72, 40), (8, 8), (23, 130)] {
                XCTAssertEqual(try model.macs(height: h, width: w), Self.expectedMACs(model.config, height: h, width: w), "\(pooling) at \(h)x\(w)")
            }
        }
    }

    /// The shipped sizes spend DeiT-Ti's and DeiT-S's compute at 224 (docs/published-figures.md: 1.26 and
    /// 4.61 GMACs), within 5%.
    func testZooComputeBudgets() throws {
        for (name, budget) in [("psvit_1d_tiny", 1.26), ("psvit_2d_tiny", 1.26), ("psvit_1d_small", 4.61), ("psvit_2d_small", 4.61)] {
            let info = try ModelZoo.named(name)
            let model = try XCTUnwrap(try info.random() as? PSViT)
            let gmacs = Double(try model.macs(height: 224, width: 224)) / 1e9
            XCTAssertEqual(gmacs, Double(Self.expectedMACs(model.config, height: 224, width: 224)) / 1e9, accuracy: 1e-9, name)
            XCTAssertEqual(gmacs, budget, accuracy: 0.05 * budget, name)
            XCTAssertEqual(info.family, "psvit")
            XCTAssertEqual(info.resolution, 224)
            XCTAssertNil(info.published, name)
            XCTAssertNil(info.referenceParams, name)
            XCTAssertTrue(info.summary.contains("no published weights"), info.summary)
            XCTAssertEqual(model.config.shareAttention.map { $0.filter { $0 }.count }, [1, 3, 2], "\(name): basic+sharing pairs")
        }
    }

    /// A sharing layer saves a basic layer's Q and K projections (2·T·C² MACs, 2·(C² + C)
    /// parameters) and its scores QKᵀ (T²·C): the pair against two basic layers.
    func testSharingSavesQKAndTheScores() throws {
        let (dim, grid) = (64, 9), t = grid * grid
        let basic = try BlockZoo.named("psvit.attention").random(dim: dim, height: grid)
        let pair = try BlockZoo.named("psvit.shared_attention").random(dim: dim, height: grid)
        XCTAssertEqual(2 * (try basic.macs(height: grid, width: grid)) - (try pair.macs(height: grid, width: grid)), 2 * t * dim * dim + t * t * dim)
        XCTAssertEqual(2 * basic.parameterCount - pair.parameterCount, 2 * (dim * dim + dim))
    }

    /// Lowering as documented: a basic layer whose map is reused materialises it, every other
    /// basic layer runs the fused attention, sharing layers only apply a map.
    func testPlanLowersSharingAsDocumented() throws {
        let model = try Self.small("2d")
        let plan = try model.plan(batch: 1, height: 64, width: 64, pool: ThreadPool(threads: 1))
        func steps(_ kind: String) -> [String] { plan.steps.filter { $0.kind == kind }.map(\.name) }
        XCTAssertEqual(steps("attention.map"), ["stages.0.blocks.0.attn.map", "stages.1.blocks.0.attn.map"])
        XCTAssertEqual(steps("attention.apply"), ["stages.0.blocks.0.attn.apply_map", "stages.0.blocks.1.attn.apply_map",
                                                  "stages.1.blocks.0.attn.apply_map", "stages.1.blocks.1.attn.apply_map",
                                                  "stages.1.blocks.2.attn.apply_map"])
        XCTAssertEqual(steps("attention"), ["stages.2.blocks.0.attn", "stages.2.blocks.1.attn"])
        XCTAssertTrue(plan.steps.contains { $0.name == "stages.1.blocks.2.attn.v" })
        XCTAssertFalse(plan.steps.contains { $0.name.hasPrefix("stages.1.blocks.2.attn.qkv") })
    }

    // MARK: - Numerics against reference compositions

    /// A basic layer, then a sharing layer: reference LayerNorm/Linear/attention, the sharing
    /// layer's attention taking Q and K from the basic layer's qkv and V from its own `attn.v`.
    func testSharingCellMatchesReferenceComposition() throws {
        for (dim, grid, seed) in [(64, 7, UInt64(1)), (96, 5, 2)] {
            let block = try BlockZoo.named("psvit.shared_attention").random(dim: dim, height: grid, seed: seed)
            let t = block.stateDict.tensors, heads = dim / 32
            var rng = SplitMix64(seed: seed)
            let x = Tensor(randomNormal: [2, grid * grid, dim], rng: &rng)
            let first = try referenceLayer(x, t, "0.", heads: heads, sharedQKV: nil)
            let expected = try referenceLayer(first.out, t, "1.", heads: heads, sharedQKV: first.qkv).out
            for threads in [1, 2] {
                let got = try run(block, x, threads: threads)
                XCTAssertLessThanOrEqual(got.relativeError(to: expected), 1e-4, "dim \(dim), \(threads) threads")
            }
            // And sharing is not a no-op: the second layer's own Q and K would give another result.
            XCTAssertGreaterThan(try run(block, x, threads: 1).relativeError(to: sharingIgnored(first.out, t, heads: heads)), 1e-3)
        }
    }

    func testBasicLayerMatchesReferenceComposition() throws {
        let block = try BlockZoo.named("psvit.attention").random(dim: 64, height: 6)
        var rng = SplitMix64(seed: 3)
        let x = Tensor(randomNormal: [2, 36, 64], rng: &rng)
        let expected = try referenceLayer(x, block.stateDict.tensors, "", heads: 2, sharedQKV: nil).out
        XCTAssertLessThanOrEqual(try run(block, x, threads: 2).relativeError(to: expected), 1e-4)
    }

    func testTokenPooling2dIsAStride2Conv() throws {
        for (h, w) in [(7, 9), (28, 28), (1, 2)] {
            let block = try BlockZoo.named("psvit.token_pooling_2d").random(dim: 24, height: h, width: w)
            let t = block.stateDict.tensors
            var rng = SplitMix64(seed: 4)
            let x = Tensor(randomNormal: [2, h, w, 24], rng: &rng)
            let expected = try reference(Conv2d(weight: t["conv.weight"]!, bias: t["conv.bias"], stride: 2, padding: 1), [x])
            let got = try run(block, x, threads: 2)
            XCTAssertEqual(got.shape, [2, (h + 1) / 2, (w + 1) / 2, 48])
            XCTAssertLessThanOrEqual(got.relativeError(to: expected), 1e-5, "\(h)x\(w)")
        }
    }

    /// Against the definition written out in loops here, with the max pooling as two successive
    /// window-3 stride-2 poolings — the equivalence the window-7 stride-4 pooling relies on —
    /// at token counts that are and are not multiples of 4, down to a single token.
    func testTokenPooling1dMatchesDefinition() throws {
        for (h, w) in [(4, 4), (5, 3), (3, 1), (1, 1), (28, 28), (7, 2)] {
            let block = try BlockZoo.named("psvit.token_pooling_1d").random(dim: 20, height: h, width: w)
            var rng = SplitMix64(seed: 5)
            let x = Tensor(randomNormal: [2, 1 + h * w, 20], rng: &rng)
            let expected = referenceTokenPooling1d(x, block.stateDict.tensors, "")
            let got = try run(block, x, threads: 2)
            XCTAssertEqual(got.shape, [2, 1 + (h * w + 3) / 4, 40])
            XCTAssertLessThanOrEqual(got.relativeError(to: expected), 1e-5, "\(h)x\(w)")
        }
    }

    /// Whole small models against the reference composition, at the position embedding's own
    /// grid and at grids that resample it, leave remainder pixels and pool to one token.
    func testSmallModelsMatchReferenceComposition() throws {
        for pooling in ["1d", "2d"] {
            let model = try Self.small(pooling)
            for (h, w) in [(64, 64), (47, 90), (8, 8)] {
                var rng = SplitMix64(seed: 6)
                let image = Tensor(randomNormal: [2, 3, h, w], rng: &rng)
                let expected = try referenceForward(model, image)
                let plan = try model.plan(batch: 2, height: h, width: w, pool: ThreadPool(threads: 2))
                try plan.setInput(image)
                plan.run()
                XCTAssertEqual(plan.output().shape, [2, 10])
                XCTAssertLessThanOrEqual(plan.output().relativeError(to: expected), 1e-4, "\(pooling) at \(h)x\(w)")
            }
        }
    }

    func testZooModelsRunAtTheirResolution() throws {
        for name in ["psvit_1d_tiny", "psvit_2d_tiny"] {
            let model = try ModelZoo.named(name).random()
            let plan = try model.plan(batch: 1, height: 224, width: 224, pool: ThreadPool(threads: 2))
            try plan.setInput(Tensor(repeating: 0.5, shape: [1, 3, 224, 224]))
            plan.run()
            XCTAssertEqual(plan.output().shape, [1, 1000])
            XCTAssertTrue(plan.output().data.allSatisfy(\.isFinite), name)
        }
    }

    // MARK: - Input and configuration errors

    func testNotes() throws {
        let model = try ModelZoo.named("psvit_1d_tiny").random()
        XCTAssertEqual(model.notes(height: 224, width: 224), [])
        let odd = model.notes(height: 250, width: 224)
        XCTAssertEqual(odd.count, 2, "\(odd)")
        XCTAssertTrue(odd[0].contains("31x28") && odd[0].contains("2 pixel rows"), odd[0])
        XCTAssertTrue(odd[1].contains("resampled from the 28x28 grid to 31x28"), odd[1])
        XCTAssertTrue(model.notes(height: 1024, width: 1024).contains { $0.contains("stage 0's attention maps: 3 heads x 16385x16385") })
        // Without sharing in stage 0 the largest kept map is stage 1's, after a 2x2 pooling.
        let laterSharing = try ModelZoo.named("psvit_2d_tiny").load(.random(), overrides: [
            "share_attention": [[false, false], [false, true, false, true, false, true], [false, true, false, true]]])
        XCTAssertEqual(laterSharing.notes(height: 2048, width: 2048).last, "attention sharing keeps stage 1's attention maps: "
                       + "6 heads x 16384x16384 tokens = 6144 MiB per image")
        XCTAssertEqual(laterSharing.notes(height: 224, width: 224), [])
    }

    func testInputTooSmallIsAClearError() throws {
        let model = try ModelZoo.named("psvit_2d_tiny").random()
        for (h, w) in [(7, 64), (64, 4), (0, 0)] {
            XCTAssertThrowsError(try model.plan(batch: 1, height: h, width: w, pool: ThreadPool(threads: 1))) { error in
                XCTAssertTrue(error is ModelInputError, "\(error)")
                XCTAssertTrue("\(error)".contains("\(h)x\(w)") && "\(error)".contains("8x8 patch"), "\(error)")
            }
        }
    }

    func testBadConfigsAreClearErrors() throws {
        let info = try ModelZoo.named("psvit_2d_tiny")
        let cases: [([String: Any], String)] = [
            (["token_pooling": "3d"], "unknown token_pooling '3d'; known: 1d, 2d"),
            (["share_attention": [[true, false], [false, true, false, true, false, true], [false, true, false, true]]],
             "layer 0 of stage 0 cannot share attention: no layer comes before it"),
            (["share_attention": [[false, true], [true, true, false, true, false, true], [false, true, false, true]]],
             "layer 0 of stage 1 cannot share attention: the token pooling before it changes the token count and width"),
            (["depths": [2, 6, 5]], "stage 2 has 5 layers but share_attention gives 4 flags"),
            (["num_heads": [3, 5, 12]], "stage 1 width 192 does not split into 5 heads"),
            (["embed_dims": [96, 192]], "need one entry per stage"),
            (["img_size": 4], "img_size must be at least patch_size"),
            (["depths": [2, 0, 4]], "stage 1 needs a positive width, depth and head count"),
        ]
        for (overrides, message) in cases {
            XCTAssertThrowsError(try info.load(.random(), overrides: overrides)) { error in
                XCTAssertTrue(error is ModelInputError, "\(overrides): \(error)")
                XCTAssertTrue("\(error)".contains(message), "\(overrides): \(error)")
            }
        }
        XCTAssertThrowsError(try BlockZoo.named("psvit.attention").random(dim: 48)) { error in
            XCTAssertTrue("\(error)".contains("width 48 is not a multiple of the head dim 32"), "\(error)")
        }
    }

    /// A checkpoint under the documented names loads back into the same function.
    func testStateDictRoundTrips() throws {
        let model = try Self.small("1d")
        let reloaded = try ModelZoo.named("psvit_1d_tiny").load(Weights(tensors: model.stateDict.tensors), overrides: Self.smallConfig("1d"))
        let names = Set(model.stateDict.entries.map(\.name))
        for name in ["cls_token", "pos_embed", "patch_embed.proj.weight", "stages.1.pool.conv.weight", "stages.1.pool.fc.bias",
                     "stages.0.blocks.1.attn.v.weight", "stages.0.blocks.0.attn.qkv.bias", "stages.2.blocks.1.mlp.fc2.weight",
                     "norm.weight", "head.bias"] {
            XCTAssertTrue(names.contains(name), name)
        }
        XCTAssertFalse(names.contains("stages.0.blocks.1.attn.qkv.weight"), "a sharing layer has no qkv")
        XCTAssertEqual(model.stateDict.tensors["stages.1.pool.conv.weight"]?.shape, [36, 20, 3])
        var rng = SplitMix64(seed: 8)
        let image = Tensor(randomNormal: [1, 3, 64, 64], rng: &rng)
        XCTAssertEqual(try logits(model, image), try logits(reloaded, image))
    }

    // MARK: - Reference compositions

    private func logits(_ model: ImageClassifier, _ image: Tensor) throws -> Tensor {
        let plan = try model.plan(batch: image.shape[0], height: image.shape[2], width: image.shape[3], pool: ThreadPool(threads: 1))
        try plan.setInput(image)
        plan.run()
        return plan.output()
    }

    /// One operator on the reference backend.
    private func reference(_ op: Operator, _ inputs: [Tensor]) throws -> Tensor {
        let b = PlanBuilder(backend: .reference, pool: ThreadPool(threads: 1))
        let values = inputs.map { b.input($0.shape) }
        let plan = try b.build(outputs: [try b.apply(op, values)])
        for (i, t) in inputs.enumerated() { try plan.setInput(t, at: i) }
        plan.run()
        return plan.output()
    }

    private func run(_ block: BenchmarkBlock, _ x: Tensor, threads: Int) throws -> Tensor {
        let b = PlanBuilder(pool: ThreadPool(threads: threads))
        let input = b.input(x.shape)
        let plan = try b.build(outputs: [try block.forward(b, input)])
        try plan.setInput(x)
        plan.run()
        return plan.output()
    }

    private func layerNorm(_ x: Tensor, _ t: [String: Tensor], _ name: String) throws -> Tensor {
        try reference(LayerNorm(gamma: t[name + ".weight"]!.data, beta: t[name + ".bias"]!.data, eps: 1e-6), [x])
    }

    private func linear(_ x: Tensor, _ t: [String: Tensor], _ name: String, _ activation: Activation = .none) throws -> Tensor {
        try reference(Linear(weight: t[name + ".weight"]!, bias: t[name + ".bias"], activation: activation), [x])
    }

    private func add(_ a: Tensor, _ b: Tensor) throws -> Tensor { try reference(Binary(.add), [a, b]) }

    /// DeiT's layer from reference operators. A sharing layer (`sharedQKV` given) attends with Q
    /// and K from that qkv — the previous basic layer's — and V from its own `attn.v`. Returns
    /// the output and the qkv whose Q and K the next sharing layer would reuse.
    private func referenceLayer(_ x: Tensor, _ t: [String: Tensor], _ p: String, heads: Int, sharedQKV: Tensor?) throws -> (out: Tensor, qkv: Tensor) {
        let c = x.shape[2], d = c / heads
        let normed = try layerNorm(x, t, p + "norm1")
        let attended: Tensor, qkv: Tensor
        if let sharedQKV {
            let v = try linear(normed, t, p + "attn.v")
            let op = ScaledDotProductAttention(heads: heads, keyDim: d, q: HeadView(input: 0, offset: 0, headStride: d),
                                               k: HeadView(input: 0, offset: c, headStride: d), v: HeadView(input: 1, offset: 0, headStride: d))
            attended = try reference(op, [sharedQKV, v])
            qkv = sharedQKV
        } else {
            qkv = try linear(normed, t, p + "attn.qkv")
            attended = try reference(ScaledDotProductAttention.fusedQKV(heads: heads, headDim: d), [qkv])
        }
        let x1 = try add(linear(attended, t, p + "attn.proj"), x)
        let hidden = try linear(layerNorm(x1, t, p + "norm2"), t, p + "mlp.fc1", .gelu)
        return (try add(linear(hidden, t, p + "mlp.fc2"), x1), qkv)
    }

    /// The sharing layer `1.` as if it attended with its own Q and K — which it cannot (it has no
    /// qkv): Q and K from its input through the previous layer's projection.
    private func sharingIgnored(_ x: Tensor, _ t: [String: Tensor], heads: Int) throws -> Tensor {
        let ownQKV = try linear(layerNorm(x, t, "1.norm1"), t, "0.attn.qkv")
        return try referenceLayer(x, t, "1.", heads: heads, sharedQKV: ownQKV).out
    }

    /// PSViT-1D token pooling by definition on [N, 1 + T, C]: class token through `fc`; patches
    /// through the kernel-3 conv with zero padding, then max pooling window 3 / stride 2 /
    /// padding 1, twice.
    private func referenceTokenPooling1d(_ x: Tensor, _ t: [String: Tensor], _ p: String) -> Tensor {
        let (n, tokens, cin) = (x.shape[0], x.shape[1] - 1, x.shape[2])
        let w = t[p + "conv.weight"]!, bias = t[p + "conv.bias"]!.data, cout = w.shape[0]
        let fcW = t[p + "fc.weight"]!.data, fcB = t[p + "fc.bias"]!.data
        func at(_ img: Int, _ token: Int, _ c: Int) -> Double { Double(x.data[(img * (tokens + 1) + token) * cin + c]) }
        func maxPool(_ rows: [[Double]]) -> [[Double]] {
            (0..<(rows.count + 1) / 2).map { j in
                (0..<cout).map { o in (max(2 * j - 1, 0)...min(2 * j + 1, rows.count - 1)).map { rows[$0][o] }.max()! }
            }
        }
        var out: [Float] = []
        for img in 0..<n {
            out += (0..<cout).map { o in Float((0..<cin).reduce(Double(fcB[o])) { $0 + Double(fcW[o * cin + $1]) * at(img, 0, $1) }) }
            let conv: [[Double]] = (0..<tokens).map { s in
                (0..<cout).map { o in
                    var acc = Double(bias[o])
                    for k in 0..<3 where (0..<tokens).contains(s + k - 1) {
                        for i in 0..<cin { acc += Double(w.data[(o * cin + i) * 3 + k]) * at(img, 1 + s + k - 1, i) }
                    }
                    return acc
                }
            }
            out += maxPool(maxPool(conv)).flatMap { $0.map(Float.init) }
        }
        return Tensor(shape: [n, 1 + (tokens + 3) / 4, cout], data: out)
    }

    /// The whole model from reference operators and loops, from its state dict (the position
    /// embedding for the input's grid taken from the model: resampling has its own tests).
    private func referenceForward(_ model: PSViT, _ image: Tensor) throws -> Tensor {
        let t = model.stateDict.tensors, cfg = model.config, p = cfg.patchSize, oneD = cfg.tokenPooling == "1d"
        let patches = try reference(Conv2d(weight: t["patch_embed.proj.weight"]!, bias: t["patch_embed.proj.bias"], stride: p, padding: 0),
                                    [image.nchwToNHWC()])
        let (n, gh, gw, c0) = (patches.shape[0], patches.shape[1], patches.shape[2], patches.shape[3])
        let positions = model.positionsForGrid(height: gh, width: gw).data
        var rows: [Float] = []
        for img in 0..<n {
            let sequence = (oneD ? t["cls_token"]!.data : []) + patches.data[(img * gh * gw * c0)..<((img + 1) * gh * gw * c0)]
            rows += zip(sequence, positions).map { $0 + $1 }
        }
        var tokens = Tensor(shape: [n, rows.count / (n * c0), c0], data: rows)
        var grid = (h: gh, w: gw)
        for i in cfg.embedDims.indices {
            let stage = "stages.\(i)."
            if i > 0 && oneD {
                tokens = referenceTokenPooling1d(tokens, t, stage + "pool.")
            } else if i > 0 {
                let conv = Conv2d(weight: t[stage + "pool.conv.weight"]!, bias: t[stage + "pool.conv.bias"], stride: 2, padding: 1)
                let map = try reference(conv, [tokens.reshaped([n, grid.h, grid.w, tokens.shape[2]])])
                grid = (map.shape[1], map.shape[2])
                tokens = map.reshaped([n, grid.h * grid.w, map.shape[3]])
            }
            var qkv: Tensor?
            for (j, shares) in cfg.shareAttention[i].enumerated() {
                let layer = try referenceLayer(tokens, t, stage + "blocks.\(j).", heads: cfg.numHeads[i], sharedQKV: shares ? qkv : nil)
                (tokens, qkv) = (layer.out, layer.qkv)
            }
        }
        let (count, c) = (tokens.shape[1], tokens.shape[2])
        // 1-D: the first token; 2-D: the mean over tokens (summed in Double, in token order).
        let features: [Float] = (0..<n).flatMap { img -> [Float] in
            (0..<c).map { ch -> Float in
                if oneD { return tokens.data[img * count * c + ch] }
                var sum = 0.0
                for k in 0..<count { sum += Double(tokens.data[(img * count + k) * c + ch]) }
                return Float(sum / Double(count))
            }
        }
        return try linear(layerNorm(Tensor(shape: [n, c], data: features), t, "norm"), t, "head")
    }
}
