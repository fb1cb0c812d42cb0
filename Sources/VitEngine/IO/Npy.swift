import Foundation

/// NumPy's `.npy` format: how golden inputs and outputs travel between the Python reference
/// scripts and the engine. Only float32 C-order arrays are accepted, because silently converting
/// a float64 golden would hide a mistake in the script that wrote it; the errors say how to fix it.
public enum Npy {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// Largest header read: numpy's own `np.load` refuses headers over 10 000 bytes unless told
    /// otherwise; a float32 array's header is under 200 bytes plus 20 per dimension.
    public static let maxHeaderBytes = 1 << 20
    /// Deepest nesting of brackets in a header: a valid one nests two deep (a dict holding a
    /// tuple); the limit keeps a hostile header from exhausting the stack of the recursive parser.
    public static let maxHeaderDepth = 32

    public static func read(_ path: String) throws -> Tensor {
        try read(data: FileIO.map(path), name: path)
    }

    /// `name` only labels errors, so that bytes from an archive or a test still get a useful message.
    public static func read(data: Data, name: String) throws -> Tensor {
        func fail(_ reason: String) -> FileFormatError { FileFormatError(file: name, reason: reason) }
        return try data.withUnsafeBytes { raw in
            guard raw.count >= 8, raw.prefix(6).elementsEqual(magic) else {
                throw fail("not a .npy file: it does not start with \\x93NUMPY")
            }
            let (major, minor) = (raw[6], raw[7])
            let lengthSize: Int
            switch major {
            case 1: lengthSize = 2
            case 2, 3: lengthSize = 4  // 2.0 widened the length for huge structured dtypes; 3.0 made the header UTF-8
            default: throw fail("unsupported .npy version \(major).\(minor)")
            }
            guard raw.count >= 8 + lengthSize else { throw fail("truncated header: the file ends inside the header length") }
            let headerLength = lengthSize == 2
                ? Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
                : Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            let headerStart = 8 + lengthSize
            guard headerLength <= maxHeaderBytes else {
                throw fail("header of \(headerLength) bytes is longer than the \(maxHeaderBytes)-byte limit")
            }
            let dataStart = headerStart + headerLength
            guard dataStart <= raw.count else {
                throw fail("truncated header: it claims \(headerLength) bytes but only \(raw.count - headerStart) follow")
            }
            let shape = try parseHeader(Array(raw[headerStart..<dataStart]), fail)
            guard let count = FileIO.elementCount(shape), count <= Int.max / 4 else { throw fail("shape \(shape) is too large") }
            let expected = 4 * count
            let available = raw.count - dataStart
            guard available >= expected else {
                throw fail("data truncated: shape \(shape) needs \(expected) bytes but only \(available) follow the header")
            }
            guard available == expected else {
                throw fail("trailing data: \(available - expected) bytes beyond the \(expected) that shape \(shape) needs")
            }
            let values = [Float](unsafeUninitializedCapacity: count) { out, initialized in
                UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[dataStart...]))
                initialized = count
            }
            return Tensor(shape: shape, data: values)
        }
    }

    /// Checks the header dict and returns the shape; everything but '<f4' C order is refused here.
    static func parseHeader(_ header: [UInt8], _ fail: (String) -> FileFormatError) throws -> [Int] {
        var parser = LiteralParser(text: header)
        let parsed: Literal
        do {
            parsed = try parser.parseAll()
        } catch LiteralParser.Failure.tooDeep {
            throw fail("header nests brackets more than \(maxHeaderDepth) deep (the limit); a float32 array's header nests 2 deep")
        } catch {
            parsed = .none
        }
        guard case .dict(let dict) = parsed else {
            var text = String(decoding: header, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.count > 200 { text = String(text.prefix(200)) + "… (\(header.count) bytes)" }
            throw fail("header is not a Python dict literal: \(text)")
        }
        for key in ["descr", "fortran_order", "shape"] where dict[key] == nil {
            throw fail("header has no '\(key)'")
        }
        guard case .string(let descr) = dict["descr"]! else {
            throw fail("structured dtype; vitbench reads float32 (<f4) arrays only")
        }
        guard descr == "<f4" else {
            throw fail("'\(descr)' (\(describe(descr))); vitbench reads float32 (<f4) arrays only: convert with x.astype(np.float32)")
        }
        guard case .bool(let fortran) = dict["fortran_order"]! else { throw fail("'fortran_order' is not True or False") }
        guard !fortran else {
            throw fail("Fortran order; vitbench reads C-order arrays: save with np.ascontiguousarray(x)")
        }
        guard case .sequence(let dims) = dict["shape"]!,
              case let shape = dims.compactMap({ if case .int(let d) = $0, d >= 0 { return d } else { return nil } }),
              shape.count == dims.count else {
            throw fail("'shape' is not a tuple of non-negative integers")
        }
        return shape
    }

    /// NumPy's type string in words, so the message says "float64" to someone who never saw '<f8'.
    static func describe(_ descr: String) -> String {
        var body = Substring(descr)
        var prefix = ""
        if let order = body.first, "<>|=".contains(order) {
            if order == ">" { prefix = "big-endian " }
            body = body.dropFirst()
        }
        let kinds: [Character: String] = ["f": "float", "i": "int", "u": "uint", "c": "complex"]
        if body == "b1" || body == "?" { return "bool" }
        guard let kind = body.first.flatMap({ kinds[$0] }), let size = Int(body.dropFirst()) else { return "unsupported dtype" }
        return prefix + kind + String(size * 8)
    }

    /// Version 1.0 with np.save's exact padding (room to grow the first axis, data 64-byte aligned,
    /// '\n'-terminated), so that our files are byte-identical to numpy's and any numpy can read them.
    public static func write(_ tensor: Tensor, to path: String) throws {
        guard tensor.shape.allSatisfy({ $0 >= 0 }), FileIO.elementCount(tensor.shape) == tensor.data.count else {
            throw FileFormatError(file: path, reason: "shape \(tensor.shape) does not match its \(tensor.data.count) values")
        }
        let dims = tensor.shape.map(String.init)
        let shape = dims.count == 1 ? "(\(dims[0]),)" : "(\(dims.joined(separator: ", ")))"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        header += String(repeating: " ", count: dims.isEmpty ? 0 : max(0, 21 - dims[0].count))
        let unpadded = magic.count + 4 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        guard header.utf8.count <= Int(UInt16.max) else {
            throw FileFormatError(file: path, reason: "rank \(dims.count) header does not fit a version 1.0 .npy file")
        }
        var file = Data(capacity: magic.count + 4 + header.utf8.count + 4 * tensor.count)
        file.append(contentsOf: magic + [1, 0])
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: header.utf8)
        tensor.data.withUnsafeBytes { file.append(contentsOf: $0) }
        try FileIO.write(file, to: path)
    }
}

extension Npy {
    /// The Python literals `repr()` produces in .npy headers: strings, ints, True/False/None, tuples,
    /// lists and dicts. Parsed rather than pattern-matched because writers differ in whitespace,
    /// trailing commas, quote style and (Python 2) `L` suffixes.
    indirect enum Literal: Equatable {
        case string(String), int(Int), bool(Bool), none, sequence([Literal]), dict([String: Literal])
    }

    struct LiteralParser {
        enum Failure: Error { case syntax, tooDeep }
        let text: [UInt8]
        var i = 0
        var depth = 0

        init(text: [UInt8]) { self.text = text }

        mutating func parseAll() throws -> Literal {
            let value = try parseValue()
            skipSpace()
            guard i == text.count else { throw Failure.syntax }
            return value
        }

        mutating func skipSpace() {
            while i < text.count, [0x20, 0x09, 0x0A, 0x0D].contains(text[i]) { i += 1 }
        }

        /// Consumes `byte` if it comes next, after whitespace.
        mutating func take(_ byte: UInt8) -> Bool {
            skipSpace()
            guard i < text.count, text[i] == byte else { return false }
            i += 1
            return true
        }

        mutating func parseValue() throws -> Literal {
            skipSpace()
            guard i < text.count else { throw Failure.syntax }
            depth += 1
            defer { depth -= 1 }
            guard depth <= Npy.maxHeaderDepth else { throw Failure.tooDeep }
            switch text[i] {
            case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "("): return .sequence(try parseSequence(closing: UInt8(ascii: ")")))
            case UInt8(ascii: "["): return .sequence(try parseSequence(closing: UInt8(ascii: "]")))
            case UInt8(ascii: "{"):
                i += 1
                var dict: [String: Literal] = [:]
                while !take(UInt8(ascii: "}")) {
                    guard case .string(let key) = try parseValue(), take(UInt8(ascii: ":")) else { throw Failure.syntax }
                    dict[key] = try parseValue()
                    guard take(UInt8(ascii: ",")) || (i < text.count && text[i] == UInt8(ascii: "}")) else { throw Failure.syntax }
                }
                return .dict(dict)
            default:
                let start = i
                while i < text.count, text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "_")
                    || (0x30...0x39).contains(text[i]) || (0x41...0x5A).contains(text[i]) || (0x61...0x7A).contains(text[i]) { i += 1 }
                var word = String(decoding: text[start..<i], as: UTF8.self)
                switch word {
                case "True": return .bool(true)
                case "False": return .bool(false)
                case "None": return .none
                default:
                    if word.hasSuffix("L") { word.removeLast() }
                    guard let n = Int(word) else { throw Failure.syntax }
                    return .int(n)
                }
            }
        }

        mutating func parseString() throws -> String {
            let quote = text[i]
            i += 1
            var bytes: [UInt8] = []
            while i < text.count, text[i] != quote {
                if text[i] == UInt8(ascii: "\\") { i += 1 }
                guard i < text.count else { break }
                bytes.append(text[i])
                i += 1
            }
            guard i < text.count else { throw Failure.syntax }
            i += 1
            return String(decoding: bytes, as: UTF8.self)
        }

        mutating func parseSequence(closing: UInt8) throws -> [Literal] {
            i += 1
            var items: [Literal] = []
            while !take(closing) {
                items.append(try parseValue())
                guard take(UInt8(ascii: ",")) || (i < text.count && text[i] == closing) else { throw Failure.syntax }
            }
            return items
        }
    }
}
