import Foundation

/// Tokens [start, start + count) of every image: [N, T, C] → [N, count, C] (the class token a
/// ViT's head reads).
public struct SliceTokens: Operator {
    public let start: Int
    public let count: Int

    public init(start: Int, count: Int) {
        self.start = start
        self.count = count
    }

    public var kind: String { "tokens.slice" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1, inputs[0].count == 3, start >= 0, count >= 1, start + count <= inputs[0][1] else {
            throw ShapeError("cannot take tokens \(start)..<\(start + count) of \(inputs)")
        }
        return [inputs[0][0], count, inputs[0][2]]
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, pool = c.pool
        let n = c.outputShape[0], t = c.inputShapes[0][1], ch = c.outputShape[2], start = start, count = count
        return {
            pool.parallelFor(n) { img, _ in
                memcpy(y + img * count * ch, x + (img * t + start) * ch, count * ch * 4)
            }
        }
    }
}
