import Foundation

extension ResultTable {
    /// The rows as a JSON array of objects, one object per line, keys in column order (which
    /// `JSONSerialization` would not keep). A value is a JSON number when it is written as one
    /// and its column is not a text column (``ResultColumns/text``); everything else, empty
    /// (missing) values included, is a string.
    public func json() -> String {
        guard !rows.isEmpty else { return "[]\n" }
        let objects = rows.map { row in
            "  {" + zip(header, row).map { "\(JSON.string($0)): \(JSON.value($1, column: $0))" }.joined(separator: ", ") + "}"
        }
        return "[\n" + objects.joined(separator: ",\n") + "\n]\n"
    }
}

/// The little JSON the reports need: strings and numbers.
public enum JSON {
    /// `value` as a JSON number if it is a number written in JSON's own grammar (so `nan`, `1.`,
    /// `012` and `0x10` stay strings) and `column` is not a text column; as a string otherwise.
    public static func value(_ value: String, column: String) -> String {
        !ResultColumns.text.contains(column) && isNumber(value) ? value : string(value)
    }

    /// Whether `s` matches JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    public static func isNumber(_ s: String) -> Bool {
        var b = Array(s.utf8)[...]
        func digits() -> Int {
            let n = b.prefix { $0 >= 48 && $0 <= 57 }.count
            b = b.dropFirst(n)
            return n
        }
        if b.first == UInt8(ascii: "-") { b = b.dropFirst() }
        if b.first == UInt8(ascii: "0") { b = b.dropFirst() } else if b.first.map({ $0 >= 49 && $0 <= 57 }) == true {
            _ = digits()
        } else { return false }
        if b.first == UInt8(ascii: ".") {
            b = b.dropFirst()
            if digits() == 0 { return false }
        }
        if b.first == UInt8(ascii: "e") || b.first == UInt8(ascii: "E") {
            b = b.dropFirst()
            if b.first == UInt8(ascii: "+") || b.first == UInt8(ascii: "-") { b = b.dropFirst() }
            if digits() == 0 { return false }
        }
        return b.isEmpty
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, the rest as is (UTF-8).
    public static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
