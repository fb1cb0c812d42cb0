import Foundation
import XCTest
@testable import VitEngine

/// File I/O: round trips, bit-exact half-precision decoding, files written by the real numpy and
/// safetensors libraries, and one test per malformed input checking the error names what is wrong.
final class IOTests: XCTestCase {
    // MARK: Fixtures written by the reference implementations (numpy 2.4, safetensors 0.8), base64.

    /// `safetensors.numpy.save({"blocks.0.norm.weight": f32 [0.5, -1, 2], "head.bias": f16 [[1, -2.5], [65504, 2**-24]],
    /// "bn.num_batches_tracked": int64 7}, metadata={"format": "pt"})`
    static let referenceSafetensors = "+AAAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJibi5udW1fYmF0Y2hlc190cmFja2VkIjp7ImR0eXBlIjoiSTY0Iiwic2hhcGUiOltdLCJkYXRhX29mZnNldHMiOlswLDhdfSwiYmxvY2tzLjAubm9ybS53ZWlnaHQiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzNdLCJkYXRhX29mZnNldHMiOls4LDIwXX0sImhlYWQuYmlhcyI6eyJkdHlwZSI6IkYxNiIsInNoYXBlIjpbMiwyXSwiZGF0YV9vZmZzZXRzIjpbMjAsMjhdfX0gICAgIAcAAAAAAAAAAAAAPwAAgL8AAABAADwAwf97AQA="
    /// `np.save(f, np.arange(6, dtype=np.float32).reshape(2, 3))`
    static let numpyArange = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA="
    /// `np.save(f, np.array(3.5, dtype=np.float32))`
    static let numpyScalar = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAGBA"
    /// `np.lib.format.write_array(f, np.array([1, 2, 3, 4], dtype=np.float32) / 8, version=(2, 0))`
    static let numpyV2 = "k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoNCwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAA+AACAPgAAwD4AAAA/"
    /// `np.lib.format.write_array(f, np.array([-1.5], dtype=np.float32), version=(3, 0))`
    static let numpyV3 = "k05VTVBZAwB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMSwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMC/"
    /// `np.save(f, np.arange(3, dtype=np.float64))`
    static let numpyFloat64 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAPA/AAAAAAAAAEA="
    /// `np.save(f, np.arange(3, dtype=np.int32))`
    static let numpyInt32 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAQAAAAIAAAA="
    /// `np.save(f, np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))`
    static let numpyFortran = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA="

    // MARK: Helpers

    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vitbench-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Writes `bytes` to a fresh file in the test directory and returns its path.
    func write(_ bytes: Data, _ name: String) throws -> String {
        let p = path(name)
        try bytes.write(to: URL(fileURLWithPath: p))
        return p
    }

    func decode(_ base64: String) -> Data { Data(base64Encoded: base64)! }

    /// A safetensors file from a header written by hand, so tests can say exactly what is broken.
    func safetensors(_ header: String, _ data: [UInt8] = [], length: UInt64? = nil) -> Data {
        var bytes = Data()
        withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: header.utf8)
        bytes.append(contentsOf: data)
        return bytes
    }

    /// A version `major`.0 .npy file with a hand-written header dict.
    func npy(_ header: String, _ values: [Float], major: UInt8 = 1) -> Data {
        var bytes = Data([0x93] + Array("NUMPY".utf8) + [major, 0])
        if major == 1 {
            withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        } else {
            withUnsafeBytes(of: UInt32(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        }
        bytes.append(contentsOf: header.utf8)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return bytes
    }

    func random(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -10...10) })
    }

    /// Asserts a FileFormatError whose message names the file, the tensor (if any) and each of `mentions`.
    func assertFormatError<T>(_ body: @autoclosure () throws -> T, file: String, tensor: String? = nil,
                              mentions: [String], line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("no error thrown", line: line)
        } catch let error as FileFormatError {
            XCTAssertEqual(error.file, file, line: line)
            XCTAssertEqual(error.tensor, tensor, line: line)
            XCTAssertTrue(error.description.hasPrefix(file), "\(error) does not name the file", line: line)
            if let tensor {
                XCTAssertTrue(error.description.contains("'\(tensor)'"), "\(error) does not name the tensor", line: line)
            }
            for m in mentions {
                XCTAssertTrue(error.description.contains(m), "\(error) does not mention \(m)", line: line)
            }
            XCTAssertEqual(error.localizedDescription, error.description, line: line)
        } catch {
            XCTFail("expected FileFormatError, got \(error)", line: line)
        }
    }

    // MARK: Round trips

    func testSafetensorsRoundTrip() throws {
        let tensors = ["scalar": random([]), "empty": random([3, 0, 2]), "none": random([0]),
                       "vector": random([7]), "cube": random([2, 3, 4]), "stem/conv.weight": random([4, 3, 3, 3])]
        let metadata = ["format": "pt", "source": "a/b \"quoted\""]
        let p = path("round.safetensors")
        try SafetensorsFile.write(tensors, to: p, metadata: metadata)

        let file = try SafetensorsFile(path: p)
        XCTAssertEqual(file.names, tensors.keys.sorted())
        XCTAssertEqual(file.metadata, metadata)
        for (name, t) in tensors {
            XCTAssertEqual(file.dtype(of: name), "F32")
            XCTAssertEqual(file.shape(of: name), t.shape)
            XCTAssertEqual(try file.tensor(name), t)
        }
        XCTAssertEqual(try file.allTensors(), tensors)
        XCTAssertNil(file.dtype(of: "missing"))
        XCTAssertNil(file.shape(of: "missing"))

        // Layout: header space-padded to 8-byte alignment, tensors in sorted order, deterministic bytes.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: p))
        let n = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        XCTAssertEqual(n % 8, 0)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        let json = header.trimmingCharacters(in: .whitespaces)
        XCTAssertTrue(json.hasPrefix("{") && json.hasSuffix("}"))
        XCTAssertTrue(header.dropFirst(json.count).allSatisfy { $0 == " " })
        let positions = tensors.keys.sorted().map { header.range(of: "\"\($0)\"")!.lowerBound }
        XCTAssertEqual(positions, positions.sorted())
        let again = path("again.safetensors")
        try SafetensorsFile.write(tensors, to: again, metadata: metadata)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: again)), bytes)
    }

    func testSafetensorsWriteRejectsReservedName() {
        let p = path("reserved.safetensors")
        assertFormatError(try SafetensorsFile.write(["__metadata__": random([1])], to: p),
                          file: p, tensor: "__metadata__", mentions: ["reserved"])
    }

    func testNpyRoundTrip() throws {
        for shape in [[], [5], [2, 3, 4, 5], [0, 3]] {
            let t = random(shape)
            let p = path("round-\(shape.count).npy")
            try Npy.write(t, to: p)
            XCTAssertEqual(try Npy.read(p), t)

            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
            XCTAssertEqual(Array(bytes[0..<8]), [0x93] + Array("NUMPY".utf8) + [1, 0])
            let headerEnd = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
            XCTAssertEqual(headerEnd % 64, 0, "data of \(shape) is not 64-byte aligned")
            XCTAssertEqual(bytes[headerEnd - 1], UInt8(ascii: "\n"))
            XCTAssertEqual(bytes.count, headerEnd + 4 * t.count)
        }
    }

    // MARK: Half precision

    func testHalfAndBFloat16DecodeExactly() throws {
        let half: [UInt16] = [0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x7C00, 0xFC00, 0x8000, 0x7E00]
        let halfExpected: [Float] = [1, -2.5, 65504, 0x1p-24, 1023 * 0x1p-24, 0x1p-14, .infinity, -.infinity, -0.0, .nan]
        let bf16: [UInt16] = [0x3F80, 0xC020, 0x7F7F, 0x0001, 0x7F80, 0xFF80, 0x8000, 0x7FC0]
        let bf16Expected: [Float] = [1, -2.5, Float(bitPattern: 0x7F7F_0000), 0x1p-133, .infinity, -.infinity, -0.0, .nan]
        var data: [UInt8] = []
        for bits in half + bf16 { withUnsafeBytes(of: bits.littleEndian) { data += $0 } }
        let header = """
            {"h":{"dtype":"F16","shape":[2,5],"data_offsets":[0,20]},"b":{"dtype":"BF16","shape":[8],"data_offsets":[20,36]}}
            """
        let file = try SafetensorsFile(path: write(safetensors(header, data), "half.safetensors"))

        for (name, expected) in [("h", halfExpected), ("b", bf16Expected)] {
            let t = try file.tensor(name)
            XCTAssertEqual(t.shape, name == "h" ? [2, 5] : [8])
            for (got, want) in zip(t.data, expected) {
                if want.isNaN {
                    XCTAssertTrue(got.isNaN, "\(name): expected NaN, got \(got)")
                } else {
                    XCTAssertEqual(got.bitPattern, want.bitPattern, "\(name): expected \(want), got \(got)")
                }
            }
        }
    }

    #if !(os(macOS) && arch(x86_64))
    /// The hand-written conversion against the compiler's own, for all 65,536 bit patterns.
    func testHalfDecodingMatchesFloat16Everywhere() {
        let mismatches = (UInt16.min...UInt16.max).filter { bits in
            let want = Float(Float16(bitPattern: bits)), got = SafetensorsFile.floatFromHalf(bits)
            return want.isNaN ? !got.isNaN : got.bitPattern != want.bitPattern
        }
        XCTAssertEqual(mismatches.count, 0, "first mismatches: \(mismatches.prefix(5).map { "0x" + String($0, radix: 16) })")
    }
    #endif

    // MARK: Interop with the reference implementations

    func testReadsReferenceSafetensorsFile() throws {
        let file = try SafetensorsFile(path: write(decode(Self.referenceSafetensors), "ref.safetensors"))
        XCTAssertEqual(file.names, ["blocks.0.norm.weight", "bn.num_batches_tracked", "head.bias"])
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(try file.tensor("blocks.0.norm.weight"), Tensor(shape: [3], data: [0.5, -1, 2]))
        XCTAssertEqual(try file.tensor("head.bias"), Tensor(shape: [2, 2], data: [1, -2.5, 65504, 0x1p-24]))
    }

    /// Real timm checkpoints carry I64 BatchNorm counters; they must not stop the weights loading.
    func testInt64EntryDoesNotBlockOtherTensors() throws {
        let p = try write(decode(Self.referenceSafetensors), "timm.safetensors")
        let file = try SafetensorsFile(path: p)
        XCTAssertEqual(file.dtype(of: "bn.num_batches_tracked"), "I64")
        XCTAssertEqual(file.shape(of: "bn.num_batches_tracked"), [])
        assertFormatError(try file.tensor("bn.num_batches_tracked"), file: p, tensor: "bn.num_batches_tracked",
                          mentions: ["I64", "not supported", "F32, F16 and BF16"])
        XCTAssertEqual(try file.allTensors().keys.sorted(), ["blocks.0.norm.weight", "head.bias"])
    }

    func testReadsNumpyFiles() throws {
        XCTAssertEqual(try Npy.read(data: decode(Self.numpyArange), name: "arange.npy"), Tensor(shape: [2, 3], data: [0, 1, 2, 3, 4, 5]))
        XCTAssertEqual(try Npy.read(data: decode(Self.numpyScalar), name: "scalar.npy"), Tensor(shape: [], data: [3.5]))
        XCTAssertEqual(try Npy.read(data: decode(Self.numpyV2), name: "v2.npy"), Tensor(shape: [4], data: [0.125, 0.25, 0.375, 0.5]))
        XCTAssertEqual(try Npy.read(data: decode(Self.numpyV3), name: "v3.npy"), Tensor(shape: [1], data: [-1.5]))
        // A slice that does not start at index 0, as from an archive.
        let padded = Data([1, 2, 3]) + decode(Self.numpyArange)
        XCTAssertEqual(try Npy.read(data: padded.dropFirst(3), name: "slice.npy").data, [0, 1, 2, 3, 4, 5])
    }

    func testNpyWriterMatchesNumpyByteForByte() throws {
        let arange = path("arange.npy"), scalar = path("scalar.npy")
        try Npy.write(Tensor(shape: [2, 3], data: [0, 1, 2, 3, 4, 5]), to: arange)
        try Npy.write(Tensor(shape: [], data: [3.5]), to: scalar)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: arange)), decode(Self.numpyArange))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: scalar)), decode(Self.numpyScalar))
    }

    func testNpyHeaderVariantsParse() throws {
        let headers = [
            "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,3)}\n",
            "{ 'shape' : ( 2 , 3 ) , 'fortran_order' : False , 'descr' : '<f4' , }  \n",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
        ]
        for header in headers {
            XCTAssertEqual(try Npy.read(data: npy(header, [0, 1, 2, 3, 4, 5]), name: "h.npy").shape, [2, 3], header)
        }
        let vector = "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }\n"
        XCTAssertEqual(try Npy.read(data: npy(vector, [1, 2, 3, 4, 5], major: 2), name: "v.npy").shape, [5])
    }

    // MARK: Malformed safetensors

    func testSafetensorsMissingFile() {
        let p = path("absent.safetensors")
        assertFormatError(try SafetensorsFile(path: p), file: p, mentions: ["no such file"])
        assertFormatError(try SafetensorsFile(path: directory.path), file: directory.path, mentions: ["is a directory"])
    }

    func testSafetensorsShorterThanLengthField() throws {
        let p = try write(Data([1, 2, 3, 4, 5]), "short.safetensors")
        assertFormatError(try SafetensorsFile(path: p), file: p, mentions: ["5 bytes", "8-byte header length"])
        let empty = try write(Data(), "empty.safetensors")
        assertFormatError(try SafetensorsFile(path: empty), file: empty, mentions: ["0 bytes"])
    }

    func testSafetensorsHeaderLengthPastEnd() throws {
        let p = try write(safetensors("{}", [0, 0, 0, 0, 0, 0, 0, 0], length: 1000), "long-header.safetensors")
        assertFormatError(try SafetensorsFile(path: p), file: p, mentions: ["header length 1000", "only 10 bytes"])
        let huge = try write(safetensors("{}", length: .max), "huge-header.safetensors")
        assertFormatError(try SafetensorsFile(path: huge), file: huge, mentions: ["\(UInt64.max)", "only 2 bytes"])
    }

    func testSafetensorsInvalidJSON() throws {
        let p = try write(safetensors("{\"a\": {\"dtype\": "), "bad-json.safetensors")
        assertFormatError(try SafetensorsFile(path: p), file: p, mentions: ["not valid JSON"])
        let array = try write(safetensors("[1, 2]"), "array.safetensors")
        assertFormatError(try SafetensorsFile(path: array), file: array, mentions: ["not a JSON object"])
    }

    func testSafetensorsMissingOrMistypedFields() throws {
        let cases: [(String, String)] = [
            (#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, "\"dtype\" is missing"),
            (#"{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#, "\"dtype\" is missing or not a string"),
            (#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, "\"shape\" is missing"),
            (#"{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}"#, "not a list of integers"),
            (#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, "not a list of integers"),
            (#"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, "not a list of integers"),
            (#"{"w":{"dtype":"F32","shape":[1]}}"#, "\"data_offsets\" is missing"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}"#, "not a pair of integers"),
            (#"{"w":[1,2]}"#, "entry is not a JSON object"),
        ]
        for (i, (header, message)) in cases.enumerated() {
            let p = try write(safetensors(header, [0, 0, 0, 0]), "fields-\(i).safetensors")
            assertFormatError(try SafetensorsFile(path: p), file: p, tensor: "w", mentions: [message])
        }
        let meta = try write(safetensors(#"{"__metadata__":{"epoch":3}}"#), "meta.safetensors")
        assertFormatError(try SafetensorsFile(path: meta), file: meta, mentions: ["__metadata__"])
    }

    func testSafetensorsNegativeDimension() throws {
        let p = try write(safetensors(#"{"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}}"#), "neg.safetensors")
        assertFormatError(try SafetensorsFile(path: p), file: p, tensor: "w", mentions: ["negative dimension -1", "[2, -1]"])
    }

    func testSafetensorsReversedOffsets() throws {
        let p = try write(safetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, Array(repeating: 0, count: 8)), "rev.safetensors")
        assertFormatError(try SafetensorsFile(path: p), file: p, tensor: "w", mentions: ["[8, 4]", "reversed"])
    }

    func testSafetensorsOffsetsPastEnd() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
        let p = try write(safetensors(header, Array(repeating: 0, count: 20)), "truncated.safetensors")
        assertFormatError(try SafetensorsFile(path: p), file: p, tensor: "b", mentions: ["truncated file", "24", "only 20 bytes"])
    }

    func testSafetensorsShapeByteCountMismatch() throws {
        let header = #"{"stem.0.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,40]}}"#
        let p = try write(safetensors(header, Array(repeating: 0, count: 40)), "mismatch.safetensors")
        assertFormatError(try SafetensorsFile(path: p), file: p, tensor: "stem.0.weight",
                          mentions: ["shape [3, 4] needs 48 bytes (F32) but data_offsets span 40"])
        // Byte counts are checked for dtypes that cannot be converted, too.
        let i64 = try write(safetensors(#"{"n":{"dtype":"I64","shape":[],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]), "i64.safetensors")
        assertFormatError(try SafetensorsFile(path: i64), file: i64, tensor: "n", mentions: ["needs 8 bytes (I64)", "span 4"])
        // An overflowing element count is an error, not a trap.
        let big = try write(safetensors(#"{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#), "big.safetensors")
        assertFormatError(try SafetensorsFile(path: big), file: big, tensor: "x", mentions: ["more than Int.max"])
    }

    func testSafetensorsUnknownDtypeFailsOnlyWhenRead() throws {
        let header = #"{"odd":{"dtype":"Q7","shape":[2],"data_offsets":[0,2]},"ok":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#
        let p = try write(safetensors(header, [0, 0, 0, 0, 0x80, 0x3F]), "unknown.safetensors")
        let file = try SafetensorsFile(path: p)
        XCTAssertEqual(file.names, ["odd", "ok"])
        XCTAssertEqual(file.dtype(of: "odd"), "Q7")
        XCTAssertEqual(try file.tensor("ok"), Tensor(shape: [1], data: [1]))
        assertFormatError(try file.tensor("odd"), file: p, tensor: "odd", mentions: ["unknown dtype 'Q7'", "F32, F16, BF16"])
        assertFormatError(try file.allTensors(), file: p, tensor: "odd", mentions: ["unknown dtype"])
    }

    func testSafetensorsUnknownTensorName() throws {
        let p = path("names.safetensors")
        try SafetensorsFile.write(["a": random([2])], to: p)
        assertFormatError(try SafetensorsFile(path: p).tensor("nope"), file: p, tensor: "nope", mentions: ["no such tensor"])
    }

    // MARK: Malformed .npy

    func testNpyMissingFile() {
        let p = path("absent.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["no such file"])
    }

    func testNpyRejectsFloat64() throws {
        let p = try write(decode(Self.numpyFloat64), "f8.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["'<f8' (float64)", "float32 (<f4)", "x.astype(np.float32)"])
    }

    func testNpyRejectsInt32() throws {
        let p = try write(decode(Self.numpyInt32), "i4.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["'<i4' (int32)", "float32 (<f4)"])
        let big = try write(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", [0]), "be.npy")
        assertFormatError(try Npy.read(big), file: big, mentions: ["'>f4' (big-endian float32)"])
    }

    func testNpyRejectsFortranOrder() throws {
        let p = try write(decode(Self.numpyFortran), "fortran.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["Fortran order", "np.ascontiguousarray"])
    }

    func testNpyBadMagic() throws {
        var bytes = decode(Self.numpyArange)
        bytes[0] = UInt8(ascii: "P")
        let p = try write(bytes, "magic.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["not a .npy file", "\\x93NUMPY"])
        let tiny = try write(Data([0x93]), "tiny.npy")
        assertFormatError(try Npy.read(tiny), file: tiny, mentions: ["not a .npy file"])
        let empty = try write(Data(), "empty.npy")
        assertFormatError(try Npy.read(empty), file: empty, mentions: ["not a .npy file"])
    }

    func testNpyUnsupportedVersion() throws {
        let p = try write(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", [0], major: 4), "v4.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["unsupported .npy version 4.0"])
    }

    func testNpyTruncatedHeader() throws {
        let p = try write(decode(Self.numpyArange).prefix(40), "header.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["truncated header", "118 bytes", "only 30"])
        let q = try write(decode(Self.numpyArange).prefix(9), "length.npy")
        assertFormatError(try Npy.read(q), file: q, mentions: ["truncated header"])
    }

    func testNpyMalformedHeader() throws {
        for (i, header) in ["{'descr': '<f4', 'shape': (2, 3}", "'descr'", "{'descr': '<f4'} trailing", "{'descr': <f4}"].enumerated() {
            let p = try write(npy(header, []), "malformed-\(i).npy")
            assertFormatError(try Npy.read(p), file: p, mentions: ["not a Python dict literal"])
        }
        let missing = try write(npy("{'descr': '<f4', 'fortran_order': False}", []), "missing.npy")
        assertFormatError(try Npy.read(missing), file: missing, mentions: ["no 'shape'"])
        let negative = try write(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", []), "negative.npy")
        assertFormatError(try Npy.read(negative), file: negative, mentions: ["non-negative integers"])
    }

    func testNpyDataTruncated() throws {
        let p = try write(decode(Self.numpyArange).dropLast(4), "short.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["data truncated", "[2, 3]", "needs 24 bytes", "only 20"])
    }

    func testNpyTrailingBytes() throws {
        let p = try write(decode(Self.numpyArange) + Data([0, 0, 0]), "long.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["trailing data", "3 bytes beyond the 24"])
    }

    // MARK: Hostile input: nesting, header sizes, byte ranges, non-finite values

    func testNpyDeeplyNestedHeaderIsRefused() throws {
        // 100 000 levels overflowed the recursive parser's stack (SIGSEGV) before the limit.
        let deep = "{'descr': " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
            + ", 'fortran_order': False, 'shape': (1,)}"
        let p = try write(npy(deep, [0], major: 2), "deep.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["nests brackets more than \(Npy.maxHeaderDepth) deep", "limit"])
        // Unterminated nesting is refused the same way, and nesting under the limit is parsed (then refused as a structured dtype).
        let open = try write(npy("{'shape': " + String(repeating: "(", count: 50_000), [], major: 2), "open.npy")
        assertFormatError(try Npy.read(open), file: open, mentions: ["more than \(Npy.maxHeaderDepth) deep"])
        let shallow = "{'descr': " + String(repeating: "[", count: 20) + "'<f4'" + String(repeating: "]", count: 20)
            + ", 'fortran_order': False, 'shape': (1,)}"
        let q = try write(npy(shallow, [0]), "shallow.npy")
        assertFormatError(try Npy.read(q), file: q, mentions: ["structured dtype"])
    }

    func testNpyHeaderSizeLimit() throws {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}" + String(repeating: " ", count: Npy.maxHeaderBytes) + "\n"
        let p = try write(npy(header, [1], major: 2), "huge-header.npy")
        assertFormatError(try Npy.read(p), file: p, mentions: ["longer than the \(Npy.maxHeaderBytes)-byte limit"])
        // A long malformed header is quoted in part, not in full.
        let junk = try write(npy(String(repeating: "x", count: 5000), [], major: 2), "junk.npy")
        do { _ = try Npy.read(junk); XCTFail("accepted") } catch { XCTAssertLessThan("\(error)".count, 600, "\(error)") }
    }

    func testSafetensorsDeeplyNestedHeaderIsRefused() throws {
        let deep = #"{"a":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        let p = try write(safetensors(deep), "deep.safetensors")
        assertFormatError(try SafetensorsFile(path: p), file: p, mentions: ["not valid JSON", "nested"])
        let open = try write(safetensors(String(repeating: "{\"a\":", count: 100_000)), "open.safetensors")
        assertFormatError(try SafetensorsFile(path: open), file: open, mentions: ["not valid JSON"])
    }

    func testSafetensorsHeaderSizeLimit() throws {
        // The length field alone decides: no 100 MB file is needed to hit the limit.
        var bytes = safetensors("{}", length: UInt64(SafetensorsFile.maxHeaderBytes) + 1)
        bytes.append(Data(count: SafetensorsFile.maxHeaderBytes + 1 - 2))
        let p = try write(bytes, "huge-header.safetensors")
        assertFormatError(try SafetensorsFile(path: p), file: p, mentions: ["longer than the \(SafetensorsFile.maxHeaderBytes)-byte limit"])
    }

    func testSafetensorsByteRangesMustTileTheDataSection() throws {
        func f32(_ name: String, _ begin: Int, _ end: Int) -> String {
            #""\#(name)":{"dtype":"F32","shape":[\#((end - begin) / 4)],"data_offsets":[\#(begin),\#(end)]}"#
        }
        let cases: [(String, Int, [String])] = [
            ("{\(f32("a", 0, 8)),\(f32("b", 4, 12))}", 12, ["'a' (bytes [0, 8))", "'b' (bytes [4, 12))", "overlap"]),
            ("{\(f32("a", 0, 8)),\(f32("b", 0, 8))}", 8, ["'a'", "'b'", "overlap"]),
            ("{\(f32("a", 0, 4)),\(f32("b", 8, 12))}", 12, ["bytes [4, 8) belong to no tensor", "'a' (ends at byte 4)", "'b' (begins at byte 8)"]),
            ("{\(f32("a", 4, 8))}", 8, ["bytes [0, 4) belong to no tensor", "start of the data section", "'a'"]),
            ("{\(f32("a", 0, 4))}", 8, ["last 4 bytes", "[4, 8)", "after 'a'"]),
            ("{}", 4, ["last 4 bytes", "no tensors"]),
        ]
        for (i, (header, size, mentions)) in cases.enumerated() {
            let p = try write(safetensors(header, Array(repeating: 0, count: size)), "ranges-\(i).safetensors")
            assertFormatError(try SafetensorsFile(path: p), file: p, mentions: mentions)
        }
        // Empty tensors sit between the others, at the offset where they are; integer entries count too.
        let fine = "{\(f32("a", 0, 4)),\(f32("empty", 4, 4)),\(f32("b", 4, 8)),\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}}"
        let p = try write(safetensors(fine, Array(repeating: 0, count: 16)), "fine.safetensors")
        XCTAssertEqual(try SafetensorsFile(path: p).names, ["a", "b", "empty", "n"])
        XCTAssertEqual(try SafetensorsFile(data: Data(contentsOf: URL(fileURLWithPath: p)), path: "memory").names, ["a", "b", "empty", "n"])
    }

    /// The fuzzers' seeds (Fuzz/corpus) stay valid files, so that fuzzing starts from inputs the
    /// readers accept; `nested-descr.npy` nests 40 deep on purpose and is refused.
    func testFuzzSeedsAreReadable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let corpus = root.appendingPathComponent("Fuzz/corpus")
        let npys = try FileManager.default.contentsOfDirectory(atPath: corpus.appendingPathComponent("npy").path).sorted()
        XCTAssertFalse(npys.isEmpty)
        for name in npys {
            let p = corpus.appendingPathComponent("npy/\(name)").path
            if name == "nested-descr.npy" {
                assertFormatError(try Npy.read(p), file: p, mentions: ["more than \(Npy.maxHeaderDepth) deep"])
            } else {
                XCTAssertNoThrow(try Npy.read(p), name)
            }
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: corpus.appendingPathComponent("safetensors").path) {
            let file = try SafetensorsFile(path: corpus.appendingPathComponent("safetensors/\(name)").path)
            XCTAssertFalse(file.names.isEmpty, name)
        }
    }

    func testNonFiniteReport() {
        XCTAssertNil(NonFiniteReport.scan([1, -2, .greatestFiniteMagnitude, .leastNonzeroMagnitude, -0.0], shape: [5]))
        XCTAssertNil(NonFiniteReport.scan([], shape: [0, 3]))
        let r = NonFiniteReport.scan([1, 2, 3, 4, .nan, .infinity, 7, -.infinity], shape: [2, 4])!
        XCTAssertEqual(r.count, 3)
        XCTAssertEqual(r.nanCount, 1)
        XCTAssertEqual(r.firstIndex, 4)
        XCTAssertEqual(r.firstPosition, [1, 0])
        XCTAssertTrue(r.firstValue.isNaN)
        XCTAssertEqual(r.total, 8)
        XCTAssertTrue(r.description.contains("3 of 8 values are not finite (1 NaN, 2 ±Inf)"), r.description)
        XCTAssertTrue(r.description.contains("[1, 0]"), r.description)
        // A NaN with a payload and a signalling NaN are found too; the index is per axis.
        let payload = Float(bitPattern: 0x7FC0_1234), signalling = Float(bitPattern: 0xFF80_0001)
        var values = [Float](repeating: 0.5, count: 2 * 3 * 4 * 5)
        values[0 * 60 + 1 * 20 + 2 * 5 + 3] = payload
        values[119] = signalling
        let t = NonFiniteReport.scan(Tensor(shape: [2, 3, 4, 5], data: values))!
        XCTAssertEqual(t.count, 2)
        XCTAssertEqual(t.nanCount, 2)
        XCTAssertEqual(t.firstPosition, [0, 1, 2, 3])
        XCTAssertEqual(t.firstIndex, 33)
        XCTAssertEqual(NonFiniteReport.scan([.infinity], shape: []).map(\.firstPosition), [])
    }
}

/// `Tensor.permuted` — a blocked transpose where the permutation is a (batched) transpose, an
/// odometer walk otherwise — against the definition, index by index.
final class TensorPermuteTests: XCTestCase {
    func testPermutedMatchesTheDefinition() {
        var rng = makeRNG()
        let cases: [([Int], [Int])] = [
            ([37, 53], [1, 0]), ([768, 3], [1, 0]), ([2, 17, 9], [0, 2, 1]), ([5, 3, 4, 6], [0, 2, 3, 1]),
            ([5, 3, 4, 6], [0, 3, 1, 2]), ([6, 2, 3, 3], [2, 3, 1, 0]), ([4, 1, 7], [1, 0, 2]), ([3, 4, 5], [2, 0, 1]),
            ([1, 1], [1, 0]), ([0, 5], [1, 0]),
        ]
        for (shape, axes) in cases {
            let x = Tensor(randomNormal: shape, rng: &rng)
            let y = x.permuted(axes)
            XCTAssertEqual(y.shape, axes.map { shape[$0] })
            let inStrides = Tensor.strides(shape), outShape = y.shape
            for o in 0..<y.count {
                var rem = o, src = 0
                for a in stride(from: outShape.count - 1, through: 0, by: -1) {
                    src += (rem % outShape[a]) * inStrides[axes[a]]
                    rem /= outShape[a]
                }
                if y.data[o] != x.data[src] {
                    XCTFail("\(shape) permuted \(axes): element \(o) is \(y.data[o]), expected \(x.data[src])")
                    break
                }
            }
        }
    }
}
