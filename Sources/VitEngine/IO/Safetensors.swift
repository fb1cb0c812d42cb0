import Foundation

// Both readers copy file bytes straight into `[Float]`; both file formats are little-endian, and so
// is every platform vitbench targets (x86-64, ARM64). Fail loudly rather than silently misread.
#if _endian(big)
#error("vitbench's file readers assume a little-endian host")
#endif

/// The one error every reader throws for a file it cannot use.
///
/// The tensor is kept apart from the file because a checkpoint holds hundreds of entries: "the
/// file is bad" is useless, "entry 'blocks.3.attn.qkv.weight' is 40 bytes short" is actionable.
public struct FileFormatError: Error, CustomStringConvertible, Equatable, LocalizedError {
    public let file: String
    public let tensor: String?
    public let reason: String

    public init(file: String, tensor: String? = nil, reason: String) {
        self.file = file
        self.tensor = tensor
        self.reason = reason
    }

    public var description: String {
        tensor.map { "\(file): tensor '\($0)': \(reason)" } ?? "\(file): \(reason)"
    }

    /// So that `error.localizedDescription` (what most callers print) is the message, not a generic one.
    public var errorDescription: String? { description }
}

/// Helpers shared by the readers, in a namespace so that they cannot collide with engine code.
enum FileIO {
    /// Maps rather than reads, so that opening a multi-hundred-megabyte checkpoint only faults in the
    /// pages of the tensors actually converted; failures name the path instead of Foundation's generic text.
    static func map(_ path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileFormatError(file: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw FileFormatError(file: path, reason: "is a directory, not a file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw FileFormatError(file: path, reason: "not readable (permission denied)")
        }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw FileFormatError(file: path, reason: "cannot read: \(error.localizedDescription)")
        }
    }

    /// Writes atomically, so that an interrupted run never leaves a half-written file for the next one to trip on.
    static func write(_ bytes: Data, to path: String) throws {
        do {
            try bytes.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw FileFormatError(file: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Product of `shape`, or nil when it overflows: a corrupt header must produce an error, not a trap.
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }
}

/// A `.safetensors` checkpoint (the format timm and Hugging Face publish weights in).
///
/// The header and every entry's offsets are validated when the file is opened, so a damaged
/// download fails at once with the entry named, not halfway through building a model. Dtypes are
/// only checked when a tensor is read: real checkpoints carry I64 `num_batches_tracked` counters
/// that no model needs, and they must not stop the weights around them from loading.
public struct SafetensorsFile: Sendable {
    struct Entry: Sendable {
        let dtype: String
        let shape: [Int]
        let offsets: Range<Int>  // relative to the start of the data section
    }

    /// Byte sizes of the dtypes the format defines, so byte counts can be checked even for dtypes
    /// that cannot be converted to Float.
    static let dtypeSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
        "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
    ]
    /// Bookkeeping dtypes (step counters, masks) that `allTensors()` skips instead of failing on.
    static let integerDtypes: Set<String> = ["I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL"]

    public let path: String
    public let names: [String]
    public let metadata: [String: String]
    let entries: [String: Entry]
    let bytes: Data
    let dataStart: Int

    /// Largest header read: the reference implementation (the `safetensors` crate) refuses
    /// headers over 100 MB, so no file it writes or reads is turned away here.
    public static let maxHeaderBytes = 100_000_000

    public init(path: String) throws {
        try self.init(data: FileIO.map(path), path: path)
    }

    /// The checkpoint in `data`; `path` only labels errors (tests and fuzzing read from memory).
    public init(data bytes: Data, path: String) throws {
        func fail(_ reason: String, _ tensor: String? = nil) -> FileFormatError {
            FileFormatError(file: path, tensor: tensor, reason: reason)
        }
        guard bytes.count >= 8 else {
            throw fail("file is \(bytes.count) bytes, too short to hold the 8-byte header length")
        }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the file (only \(bytes.count - 8) bytes follow the length field)")
        }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw fail("header of \(headerLength) bytes is longer than the \(Self.maxHeaderBytes)-byte limit")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart
        // Foundation's parser is iterative and stops at 512 levels of nesting ("Too many nested
        // arrays or dictionaries"), so a hostile header cannot exhaust the stack; its reason is kept.
        let json: Any
        do {
            let start = bytes.startIndex
            json = try JSONSerialization.jsonObject(with: bytes.subdata(in: (start + 8)..<(start + dataStart)), options: .fragmentsAllowed)
        } catch {
            let why = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw fail("header (\(headerLength) bytes) is not valid JSON\(why.map { ": \($0)" } ?? "")")
        }
        guard let object = json as? [String: Any] else { throw fail("header is not a JSON object") }

        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw fail("__metadata__ must map strings to strings") }
                metadata = m
                continue
            }
            guard let fields = value as? [String: Any] else { throw fail("entry is not a JSON object", name) }
            guard let dtype = fields["dtype"] as? String else { throw fail("\"dtype\" is missing or not a string", name) }
            guard let shape = Self.integers(fields["shape"]) else {
                throw fail("\"shape\" is missing or not a list of integers", name)
            }
            guard let offsets = Self.integers(fields["data_offsets"]), offsets.count == 2 else {
                throw fail("\"data_offsets\" is missing or not a pair of integers", name)
            }
            if let d = shape.first(where: { $0 < 0 }) { throw fail("negative dimension \(d) in shape \(shape)", name) }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end else { throw fail("data_offsets [\(begin), \(end)] are negative or reversed", name) }
            guard end <= dataSize else {
                throw fail("truncated file: data_offsets end at byte \(end) but the data section holds only \(dataSize) bytes", name)
            }
            if let size = Self.dtypeSizes[dtype] {
                let needed = FileIO.elementCount(shape).flatMap { n -> Int? in
                    let (b, overflow) = n.multipliedReportingOverflow(by: size)
                    return overflow ? nil : b
                }
                guard needed == end - begin else {
                    throw fail("shape \(shape) needs \(needed.map(String.init) ?? "more than Int.max") bytes (\(dtype)) but data_offsets span \(end - begin)", name)
                }
            }
            entries[name] = Entry(dtype: dtype, shape: shape, offsets: begin..<end)
        }
        try Self.checkCoverage(entries, dataSize: dataSize, fail: { fail($0) })
        self.path = path
        self.names = entries.keys.sorted()
        self.metadata = metadata
        self.entries = entries
        self.bytes = bytes
        self.dataStart = dataStart
    }

    /// The tensors' byte ranges must tile the data section exactly, as the reference
    /// implementation requires: in offset order each begins where the previous one ended, the
    /// first at 0 and the last at the end of the file. An overlap would let two weights alias the
    /// same bytes, a gap or a tail would hide bytes no tensor accounts for (a damaged or spliced file).
    static func checkCoverage(_ entries: [String: Entry], dataSize: Int, fail: (String) -> FileFormatError) throws {
        let ordered = entries.sorted {
            ($0.value.offsets.lowerBound, $0.value.offsets.upperBound, $0.key) < ($1.value.offsets.lowerBound, $1.value.offsets.upperBound, $1.key)
        }
        func range(_ r: Range<Int>) -> String { "[\(r.lowerBound), \(r.upperBound))" }
        var expected = 0
        var previous: (name: String, offsets: Range<Int>)? = nil
        for (name, entry) in ordered {
            let r = entry.offsets
            if r.lowerBound < expected, let p = previous {
                throw fail("tensors '\(p.name)' (bytes \(range(p.offsets))) and '\(name)' (bytes \(range(r))) overlap in the data section")
            }
            if r.lowerBound > expected {
                let after = previous.map { "'\($0.name)' (ends at byte \($0.offsets.upperBound))" } ?? "the start of the data section"
                throw fail("bytes \(range(expected..<r.lowerBound)) belong to no tensor: a gap between \(after) and '\(name)' (begins at byte \(r.lowerBound))")
            }
            expected = r.upperBound
            previous = (name, r)
        }
        if expected != dataSize {
            let after = previous.map { "after '\($0.name)' (ends at byte \($0.offsets.upperBound))" } ?? "(the file has no tensors)"
            throw fail("the last \(dataSize - expected) bytes of the data section, \(range(expected..<dataSize)), belong to no tensor \(after)")
        }
    }

    /// Exact integers only: Foundation hands JSON `true` over as an NSNumber that `as? Int` turns into 1.
    static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        out.reserveCapacity(array.count)
        for element in array {
            guard let number = element as? NSNumber, String(cString: number.objCType) != "c",
                  let n = element as? Int else { return nil }
            out.append(n)
        }
        return out
    }

    public func dtype(of name: String) -> String? { entries[name]?.dtype }
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// Converts to Float32 because that is what every kernel computes in; half-precision
    /// checkpoints are widened exactly, so loading never changes a weight's value.
    public func tensor(_ name: String) throws -> Tensor {
        func fail(_ reason: String) -> FileFormatError { FileFormatError(file: path, tensor: name, reason: reason) }
        guard let entry = entries[name] else { throw fail("no such tensor") }
        let count = entry.offsets.count / (Self.dtypeSizes[entry.dtype] ?? 1)
        let values: [Float] = try bytes.withUnsafeBytes { raw in
            let src = UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.offsets.lowerBound)..<(dataStart + entry.offsets.upperBound)])
            switch entry.dtype {
            case "F32":
                return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                    UnsafeMutableRawBufferPointer(out).copyMemory(from: src)
                    initialized = count
                }
            case "F16": return Self.decode(src, count: count, Self.floatFromHalf)
            case "BF16": return Self.decode(src, count: count) { (bits: UInt16) in Float(bitPattern: UInt32(bits) << 16) }
            case let d where Self.dtypeSizes[d] != nil:
                throw fail("dtype \(d) is not supported; vitbench reads F32, F16 and BF16 tensors")
            case let d:
                throw fail("unknown dtype '\(d)'; supported: F32, F16, BF16")
            }
        }
        return Tensor(shape: entry.shape, data: values)
    }

    /// Every floating-point tensor. Integer and boolean entries (BatchNorm's I64 `num_batches_tracked`)
    /// are skipped rather than fatal, since no model consumes them; a float dtype vitbench cannot
    /// convert (F64, F8) still throws, because that is a weight the caller would silently lose.
    public func allTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for name in names where !Self.integerDtypes.contains(entries[name]!.dtype) {
            out[name] = try tensor(name)
        }
        return out
    }

    /// One pass over raw memory with unaligned loads: the format does not promise aligned offsets,
    /// and per-element `Data` subscripting would make a 200 MB checkpoint take seconds.
    static func decode<Bits: FixedWidthInteger>(_ src: UnsafeRawBufferPointer, count: Int, _ convert: (Bits) -> Float) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            for i in 0..<count {
                out[i] = convert(Bits(littleEndian: src.loadUnaligned(fromByteOffset: i * MemoryLayout<Bits>.stride, as: Bits.self)))
            }
            initialized = count
        }
    }

    /// IEEE binary16 to binary32 by bit manipulation rather than `Float16`, which is missing on
    /// some targets (macOS x86-64); every half value is exactly representable, so this is exact.
    @inline(__always)
    static func floatFromHalf(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        switch exponent {
        case 0x1F: return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)  // inf, NaN (payload kept)
        case 0:  // zero and subnormals: mantissa × 2⁻²⁴, a normal Float
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        default: return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)  // rebias 15 → 127
        }
    }

    /// Always F32, with keys sorted and the header space-padded so the data section starts 8-byte
    /// aligned: the same tensors always give the same bytes, and readers can map the data in place.
    public static func write(_ tensors: [String: Tensor], to path: String, metadata: [String: String] = [:]) throws {
        let names = tensors.keys.sorted()
        var header: [String: Any] = metadata.isEmpty ? [:] : ["__metadata__": metadata]
        var offset = 0
        for name in names {
            let t = tensors[name]!
            guard name != "__metadata__" else {
                throw FileFormatError(file: path, tensor: name, reason: "the name is reserved for metadata")
            }
            guard t.shape.allSatisfy({ $0 >= 0 }), FileIO.elementCount(t.shape) == t.data.count else {
                throw FileFormatError(file: path, tensor: name, reason: "shape \(t.shape) does not match its \(t.data.count) values")
            }
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.data.count]] as [String: Any]
            offset += 4 * t.data.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))

        var file = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        for name in names { tensors[name]!.data.withUnsafeBytes { file.append(contentsOf: $0) } }
        try FileIO.write(file, to: path)
    }
}
