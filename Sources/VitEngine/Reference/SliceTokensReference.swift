extension SliceTokens {
    public func bindReference(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, n = c.outputShape[0], t = c.inputShapes[0][1], ch = c.outputShape[2]
        let start = start, count = count
        return {
            for img in 0..<n {
                for i in 0..<count {
                    for j in 0..<ch { y[(img * count + i) * ch + j] = x[(img * t + start + i) * ch + j] }
                }
            }
        }
    }
}
