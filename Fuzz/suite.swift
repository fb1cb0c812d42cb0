// libFuzzer target: the suite reader (YAML through Yams, nesting bound, field validation). Built by scripts/fuzz.sh.
import Foundation
import VitHarness

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSuite(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: size), as: UTF8.self)
    _ = try? Suite.parse(text, file: "fuzz.yaml")
    return 0
}
