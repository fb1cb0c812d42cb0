import Foundation

extension BilinearResize {
    /// Straight from PyTorch's definition, pixel by pixel in double: each output pixel's source
    /// coordinate per axis, the two neighbours on either side of it (clamped to the image), and
    /// their linear weights.
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, s = c.inputShapes[0], oh = height, ow = width
        return {
            func neighbours(_ o: Int, input: Int, output: Int) -> (Int, Int, Double) {
                let source = max(Double(input) / Double(output) * (Double(o) + 0.5) - 0.5, 0)
                let lower = min(Int(floor(source)), input - 1)
                return (lower, min(lower + 1, input - 1), min(max(source - Double(lower), 0), 1))
            }
            for b in 0..<s[0] {
                for oy in 0..<oh {
                    let (y0, y1, fy) = neighbours(oy, input: s[1], output: oh)
                    for ox in 0..<ow {
                        let (x0, x1, fx) = neighbours(ox, input: s[2], output: ow)
                        for ch in 0..<s[3] {
                            func at(_ iy: Int, _ ix: Int) -> Double { Double(x[((b * s[1] + iy) * s[2] + ix) * s[3] + ch]) }
                            let top = (1 - fx) * at(y0, x0) + fx * at(y0, x1)
                            let bottom = (1 - fx) * at(y1, x0) + fx * at(y1, x1)
                            y[((b * oh + oy) * ow + ox) * s[3] + ch] = Float((1 - fy) * top + fy * bottom)
                        }
                    }
                }
            }
        }
    }
}
