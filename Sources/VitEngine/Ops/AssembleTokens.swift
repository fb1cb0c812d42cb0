import CKernels
import Foundation

/// A transformer's input sequence, built in one pass: learned prefix tokens (a class token),
/// then the tokens of every input in order, plus a learned absolute position embedding —
/// timm's `cat((cls_token.expand(N, -1, -1), x), 1) + pos_embed`, where x may come in several
/// parts (the patch sets of a multi-branch patch embedding) that are concatenated on the way.
/// Inputs are [N, Tᵢ, C]; the output is [N, P + ΣTᵢ, C].
public struct AssembleTokens: Operator {
    public let channels: Int
    /// [P, C]: the same P tokens start every image's sequence; nil for none.
    public let prefix: [Float]?
    /// [P + ΣTᵢ, C], added to every image's sequence; nil for none.
    public let positions: [Float]?
    /// The prefix rows with their positions already added: constant, so computed once.
    let prefixRows: PackedWeights?
    let packedPositions: PackedWeights?

    public init(channels: Int, prefix: Tensor? = nil, positions: Tensor? = nil) {
        precondition(channels >= 1 && prefix.map { $0.count % channels == 0 } ?? true
                         && positions.map { $0.count % channels == 0 } ?? true,
                     "AssembleTokens: prefix and positions must be whole rows of \(channels) channels")
        self.channels = channels
        self.prefix = prefix?.data
        self.positions = positions?.data
        packedPositions = positions.map { PackedWeights($0) }
        if let prefix {
            var rows = prefix.data
            if let positions { for i in rows.indices { rows[i] += positions.data[i] } }
            prefixRows = PackedWeights(rows)
        } else {
            prefixRows = nil
        }
    }

    public var kind: String { "tokens.assemble" }
    public var parameterCount: Int { (prefix?.count ?? 0) + (positions?.count ?? 0) }
    var prefixTokens: Int { (prefix?.count ?? 0) / channels }

    public func outputShape(for inputs: [[Int]]) throws -> [Int] {
        guard let first = inputs.first, inputs.allSatisfy({ $0.count == 3 && $0[0] == first[0] && $0[2] == channels }) else {
            throw ShapeError("expects one or more token sets [N, T, \(channels)] of one batch size, got \(inputs)")
        }
        let tokens = prefixTokens + inputs.reduce(0) { $0 + $1[1] }
        if let positions, positions.count != tokens * channels {
            throw ShapeError("position embedding holds \(positions.count / channels) tokens, the sequence has \(tokens) "
                             + "(\(prefixTokens) prefix + \(inputs.map { String($0[1]) }.joined(separator: " + ")))")
        }
        return [first[0], tokens, channels]
    }

    public func bindOptimized(_ c: StepContext) -> () -> Void {
        let xs = c.inputs.map { UnsafePointer($0) }, y = c.output, pool = c.pool, ch = channels
        let n = c.outputShape[0], total = c.outputShape[1] * ch
        // Segment s of every image: (source, its stride per image, offset in the sequence, floats).
        var segments: [(source: UnsafePointer<Float>, perImage: Int, offset: Int, count: Int)] = []
        if let prefixRows { segments.append((UnsafePointer(prefixRows.pointer), 0, 0, prefixRows.count)) }
        var offset = prefixRows?.count ?? 0
        for (x, shape) in zip(xs, c.inputShapes) {
            segments.append((x, shape[1] * ch, offset, shape[1] * ch))
            offset += shape[1] * ch
        }
        let parts = segments, prefixCount = prefixRows?.count ?? 0
        let pos = packedPositions.map { UnsafePointer($0.pointer) }
        let keep = (prefixRows, packedPositions)
        return {
            withExtendedLifetime(keep) {
                pool.parallelFor(n * parts.count) { t, _ in
                    let img = t / parts.count, s = parts[t % parts.count]
                    let src = s.source + img * s.perImage, dst = y + img * total + s.offset
                    if let pos, s.offset >= prefixCount {
                        vb_binary(0, src, pos + s.offset, s.count, dst, s.count)
                    } else {
                        memcpy(dst, src, s.count * 4)
                    }
                }
            }
        }
    }
}
