import Foundation
import XCTest
@testable import VitReports

final class CSVTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vitreports-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    func testFieldsAreQuotedOnlyWhenNeeded() {
        XCTAssertEqual(CSV.field("fastvit_t8"), "fastvit_t8")
        XCTAssertEqual(CSV.field(""), "")
        XCTAssertEqual(CSV.field("a,b"), "\"a,b\"")
        XCTAssertEqual(CSV.field("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(CSV.field("two\nlines"), "\"two\nlines\"")
        XCTAssertEqual(CSV.field("cr\rhere"), "\"cr\rhere\"")
        XCTAssertEqual(CSV.field(" padded"), "\" padded\"")
        XCTAssertEqual(CSV.record(["a", "", "b,c"]), "a,,\"b,c\"\n")
        XCTAssertEqual(CSV.record([""]), "\"\"\n")
    }

    func testRoundTripIsExact() throws {
        let rows = [
            ["metaformer_s12:repmixer", "", "1.2345", "plain"],
            ["a,b", "say \"hi\"", "line1\nline2", "crlf\r\ninside"],
            ["", "", "", ""],
            ["\"", ",", "\r", " spaced "],
            ["ünïcødé ✓", "🙂,🙂", "tab\there", "x"],
            // Found by the fuzzer: a quote followed by a combining mark is one Character, and a
            // leading U+FEFF is a byte order mark to the reader.
            ["a\"\u{0742}b", "\u{FEFF}bom", "\" \u{0301}", "x"],
        ]
        let table = try ResultTable(header: ["model", "error", "note", "last"], rows: rows)
        let text = table.csv()
        let back = try ResultTable(csv: text)
        XCTAssertEqual(back.header, table.header)
        XCTAssertEqual(back.rows, rows)
        XCTAssertEqual(back.csv(), text)

        // Through a file too, with the row lines recorded for error messages.
        try table.write(toFile: path("t.csv"))
        let read = try ResultTable.read(contentsOf: path("t.csv"))
        XCTAssertEqual(read, table)
        XCTAssertEqual(read.lines, [2, 3, 6, 7, 8, 9], "quoted line breaks (LF, CRLF; not a lone CR) move the following rows down")
    }

    func testReaderAcceptsCRLFBlankLinesAndBOM() throws {
        let records = try CSV.parse("\u{FEFF}a,b\r\n1,\"x\r\ny\"\r\n\r\n2,3\n")
        XCTAssertEqual(records.map(\.fields), [["a", "b"], ["1", "x\r\ny"], ["2", "3"]])
        XCTAssertEqual(records.map(\.line), [1, 2, 5])
        XCTAssertEqual(try CSV.parse("a,b").map(\.fields), [["a", "b"]], "no final line break")
        XCTAssertEqual(try CSV.parse("").count, 0)
        XCTAssertEqual(try CSV.parse("\"\"\n").map(\.fields), [[""]])
    }

    func testMalformedCSVNamesFileLineAndColumn() {
        func error(_ text: String) -> CSVError? {
            do { _ = try ResultTable(csv: text, source: "r.csv"); return nil } catch { return error as? CSVError }
        }
        let unterminated = error("model,error\nfastvit_t8,\"oops\nmore\n")
        XCTAssertEqual(unterminated?.line, 2)
        XCTAssertEqual(unterminated?.column, 12)
        XCTAssertTrue(unterminated?.description.hasPrefix("r.csv:2:12: unterminated quoted field") == true, "\(String(describing: unterminated))")

        let strayQuote = error("a,b\n1,2\nx,ab\"c\n")
        XCTAssertEqual(strayQuote?.line, 3)
        XCTAssertEqual(strayQuote?.column, 5)
        XCTAssertTrue(strayQuote?.message.contains("double quote inside an unquoted field") == true)

        let afterQuote = error("a,b\n\"x\"y,2\n")
        XCTAssertEqual(afterQuote.map { [$0.line, $0.column] }, [2, 4])
        XCTAssertTrue(afterQuote?.message.contains("after a closing quote") == true)

        let width = error("a,b,c\n1,2,3\n4,5\n")
        XCTAssertEqual(width?.line, 3)
        XCTAssertEqual(width?.message, "2 field(s) but the header on line 1 has 3")

        XCTAssertEqual(error("a,,c\n")?.message, "header: column 2 has no name")
        XCTAssertEqual(error("a,b,a\n")?.message, "header: column 'a' appears twice (columns 1 and 3)")
        XCTAssertEqual(error("")?.message, "no header: the file is empty")
        XCTAssertEqual(error("a,b\n1\r2,3\n").map { [$0.line, $0.column] }, [2, 2])
    }

    func testColumnsAreLookedUpByName() throws {
        let t = try ResultTable(csv: "threads,model,median_ms\n4,fastvit_t8,12.5\n1,x,\n2,y,fast\n", source: "r.csv")
        XCTAssertEqual(t.value(0, "model"), "fastvit_t8")
        XCTAssertEqual(t.value(0, "no_such_column"), "")
        XCTAssertEqual(try t.number(0, "median_ms"), 12.5)
        XCTAssertNil(try t.number(1, "median_ms"))
        XCTAssertThrowsError(try t.number(2, "median_ms")) { error in
            XCTAssertEqual("\(error)", "r.csv:4:3: median_ms: 'fast' is not a number")
        }
        XCTAssertThrowsError(try t.require("mixer", for: "the token-mixer pivot")) { error in
            XCTAssertEqual("\(error)", "r.csv: the token-mixer pivot needs the column 'mixer', which is not in the header (threads, model, median_ms)")
        }
    }

    func testTableFromFieldRecords() throws {
        let t = try ResultTable(records: [[("model", "a"), ("median_ms", "1.0")], [("model", "b"), ("median_ms", "2.0")]])
        XCTAssertEqual(t.header, ["model", "median_ms"])
        XCTAssertEqual(t.rows, [["a", "1.0"], ["b", "2.0"]])
        XCTAssertThrowsError(try ResultTable(records: [[("model", "a")], [("mixer", "b")]])) { error in
            XCTAssertTrue("\(error)".contains("missing model; extra mixer"), "\(error)")
        }
    }

    // MARK: Appending

    func testAppenderWritesHeaderOnceAndResumes() throws {
        let file = path("results.csv")
        let header = ["model", "median_ms", "error"]
        do {
            let a = try CSVAppender(path: file, header: header)
            XCTAssertTrue(a.existing.rows.isEmpty)
            try a.append(["fastvit_t8", "10.5", ""])
            // Each row is in the file as soon as append returns (nothing buffered in the process).
            XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "model,median_ms,error\nfastvit_t8,10.5,\n")
            try a.append(fields: [("model", "fastvit_t12"), ("median_ms", ""), ("error", "out of memory, really")])
        }
        let resumed = try CSVAppender(path: file, header: header)
        XCTAssertEqual(resumed.existing.rows.map { $0[0] }, ["fastvit_t8", "fastvit_t12"])
        XCTAssertFalse(resumed.droppedPartialRecord)
        try resumed.append(["mobileone_s0", "3.25", ""])
        let t = try ResultTable.read(contentsOf: file)
        XCTAssertEqual(t.header, header)
        XCTAssertEqual(t.rows, [["fastvit_t8", "10.5", ""], ["fastvit_t12", "", "out of memory, really"], ["mobileone_s0", "3.25", ""]])
        XCTAssertThrowsError(try resumed.append(["too", "few"]))
        XCTAssertThrowsError(try resumed.append(fields: [("model", "x"), ("error", ""), ("median_ms", "1")])) { error in
            XCTAssertTrue("\(error)".contains("column 2 is 'error' but 'median_ms' is expected there"), "\(error)")
        }
    }

    func testAppenderRejectsADifferentHeader() throws {
        let file = path("old.csv")
        try "model,median_ms\nfastvit_t8,10.5\n".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CSVAppender(path: file, header: ["model", "median_ms", "peak_rss_mb"])) { error in
            XCTAssertEqual("\(error)", "\(file):1: the columns being written do not match the file's header "
                + "(move the file away to start anew): extra peak_rss_mb")
        }
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "model,median_ms\nfastvit_t8,10.5\n", "left untouched")
    }

    func testAppenderCutsAPartialLastRecord() throws {
        let file = path("cut.csv")
        try "model,note\na,\"x\ny\"\nb,\"half a quot".write(toFile: file, atomically: true, encoding: .utf8)
        let a = try CSVAppender(path: file, header: ["model", "note"])
        XCTAssertTrue(a.droppedPartialRecord)
        XCTAssertEqual(a.existing.rows, [["a", "x\ny"]])
        try a.append(["c", ""])
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "model,note\na,\"x\ny\"\nc,\n")

        let unquoted = path("cut2.csv")
        try "model,note\na,1\nb,".write(toFile: unquoted, atomically: true, encoding: .utf8)
        let b = try CSVAppender(path: unquoted, header: ["model", "note"])
        XCTAssertTrue(b.droppedPartialRecord)
        XCTAssertEqual(b.existing.rows, [["a", "1"]])

        let empty = path("empty.csv")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: nil))
        _ = try CSVAppender(path: empty, header: ["model"])
        XCTAssertEqual(try String(contentsOfFile: empty, encoding: .utf8), "model\n")
    }

    func testAppenderReportsBadPlaces() {
        XCTAssertThrowsError(try CSVAppender(path: path("no/such/dir/r.csv"), header: ["model"])) { error in
            XCTAssertTrue("\(error)".contains("cannot create the file"), "\(error)")
        }
    }

    // MARK: JSON

    func testJSONKeepsColumnOrderAndNumbers() throws {
        let t = try ResultTable(header: ["model", "resolution", "median_ms", "noisy", "error", "commit", "cv", "weird"],
                                rows: [["fastvit_t8", "256", "10.5000", "no", "", "1234567", "-0.0123", "1."],
                                       ["a \"q\"\n\\", "", "1e-3", "yes", "tab\tand\u{1}", "abc", "nan", "012"]])
        XCTAssertEqual(t.json(), """
            [
              {"model": "fastvit_t8", "resolution": 256, "median_ms": 10.5000, "noisy": "no", "error": "", "commit": "1234567", "cv": -0.0123, "weird": "1."},
              {"model": "a \\"q\\"\\n\\\\", "resolution": "", "median_ms": 1e-3, "noisy": "yes", "error": "tab\\tand\\u0001", "commit": "abc", "cv": "nan", "weird": "012"}
            ]

            """)
        // And it is JSON.
        let parsed = try JSONSerialization.jsonObject(with: Data(t.json().utf8)) as? [[String: Any]]
        XCTAssertEqual(parsed?.count, 2)
        XCTAssertEqual(parsed?[0]["resolution"] as? Int, 256)
        XCTAssertEqual(parsed?[1]["model"] as? String, "a \"q\"\n\\")
        XCTAssertEqual(try ResultTable(header: ["a"]).json(), "[]\n")
    }

    func testJSONNumberGrammar() {
        for s in ["0", "-0", "12", "1.5", "-3.25e+10", "2E-3", "0.0001"] { XCTAssertTrue(JSON.isNumber(s), s) }
        for s in ["", "-", "01", "1.", ".5", "1e", "+1", "0x10", "inf", "nan", "1 ", "1,5", "1.2.3"] { XCTAssertFalse(JSON.isNumber(s), s) }
    }

    func testMarkdownPathNextToCSV() {
        XCTAssertEqual(MarkdownReport.path(forCSV: "Results/m1/mixers.csv"), "Results/m1/mixers.md")
        XCTAssertEqual(MarkdownReport.path(forCSV: "r.csv"), "r.md")
        XCTAssertEqual(MarkdownReport.path(forCSV: "/tmp/r.CSV"), "/tmp/r.md")
        XCTAssertEqual(MarkdownReport.path(forCSV: "results"), "results.md")
    }
}
