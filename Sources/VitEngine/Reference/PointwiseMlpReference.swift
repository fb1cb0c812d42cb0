extension PointwiseMlp {
    /// The norm's reference, fc1's into a hidden tensor of its own, then fc2's: the composition
    /// by definition.
    public func bindReference(_ c: StepContext) -> () -> Void {
        let hiddenShape = hiddenShape(input: c.inputShapes[0])
        let hidden = OwnedBuffer(count: product(hiddenShape))
        let normed = norm.map { _ in OwnedBuffer(count: product(c.inputShapes[0])) }
        let normalise = norm.map {
            $0.bindReference(c.with(inputs: [c.inputs[0]], inputShapes: [c.inputShapes[0]], output: normed!.pointer,
                                    outputShape: c.inputShapes[0]))
        }
        let first = fc1.bindReference(c.with(inputs: [normed?.pointer ?? c.inputs[0]], inputShapes: [c.inputShapes[0]],
                                             output: hidden.pointer, outputShape: hiddenShape))
        let second = fc2.bindReference(c.with(inputs: [hidden.pointer] + c.inputs.dropFirst(),
                                              inputShapes: [hiddenShape] + c.inputShapes.dropFirst(), output: c.output,
                                              outputShape: c.outputShape))
        return {
            withExtendedLifetime((hidden, normed)) {
                normalise?()
                first()
                second()
            }
        }
    }
}
