import VitEngine

/// Structural reparameterisation (RepVGG, MobileOne, FastViT): the sum of parallel linear
/// branches — k×k conv+BN branches, a 1×1 conv+BN "scale" branch, a BN "identity" branch —
/// is one k×k conv. Computed in double precision so that the fused model matches the
/// multi-branch one to float rounding.
public enum Reparameterization {
    /// The kernel of a BN-only identity branch of a (possibly grouped) conv: 1 at the centre
    /// tap of each channel's own input (timm's `id_tensor`), then scaled by the BN.
    public static func identityKernel(channels: Int, groups: Int, kernel k: Int) -> Tensor {
        let perGroup = channels / groups
        var t = Tensor(zeros: [channels, perGroup, k, k])
        for i in 0..<channels {
            t.data[((i * perGroup + i % perGroup) * k + k / 2) * k + k / 2] = 1
        }
        return t
    }

    /// Zero-pads a [o, i, s, s] kernel to [o, i, k, k], centred.
    public static func pad(_ w: Tensor, to k: Int) -> Tensor {
        let (o, i, s) = (w.shape[0], w.shape[1], w.shape[2])
        if s == k { return w }
        let p = (k - s) / 2
        var out = Tensor(zeros: [o, i, k, k])
        for a in 0..<o * i {
            for y in 0..<s {
                for x in 0..<s { out.data[(a * k + y + p) * k + x + p] = w.data[(a * s + y) * s + x] }
            }
        }
        return out
    }

    /// Sum of (kernel, bias) pairs, each padded to k×k.
    public static func sum(_ parts: [(weight: Tensor, bias: Tensor)], kernel k: Int) -> (weight: Tensor, bias: Tensor) {
        precondition(!parts.isEmpty, "nothing to fuse")
        var w = [Double](repeating: 0, count: product(pad(parts[0].weight, to: k).shape))
        var b = [Double](repeating: 0, count: parts[0].bias.count)
        var shape: [Int] = []
        for part in parts {
            let pw = pad(part.weight, to: k)
            shape = pw.shape
            for i in 0..<pw.count { w[i] += Double(pw.data[i]) }
            for i in 0..<b.count { b[i] += Double(part.bias.data[i]) }
        }
        return (Tensor(shape: shape, data: w.map(Float.init)), Tensor(shape: [b.count], data: b.map(Float.init)))
    }
}
