import CKernels

/// Bilinear resizing of an NHWC map to any size, with the semantics of PyTorch's
/// `F.interpolate(x, size=..., mode='bilinear', align_corners=False)` (no antialiasing, so a
/// downscale reads only the two nearest pixels per axis): output index o maps to the input
/// coordinate max((o + ½)·in/out − ½, 0) and blends the input pixels on either side of it, the
/// last pixel standing in for its missing right neighbour.
///
/// MobileViT uses it where its patches do not tile a feature map: up to the next multiple of the
/// patch size before the transformer, back to the original size after it.
public struct BilinearResize: Operator {
    public let height: Int
    public let width: Int

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    public var kind: String { "resize.bilinear" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1, inputs[0].count == 4 else {
            throw ShapeError("expects one NHWC input of rank 4, got \(inputs)")
        }
        let x = inputs[0]
        guard x[1] >= 1, x[2] >= 1, height >= 1, width >= 1 else {
            throw ShapeError("cannot resize \(x[1])x\(x[2]) to \(height)x\(width): both sizes must be at least 1x1")
        }
        return [x[0], height, width, x[3]]
    }

    /// For each output index along an axis of `input` → `output` pixels: the two input indices
    /// it blends and their weights, interleaved ([i0, i1] and [w0, w1] per output index), computed
    /// in double as PyTorch's double path does (`area_pixel_compute_source_index`,
    /// `guard_index_and_lambda`).
    static func axisTable(input: Int, output: Int) -> (indices: [Int64], weights: [Float]) {
        var indices = [Int64](repeating: 0, count: 2 * output), weights = [Float](repeating: 0, count: 2 * output)
        let scale = Double(input) / Double(output)
        for o in 0..<output {
            let source = max(scale * (Double(o) + 0.5) - 0.5, 0)
            let i0 = min(Int(source.rounded(.down)), input - 1)
            let lambda = min(max(source - Double(i0), 0), 1)
            indices[2 * o] = Int64(i0)
            indices[2 * o + 1] = Int64(i0 < input - 1 ? i0 + 1 : i0)
            weights[2 * o] = Float(1 - lambda)
            weights[2 * o + 1] = Float(lambda)
        }
        return (indices, weights)
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, pool = c.pool
        let n = c.inputShapes[0][0], ih = c.inputShapes[0][1], iw = c.inputShapes[0][2], ch = c.inputShapes[0][3]
        let oh = height, ow = width
        let rows = BilinearAxisTable(Self.axisTable(input: ih, output: oh))
        let cols = BilinearAxisTable(Self.axisTable(input: iw, output: ow))
        return {
            withExtendedLifetime((rows, cols)) {
                pool.parallelRanges(n * oh, minChunk: max(1, 4096 / max(ow * ch, 1))) { r, _ in
                    for row in r {
                        let img = row / oh, oy = row % oh
                        vb_resize_bilinear_nhwc(x + img * ih * iw * ch, iw, ch, rows.indices, rows.weights,
                                                cols.indices, cols.weights, y + img * oh * ow * ch, ow, oy, oy + 1)
                    }
                }
            }
        }
    }
}

/// An axis table in memory of its own, so that the bound kernel reads it by pointer without
/// touching Swift arrays on the timed path.
final class BilinearAxisTable: @unchecked Sendable {
    let indices: UnsafeMutablePointer<Int64>
    let weights: UnsafeMutablePointer<Float>

    init(_ table: (indices: [Int64], weights: [Float])) {
        indices = .allocate(capacity: table.indices.count)
        indices.initialize(from: table.indices, count: table.indices.count)
        weights = .allocate(capacity: table.weights.count)
        weights.initialize(from: table.weights, count: table.weights.count)
    }

    deinit {
        indices.deallocate()
        weights.deallocate()
    }
}
