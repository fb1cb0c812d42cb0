import VitEngine

/// timm's learned absolute position embedding rows [prefix + g·g, C] (`prefix` class-token rows
/// first) for a gh×gw patch grid: as stored at the native g×g grid; otherwise the prefix rows kept
/// and the grid resampled as `resample_abs_pos_embed` does. DeiT and PSViT resample this way.
func positionEmbedding(_ table: Tensor, prefix: Int, grid g: Int, for gh: Int, _ gw: Int) -> Tensor {
    let c = table.shape.last!
    guard (gh, gw) != (g, g) else { return table.reshaped([prefix + g * g, c]) }
    let resampled = resampleBicubicAntialiased(Array(table.data[(prefix * c)...]), channels: c, from: (g, g), to: (gh, gw))
    return Tensor(shape: [prefix + gh * gw, c], data: Array(table.data[..<(prefix * c)]) + resampled)
}

/// What `notes(height:width:)` says when `positionEmbedding` resamples.
func positionEmbeddingNote(grid g: Int, to gh: Int, _ gw: Int) -> String {
    "position embedding: resampled from the \(g)x\(g) grid to \(gh)x\(gw) (bicubic with antialiasing, "
        + "timm's resample_abs_pos_embed), once at plan time in double precision"
}

/// PyTorch's `F.interpolate(mode='bicubic', antialias=True, align_corners=False)` of a
/// channels-last grid [h·w, C] to another size, in double: per axis, the Keys cubic (a = −0.5)
/// stretched by the scale when shrinking (that is the antialiasing), taps clipped at the border
/// and renormalised (ATen's `_compute_indices_min_size_weights_aa`); rows, then columns.
func resampleBicubicAntialiased(_ grid: [Float], channels c: Int, from: (h: Int, w: Int), to: (h: Int, w: Int)) -> [Float] {
    let rows = antialiasedBicubicTaps(input: from.h, output: to.h)
    let cols = antialiasedBicubicTaps(input: from.w, output: to.w)
    var out = [Float](repeating: 0, count: to.h * to.w * c)
    var acc = [Double](repeating: 0, count: c)
    for (oy, ry) in rows.enumerated() {
        for (ox, rx) in cols.enumerated() {
            for i in 0..<c { acc[i] = 0 }
            for (dy, wy) in ry.weights.enumerated() {
                for (dx, wx) in rx.weights.enumerated() {
                    let base = ((ry.first + dy) * from.w + rx.first + dx) * c, wt = wy * wx
                    for i in 0..<c { acc[i] += wt * Double(grid[base + i]) }
                }
            }
            for i in 0..<c { out[(oy * to.w + ox) * c + i] = Float(acc[i]) }
        }
    }
    return out
}

/// Per output index: the first input index it reads and the normalised weights of its taps.
private func antialiasedBicubicTaps(input: Int, output: Int) -> [(first: Int, weights: [Double])] {
    func keys(_ t: Double) -> Double {
        let a = -0.5, x = abs(t)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
    }
    let scale = Double(input) / Double(output)
    let support = scale >= 1 ? 2 * scale : 2, invScale = scale >= 1 ? 1 / scale : 1
    return (0..<output).map { i in
        let center = scale * (Double(i) + 0.5)
        // Truncation toward zero, as ATen's int64 casts.
        let first = max(Int(center - support + 0.5), 0), end = min(Int(center + support + 0.5), input)
        var weights = (first..<max(first, end)).map { keys((Double($0) - center + 0.5) * invScale) }
        let total = weights.reduce(0, +)
        if total != 0 { weights = weights.map { $0 / total } }
        return (first, weights)
    }
}
