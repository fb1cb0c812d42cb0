import Foundation

extension LayerNormLinear {
    /// Each row normalised in double, then multiplied in double: the composition by definition.
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, k = linear.inFeatures, n = linear.outFeatures
        let rows = product(c.outputShape) / n
        let g = norm.gamma.array, be = norm.beta.array, eps = Double(norm.eps)
        let w = linear.weight, b = linear.bias, act = linear.activation
        let res: UnsafePointer<Float>? = linear.addsResidual ? UnsafePointer(c.inputs[1]) : nil
        return {
            var normed = [Double](repeating: 0, count: k)
            for r in 0..<rows {
                let row = (0..<k).map { Double(x[r * k + $0]) }
                let mean = row.reduce(0, +) / Double(k)
                let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(k)
                for i in 0..<k { normed[i] = (row[i] - mean) / (variance + eps).squareRoot() * Double(g[i]) + Double(be[i]) }
                for o in 0..<n {
                    var acc = Double(b?[o] ?? 0)
                    for i in 0..<k { acc += normed[i] * Double(w[o * k + i]) }
                    y[r * n + o] = Float(acc)
                }
            }
            Reference.epilogue(y, count: rows * n, activation: act, residual: res)
        }
    }
}
