extension PointwiseMlp {
    /// fc1's reference into a hidden tensor of its own, then fc2's: the composition by definition.
    public func bindReference(_ c: StepContext) -> () -> Void {
        let hiddenShape = hiddenShape(input: c.inputShapes[0])
        let hidden = OwnedBuffer(count: product(hiddenShape))
        let first = fc1.bindReference(StepContext(inputs: [c.inputs[0]], inputShapes: [c.inputShapes[0]], output: hidden.pointer,
                                                  outputShape: hiddenShape, scratch: c.scratch, pool: c.pool, gemm: c.gemm,
                                                  packsWeights: c.packsWeights))
        let second = fc2.bindReference(StepContext(inputs: [hidden.pointer] + c.inputs.dropFirst(),
                                                   inputShapes: [hiddenShape] + c.inputShapes.dropFirst(), output: c.output,
                                                   outputShape: c.outputShape, scratch: c.scratch, pool: c.pool, gemm: c.gemm,
                                                   packsWeights: c.packsWeights))
        return { withExtendedLifetime(hidden) { first(); second() } }
    }
}
