// Fuzz target: config.json, read with ModelConfiguration(contentsOf:) as the checkpoint loader does;
// an accepted configuration is written back (jsonObject + JSONSerialization, as saving does).
import Foundation
import FreeLBModels

private let configFile = ScratchFile(named: "config.json")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = configFile.write(inputBuffer(data, size))
    guard let configuration = try? ModelConfiguration(contentsOf: url) else { return 0 }
    require(configuration.numAttentionHeads > 0 && configuration.hiddenSize % configuration.numAttentionHeads == 0,
            "accepted \(configuration.numAttentionHeads) heads for hidden size \(configuration.hiddenSize)")
    _ = configuration.headDimension
    let object = configuration.jsonObject(architecture: "BertForSequenceClassification")
    if JSONSerialization.isValidJSONObject(object) {
        let written = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        // What was saved must read back.
        let reread = configFile.write(written.withUnsafeBytes { $0 })
        _ = try? ModelConfiguration(contentsOf: reread)
    }
    return 0
}
