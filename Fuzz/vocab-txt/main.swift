// Fuzz target: vocab.txt, loaded with BertTokenizer(vocabFile:) (lower-cased and cased); an accepted
// tokenizer encodes the probe texts and the start of the file itself.
import Foundation
import FreeLBTokenizers

private let vocabFile = ScratchFile(named: "vocab.txt")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVocabTxt(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = inputBuffer(data, size)
    let url = vocabFile.write(input)
    // The file's own lines, as text, make words that are likely to be in the vocabulary.
    let ownText = String(decoding: input.prefix(512), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
    for lowercase in [true, false] {
        guard let tokenizer = try? BertTokenizer(vocabFile: url, lowercase: lowercase, stripAccents: lowercase ? nil : false)
        else { continue }
        require(tokenizer.tokenToId(tokenizer.padToken) == tokenizer.padTokenId, "pad token id does not round-trip")
        probe(tokenizer, extraText: ownText)
    }
    return 0
}
