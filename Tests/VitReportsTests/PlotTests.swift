import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import VitReports

/// Two machines, the mixer skeleton at three resolutions (RepMixer slower than pooling at 224,
/// faster from 512), a model at two resolutions, two thread counts, two backends, and accuracy.
let plotCSV = """
    model,mixer,form,resolution,batch,threads,backend,machine_id,cpu,median_ms,noisy,error
    metaformer_s12:pooling,pooling,inference,224,1,1,packed,m1,Zen 4,10,no,
    metaformer_s12:pooling,pooling,inference,512,1,1,packed,m1,Zen 4,50,no,
    metaformer_s12:pooling,pooling,inference,1024,1,1,packed,m1,Zen 4,200,no,
    metaformer_s12:repmixer,repmixer,inference,224,1,1,packed,m1,Zen 4,11,no,
    metaformer_s12:repmixer,repmixer,inference,512,1,1,packed,m1,Zen 4,45,no,
    metaformer_s12:repmixer,repmixer,inference,1024,1,1,packed,m1,Zen 4,150,no,
    metaformer_s12:attention,attention,inference,224,1,1,packed,m1,Zen 4,30,no,
    metaformer_s12:attention,attention,inference,512,1,1,packed,m1,Zen 4,400,no,
    fastvit_t8,,inference,256,1,1,packed,m1,Zen 4,8,no,
    fastvit_t8,,inference,512,1,1,packed,m1,Zen 4,30,no,
    fastvit_t8,,inference,256,1,2,packed,m1,Zen 4,4.5,no,
    fastvit_t8,,inference,256,1,1,openblas,m1,Zen 4,9,no,
    mobileone_s0,,inference,224,1,1,packed,m1,Zen 4,5,no,
    fastvit_t8,,inference,256,1,1,packed,m2,"Neo ""V2"" <N> & co",16,no,
    mobileone_s0,,inference,224,1,1,packed,m2,"Neo ""V2"" <N> & co",12,no,

    """

let plotPublished: [String: PublishedTop1] = [
    "fastvit_t8": PublishedTop1(top1: 75.6, source: "FastViT", resolution: 256),
    "mobileone_s0": PublishedTop1(top1: 71.4, source: "MobileOne", resolution: 224),
    "metaformer_s12:pooling": PublishedTop1(top1: 77.2, source: "PoolFormer", resolution: 224),
]

final class PlotTests: XCTestCase {
    func testEscapingAndNumbers() {
        XCTAssertEqual(SVG.escape("a<b & \"c\" 'd'>\u{1}"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;")
        XCTAssertEqual(SVG.num(1.0), "1")
        XCTAssertEqual(SVG.num(2.345), "2.35")
        XCTAssertEqual(SVG.num(-0.001), "0")
    }

    func testScales() {
        // Log: a margin around the data; 1-2-5 ticks over two decades.
        let log = Scale.log([10, 1000]).placed(from: 0, to: 100)
        XCTAssertEqual(log.ticks, [10, 20, 50, 100, 200, 500, 1000])
        XCTAssertEqual(log(10), 100 - log(1000), accuracy: 1e-9, "symmetric margins on a log scale")
        XCTAssertLessThan(log(10), log(100))
        XCTAssertEqual(log(100) - log(10), log(1000) - log(100), accuracy: 1e-9, "equal ratios, equal distances")
        // Linear: nice ends and steps.
        let lin = Scale.linear([0.3, 9.2], zero: true)
        XCTAssertEqual(lin.low, 0)
        XCTAssertEqual(lin.high, 10)
        XCTAssertEqual(lin.ticks, [0, 2, 4, 6, 8, 10])
        XCTAssertEqual(Scale.log([224, 1024]).withTicks([224, 512, 1024]).ticks, [224, 512, 1024])
        XCTAssertEqual(Scale.label(1024), "1024")
        XCTAssertEqual(Scale.label(0.25), "0.25")
        XCTAssertEqual(Scale.label(1.5), "1.5")
    }

    func testFastViTClaimCrossing() throws {
        let pooling = Series(name: "pooling", points: [(224, 10), (512, 50), (1024, 200)])
        let rep = Series(name: "repmixer", points: [(224, 11), (512, 45), (1024, 150)])
        let (note, crossing) = MarkdownReport.claim(rep, against: [pooling])
        XCTAssertEqual(note, "FastViT claim: RepMixer faster than pooling/attention at high resolution. Measured: RepMixer 0.75× pooling at 1024 px.")
        let c = try XCTUnwrap(crossing)
        XCTAssertGreaterThan(c.x, 224)
        XCTAssertLessThan(c.x, 512)
        XCTAssertTrue(c.text.hasPrefix("RepMixer overtakes pooling ≈ "), c.text)
        // Slower at the top: no crossing is claimed.
        let slower = Series(name: "repmixer", points: [(224, 9), (512, 55), (1024, 210)])
        XCTAssertNil(MarkdownReport.claim(slower, against: [pooling]).crossing)
        XCTAssertTrue(MarkdownReport.claim(slower, against: [pooling]).note.hasSuffix("RepMixer 1.05× pooling at 1024 px."))
    }

    /// Every figure the synthetic table supports, linked after its section, valid XML, with the
    /// axis labels and units; the text with XML's special characters (the CPU name) escaped.
    func testReportFiguresAreLinkedAndValid() throws {
        let table = try ResultTable(csv: plotCSV, source: "p.csv")
        let (md, figures) = try MarkdownReport(published: { plotPublished[$0] }).renderWithFigures(table) { "p-\($0).svg" }
        XCTAssertEqual(Set(figures.map(\.name)),
                       ["latency-resolution", "resolutions", "thread-scaling", "backends", "machines", "accuracy-latency"])
        XCTAssertTrue(md.contains("\n![Latency vs resolution per token mixer](p-latency-resolution.svg)\n"), md)
        XCTAssertTrue(md.contains("\n![Latency per machine](p-machines.svg)\n"), md)
        // Each link follows its own section.
        let machines = try XCTUnwrap(md.range(of: "## Machines")), link = try XCTUnwrap(md.range(of: "(p-machines.svg)"))
        XCTAssertLessThan(machines.lowerBound, link.lowerBound)
        XCTAssertNil(md.range(of: "## ", range: machines.upperBound..<link.lowerBound), "the machines figure comes right after its table")
        // Without a link function: no figures, the same text otherwise.
        let plain = try MarkdownReport(published: { plotPublished[$0] }).render(table)
        XCTAssertFalse(plain.contains("!["))
        XCTAssertEqual(plain, md.components(separatedBy: "\n").filter { !$0.hasPrefix("![") }.joined(separator: "\n")
            .replacingOccurrences(of: "\n\n\n", with: "\n\n"))

        let units: [String: [String]] = [
            "latency-resolution": ["resolution (px)", "latency (ms)", "FastViT claim", "RepMixer overtakes pooling"],
            "resolutions": ["resolution (px)", "latency (ms)", "fastvit_t8"],
            "thread-scaling": [">threads<", "speed-up over 1 thread (×)", "ideal"],
            "backends": ["latency (ms, log scale)", "packed", "openblas"],
            "machines": ["latency (ms, log scale)", "m2 (Neo &quot;V2&quot; &lt;N&gt; &amp; co)"],
            "accuracy-latency": ["top-1 (%)", "latency (ms, log scale)", "Pareto front", "mobileone_s0"],
        ]
        for f in figures {
            try assertWellFormed(f.svg, f.name)
            for text in units[f.name, default: []] { XCTAssertTrue(f.svg.contains(text), "\(f.name) lacks \(text)") }
        }
    }

    /// `--pivot machines` alone: only its figure.
    func testFiguresFollowTheChosenSections() throws {
        let table = try ResultTable(csv: plotCSV, source: "p.csv")
        let (_, figures) = try MarkdownReport(sections: [.machines]).renderWithFigures(table) { $0 }
        XCTAssertEqual(figures.map(\.name), ["machines"])
        let oneMachine = table.filtered { table.value($0, "machine_id") == "m1" }
        let (_, auto) = try MarkdownReport().renderWithFigures(oneMachine) { $0 }
        XCTAssertFalse(auto.map(\.name).contains("machines"))
    }

    func testWriteBesideTheMarkdown() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plots-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let table = try ResultTable(csv: plotCSV, source: "p.csv")
        let written = try MarkdownReport(sections: [.mixers, .machines]).write(table, toMarkdown: dir + "/suite.md")
        XCTAssertEqual(written, [dir + "/suite-latency-resolution.svg", dir + "/suite-machines.svg"])
        let md = try String(contentsOfFile: dir + "/suite.md", encoding: .utf8)
        XCTAssertTrue(md.contains("](suite-machines.svg)"), md)
        for w in written { XCTAssertTrue(FileManager.default.fileExists(atPath: w)) }
    }

    func testProfileReport() throws {
        let csv = """
            index,module,op,output_shape,macs,bytes,median_ms,percent,gflops,flop_per_byte
            0,stem.conv,conv,1x64x56x56,100,10,2.0,40,1,1
            1,stages.0.mixer,gelu,1x64x56x56,0,10,0.5,10,0,0
            2,stages.0.mlp.fc1,conv,1x64x56x56,100,10,2.5,50,1,1

            """
        let table = try ResultTable(csv: csv, source: "prof.csv")
        XCTAssertTrue(ProfileReport.isProfile(table))
        XCTAssertFalse(ProfileReport.isProfile(try ResultTable(csv: plotCSV, source: "p.csv")))
        let (md, figures) = try ProfileReport.render([table]) { "prof-\($0).svg" }
        XCTAssertTrue(md.contains("| op kind | prof.csv (ms) | % |\n|---|---:|---:|\n| conv | 4.500 | 90.0 |\n| gelu | 0.500 | 10.0 |\n"), md)
        XCTAssertTrue(md.contains("![Time per op kind](prof-op-kinds.svg)"), md)
        XCTAssertEqual(figures.map(\.name), ["op-kinds"])
        try assertWellFormed(figures[0].svg, "op-kinds")
        XCTAssertTrue(figures[0].svg.contains("time per pass (ms)"))
    }

    // MARK: Rendered pixels

    /// A line chart rendered by rsvg-convert has each series' colour at its data points, and a
    /// chart without series has none of it anywhere.
    func testLineChartPixels() throws {
        let frame = ChartFrame(title: "t", xLabel: "resolution (px)", yLabel: "latency (ms)")
        let chart = LineChart(frame: frame, series: [Series(name: "a", points: [(224, 10), (1024, 300)]),
                                                     Series(name: "b", points: [(224, 20), (1024, 100)])], xLog: true, yLog: true)
        let image = try render(chart.svg)
        for (i, s) in chart.series.enumerated() {
            for p in s.points {
                let at = chart.position(p.x, p.y)
                XCTAssertTrue(image.near(at.x, at.y, Palette.color(i)), "series \(s.name) at \(p)")
            }
        }
        // Half-way along series a's line (in log-log space, a straight line) is its colour too.
        let mid = chart.position(sqrt(224 * 1024), sqrt(10 * 300))
        XCTAssertTrue(image.near(mid.x, mid.y, Palette.color(0)))
        XCTAssertGreaterThan(image.count(Palette.color(0)), 200)
        let empty = try render(LineChart(frame: frame, series: []).svg)
        XCTAssertEqual(empty.count(Palette.color(0)), 0)
        XCTAssertEqual(empty.count(Palette.color(1)), 0)
    }

    /// Bars reach as far as their values: the series colour just inside each bar's end, white
    /// just past it (no other series there).
    func testBarChartPixels() throws {
        let chart = BarChart(frame: ChartFrame(title: "t", xLabel: "latency (ms)", yLabel: ""), categories: ["x", "y"],
                             series: ["m1", "m2"], values: [[10, 40], [5, nil]])
        let image = try render(chart.svg)
        for c in 0..<2 {
            for s in 0..<2 {
                guard let b = chart.bar(c, s) else {
                    // No value: the row of that bar stays white across the plot.
                    let y = chart.bar(c, 0)!.y + BarChart.barHeight
                    XCTAssertEqual(image.count(Palette.color(s), rows: Int(y) - 2...Int(y) + 2), 0)
                    continue
                }
                XCTAssertTrue(image.near(b.end - 3, b.y, Palette.color(s)), "bar \(c), \(s)")
                XCTAssertTrue(image.near(chart.sized.left + 3, b.y, Palette.color(s)), "bar \(c), \(s) starts at the axis")
                XCTAssertTrue(image.isWhite(b.end + 4, b.y), "bar \(c), \(s) ends at its value")
            }
        }
    }

    /// Points on the Pareto front in its colour, the others in theirs.
    func testScatterPixels() throws {
        let points = [ScatterChart.Point(x: 5, y: 70, label: "a", highlighted: true),
                      ScatterChart.Point(x: 20, y: 78, label: "b", highlighted: true),
                      ScatterChart.Point(x: 30, y: 72, label: "c", highlighted: false)]
        let chart = ScatterChart(frame: ChartFrame(title: "t", xLabel: "latency (ms)", yLabel: "top-1 (%)"), points: points)
        let image = try render(chart.svg)
        for p in points {
            let at = chart.position(p.x, p.y)
            XCTAssertTrue(image.near(at.x, at.y, p.highlighted ? ScatterChart.highlight : ScatterChart.other), p.label)
        }
    }

    /// Every figure of the report renders (rsvg-convert accepts it) to an image of its size
    /// with more than the background in it.
    func testReportFiguresRender() throws {
        let table = try ResultTable(csv: plotCSV, source: "p.csv")
        let (_, figures) = try MarkdownReport(published: { plotPublished[$0] }).renderWithFigures(table) { $0 }
        for f in figures {
            let image = try render(f.svg)
            // The palette's colours (not black: text and axes are black).
            XCTAssertGreaterThan(Palette.okabeIto.dropLast().map { image.count($0) }.reduce(0, +), 50, f.name)
        }
    }

    // MARK: Helpers

    func assertWellFormed(_ svg: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "\(name): \(parser.parserError.map { "\($0)" } ?? "not well-formed")", file: file, line: line)
    }

    /// The SVG rendered to PNG by rsvg-convert at its own size, decoded. Skipped where
    /// rsvg-convert is missing, except on CI (`CI=true`), where that fails.
    func render(_ svg: String) throws -> RGBAImage {
        guard let tool = Self.rsvgConvert else {
            let why = "rsvg-convert is not installed (Debian: librsvg2-bin; scripts/ensure-deps.sh installs it)"
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail(why) }
            throw XCTSkip(why)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rsvg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.svg"), output = dir.appendingPathComponent("out.png")
        try svg.write(to: input, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["--format=png", "--output", output.path, input.path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, "rsvg-convert: \(message)")
        return try RGBAImage(png: try Data(contentsOf: output))
    }

    static let rsvgConvert: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return (path.split(separator: ":").map { "\($0)/rsvg-convert" } + ["/usr/bin/rsvg-convert"])
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}

/// A decoded 8-bit PNG (what rsvg-convert writes: RGBA, or RGB), as RGBA pixels.
///
/// Why this way: to check that data lands where it should, the test needs pixels, and
/// rsvg-convert's only raster output is PNG, whose image data is zlib-compressed. Foundation on
/// Linux has no zlib API and the package must not gain a system-library target for a test, so
/// zlib's `uncompress` is looked up at run time with dlopen/dlsym in `libz.so.1` — which is always
/// there when rsvg-convert is (librsvg → cairo → libpng → zlib). The rest (chunks, the five
/// scanline filters) is a few lines of the PNG specification.
struct RGBAImage {
    let width: Int, height: Int
    var pixels: [UInt8]  // RGBA, row-major

    struct DecodeError: Error, CustomStringConvertible { let description: String }

    init(png data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { throw DecodeError(description: "not a PNG") }
        func be32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var pos = 8, idat: [UInt8] = [], w = 0, h = 0, colorType = 0
        while pos + 8 <= bytes.count {
            let length = be32(pos), type = String(decoding: bytes[pos + 4..<pos + 8], as: UTF8.self)
            let body = Array(bytes[pos + 8..<pos + 8 + length])
            switch type {
            case "IHDR":
                w = be32(pos + 8); h = be32(pos + 12)
                guard body[8] == 8, body[12] == 0 else { throw DecodeError(description: "only 8-bit, non-interlaced PNGs") }
                colorType = Int(body[9])
            case "IDAT": idat += body
            default: break
            }
            pos += 12 + length
        }
        let channels = colorType == 6 ? 4 : colorType == 2 ? 3 : 0
        guard channels > 0 else { throw DecodeError(description: "colour type \(colorType): expected RGB or RGBA") }
        let stride = w * channels
        let raw = try Self.inflate(idat, expected: h * (stride + 1))
        var out = [UInt8](repeating: 0, count: w * h * 4), previous = [UInt8](repeating: 0, count: stride)
        for y in 0..<h {
            let filter = raw[y * (stride + 1)]
            var row = Array(raw[(y * (stride + 1) + 1)..<((y + 1) * (stride + 1))])
            for i in 0..<stride {
                let a = i >= channels ? Int(row[i - channels]) : 0, b = Int(previous[i]), c = i >= channels ? Int(previous[i - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default: throw DecodeError(description: "bad filter \(filter)")
                }
                row[i] = UInt8(truncatingIfNeeded: Int(row[i]) + predictor)
            }
            for x in 0..<w {
                for ch in 0..<4 { out[(y * w + x) * 4 + ch] = ch < channels ? row[x * channels + ch] : 255 }
            }
            previous = row
        }
        width = w
        height = h
        pixels = out
    }

    private typealias Uncompress = @convention(c) (UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafePointer<UInt8>?, UInt) -> Int32

    static func inflate(_ input: [UInt8], expected: Int) throws -> [UInt8] {
        guard let lib = dlopen("libz.so.1", RTLD_NOW) ?? dlopen("libz.so", RTLD_NOW), let sym = dlsym(lib, "uncompress") else {
            throw DecodeError(description: "zlib (libz.so.1) not found")
        }
        let uncompress = unsafeBitCast(sym, to: Uncompress.self)
        var out = [UInt8](repeating: 0, count: expected)
        var length = UInt(expected)
        let status = out.withUnsafeMutableBufferPointer { o in
            input.withUnsafeBufferPointer { i in uncompress(o.baseAddress, &length, i.baseAddress, UInt(input.count)) }
        }
        guard status == 0, length == UInt(expected) else { throw DecodeError(description: "zlib: status \(status), \(length) of \(expected) bytes") }
        return out
    }

    /// The pixel's RGB, composited on white.
    func rgb(_ x: Int, _ y: Int) -> (Int, Int, Int) {
        let i = (y * width + x) * 4, a = Int(pixels[i + 3])
        func c(_ v: UInt8) -> Int { (Int(v) * a + 255 * (255 - a)) / 255 }
        return (c(pixels[i]), c(pixels[i + 1]), c(pixels[i + 2]))
    }

    static func parse(_ hex: String) -> (Int, Int, Int) {
        let v = Int(hex.dropFirst(), radix: 16)!
        return (v >> 16 & 255, v >> 8 & 255, v & 255)
    }

    func matches(_ x: Int, _ y: Int, _ color: (Int, Int, Int)) -> Bool {
        let p = rgb(x, y)
        return abs(p.0 - color.0) <= 10 && abs(p.1 - color.1) <= 10 && abs(p.2 - color.2) <= 10
    }

    /// Whether a pixel within 2 px of (x, y) has the colour (anti-aliasing blurs edges).
    func near(_ x: Double, _ y: Double, _ hex: String) -> Bool {
        let color = Self.parse(hex), cx = Int(x.rounded()), cy = Int(y.rounded())
        for dy in -2...2 {
            for dx in -2...2 where (0..<width).contains(cx + dx) && (0..<height).contains(cy + dy) {
                if matches(cx + dx, cy + dy, color) { return true }
            }
        }
        return false
    }

    func isWhite(_ x: Double, _ y: Double) -> Bool {
        let p = rgb(Int(x.rounded()), Int(y.rounded()))
        return p.0 >= 245 && p.1 >= 245 && p.2 >= 245
    }

    /// Pixels of the colour, in the given rows (default all).
    func count(_ hex: String, rows: ClosedRange<Int>? = nil) -> Int {
        let color = Self.parse(hex)
        var n = 0
        for y in (rows ?? 0...(height - 1)).clamped(to: 0...(height - 1)) {
            for x in 0..<width where matches(x, y, color) { n += 1 }
        }
        return n
    }
}
