import CKernels
import Foundation

/// Reorders axes (any rank up to 6): out.shape[i] = in.shape[axes[i]]. When the last axis stays
/// last, rows are copied with memcpy; otherwise element by element.
public struct Permute: Operator {
    public let axes: [Int]
    public init(_ axes: [Int]) { self.axes = axes }
    public var kind: String { "permute" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1, inputs[0].count <= 6, axes.sorted() == Array(0..<inputs[0].count) else {
            throw ShapeError("axes \(axes) are not a permutation of the input's \(inputs.first?.count ?? 0) axes")
        }
        return axes.map { inputs[0][$0] }
    }

    /// The permutation with adjacent axes that stay adjacent merged: NCHW → NHWC on [N, C, H, W]
    /// becomes [0, 2, 1] on [N, C, H·W], a batched transpose.
    static func collapsed(_ shape: [Int], _ axes: [Int]) -> (shape: [Int], axes: [Int]) {
        var groups: [[Int]] = []
        for a in axes {
            if let last = groups.last?.last, a == last + 1 { groups[groups.count - 1].append(a) } else { groups.append([a]) }
        }
        let order = groups.sorted { $0[0] < $1[0] }
        let newShape = order.map { $0.reduce(1) { $0 * shape[$1] } }
        let newAxes = groups.map { g in order.firstIndex { $0[0] == g[0] }! }
        return (newShape, newAxes)
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let x = c.inputs[0], y = c.output, pool = c.pool
        let (cs, ca) = Permute.collapsed(c.inputShapes[0], axes)
        if ca == [0, 2, 1] || ca == [1, 0] {
            // A (batched) transpose: the image layout conversions.
            let batch = ca.count == 3 ? cs[0] : 1, rows = cs[cs.count - 2], cols = cs[cs.count - 1]
            return {
                pool.parallelFor(batch) { b, _ in vb_transpose(x + b * rows * cols, rows, cols, y + b * rows * cols) }
            }
        }
        let outShape = c.outputShape, rank = outShape.count
        let inStrides = Tensor.strides(c.inputShapes[0])
        let srcStrides = axes.map { inStrides[$0] }
        let lastContiguous = axes.last == rank - 1
        let inner = lastContiguous ? outShape[rank - 1] : 1
        let outerShape = lastContiguous ? Array(outShape.dropLast()) : outShape
        let outerStrides = Array(srcStrides.prefix(outerShape.count))
        let outer = product(outerShape)
        return {
            pool.parallelRanges(outer, minChunk: max(1, 4096 / max(inner, 1))) { r, _ in
                // Decompose the first index, then walk like an odometer (stack memory: a timed
                // pass must not allocate).
                withUnsafeTemporaryAllocation(of: Int.self, capacity: 6) { index in
                    var rem = r.lowerBound
                    for a in stride(from: outerShape.count - 1, through: 0, by: -1) {
                        index[a] = rem % outerShape[a]
                        rem /= outerShape[a]
                    }
                    for o in r {
                        var src = 0
                        for a in 0..<outerShape.count { src += index[a] * outerStrides[a] }
                        if inner > 1 {
                            memcpy(y + o * inner, x + src, inner * 4)
                        } else {
                            y[o] = x[src]
                        }
                        var a = outerShape.count - 1
                        while a >= 0 {
                            index[a] += 1
                            if index[a] < outerShape[a] { break }
                            index[a] = 0
                            a -= 1
                        }
                    }
                }
            }
        }
    }
}

/// Concatenation along one axis.
public struct Concat: Operator {
    public let axis: Int
    public init(axis: Int) { self.axis = axis }
    public var kind: String { "concat" }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard let first = inputs.first, axis >= 0, axis < first.count else {
            throw ShapeError("axis \(axis) does not exist in \(inputs.first ?? [])")
        }
        var out = first
        out[axis] = 0
        for s in inputs {
            var a = s, b = first
            a[axis] = 0
            b[axis] = 0
            guard s.count == first.count, a == b else { throw ShapeError("cannot concatenate \(inputs) along axis \(axis)") }
            out[axis] += s[axis]
        }
        return out
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let xs = c.inputs, y = c.output, pool = c.pool
        let outer = product(Array(c.outputShape.prefix(axis)))
        let blocks = c.inputShapes.map { product(Array($0.suffix(from: axis))) }
        let total = blocks.reduce(0, +)
        return {
            pool.parallelRanges(outer, minChunk: max(1, 4096 / max(total, 1))) { r, _ in
                for o in r {
                    var off = o * total
                    for (i, b) in blocks.enumerated() {
                        memcpy(y + off, xs[i] + o * b, b * 4)
                        off += b
                    }
                }
            }
        }
    }
}

extension PlanBuilder {
    /// MobileViT's unfold: [N, H, W, C] → [N·ph·pw, (H/ph)·(W/pw), C] — each of the ph·pw pixel
    /// positions inside a patch becomes one sequence over the patches (timm's order).
    public func unfoldPatches(_ x: Value, patch: (h: Int, w: Int), name: String = "unfold") throws -> Value {
        let s = shape(of: x)
        guard s.count == 4, s[1] % patch.h == 0, s[2] % patch.w == 0 else {
            throw PlanError(module: modulePath, "unfold: \(s) does not split into \(patch.h)x\(patch.w) patches")
        }
        let (n, nh, nw, c) = (s[0], s[1] / patch.h, s[2] / patch.w, s[3])
        let v = try reshape(x, [n, nh, patch.h, nw, patch.w, c])
        let p = try apply(Permute([0, 2, 4, 1, 3, 5]), [v], name: name)
        return try reshape(p, [n * patch.h * patch.w, nh * nw, c])
    }

    /// The inverse of `unfoldPatches`: [N·ph·pw, nh·nw, C] → [N, nh·ph, nw·pw, C].
    public func foldPatches(_ x: Value, patch: (h: Int, w: Int), grid: (h: Int, w: Int),
                            name: String = "fold") throws -> Value {
        let s = shape(of: x)
        let pp = patch.h * patch.w
        guard s.count == 3, s[0] % pp == 0, s[1] == grid.h * grid.w else {
            throw PlanError(module: modulePath, "fold: \(s) is not [N·\(pp), \(grid.h)·\(grid.w), C]")
        }
        let n = s[0] / pp, c = s[2]
        let v = try reshape(x, [n, patch.h, patch.w, grid.h, grid.w, c])
        let p = try apply(Permute([0, 3, 1, 4, 2, 5]), [v], name: name)
        return try reshape(p, [n, grid.h * patch.h, grid.w * patch.w, c])
    }
}
