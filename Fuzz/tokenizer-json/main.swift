// Fuzz target: tokenizer.json, loaded with loadTokenizer(tokenizerJSON:) (WordPiece, BPE and
// whatever other models it supports); an accepted tokenizer then encodes and decodes probe texts.
import Foundation
import FreeLBTokenizers

private let tokenizerFile = ScratchFile(named: "tokenizer.json")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = tokenizerFile.write(inputBuffer(data, size))
    guard let tokenizer = try? loadTokenizer(tokenizerJSON: url) else { return 0 }
    probe(tokenizer)
    return 0
}
