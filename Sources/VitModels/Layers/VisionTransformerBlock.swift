import VitEngine

/// timm's ViT `Block` (`vision_transformer.py`), the pre-norm transformer layer DeiT, MobileViT's
/// transformer and the mobile-level ViT share: x = x + proj(attn(norm1(x))); x = x +
/// fc2(act(fc1(norm2(x)))), on tokens [N, T, C], no layer scales. timm names `norm1`,
/// `attn.{qkv, proj}`, `norm2`, `mlp.{fc1, fc2}`.
///
/// It lowers to three steps and the attention: norm1 fused into qkv, attention reading Q, K and V
/// by stride from the qkv output (timm's (3, heads, d) packing), the residual fused into proj;
/// norm2, fc1, the activation, fc2 and the residual as one `PointwiseMlp`.
public final class VisionTransformerBlock: Module {
    public let heads: Int
    public let activation: Activation
    let norm1: LayerNormLayer, norm2: LayerNormLayer
    let qkv: LinearLayer, proj: LinearLayer
    let fc1: LinearLayer, fc2: LinearLayer

    /// - Parameters:
    ///   - eps: the LayerNorms' epsilon (timm's ViTs pass 1e-6; MobileViT keeps PyTorch's 1e-5).
    public init(_ w: Weights, dim: Int, heads: Int, hidden: Int, activation: Activation = .gelu, eps: Float = 1e-6) {
        self.heads = heads
        self.activation = activation
        norm1 = w.scope("norm1") { LayerNormLayer(w, channels: dim, eps: eps) }
        qkv = w.scope("attn") { w.scope("qkv") { LinearLayer(w, in: dim, out: 3 * dim) } }
        proj = w.scope("attn") { w.scope("proj") { LinearLayer(w, in: dim, out: dim) } }
        norm2 = w.scope("norm2") { LayerNormLayer(w, channels: dim, eps: eps) }
        fc1 = w.scope("mlp") { w.scope("fc1") { LinearLayer(w, in: dim, out: hidden) } }
        fc2 = w.scope("mlp") { w.scope("fc2") { LinearLayer(w, in: hidden, out: dim) } }
    }

    public var dim: Int { qkv.weight.shape[1] }

    public func collect(_ sd: inout StateDict) {
        sd.scope("norm1") { norm1.collect(&$0) }
        sd.scope("attn") { sd in
            sd.scope("qkv") { qkv.collect(&$0) }
            sd.scope("proj") { proj.collect(&$0) }
        }
        sd.scope("norm2") { norm2.collect(&$0) }
        sd.scope("mlp") { sd in
            sd.scope("fc1") { fc1.collect(&$0) }
            sd.scope("fc2") { fc2.collect(&$0) }
        }
    }

    public func forward(_ b: PlanBuilder, _ x: Value) throws -> Value {
        let attended = try b.scope("attn") {
            let q = try b.scope("qkv") { try b.apply(LayerNormLinear.fusing(norm1, qkv), [x]) }
            let o = try b.apply(ScaledDotProductAttention.fusedQKV(heads: heads, headDim: dim / heads), [q])
            return try b.scope("proj") { try proj.forward(b, o, residual: x) }
        }
        return try b.scope("mlp") { try b.apply(PointwiseMlp.fusing(norm2, fc1, fc2, activation: activation), [attended, attended]) }
    }
}
