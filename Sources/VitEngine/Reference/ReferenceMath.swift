import Foundation

/// The oracles: each operator's semantics in plain loops and double-precision libm, written for
/// clarity and independently of the optimised kernels (no shared helpers with `Sources/CKernels`).
/// Selectable as a backend (`--backend reference`), and what every kernel test compares against.
enum Reference {
    static func activation(_ a: Activation, _ x: Float) -> Float {
        let v = Double(x)
        switch a {
        case .none: return x
        case .relu: return max(x, 0)
        case .gelu: return Float(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
        case .geluTanh: return Float(0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))))
        case .silu: return Float(v / (1 + exp(-v)))
        case .hardswish: return Float(v * min(max(v + 3, 0), 6) / 6)
        case .hardsigmoid: return Float(min(max(v + 3, 0), 6) / 6)
        case .sigmoid: return Float(1 / (1 + exp(-v)))
        }
    }

    /// Conv2d straight from the definition: NHWC input, PyTorch OIHW weights.
    static func conv2d(x: UnsafePointer<Float>, inShape: [Int], weight: [Float], bias: [Float]?,
                       outChannels co: Int, kernel: (h: Int, w: Int), stride: (h: Int, w: Int),
                       padding: (h: Int, w: Int), groups: Int, y: UnsafeMutablePointer<Float>, outShape: [Int]) {
        let (n, ih, iw, ci) = (inShape[0], inShape[1], inShape[2], inShape[3])
        let (oh, ow) = (outShape[1], outShape[2])
        let cg = ci / groups, og = co / groups
        for b in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for o in 0..<co {
                        let g = o / og
                        var acc = Double(bias?[o] ?? 0)
                        for c in 0..<cg {
                            for ky in 0..<kernel.h {
                                for kx in 0..<kernel.w {
                                    let iy = oy * stride.h - padding.h + ky
                                    let ix = ox * stride.w - padding.w + kx
                                    if iy < 0 || iy >= ih || ix < 0 || ix >= iw { continue }
                                    let xv = x[((b * ih + iy) * iw + ix) * ci + g * cg + c]
                                    let wv = weight[((o * cg + c) * kernel.h + ky) * kernel.w + kx]
                                    acc += Double(xv) * Double(wv)
                                }
                            }
                        }
                        y[((b * oh + oy) * ow + ox) * co + o] = Float(acc)
                    }
                }
            }
        }
    }

    /// y = act(y) (+ residual), elementwise over `count`.
    static func epilogue(_ y: UnsafeMutablePointer<Float>, count: Int, activation: Activation,
                         residual: UnsafePointer<Float>?) {
        for i in 0..<count {
            y[i] = Reference.activation(activation, y[i])
            if let residual { y[i] += residual[i] }
        }
    }
}
