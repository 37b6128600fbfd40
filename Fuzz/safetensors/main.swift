// Fuzz target: a model.safetensors file, opened with SafetensorsFile and loaded with loadParameters
// as the checkpoint loader does; every accepted tensor is then read in full.
import Foundation
import FreeLBSafetensors

private let checkpoint = ScratchFile(named: "model.safetensors")

/// A few names and shapes of the tiny BERT fixture, so the strict loader also meets mismatches.
private let tinyBertParameters = [
    ExpectedParameter(name: "bert.embeddings.word_embeddings.weight", shape: [99, 32]),
    ExpectedParameter(name: "bert.embeddings.LayerNorm.weight", shape: [32]),
    ExpectedParameter(name: "classifier.weight", shape: [2, 32]),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = checkpoint.write(inputBuffer(data, size))
    guard let file = try? SafetensorsFile(url: url) else { return 0 }
    readEveryTensor(file)
    // The file's own names and shapes: the strict loader must accept them and return every tensor.
    let own = file.tensorInfos.filter { $0.dtype.isReadableAsFloat }.map { ExpectedParameter(name: $0.name, shape: $0.shape) }
    if let loaded = try? file.loadParameters(own, ignore: ["*"]) {
        for parameter in own {
            require(loaded[parameter.name]?.values.count == parameter.shape.reduce(1, *),
                    "loadParameters returned the wrong element count for \(parameter.name)")
        }
    }
    _ = try? file.loadParameters(tinyBertParameters)
    _ = try? file.matchParameters(tinyBertParameters, ignore: ["pooler.*", "embeddings.position_ids"])
    return 0
}

private func readEveryTensor(_ file: SafetensorsFile) {
    require(file.names == file.names.sorted(), "names are not sorted")
    for info in file.tensorInfos {
        require(info.elementCount * info.dtype.byteSize == info.dataOffsets.count,
                "\(info.name): shape \(info.shape) does not match its \(info.dataOffsets.count) bytes")
        let byteCount = try! file.withRawBytes(info.name) { bytes -> Int in
            var checksum: UInt8 = 0
            for byte in bytes { checksum &+= byte }
            _ = checksum
            return bytes.count
        }
        require(byteCount == info.dataOffsets.count, "\(info.name): raw view has \(byteCount) bytes")
        if info.dtype.isReadableAsFloat {
            let values = try! file.floats(info.name)
            require(values.count == info.elementCount, "\(info.name): floats returned \(values.count) values")
            let tensor = try! file.tensor(info.name)
            require(tensor.shape == info.shape, "\(info.name): tensor shape differs from the header")
        } else {
            require((try? file.floats(info.name)) == nil, "\(info.name): \(info.dtype) read as floats")
        }
        if info.dtype.isReadableAsInteger {
            let values = try! file.integers(info.name)
            require(values.count == info.elementCount, "\(info.name): integers returned \(values.count) values")
        }
    }
}
