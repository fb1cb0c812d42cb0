extension AssembleTokens {
    /// Token by token: prefix rows, then each input's rows, each plus its position row.
    public func bindReference(_ c: StepContext) -> () -> Void {
        let xs = c.inputs, shapes = c.inputShapes, y = c.output, ch = channels
        let n = c.outputShape[0], tokens = c.outputShape[1], prefix = prefix, positions = positions
        let p = prefixTokens
        return {
            for img in 0..<n {
                for t in 0..<tokens {
                    for i in 0..<ch {
                        var v: Float
                        if t < p {
                            v = prefix![t * ch + i]
                        } else {
                            var rest = t - p, part = 0
                            while rest >= shapes[part][1] {
                                rest -= shapes[part][1]
                                part += 1
                            }
                            v = xs[part][(img * shapes[part][1] + rest) * ch + i]
                        }
                        if let positions { v += positions[t * ch + i] }
                        y[(img * tokens + t) * ch + i] = v
                    }
                }
            }
        }
    }
}
