import Foundation
import VitEngine

/// What running a model (or block) at one input size takes in memory, estimated before anything
/// big is allocated: its weights, the constants its plan's operators hold (packed weights,
/// attention-bias tables, position embeddings), the plan's arena of activations and its scratch,
/// and the input.
///
/// The weights are the larger of the train-time and the inference form, buffers included:
/// fusing releases each block's branches as it makes the block's kernel, so the two forms never
/// coexist whole, and a model with nothing to fuse (DeiT) keeps the very same tensors. The larger
/// form bounds both moments: while fusing (before the plan exists), and while running beside the
/// plan's constants.
public struct MemoryEstimate: Sendable, CustomStringConvertible {
    public var weightBytes: Double
    public var constantBytes: Double
    public var activationBytes: Double
    public var scratchBytes: Double
    /// The random input batch the harness fills, and the transient copy of the largest constant.
    public var otherBytes: Double
    /// True when the size was extrapolated from smaller probes (an upper bound) because building
    /// the model's tables at full size to count them would itself exceed the budget.
    public var extrapolated: Bool

    public var totalBytes: Double { weightBytes + constantBytes + activationBytes + scratchBytes + otherBytes }

    public var breakdown: String {
        if extrapolated {
            return "weights and constant tables \(MemoryBudget.format(weightBytes + constantBytes)), an upper bound extrapolated "
                + "from smaller sizes; the input batch and its copy in the plan \(MemoryBudget.format(activationBytes + otherBytes)); "
                + "activations not counted"
        }
        return "weights \(MemoryBudget.format(weightBytes)), constants \(MemoryBudget.format(constantBytes)), "
            + "activations \(MemoryBudget.format(activationBytes)), scratch \(MemoryBudget.format(scratchBytes)), "
            + "input and transients \(MemoryBudget.format(otherBytes))"
    }

    public var description: String { "about \(MemoryBudget.format(totalBytes)) (\(breakdown))" }
}

/// Estimates a configuration's memory from shapes and refuses one over the budget
/// (`MemoryBudget`) before its weights are built.
///
/// How it estimates without allocating what it measures:
/// 1. Input sizes are checked with overflow-checked arithmetic (a resolution of 2^40 is an
///    error, not a wrap-around).
/// 2. Weights and operator constants are what grows with a block's width and the input grid
///    (LeViT's attention biases grow with the fourth power of the resolution): they are counted
///    on constant-weight builds at 1x, 2x and 3x the model's own resolution (and block width),
///    fitted by a polynomial in width (degree 2) and resolution (degree 4) whose negative
///    coefficients are dropped — an upper bound for the sizes these families have — and
///    extrapolated. Skipped when the configuration is within 3x of those sizes.
/// 3. When that bound fits the budget, the model is built at full size with constant weights and
///    lowered onto a plan builder that only infers shapes: weights, constants, arena and scratch
///    are then counted exactly, still without allocating the arena.
public enum MemoryGuard {
    /// What to estimate: a zoo model or a block.
    public enum Subject {
        case model(ModelInfo)
        case block(BlockInfo)
    }

    public static func subject(named name: String) throws -> Subject {
        if BlockZoo.contains(name) { return .block(try BlockZoo.named(name)) }
        return .model(try ModelZoo.named(name))
    }

    /// - Parameters:
    ///   - reparameterized: the inference form (the model is fused before it is lowered).
    ///   - budget: bytes; the exact count is skipped (and the estimate extrapolated) when the
    ///     weights and tables alone would exceed it. nil: `MemoryBudget.current()`.
    public static func estimate(_ subject: Subject, dim: Int? = nil, reparameterized: Bool, batch: Int,
                                height: Int, width: Int, threads: Int, budget: Int? = nil) throws -> MemoryEstimate {
        let budgetBytes = Double(budget ?? MemoryBudget.current().bytes)
        let inputBytes = try checkedInputBytes(subject, dim: dim, batch: batch, height: height, width: width)
        let (d0, r0) = baseSize(subject)
        let d = dim ?? d0
        let r = max(height, width)
        if Double(d) > 3 * Double(d0) || Double(r) > 3 * Double(r0) {
            let bound = try extrapolatedConstants(subject, d0: d0, r0: r0, d: d, r: r, reparameterized: reparameterized)
            if bound + 2 * inputBytes > budgetBytes {
                return MemoryEstimate(weightBytes: bound, constantBytes: 0, activationBytes: inputBytes, scratchBytes: 0,
                                      otherBytes: inputBytes, extrapolated: true)
            }
        } else if 2 * inputBytes > budgetBytes {
            return MemoryEstimate(weightBytes: 0, constantBytes: 0, activationBytes: inputBytes, scratchBytes: 0,
                                  otherBytes: inputBytes, extrapolated: false)
        }
        let p = try probe(subject, dim: dim, reparameterized: reparameterized, batch: batch, height: height, width: width,
                          threads: threads)
        return MemoryEstimate(weightBytes: p.weights, constantBytes: p.plan.constantBytes, activationBytes: p.plan.arenaBytes,
                              scratchBytes: p.plan.scratchBytes, otherBytes: inputBytes + p.plan.largestConstantBytes,
                              extrapolated: false)
    }

    /// Throws `MemoryLimitError` when the configuration would need more than the budget
    /// (`MemoryBudget.current()`); returns the estimate otherwise.
    @discardableResult
    public static func check(_ subject: Subject, dim: Int? = nil, reparameterized: Bool, batch: Int,
                             height: Int, width: Int, threads: Int) throws -> MemoryEstimate {
        let budget = MemoryBudget.current()
        let e = try estimate(subject, dim: dim, reparameterized: reparameterized, batch: batch, height: height, width: width,
                             threads: threads, budget: budget.bytes)
        if e.totalBytes > Double(budget.bytes) {
            throw MemoryLimitError(subject: describe(subject, dim: dim, batch: batch, height: height, width: width),
                                   neededBytes: e.totalBytes, breakdown: e.breakdown,
                                   budgetBytes: budget.bytes, budgetSource: budget.source)
        }
        return e
    }

    static func describe(_ subject: Subject, dim: Int?, batch: Int, height: Int, width: Int) -> String {
        switch subject {
        case .model(let m): return "\(m.name) at \(height)x\(width), batch \(batch)"
        case .block(let b): return "\(b.name) of width \(dim ?? b.defaultDim) on a \(height)x\(width) grid, batch \(batch)"
        }
    }

    static func baseSize(_ subject: Subject) -> (dim: Int, resolution: Int) {
        switch subject {
        case .model(let m): return (1, m.resolution)
        case .block(let b): return (b.defaultDim, b.defaultResolution)
        }
    }

    /// Bytes of the input batch, with every product checked for overflow.
    static func checkedInputBytes(_ subject: Subject, dim: Int?, batch: Int, height: Int, width: Int) throws -> Double {
        let (d0, _) = baseSize(subject)
        let channels: Int
        switch subject {
        case .model: channels = 3
        case .block: channels = dim ?? d0
        }
        guard batch >= 1, height >= 1, width >= 1, channels >= 1 else {
            throw ModelInputError("batch, resolution and width must be positive (got batch \(batch), \(height)x\(width), \(channels) channels)")
        }
        guard let n = PlanBuilder.checkedElements([batch, channels, height, width]) else {
            throw ModelInputError("an input of batch \(batch) x \(channels) channels x \(height)x\(width) is too large: "
                                  + "more than 2^40 elements, or its size overflows; lower the resolution, batch or width")
        }
        return 4 * Double(n)
    }

    struct Probe {
        var weights: Double
        var plan: PlanBuilder.MemoryEstimate
    }

    /// Builds the subject with constant weights and lowers it onto a builder that allocates no
    /// arena: weights, operator constants, arena and scratch, counted.
    static func probe(_ subject: Subject, dim: Int?, reparameterized: Bool, batch: Int, height: Int, width: Int,
                      threads: Int) throws -> Probe {
        let b = PlanBuilder(pool: try ThreadPool(starting: 1))
        switch subject {
        case .model(let info):
            let model = try info.placeholder()
            try model.checkInput(height: height, width: width)
            var weights = Double(model.stateDict.elementCount)
            if reparameterized {
                model.reparameterize()
                weights = max(weights, Double(model.stateDict.elementCount))
            }
            let input = b.input([batch, 3, height, width])
            let x = try b.apply(Permute([0, 2, 3, 1]), [input], name: "input_nhwc")
            let out = try model.forward(b, x)
            return Probe(weights: 4 * weights, plan: try b.memoryEstimate(outputs: [out], threads: threads))
        case .block(let info):
            let block = try info.load(.placeholder, dim: dim, height: height, width: width)
            var weights = Double(block.stateDict.elementCount)
            if reparameterized {
                block.reparameterize()
                weights = max(weights, Double(block.stateDict.elementCount))
            }
            let shape = block.inputShape(batch: batch, height: height, width: width)
            let out = try block.forward(b, b.input(shape))
            return Probe(weights: 4 * weights, plan: try b.memoryEstimate(outputs: [out], threads: threads))
        }
    }

    /// An upper bound of weights + constants at width d and resolution r, from probes at
    /// 1x, 2x, 3x the base width (blocks) and resolution: the polynomial in u = d/d0 (degree 2)
    /// and v = (r/r0)^2 (degree 2, so resolution^4) through them, negative coefficients dropped,
    /// plus 25%.
    static func extrapolatedConstants(_ subject: Subject, d0: Int, r0: Int, d: Int, r: Int,
                                      reparameterized: Bool) throws -> Double {
        let isBlock: Bool
        if case .block = subject { isBlock = true } else { isBlock = false }
        let us: [Int] = isBlock ? [1, 2, 3] : [1]
        var values = [[Double]](repeating: [0, 0, 0], count: us.count)
        for (i, u) in us.enumerated() {
            for (j, k) in [1, 2, 3].enumerated() {
                let res = r0 * k
                let p = try probe(subject, dim: isBlock ? d0 * u : nil, reparameterized: reparameterized, batch: 1,
                                  height: res, width: res, threads: 1)
                values[i][j] = p.weights + p.plan.constantBytes + p.plan.largestConstantBytes
            }
        }
        // Coefficients in v for each u, then in u.
        let vCoefficients = values.map { quadraticCoefficients(at: [1, 4, 9], $0) }
        let u = Double(d) / Double(d0), v = pow(Double(r) / Double(r0), 2)
        var total = 0.0
        for b in 0..<3 {
            let column = vCoefficients.map { $0[b] }
            let uCoefficients = isBlock ? quadraticCoefficients(at: [1, 2, 3], column) : [column[0], 0, 0]
            for a in 0..<3 {
                total += max(uCoefficients[a], 0) * pow(u, Double(a)) * pow(v, Double(b))
            }
        }
        return total * 1.25
    }

    /// c0, c1, c2 of the parabola c0 + c1 x + c2 x^2 through (x_i, y_i) (Lagrange, exact).
    static func quadraticCoefficients(at x: [Double], _ y: [Double]) -> [Double] {
        var c = [0.0, 0.0, 0.0]
        for i in 0..<3 {
            let others = (0..<3).filter { $0 != i }.map { x[$0] }
            let denominator = others.reduce(1.0) { $0 * (x[i] - $1) }
            let w = y[i] / denominator
            // (x - a)(x - b) = x^2 - (a + b) x + a b
            c[0] += w * others[0] * others[1]
            c[1] -= w * (others[0] + others[1])
            c[2] += w
        }
        return c
    }
}
