import Foundation

/// A minimal SVG writer: elements appended as text, every piece of text and every attribute value
/// escaped, numbers with two decimals at most. Enough for the report's figures; nothing here
/// knows about results.
struct SVGDocument {
    let width: Double
    let height: Double
    private(set) var elements: [String] = []

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// The document: an XML declaration, the `svg` element with its size and a white background.
    var text: String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(SVG.num(width))\" height=\"\(SVG.num(height))\" "
            + "viewBox=\"0 0 \(SVG.num(width)) \(SVG.num(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(SVG.num(width))\" height=\"\(SVG.num(height))\" fill=\"#ffffff\"/>\n"
        for e in elements { out += e + "\n" }
        return out + "</svg>\n"
    }

    /// An element with attributes (values escaped) and optional text content (escaped).
    mutating func element(_ name: String, _ attributes: [(String, String)], text: String? = nil) {
        let attrs = attributes.map { " \($0.0)=\"\(SVG.escape($0.1))\"" }.joined()
        if let text { elements.append("<\(name)\(attrs)>\(SVG.escape(text))</\(name)>") } else { elements.append("<\(name)\(attrs)/>") }
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1, dash: String? = nil) {
        var a = [("x1", SVG.num(x1)), ("y1", SVG.num(y1)), ("x2", SVG.num(x2)), ("y2", SVG.num(y2)), ("stroke", stroke),
                 ("stroke-width", SVG.num(width))]
        if let dash { a.append(("stroke-dasharray", dash)) }
        element("line", a)
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, stroke: String? = nil) {
        var a = [("x", SVG.num(x)), ("y", SVG.num(y)), ("width", SVG.num(max(w, 0))), ("height", SVG.num(max(h, 0))), ("fill", fill)]
        if let stroke { a.append(("stroke", stroke)) }
        element("rect", a)
    }

    mutating func circle(_ x: Double, _ y: Double, r: Double, fill: String, stroke: String? = nil, strokeWidth: Double = 1) {
        var a = [("cx", SVG.num(x)), ("cy", SVG.num(y)), ("r", SVG.num(r)), ("fill", fill)]
        if let stroke { a += [("stroke", stroke), ("stroke-width", SVG.num(strokeWidth))] }
        element("circle", a)
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 2, dash: String? = nil) {
        var a = [("points", points.map { "\(SVG.num($0.0)),\(SVG.num($0.1))" }.joined(separator: " ")), ("fill", "none"),
                 ("stroke", stroke), ("stroke-width", SVG.num(width)), ("stroke-linejoin", "round")]
        if let dash { a.append(("stroke-dasharray", dash)) }
        element("polyline", a)
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(_ s: String, _ x: Double, _ y: Double, size: Double = 12, anchor: Anchor = .start, fill: String = "#000000",
                       bold: Bool = false, rotate: Double? = nil) {
        var a = [("x", SVG.num(x)), ("y", SVG.num(y)), ("font-size", SVG.num(size)), ("text-anchor", anchor.rawValue), ("fill", fill)]
        if bold { a.append(("font-weight", "bold")) }
        if let rotate { a.append(("transform", "rotate(\(SVG.num(rotate)) \(SVG.num(x)) \(SVG.num(y)))")) }
        element("text", a, text: s)
    }
}

enum SVG {
    /// Text for XML content and attribute values: `& < > " '` as entities, and characters XML 1.0
    /// forbids (control characters other than tab, LF, CR) dropped.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(u)
            default:
                if u.value < 0x20 || (0xFFFE...0xFFFF).contains(u.value) { continue }
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// A coordinate: at most two decimals, no trailing zeros.
    static func num(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        var s = String(format: "%.2f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    /// A label of at most `limit` characters (an ellipsis marks a cut).
    static func clip(_ s: String, _ limit: Int) -> String {
        s.count <= limit ? s : String(s.prefix(limit - 1)) + "…"
    }

    /// Rough width of a label in pixels at a font size (for layout only).
    static func textWidth(_ s: String, size: Double = 12) -> Double { Double(s.count) * size * 0.6 }
}

/// Series colours: the Okabe–Ito palette, distinguishable with the common colour-vision
/// deficiencies. Past eight series the colours repeat with a dash pattern.
enum Palette {
    static let okabeIto = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000"]
    static func color(_ i: Int) -> String { okabeIto[i % okabeIto.count] }
    static func dash(_ i: Int) -> String? { ["", "6 3", "2 2", "8 3 2 3"][(i / okabeIto.count) % 4].nilIfEmpty }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
