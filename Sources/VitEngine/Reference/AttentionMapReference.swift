import Foundation

// Reference twins of the attention-sharing operators: the definitions in plain loops, in double.

extension AttentionMap {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let n = c.outputShape[0], tq = c.outputShape[2], tk = c.outputShape[3], heads = heads
        let qk = ReferenceQK(inputs: c.inputs, q: q, k: k, rowQ: c.inputShapes[q.input][2], rowK: c.inputShapes[k.input][2],
                             tq: tq, tk: tk, keyDim: keyDim, scale: Double(scale))
        let y = c.output
        return {
            for img in 0..<n {
                for h in 0..<heads {
                    for i in 0..<tq {
                        let p = qk.probabilities(image: img, head: h, query: i)
                        for j in 0..<tk { y[((img * heads + h) * tq + i) * tk + j] = Float(p[j]) }
                    }
                }
            }
        }
    }
}

extension ApplyAttentionMap {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let n = c.outputShape[0], tq = c.outputShape[1], tk = c.inputShapes[0][3]
        let heads = heads, dv = valueDim, rowV = c.inputShapes[1][2], vv = v
        let map = c.inputs[0], values = c.inputs[1], y = c.output
        return {
            for img in 0..<n {
                for h in 0..<heads {
                    for i in 0..<tq {
                        for d in 0..<dv {
                            var acc = 0.0
                            for j in 0..<tk {
                                let p = map[((img * heads + h) * tq + i) * tk + j]
                                let ve = values[(img * tk + j) * rowV + vv.offset + h * vv.headStride + d]
                                acc += Double(p) * Double(ve)
                            }
                            y[(img * tq + i) * heads * dv + h * dv + d] = Float(acc)
                        }
                    }
                }
            }
        }
    }
}
