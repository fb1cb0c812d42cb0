// libFuzzer target: the .npy reader (header literal parser, lengths, shapes). Built by scripts/fuzz.sh.
import Foundation
import VitEngine

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpy(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let data = Data(bytes: bytes, count: size)
    if let tensor = try? Npy.read(data: data, name: "fuzz.npy") {
        // What a reader accepted is self-consistent: its values fill its shape.
        if tensor.shape.reduce(1, *) != tensor.data.count { fatalError("shape \(tensor.shape) vs \(tensor.data.count) values") }
        _ = NonFiniteReport.scan(tensor)
    }
    return 0
}
