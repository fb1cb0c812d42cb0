extension PointwiseMlp {
    /// The norm's reference, fc1's into a hidden tensor of its own, then fc2's: the composition
    /// by definition.
    public func bindReference(_ c: StepContext) -> () -> Void {
        let hiddenShape = hiddenShape(input: c.inputShapes[0])
        let hidden = OwnedBuffer(count: product(hiddenShape))
        let normed = norm.map { _ in OwnedBuffer(count: product(c.inputShapes[0])) }
        func context(_ inputs: [UnsafeMutablePointer<Float>], _ shapes: [[Int]], _ output: UnsafeMutablePointer<Float>,
                     _ shape: [Int]) -> StepContext {
            StepContext(inputs: inputs, inputShapes: shapes, output: output, outputShape: shape, scratch: c.scratch,
                        pool: c.pool, gemm: c.gemm, packsWeights: c.packsWeights)
        }
        let normalise = norm.map { $0.bindReference(context([c.inputs[0]], [c.inputShapes[0]], normed!.pointer, c.inputShapes[0])) }
        let first = fc1.bindReference(context([normed?.pointer ?? c.inputs[0]], [c.inputShapes[0]], hidden.pointer, hiddenShape))
        let second = fc2.bindReference(context([hidden.pointer] + c.inputs.dropFirst(), [hiddenShape] + c.inputShapes.dropFirst(),
                                               c.output, c.outputShape))
        return {
            withExtendedLifetime((hidden, normed)) {
                normalise?()
                first()
                second()
            }
        }
    }
}
