import Foundation

extension BenchResult {
    /// What `vitbench bench` prints by default: the configuration on one line, the headline
    /// numbers on the next, and a warning line when the result is suspect. The full row is
    /// `--json` or `--csv`.
    public func summary(load: MachineLoad? = nil, noiseThreshold: Double) -> String {
        let c = configuration
        var what = "\(c.model) · \(c.form.rawValue) · \(c.resolution) px"
        if let dim = c.dim { what += " · dim \(dim)" }
        what += " · batch \(c.batch) · \(c.threads) thread\(c.threads == 1 ? "" : "s") (pin \(c.pin))"
        what += " · \(c.backend.rawValue)" + (c.backend.isExternalRuntime ? "" : "/\(c.isa.rawValue)")
        guard let m = measurement else { return what + "\n  failed: \(error ?? "no measurement")" }
        let st = m.statistics
        func ms(_ s: Double) -> String { String(format: s < 0.01 ? "%.4f" : s < 1 ? "%.3f" : "%.2f", s * 1e3) }
        var line = "  median \(ms(st.median)) ms (95% CI \(ms(st.medianCILow))–\(ms(st.medianCIHigh)))"
        line += String(format: " · CV %.1f%%", st.coefficientOfVariation * 100)
        if let ips = imagesPerSecond { line += String(format: " · %.1f images/s", ips) }
        if let g = gflops { line += String(format: " · %.1f GFLOP/s", g) }
        line += " · \(st.count) runs"
        var out = what + "\n" + line
        if st.coefficientOfVariation > noiseThreshold {
            out += String(format: "\n  noisy: CV above %.0f%%; repeat on a quieter machine or with more runs", noiseThreshold * 100)
        }
        if let load, load.busy { out += "\n  busy: \(load.description)" }
        return out
    }
}
