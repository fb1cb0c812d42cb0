// libFuzzer target: the CSV reader (CSV.parse, ResultTable) and the writer's round trip. Built by scripts/fuzz.sh.
import Foundation
import VitReports

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: size), as: UTF8.self)
    if let records = try? CSV.parse(text, file: "fuzz.csv") {
        // Writing what was read and reading it again gives the same fields.
        let written = records.map { CSV.record($0.fields) }.joined()
        let again = try? CSV.parse(written, file: "fuzz-rewritten.csv")
        // (fatalError, not precondition: -O drops a precondition's message.)
        if again?.map(\.fields) != records.map(\.fields) {
            fatalError("CSV round trip changed the fields of \(records.map(\.fields)): wrote \(written.debugDescription)")
        }
    }
    if let table = try? ResultTable(csv: text, source: "fuzz.csv") {
        _ = table.csv()
        for row in 0..<min(table.rows.count, 4) {
            for name in table.header.prefix(8) { _ = try? table.number(row, name) }
        }
    }
    return 0
}
