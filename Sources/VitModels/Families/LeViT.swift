import VitEngine

/// LeViT (timm `levit.py`, the linear form: `levit_128s`, `levit_128`, `levit_192`, `levit_256`,
/// `levit_384`, all `LevitDistilled`). A stride-16 stem of four 3x3/2 convs with BatchNorm
/// (Hardswish between them); then stages of blocks on the token grid, each block
/// x + attn(x), x + mlp(x); stages after the first open with a shrink attention
/// (`AttentionDownsample`: queries from the grid subsampled by 2, keys and values from the full
/// grid) and its MLP. Every linear is bias-free and followed by a BatchNorm1d (timm `LinearNorm`).
/// Attention adds a learned bias per head and relative offset (|Δy|, |Δx|) instead of position
/// embeddings, and applies Hardswish to its output before the projection. The classifier
/// averages `head` and `head_dist` (each a BatchNorm1d then a linear) over the mean token.
///
/// The state dict keeps timm's keys and tensors (the train-time form, 7.78 M parameters for
/// 128S); plans fold every BatchNorm into the GEMM next to it, and both heads into one GEMM.
/// `reparameterize()` is timm's `fuse()` (through `reparameterize_model`): each conv/linear and
/// BatchNorm pair becomes one layer with bias, under the pair's own name.
///
/// Resolution: the attention biases belong to the grid of the checkpoint's `img_size` (14x14 at
/// 224). Any input of at least 1x1 runs — every stride pads to ⌈n/2⌉ — and an input whose stem
/// output is that grid uses the biases as loaded; any other builds the offset index for its own
/// grids and fills the biases with deterministic random values (for latency; `notes` says so).
public final class LeViT: ImageClassifier {
    public struct Config: Codable, Sendable {
        public var imgSize = ImageSize(224)
        public var embedDim: [Int]
        public var keyDim: Int
        public var depth: [Int]
        public var numHeads: [Int]
        public var attnRatio = 2.0
        public var mlpRatio = 2.0
        public var numClasses = 1000

        enum CodingKeys: String, CodingKey {
            case imgSize = "img_size", embedDim = "embed_dim", keyDim = "key_dim", depth, numHeads = "num_heads"
            case attnRatio = "attn_ratio", mlpRatio = "mlp_ratio", numClasses = "num_classes"
        }

        public init(embedDim: [Int], keyDim: Int, depth: [Int], numHeads: [Int]) {
            self.embedDim = embedDim
            self.keyDim = keyDim
            self.depth = depth
            self.numHeads = numHeads
        }

        /// The token grid the checkpoint's attention biases are for (timm: img_size // 16).
        var grid: Grid { Grid(h: imgSize.height / LeViT.stemStride, w: imgSize.width / LeViT.stemStride) }
    }

    /// timm's `img_size`: one number for a square input, or [height, width].
    public struct ImageSize: Codable, Sendable, Equatable {
        public var height: Int, width: Int

        public init(_ side: Int) { (height, width) = (side, side) }

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let side = try? c.decode(Int.self) {
                (height, width) = (side, side)
                return
            }
            let sides = try c.decode([Int].self)
            guard sides.count == 2 else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "img_size is one side or [height, width], got \(sides)")
            }
            (height, width) = (sides[0], sides[1])
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            if height == width { try c.encode(height) } else { try c.encode([height, width]) }
        }
    }

    static let stemStride = 16

    public let config: Config
    let stem: [LinearBN]
    let stages: [Stage]
    let head: NormLinear, headDist: NormLinear
    public var numClasses: Int { config.numClasses }

    public init(_ w: Weights, config: Config) throws {
        self.config = config
        let dims = config.embedDim, n = dims.count
        guard n > 0, config.depth.count == n, config.numHeads.count == n else {
            throw ModelInputError("levit: embed_dim, depth and num_heads need one entry per stage")
        }
        guard config.grid.h >= 1, config.grid.w >= 1 else {
            throw ModelInputError("levit: img_size \(config.imgSize.height)x\(config.imgSize.width) is smaller than the stem's stride 16")
        }
        guard dims[0] >= 8, config.keyDim >= 1, config.attnRatio > 0, config.mlpRatio > 0, config.numClasses > 0,
              config.numHeads.allSatisfy({ $0 >= 1 }), config.depth.allSatisfy({ $0 >= 0 }) else {
            throw ModelInputError("levit: embed_dim[0] must be at least 8 (the stem's first conv has embed_dim[0] / 8 "
                                  + "channels), and key_dim, num_heads, attn_ratio, mlp_ratio and num_classes positive")
        }
        guard Int(config.attnRatio * Double(config.keyDim)) >= 1, dims.allSatisfy({ Int(Double($0) * config.mlpRatio) >= 1 }) else {
            throw ModelInputError("levit: attn_ratio · key_dim (the value width) and embed_dim · mlp_ratio (the MLP width) "
                                  + "must be at least 1")
        }
        if let i = (1..<n).first(where: { dims[$0 - 1] < config.keyDim }) {
            throw ModelInputError("levit: stage \(i)'s shrink attention has embed_dim[\(i - 1)] / key_dim = "
                                  + "\(dims[i - 1]) / \(config.keyDim) heads, fewer than one")
        }
        let c = dims[0], widths = [3, c / 8, c / 4, c / 2, c]
        stem = (1...4).map { i in
            w.scope("stem") { w.scope("conv\(i)") { LinearBN(w, weightShape: [widths[i], widths[i - 1], 3, 3]) } }
        }
        var grid = config.grid, st: [Stage] = []
        for i in 0..<n {
            st.append(w.scope("stages") { w.scope("\(i)") { Stage(w, config: config, index: i, inputGrid: grid) } })
            if i > 0 { grid = grid.halved }
        }
        stages = st
        head = w.scope("head") { NormLinear(w, in: dims[n - 1], out: config.numClasses) }
        headDist = w.scope("head_dist") { NormLinear(w, in: dims[n - 1], out: config.numClasses) }
    }

    public var isReparameterizable: Bool { true }

    public func reparameterize() {
        stem.forEach { $0.reparameterize() }
        stages.forEach { $0.reparameterize() }
        head.reparameterize()
        headDist.reparameterize()
    }

    public func checkInput(height: Int, width: Int) throws {
        guard height >= 1, width >= 1 else {
            throw ModelInputError("levit needs an input of at least 1x1, got \(height)x\(width)")
        }
    }

    /// The token grid of the first stage for an H×W input: four ⌈n/2⌉ strides.
    static func stemGrid(height: Int, width: Int) -> Grid {
        var g = Grid(h: height, w: width)
        for _ in 0..<4 { g = g.halved }
        return g
    }

    public func notes(height: Int, width: Int) -> [String] {
        let grid = Self.stemGrid(height: height, width: width), own = config.grid
        guard grid != own else { return [] }
        return ["attention biases: rebuilt for a \(grid) token grid (and the stages after it) with deterministic random "
                + "values; the checkpoint's are for \(own) (img_size \(config.imgSize.height)x\(config.imgSize.width)), "
                + "so the outputs are not the trained model's"]
    }

    public func collect(_ sd: inout StateDict) {
        sd.scope("stem") { sd in
            for (i, conv) in stem.enumerated() { sd.scope("conv\(i + 1)") { conv.collect(&$0) } }
        }
        for (i, stage) in stages.enumerated() { sd.scope("stages") { sd in sd.scope("\(i)") { stage.collect(&$0) } } }
        sd.scope("head") { head.collect(&$0) }
        sd.scope("head_dist") { headDist.collect(&$0) }
    }

    public func forward(_ b: PlanBuilder, _ input: Value) throws -> Value {
        var x = input
        for (i, conv) in stem.enumerated() {
            x = try b.scope("stem") {
                try b.scope("conv\(i + 1)") { try b.apply(conv.conv(stride: 2, padding: 1, activation: i < 3 ? .hardswish : .none), [x]) }
            }
        }
        // NHWC viewed as [N, H·W, C] is timm's flatten(2).transpose(1, 2).
        let s = b.shape(of: x)
        var grid = Grid(h: s[1], w: s[2])
        var tokens = try b.reshape(x, [s[0], s[1] * s[2], s[3]])
        for (i, stage) in stages.enumerated() {
            (tokens, grid) = try b.scope("stages") { try b.scope("\(i)") { try stage.forward(b, tokens, grid: grid) } }
        }
        let t = b.shape(of: tokens)
        let pooled = try b.apply(GlobalAvgPool(), [b.reshape(tokens, [t[0], t[1], 1, t[2]])], name: "global_pool")
        return try b.apply(NormLinear.averaged(head, headDist), [pooled], name: "head")
    }

    /// A token grid, height × width.
    struct Grid: Equatable, CustomStringConvertible {
        var h: Int, w: Int
        /// After a stride-2 step that keeps the last row and column: ⌈n/2⌉.
        var halved: Grid { Grid(h: (h - 1) / 2 + 1, w: (w - 1) / 2 + 1) }
        var count: Int { h * w }
        var description: String { "\(h)x\(w)" }
    }

    /// `downsample` (a `LevitDownsample`, stages after the first) then `blocks`.
    final class Stage: Module {
        let downsample: Downsample?
        let blocks: [Block]

        init(_ w: Weights, config: Config, index i: Int, inputGrid: Grid) {
            let dim = config.embedDim[i], kd = config.keyDim
            let hidden = Int(Double(dim) * config.mlpRatio)
            var grid = inputGrid
            if i > 0 {
                let inDim = config.embedDim[i - 1]
                downsample = w.scope("downsample") {
                    Downsample(w, in: inDim, out: dim, keyDim: kd, heads: inDim / kd, grid: inputGrid)
                }
                grid = grid.halved
            } else {
                downsample = nil
            }
            blocks = (0..<config.depth[i]).map { j in
                w.scope("blocks") {
                    w.scope("\(j)") {
                        Block(w, dim: dim, keyDim: kd, heads: config.numHeads[i], attnRatio: config.attnRatio, hidden: hidden, grid: grid)
                    }
                }
            }
        }

        func reparameterize() {
            downsample?.reparameterize()
            blocks.forEach { $0.reparameterize() }
        }

        func collect(_ sd: inout StateDict) {
            if let downsample { sd.scope("downsample") { downsample.collect(&$0) } }
            for (j, block) in blocks.enumerated() { sd.scope("blocks") { sd in sd.scope("\(j)") { block.collect(&$0) } } }
        }

        func forward(_ b: PlanBuilder, _ input: Value, grid inputGrid: Grid) throws -> (Value, Grid) {
            var x = input, grid = inputGrid
            if let downsample {
                x = try b.scope("downsample") { try downsample.forward(b, x, grid: grid) }
                grid = grid.halved
            }
            for (j, block) in blocks.enumerated() {
                x = try b.scope("blocks") { try b.scope("\(j)") { try block.forward(b, x, grid: grid) } }
            }
            return (x, grid)
        }
    }

    /// timm `LevitBlock`: x = x + attn(x); x = x + mlp(x).
    final class Block: Module {
        let attn: Attention
        let mlp: Mlp

        init(_ w: Weights, dim: Int, keyDim: Int, heads: Int, attnRatio: Double, hidden: Int, grid: Grid) {
            attn = w.scope("attn") { Attention(w, dim: dim, keyDim: keyDim, heads: heads, attnRatio: attnRatio, grid: grid) }
            mlp = w.scope("mlp") { Mlp(w, dim: dim, hidden: hidden) }
        }

        func reparameterize() {
            attn.reparameterize()
            mlp.reparameterize()
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("attn") { attn.collect(&$0) }
            sd.scope("mlp") { mlp.collect(&$0) }
        }

        func forward(_ b: PlanBuilder, _ x: Value, grid: Grid) throws -> Value {
            let attended = try b.scope("attn") { try attn.forward(b, x, grid: grid, residual: x) }
            return try b.scope("mlp") { try mlp.forward(b, attended) }
        }
    }

    /// timm `LevitDownsample`: x = attn_downsample(x) (no residual: the grid and width change);
    /// x = x + mlp(x).
    final class Downsample: Module {
        let attnDownsample: AttentionDownsample
        let mlp: Mlp

        init(_ w: Weights, in inDim: Int, out outDim: Int, keyDim: Int, heads: Int, grid: Grid) {
            attnDownsample = w.scope("attn_downsample") {
                AttentionDownsample(w, in: inDim, out: outDim, keyDim: keyDim, heads: heads, grid: grid)
            }
            mlp = w.scope("mlp") { Mlp(w, dim: outDim, hidden: 2 * outDim) }
        }

        func reparameterize() {
            attnDownsample.reparameterize()
            mlp.reparameterize()
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("attn_downsample") { attnDownsample.collect(&$0) }
            sd.scope("mlp") { mlp.collect(&$0) }
        }

        func forward(_ b: PlanBuilder, _ x: Value, grid: Grid) throws -> Value {
            let shrunk = try b.scope("attn_downsample") { try attnDownsample.forward(b, x, grid: grid) }
            return try b.scope("mlp") { try mlp.forward(b, shrunk) }
        }
    }

    /// timm `LevitMlp` with its block's residual: x + ln2(hardswish(ln1(x))), both BatchNorms
    /// folded, Hardswish and the residual in the GEMM epilogues.
    final class Mlp: Module {
        let ln1: LinearBN, ln2: LinearBN

        init(_ w: Weights, dim: Int, hidden: Int) {
            ln1 = w.scope("ln1") { LinearBN(w, weightShape: [hidden, dim]) }
            ln2 = w.scope("ln2") { LinearBN(w, weightShape: [dim, hidden]) }
        }

        func reparameterize() {
            ln1.reparameterize()
            ln2.reparameterize()
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("ln1") { ln1.collect(&$0) }
            sd.scope("ln2") { ln2.collect(&$0) }
        }

        func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
            let h = try b.scope("ln1") { try b.apply(ln1.linear(activation: .hardswish), [x]) }
            return try b.scope("ln2") { try b.apply(ln2.linear(residual: true), [h, x]) }
        }
    }

    /// timm levit `Attention`: qkv packed per head as [q (key_dim) | k (key_dim) | v (attn_ratio ·
    /// key_dim)], softmax(q·kᵀ/√key_dim + bias)·v, Hardswish, `proj.ln`.
    final class Attention: Module {
        let heads: Int, keyDim: Int, valueDim: Int
        let qkv: LinearBN, proj: LinearBN
        let biases: AttentionBiases

        init(_ w: Weights, dim: Int, keyDim: Int, heads: Int, attnRatio: Double, grid: Grid) {
            let valueDim = Int(attnRatio * Double(keyDim))
            self.heads = heads
            self.keyDim = keyDim
            self.valueDim = valueDim
            qkv = w.scope("qkv") { LinearBN(w, weightShape: [heads * (2 * keyDim + valueDim), dim]) }
            proj = w.scope("proj") { w.scope("ln") { LinearBN(w, weightShape: [dim, heads * valueDim]) } }
            biases = AttentionBiases(w, heads: heads, grid: grid)
        }

        func reparameterize() {
            qkv.reparameterize()
            proj.reparameterize()
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("qkv") { qkv.collect(&$0) }
            sd.scope("proj") { sd in sd.scope("ln") { proj.collect(&$0) } }
            biases.collect(&sd)
        }

        /// Attention reads Q, K and V by stride from the qkv output, with the biases gathered
        /// once for the grid; the optional residual is added in proj's epilogue.
        func forward(_ b: PlanBuilder, _ x: Value, grid: Grid, residual: Value?) throws -> Value {
            let packed = try b.scope("qkv") { try b.apply(qkv.linear(), [x]) }
            let row = 2 * keyDim + valueDim
            let attention = ScaledDotProductAttention(
                heads: heads, keyDim: keyDim, valueDim: valueDim,
                q: HeadView(input: 0, offset: 0, headStride: row),
                k: HeadView(input: 0, offset: keyDim, headStride: row),
                v: HeadView(input: 0, offset: 2 * keyDim, headStride: row),
                bias: biases.gathered(keys: grid, queryStride: 1))
            let o = try b.apply(attention, [packed])
            return try b.scope("proj") { try project(b, o, proj: proj, residual: residual) }
        }
    }

    /// timm `AttentionDownsample` ("shrink attention"): keys and values (`kv`, packed per head as
    /// [k | v], v of 4·key_dim) from every token; queries (`q.ln`) from the tokens of the grid
    /// subsampled by 2 (`q.down`: x[:, ::2, ::2]); Hardswish, `proj.ln` to the new width.
    final class AttentionDownsample: Module {
        static let stride = 2
        let heads: Int, keyDim: Int, valueDim: Int
        let kv: LinearBN, q: LinearBN, proj: LinearBN
        let biases: AttentionBiases

        init(_ w: Weights, in inDim: Int, out outDim: Int, keyDim: Int, heads: Int, grid: Grid) {
            self.heads = heads
            self.keyDim = keyDim
            valueDim = 4 * keyDim
            kv = w.scope("kv") { LinearBN(w, weightShape: [heads * (keyDim + 4 * keyDim), inDim]) }
            q = w.scope("q") { w.scope("ln") { LinearBN(w, weightShape: [heads * keyDim, inDim]) } }
            proj = w.scope("proj") { w.scope("ln") { LinearBN(w, weightShape: [outDim, heads * 4 * keyDim]) } }
            biases = AttentionBiases(w, heads: heads, grid: grid)
        }

        func reparameterize() {
            kv.reparameterize()
            q.reparameterize()
            proj.reparameterize()
        }

        func collect(_ sd: inout StateDict) {
            sd.scope("kv") { kv.collect(&$0) }
            sd.scope("q") { sd in sd.scope("ln") { q.collect(&$0) } }
            sd.scope("proj") { sd in sd.scope("ln") { proj.collect(&$0) } }
            biases.collect(&sd)
        }

        /// Subsampling is a 1x1 max pool of stride 2 on the NHWC view of the tokens.
        func forward(_ b: PlanBuilder, _ x: Value, grid: Grid) throws -> Value {
            let s = b.shape(of: x)
            let packed = try b.scope("kv") { try b.apply(kv.linear(), [x]) }
            let queries = try b.scope("q") {
                let sub = try b.apply(Pool2d(.max, kernel: 1, stride: Self.stride), [b.reshape(x, [s[0], grid.h, grid.w, s[2]])],
                                      name: "down")
                let g = b.shape(of: sub)
                return try b.scope("ln") { try b.apply(q.linear(), [b.reshape(sub, [s[0], g[1] * g[2], s[2]])]) }
            }
            let row = keyDim + valueDim
            let attention = ScaledDotProductAttention(
                heads: heads, keyDim: keyDim, valueDim: valueDim,
                q: HeadView(input: 1, offset: 0, headStride: keyDim),
                k: HeadView(input: 0, offset: 0, headStride: row),
                v: HeadView(input: 0, offset: keyDim, headStride: row),
                bias: biases.gathered(keys: grid, queryStride: Self.stride))
            let o = try b.apply(attention, [packed, queries])
            return try b.scope("proj") { try project(b, o, proj: proj, residual: nil) }
        }
    }
}

/// `proj` of LeViT's attentions: Hardswish on the attention output (its own step: the attention
/// kernel has no epilogue), then `ln` with the BatchNorm folded and an optional residual.
private func project(_ b: PlanBuilder, _ o: Value, proj: LeViT.LinearBN, residual: Value?) throws -> Value {
    let activated = try b.apply(ActivationOp(.hardswish), [o], name: "act")
    return try b.scope("ln") {
        try b.apply(proj.linear(residual: residual != nil), residual.map { [activated, $0] } ?? [activated])
    }
}

extension LeViT {
    /// `attention_biases` [heads, gh·gw]: one learned bias per head and relative offset on the
    /// grid the module was built for, read through timm's `attention_bias_idxs`
    /// (|Δy|·gw + |Δx|).
    struct AttentionBiases {
        let table: Tensor
        let grid: Grid
        /// The tensor's key: what seeds the random biases of other grids.
        let key: String

        init(_ w: Weights, heads: Int, grid: Grid) {
            table = w.read("attention_biases", shape: [heads, grid.count], .normal(0.02))
            self.grid = grid
            key = w.key("attention_biases")
        }

        var heads: Int { table.shape[0] }

        func collect(_ sd: inout StateDict) { sd.add("attention_biases", table) }

        /// The additive bias [heads, Tq, Tk] for keys on `keys` and queries on `keys`
        /// subsampled by `queryStride`, gathered once per plan. On the module's own grid it uses
        /// the loaded table; on any other, a deterministic random table of that grid's size.
        func gathered(keys: Grid, queryStride: Int) -> Tensor {
            let values: [Float]
            if keys == grid {
                values = table.data
            } else {
                var rng = SplitMix64(seed: fnv1a("\(key)@\(keys)"))
                values = Tensor(randomNormal: [heads, keys.count], scale: 0.02, rng: &rng).data
            }
            let queries = stride(from: 0, to: keys.h, by: queryStride).flatMap { y in
                stride(from: 0, to: keys.w, by: queryStride).map { (y, $0) }
            }
            let tq = queries.count, tk = keys.count
            var out = [Float](repeating: 0, count: heads * tq * tk)
            for h in 0..<heads {
                for (i, (y, x)) in queries.enumerated() {
                    for ky in 0..<keys.h {
                        for kx in 0..<keys.w {
                            out[(h * tq + i) * tk + ky * keys.w + kx] = values[h * tk + abs(y - ky) * keys.w + abs(x - kx)]
                        }
                    }
                }
            }
            return Tensor(shape: [heads, tq, tk], data: out)
        }
    }

    /// timm's `ConvNorm` and `LinearNorm` (which differ only in the weight's shape): a bias-free
    /// conv or linear `linear`, then BatchNorm `bn`. After `reparameterize()` (timm's `fuse()`)
    /// one layer with bias, whose `weight` and `bias` sit under the pair's own name.
    final class LinearBN: Module {
        private(set) var weight: Tensor
        private(set) var bias: Tensor?
        private(set) var bn: BatchNorm2d?

        init(_ w: Weights, weightShape: [Int]) {
            let fanIn = weightShape.dropFirst().reduce(1, *), out = weightShape[0]
            if w.contains("weight") {
                weight = w.read("weight", shape: weightShape, .fanIn(fanIn))
                bias = w.read("bias", shape: [out], .normal(0.02))
            } else {
                weight = w.scope("linear") { w.read("weight", shape: weightShape, .fanIn(fanIn)) }
                bn = w.scope("bn") { BatchNorm2d(w, channels: out) }
            }
        }

        /// The weight and bias of the one layer the pair computes (BatchNorm folded in double).
        var fused: (weight: Tensor, bias: Tensor) {
            guard let bn else { return (weight, bias ?? Tensor(zeros: [weight.shape[0]])) }
            return bn.params.fold(weight: weight, bias: bias)
        }

        func reparameterize() {
            guard bn != nil else { return }
            let f = fused
            weight = f.weight
            bias = f.bias
            bn = nil
        }

        func collect(_ sd: inout StateDict) {
            if let bn {
                sd.scope("linear") { $0.add("weight", weight) }
                sd.scope("bn") { bn.collect(&$0) }
            } else {
                sd.add("weight", weight)
                if let bias { sd.add("bias", bias) }
            }
        }

        func linear(activation: Activation = .none, residual: Bool = false) -> Linear {
            let f = fused
            return Linear(weight: f.weight, bias: f.bias, activation: activation, addsResidual: residual)
        }

        func conv(stride: Int, padding: Int, activation: Activation) -> Conv2d {
            let f = fused
            return Conv2d(weight: f.weight, bias: f.bias, stride: stride, padding: padding, activation: activation)
        }
    }

    /// timm's `NormLinear`: BatchNorm1d `bn`, then `linear` with bias; after `reparameterize()`
    /// one linear under the module's own name.
    final class NormLinear: Module {
        private(set) var weight: Tensor
        private(set) var bias: Tensor
        private(set) var bn: BatchNorm2d?

        init(_ w: Weights, in cin: Int, out cout: Int) {
            if w.contains("weight") {
                weight = w.read("weight", shape: [cout, cin], .fanIn(cin))
                bias = w.read("bias", shape: [cout], .normal(0.02))
            } else {
                bn = w.scope("bn") { BatchNorm2d(w, channels: cin) }
                weight = w.scope("linear") { w.read("weight", shape: [cout, cin], .fanIn(cin)) }
                bias = w.scope("linear") { w.read("bias", shape: [cout], .normal(0.02)) }
            }
        }

        /// W·(s⊙x + t) + b = (W·diag(s))·x + (W·t + b), in double.
        var fused: (weight: [Double], bias: [Double]) {
            let (co, ci) = (weight.shape[0], weight.shape[1])
            let (s, t) = bn?.params.scaleShift ?? ([Float](repeating: 1, count: ci), [Float](repeating: 0, count: ci))
            var w = [Double](repeating: 0, count: co * ci), b = bias.data.map(Double.init)
            for o in 0..<co {
                for i in 0..<ci {
                    let wi = Double(weight.data[o * ci + i])
                    w[o * ci + i] = wi * Double(s[i])
                    b[o] += wi * Double(t[i])
                }
            }
            return (w, b)
        }

        func reparameterize() {
            guard bn != nil else { return }
            let f = fused
            weight = Tensor(shape: weight.shape, data: f.weight.map(Float.init))
            bias = Tensor(shape: bias.shape, data: f.bias.map(Float.init))
            bn = nil
        }

        func collect(_ sd: inout StateDict) {
            if let bn {
                sd.scope("bn") { bn.collect(&$0) }
                sd.scope("linear") { sd in
                    sd.add("weight", weight)
                    sd.add("bias", bias)
                }
            } else {
                sd.add("weight", weight)
                sd.add("bias", bias)
            }
        }

        /// (head(x) + head_dist(x)) / 2 as one linear: the distilled model's eval output.
        static func averaged(_ a: NormLinear, _ b: NormLinear) -> Linear {
            let (fa, fb) = (a.fused, b.fused)
            return Linear(weight: Tensor(shape: a.weight.shape, data: zip(fa.weight, fb.weight).map { Float(($0 + $1) / 2) }),
                          bias: Tensor(shape: a.bias.shape, data: zip(fa.bias, fb.bias).map { Float(($0 + $1) / 2) }))
        }
    }
}

extension ModelZoo {
    static var levit: [ModelInfo] {
        // Published top-1 (distilled, 1000 epochs): facebookresearch/LeViT README (LV-R); params
        // (M, with the distillation head) and GMACs at 224: timm — docs/published-figures.md.
        let variants: [(name: String, dims: [Int], keyDim: Int, heads: [Int], depth: [Int], top1: Double, params: Double, gmacs: Double)] = [
            ("levit_128s", [128, 256, 384], 16, [4, 6, 8], [2, 3, 4], 76.6, 7.78, 0.31),
            ("levit_128", [128, 256, 384], 16, [4, 8, 12], [4, 4, 4], 78.6, 9.21, 0.41),
            ("levit_192", [192, 288, 384], 32, [3, 5, 6], [4, 4, 4], 80.0, 10.95, 0.66),
            ("levit_256", [256, 384, 512], 32, [4, 6, 8], [4, 4, 4], 81.6, 18.89, 1.13),
            ("levit_384", [384, 512, 768], 32, [6, 9, 12], [4, 4, 4], 82.6, 39.13, 2.36),
        ]
        return variants.map { v in
            let base = LeViT.Config(embedDim: v.dims, keyDim: v.keyDim, depth: v.depth, numHeads: v.heads)
            return ModelInfo(
                name: v.name, family: "levit", resolution: 224,
                published: PublishedAccuracy(top1: v.top1, source: "facebookresearch/LeViT README"),
                referenceParams: v.params, referenceGMACs: v.gmacs,
                summary: "LeViT, widths \(v.dims.map(String.init).joined(separator: "/")), depths \(v.depth.map(String.init).joined(separator: "/")), "
                    + "heads \(v.heads.map(String.init).joined(separator: "/")), key dim \(v.keyDim); attention biases for the 14x14 grid of 224",
                make: { w, overrides in try LeViT(w, config: base.merged(with: overrides)) })
        }
    }
}

extension BlockZoo {
    static var levit: [BlockInfo] {
        [
            BlockInfo(name: "levit.attention",
                      summary: "LeViT attention with its residual (key dim 16, width / 32 heads, value dim 32, learned biases "
                          + "for the grid, Hardswish, BN folded) on tokens [N, H·W, C]; default: levit_128s stage 1 at 224 "
                          + "(128 channels, 4 heads, 14x14)",
                      defaultDim: 128, defaultResolution: 14) { w, dim, h, wd in
                guard dim >= 32 else { throw ModelInputError("levit.attention: width \(dim) is below one head (32)") }
                let grid = LeViT.Grid(h: h, w: wd)
                let attn = LeViT.Attention(w, dim: dim, keyDim: 16, heads: dim / 32, attnRatio: 2, grid: grid)
                return AdaptedBlock(attn, layout: .tokens, channels: dim, reparameterizable: true) { b, x in
                    try attn.forward(b, x, grid: grid, residual: x)
                }
            },
            BlockInfo(name: "levit.shrink_attention",
                      summary: "LeViT shrink attention (AttentionDownsample: queries on the grid subsampled by 2, key dim 16, "
                          + "width / 16 heads, value dim 64, output width 2C) on tokens [N, H·W, C]; default: levit_128s's "
                          + "first, 128 → 256 channels at 14x14",
                      defaultDim: 128, defaultResolution: 14) { w, dim, h, wd in
                guard dim >= 16 else { throw ModelInputError("levit.shrink_attention: width \(dim) is below one head (16)") }
                let grid = LeViT.Grid(h: h, w: wd)
                let attn = LeViT.AttentionDownsample(w, in: dim, out: 2 * dim, keyDim: 16, heads: dim / 16, grid: grid)
                return AdaptedBlock(attn, layout: .tokens, channels: dim, reparameterizable: true) { b, x in
                    try attn.forward(b, x, grid: grid)
                }
            },
        ]
    }
}
