// libFuzzer target: the safetensors reader (JSON header, offsets, coverage, dtype decoding). Built by scripts/fuzz.sh.
import Foundation
import VitEngine

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let data = Data(bytes: bytes, count: size)
    guard let file = try? SafetensorsFile(data: data, path: "fuzz.safetensors") else { return 0 }
    // Every tensor of an accepted file can be read (or refused for its dtype) without a trap.
    for name in file.names {
        if let t = try? file.tensor(name) {
            if t.shape != file.shape(of: name) { fatalError("\(name): shape changed on read") }
            _ = NonFiniteReport.scan(t)
        }
    }
    return 0
}
