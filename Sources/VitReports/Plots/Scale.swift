import Foundation

/// A map from data values to pixels along one axis, linear or logarithmic, with its ticks.
struct Scale {
    enum Kind { case linear, log }

    let kind: Kind
    /// Data interval shown (positive for a log scale).
    let low: Double, high: Double
    /// Pixel positions of `low` and `high` (for a vertical axis `from` is the bottom).
    var from: Double = 0, to: Double = 1
    /// Tick values; nil: chosen from the domain.
    var fixedTicks: [Double]?

    /// A linear scale over the values with "nice" ends (steps of 1, 2 or 5 × 10^k); from zero when
    /// `zero` is set and every value is positive.
    static func linear(_ values: [Double], zero: Bool = false) -> Scale {
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if zero { lo = min(lo, 0); hi = max(hi, 0) }
        if hi - lo < 1e-12 { lo -= 1; hi += 1 }
        let step = niceStep((hi - lo) / 5)
        return Scale(kind: .linear, low: (lo / step).rounded(.down) * step, high: (hi / step).rounded(.up) * step)
    }

    /// A log scale over the positive values, with a margin of ~10% on each side.
    static func log(_ values: [Double]) -> Scale {
        let positive = values.filter { $0 > 0 && $0.isFinite }
        var lo = positive.min() ?? 1, hi = positive.max() ?? 10
        if hi / lo < 1.5 { lo /= 1.25; hi *= 1.25 }
        return Scale(kind: .log, low: lo / 1.12, high: hi * 1.12)
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let p = pow(10, (log10(raw)).rounded(.down)), m = raw / p
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p
    }

    func placed(from: Double, to: Double) -> Scale {
        var s = self
        s.from = from
        s.to = to
        return s
    }

    func withTicks(_ ticks: [Double]) -> Scale {
        var s = self
        s.fixedTicks = ticks.filter { contains($0) }
        return s
    }

    func contains(_ v: Double) -> Bool { v >= low * (1 - 1e-9) - 1e-12 && v <= high * (1 + 1e-9) + 1e-12 }

    /// The pixel position of a value (log scales clamp non-positive values to the low end).
    func callAsFunction(_ v: Double) -> Double {
        let t: Double
        switch kind {
        case .linear: t = (v - low) / (high - low)
        case .log: t = (Foundation.log(max(v, low * 1e-3)) - Foundation.log(low)) / (Foundation.log(high) - Foundation.log(low))
        }
        return from + t * (to - from)
    }

    /// Tick values inside the domain: the fixed ones, else steps of a nice size (linear) or
    /// 1, 2, 5 × 10^k — more per decade for a short span, only powers of ten for a long one (log).
    var ticks: [Double] {
        if let fixedTicks { return fixedTicks }
        switch kind {
        case .linear:
            let step = Scale.niceStep((high - low) / 5)
            var out: [Double] = []
            var v = (low / step).rounded(.up) * step
            while v <= high + step * 1e-9 { out.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
            return out
        case .log:
            let decades = log10(high / low)
            let mantissas: [Double] = decades <= 1.2 ? [1, 1.5, 2, 3, 4, 5, 6, 8] : decades <= 2.5 ? [1, 2, 5] : decades <= 5 ? [1, 3] : [1]
            var out: [Double] = []
            var p = (log10(low)).rounded(.down)
            while pow(10, p) <= high {
                for m in mantissas where contains(m * pow(10, p)) { out.append(m * pow(10, p)) }
                p += 1
            }
            return out
        }
    }

    /// A tick label: up to three significant digits, no exponent below a million.
    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e6 || abs(v) < 1e-3 { return String(format: "%.0e", v) }
        if abs(v - v.rounded()) < 1e-9 * max(1, abs(v)) { return String(format: "%.0f", v) }
        let digits = max(0, 2 - Int(log10(abs(v)).rounded(.down)))
        var s = String(format: "%.\(digits)f", v)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }
}
