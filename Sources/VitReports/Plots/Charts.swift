import Foundation

/// The three kinds of chart the report draws — lines, a labelled scatter, grouped horizontal bars
/// — on one frame: a title and up to two note lines above, axes with ticks and unit labels, a
/// light grid, and the legend on the right. Each renders to an SVG document; `position` maps a
/// data point to its pixel (what the tests look at in the rendered image).
struct ChartFrame {
    var title: String
    var notes: [String] = []
    var xLabel: String
    var yLabel: String
    var width: Double = 760
    var plotHeight: Double = 360
    var left: Double = 72
    var legendWidth: Double = 190

    var top: Double { 44 + Double(noteLines.count) * 16 }

    /// The notes wrapped at word boundaries to the frame's width.
    var noteLines: [String] {
        let limit = max(40, Int((width - left - 16) / (11 * 0.6)))
        return notes.flatMap { note -> [String] in
            var lines: [String] = [], current = ""
            for word in note.split(separator: " ") {
                if !current.isEmpty && current.count + 1 + word.count > limit { lines.append(current); current = "" }
                current += (current.isEmpty ? "" : " ") + word
            }
            return lines + (current.isEmpty ? [] : [current])
        }
    }
    var bottom: Double { top + plotHeight }
    var right: Double { width - legendWidth - 16 }
    var height: Double { bottom + 56 }

    /// The document with the title, notes, the axes of the two scales (ticks, grid, labels).
    func document(x: Scale, y: Scale, xTickLabels: [Double: String] = [:], yTickLabels: [Double: String] = [:]) -> SVGDocument {
        var d = SVGDocument(width: width, height: height)
        d.text(SVG.clip(title, 110), left, 24, size: 15, bold: true)
        for (i, note) in noteLines.enumerated() { d.text(note, left, 42 + Double(i) * 16, size: 11, fill: "#333333") }
        for t in x.ticks {
            let px = x(t)
            d.line(px, top, px, bottom, stroke: "#e5e5e5")
            d.line(px, bottom, px, bottom + 5, stroke: "#000000")
            d.text(xTickLabels[t] ?? Scale.label(t), px, bottom + 18, size: 11, anchor: .middle)
        }
        for t in y.ticks {
            let py = y(t)
            d.line(left, py, right, py, stroke: "#e5e5e5")
            d.line(left - 5, py, left, py, stroke: "#000000")
            d.text(yTickLabels[t] ?? Scale.label(t), left - 8, py + 4, size: 11, anchor: .end)
        }
        d.element("rect", [("x", SVG.num(left)), ("y", SVG.num(top)), ("width", SVG.num(right - left)),
                           ("height", SVG.num(bottom - top)), ("fill", "none"), ("stroke", "#000000")])
        d.text(xLabel, (left + right) / 2, bottom + 42, size: 12, anchor: .middle)
        d.text(yLabel, 18, (top + bottom) / 2, size: 12, anchor: .middle, rotate: -90)
        return d
    }

    /// The frame with its legend widened (and the whole figure with it) to fit these labels, up
    /// to 60 characters; longer ones are cut.
    func fitting(legend labels: [String]) -> ChartFrame {
        var f = self
        let needed = min(60 * 6.6, labels.map { SVG.textWidth($0, size: 11) }.max() ?? 0) + 36
        if needed > f.legendWidth {
            f.width += needed - f.legendWidth
            f.legendWidth = needed
        }
        return f
    }

    /// The legend: a swatch (line, marker or bar) and a label per entry, right of the plot.
    func legend(_ d: inout SVGDocument, _ entries: [(label: String, color: String, dash: String?)], bars: Bool = false) {
        let x = right + 16
        for (i, e) in entries.enumerated() {
            let y = top + 8 + Double(i) * 18
            if y > bottom { d.text("… \(entries.count - i) more", x, y + 4, size: 11); break }
            if bars {
                d.rect(x, y - 5, 18, 10, fill: e.color)
            } else {
                d.line(x, y, x + 18, y, stroke: e.color, width: 2, dash: e.dash)
                d.circle(x + 9, y, r: 3, fill: e.color)
            }
            d.text(SVG.clip(e.label, Int((legendWidth - 36) / 6.6)), x + 24, y + 4, size: 11)
        }
    }
}

/// One named series of (x, y) points.
struct Series {
    var name: String
    var points: [(x: Double, y: Double)]
}

/// A text placed at a data point, with a ring around the point.
struct Annotation {
    var x: Double, y: Double
    var text: String
}

/// Lines with markers, one per series, on linear or log axes; optional dashed reference line.
struct LineChart {
    var frame: ChartFrame
    var series: [Series]
    var xLog = false, yLog = false
    /// Ticks of the x axis (say, the measured resolutions); nil: automatic.
    var xTicks: [Double]?
    var yFromZero = false
    /// A dashed grey line through these points (say, ideal scaling), with its legend label.
    var reference: (label: String, points: [(x: Double, y: Double)])?
    var annotations: [Annotation] = []

    /// The frame, its legend fitted to the series' names.
    var layout: ChartFrame { frame.fitting(legend: series.map(\.name) + (reference.map { [$0.label] } ?? [])) }

    var scales: (x: Scale, y: Scale) {
        let frame = layout
        let xs = series.flatMap { $0.points.map(\.x) } + (reference?.points.map(\.x) ?? [])
        let ys = series.flatMap { $0.points.map(\.y) } + (reference?.points.map(\.y) ?? [])
        var x = (xLog ? Scale.log(xs) : Scale.linear(xs)).placed(from: frame.left, to: frame.right)
        if let xTicks { x = x.withTicks(xTicks) }
        let y = (yLog ? Scale.log(ys) : Scale.linear(ys, zero: yFromZero)).placed(from: frame.bottom, to: frame.top)
        return (x, y)
    }

    func position(_ x: Double, _ y: Double) -> (x: Double, y: Double) {
        let s = scales
        return (s.x(x), s.y(y))
    }

    var svg: String {
        let (xs, ys) = scales, frame = layout
        var d = frame.document(x: xs, y: ys)
        if let reference {
            d.polyline(reference.points.map { (xs($0.x), ys($0.y)) }, stroke: "#888888", width: 1.5, dash: "5 4")
        }
        for (i, s) in series.enumerated() {
            let pts = s.points.sorted { $0.x < $1.x }.map { (xs($0.x), ys($0.y)) }
            if pts.count > 1 { d.polyline(pts, stroke: Palette.color(i), width: 2, dash: Palette.dash(i)) }
            for p in pts { d.circle(p.0, p.1, r: 3.5, fill: Palette.color(i)) }
        }
        for a in annotations {
            let (px, py) = (xs(a.x), ys(a.y))
            d.circle(px, py, r: 8, fill: "none", stroke: "#000000", strokeWidth: 1.5)
            let leftward = px > (frame.left + frame.right) / 2
            d.text(a.text, leftward ? px - 12 : px + 12, py - 12, size: 11, anchor: leftward ? .end : .start, bold: true)
        }
        var entries = series.enumerated().map { (label: $0.element.name, color: Palette.color($0.offset), dash: Palette.dash($0.offset)) }
        if let reference { entries.append((reference.label, "#888888", "5 4")) }
        frame.legend(&d, entries)
        return d.text
    }
}

/// Labelled points, a highlighted subset (the Pareto front) joined by a step line.
struct ScatterChart {
    struct Point {
        var x: Double, y: Double
        var label: String
        var highlighted: Bool
    }

    var frame: ChartFrame
    var points: [Point]
    var xLog = true
    var highlightLabel = "Pareto front"
    var otherLabel = "dominated"

    var scales: (x: Scale, y: Scale) {
        let x = (xLog ? Scale.log(points.map(\.x)) : Scale.linear(points.map(\.x))).placed(from: frame.left, to: frame.right)
        let y = Scale.linear(points.map(\.y)).placed(from: frame.bottom, to: frame.top)
        return (x, y)
    }

    func position(_ x: Double, _ y: Double) -> (x: Double, y: Double) {
        let s = scales
        return (s.x(x), s.y(y))
    }

    static let highlight = Palette.color(4), other = Palette.color(1)

    var svg: String {
        let (xs, ys) = scales
        var d = frame.document(x: xs, y: ys)
        // The front as a staircase: from each point on it, right to the next one's latency, then up.
        let front = points.filter(\.highlighted).sorted { $0.x < $1.x }
        if front.count > 1 {
            var steps: [(Double, Double)] = [(xs(front[0].x), ys(front[0].y))]
            for p in front.dropFirst() {
                steps.append((xs(p.x), steps.last!.1))
                steps.append((xs(p.x), ys(p.y)))
            }
            d.polyline(steps, stroke: Self.highlight, width: 2)
        }
        for p in points where !p.highlighted { d.circle(xs(p.x), ys(p.y), r: 4, fill: Self.other) }
        for p in front { d.circle(xs(p.x), ys(p.y), r: 4.5, fill: Self.highlight) }
        for p in points {
            let (px, py) = (xs(p.x), ys(p.y))
            let leftward = px > frame.right - 90
            d.text(SVG.clip(p.label, 28), leftward ? px - 7 : px + 7, py - 6, size: 10, anchor: leftward ? .end : .start,
                   fill: p.highlighted ? "#000000" : "#555555", bold: p.highlighted)
        }
        frame.legend(&d, [(highlightLabel, Self.highlight, nil), (otherLabel, Self.other, nil)])
        return d.text
    }
}

/// Horizontal bars: one group per category (top to bottom), one bar per series within it.
struct BarChart {
    var frame: ChartFrame
    var categories: [String]
    var series: [String]
    /// values[category][series]; nil: not measured (no bar).
    var values: [[Double?]]
    var xLog = true
    /// A dashed vertical line (say, ratio 1).
    var referenceX: Double?

    static let barHeight = 11.0, groupGap = 10.0

    /// The frame sized to the bars, with room on the left for the category labels.
    var sized: ChartFrame {
        var f = frame.fitting(legend: series)
        let longest = categories.map { SVG.clip($0, 36) }.map { SVG.textWidth($0, size: 11) }.max() ?? 0
        f.left = max(72, longest + 20)
        f.width = max(f.width, f.left + 420 + f.legendWidth + 16)
        f.plotHeight = max(120, Double(categories.count) * (Double(series.count) * Self.barHeight + Self.groupGap) + Self.groupGap)
        return f
    }

    var scale: Scale {
        let f = sized
        let all = values.flatMap { $0.compactMap { $0 } } + (referenceX.map { [$0] } ?? [])
        return (xLog ? Scale.log(all) : Scale.linear(all, zero: true)).placed(from: f.left, to: f.right)
    }

    /// The middle of the bar of (category, series), and its right end.
    func bar(_ c: Int, _ s: Int) -> (y: Double, end: Double)? {
        guard let v = values[c][s] else { return nil }
        let f = sized
        let y = f.top + Self.groupGap + Double(c) * (Double(series.count) * Self.barHeight + Self.groupGap) + (Double(s) + 0.5) * Self.barHeight
        return (y, scale(v))
    }

    var svg: String {
        let f = sized, xs = scale
        // No y ticks: the categories label the groups.
        var noY = Scale(kind: .linear, low: 0, high: 1).placed(from: f.bottom, to: f.top)
        noY.fixedTicks = []
        var d = f.document(x: xs, y: noY)
        for (c, name) in categories.enumerated() {
            let groupTop = f.top + Self.groupGap + Double(c) * (Double(series.count) * Self.barHeight + Self.groupGap)
            d.text(SVG.clip(name, 36), f.left - 8, groupTop + Double(series.count) * Self.barHeight / 2 + 4, size: 11, anchor: .end)
            for s in series.indices {
                guard let b = bar(c, s) else { continue }
                d.rect(f.left, b.y - Self.barHeight / 2 + 1, b.end - f.left, Self.barHeight - 2, fill: Palette.color(s))
            }
        }
        if let referenceX { d.line(xs(referenceX), f.top, xs(referenceX), f.bottom, stroke: "#000000", width: 1, dash: "4 3") }
        f.legend(&d, series.enumerated().map { (label: $0.element, color: Palette.color($0.offset), dash: nil) }, bars: true)
        return d.text
    }
}
