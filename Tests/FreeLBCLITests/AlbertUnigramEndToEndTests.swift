// Issue 20 end to end: the tiny ALBERT fixture (config and weights) with a SentencePiece Unigram tokenizer
// of the same vocabulary size (100) trains with `freelb train --method freelb` on a few RTE rows, and the
// saved run folder holds the tokenizer files that transformers' AlbertTokenizerFast loads.
//
// Inputs come from this repository: Tests/FreeLBModelsTests/Resources/tiny-albert and
// Tests/FreeLBTokenizersTests/Resources/unigram-albert-100 (written by tools/goldens/unigram).
// With FREELB_KEEP_ALBERT_RUN=<folder> the run is kept there, with `swift_reference.json` (the token
// ids and logits of the saved model), for tools/goldens/unigram/verify_albert_run.py.
import Foundation
import XCTest
import FreeLB
import FreeLBModels
import FreeLBSafetensors
import FreeLBTensor
import FreeLBTokenizers

final class AlbertUnigramEndToEndTests: XCTestCase {
    /// RTE train rows (GLUE), shortened to those that fit 64 tokens.
    static let rows: [(String, String, String)] = [
        ("No Weapons of Mass Destruction Found in Iraq Yet.", "Weapons of Mass Destruction Found in Iraq.", "not_entailment"),
        ("Oil prices fall back as Yukos oil threat lifted", "Oil prices rise.", "not_entailment"),
        (
            "Lin Piao, after all, was the creator of Mao's \"Little Red Book\" of quotations.",
            "Lin Piao wrote the \"Little Red Book\".", "entailment"
        ),
        (
            "Cyprus, divided or not, joins the EU on the 1st of May.", "Cyprus was divided into two parts on May 1.",
            "not_entailment"
        ),
        (
            "Edward VIII became King in January of 1936 and abdicated in December.",
            "King Edward VIII abdicated in December 1936.", "entailment"
        ),
        (
            "Officials said the Finnish suspect was among the dead but did not provide a motive for the attack.",
            "Officials said that the suspect, a Finnish citizen, was among the dead.", "entailment"
        ),
        (
            "Valero Energy Corp., on Monday, said it found \"extensive\" additional damage at its refinery.",
            "Valero Energy Corp. produces 250,000 barrels per day.", "entailment"
        ),
        (
            "Gastrointestinal bleeding can happen as an adverse effect of drugs such as aspirin.",
            "Aspirin prevents gastrointestinal bleeding.", "not_entailment"
        )
    ]

    static let maxLength = 64

    private func repositoryResource(_ path: String) throws -> URL {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let url = tests.appendingPathComponent(path)
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("\(url.path) is not in this checkout") }
        return url
    }

    /// config.json with 2 labels and model.safetensors without the 3-label head of the fixture (a fresh head
    /// is initialised), plus the tokenizer files.
    private func writeModel(to folder: URL, fixture: URL, tokenizer: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        var config = try XCTUnwrap(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: fixture.appendingPathComponent("config.json"))) as? [String: Any])
        config["num_labels"] = 2
        config["id2label"] = ["0": "LABEL_0", "1": "LABEL_1"]
        config["label2id"] = ["LABEL_0": 0, "LABEL_1": 1]
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            .write(to: folder.appendingPathComponent("config.json"))
        let weights = try SafetensorsFile(url: fixture.appendingPathComponent("model.safetensors"))
        let encoder = try weights.names.filter { !$0.hasPrefix("classifier.") }.map { name -> NamedTensor in
            let t = try weights.tensor(name)
            return NamedTensor(name: name, shape: t.shape, values: t.values)
        }
        try SafetensorsWriter.write(encoder, metadata: ["format": "pt"], to: folder.appendingPathComponent("model.safetensors"))
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            try fm.copyItem(at: tokenizer.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
    }

    private func writeRTE(to dataDir: URL) throws {
        let folder = dataDir.appendingPathComponent("RTE")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let labelled =
            "index\tsentence1\tsentence2\tlabel\n"
            + Self.rows.enumerated().map { "\($0)\t\($1.0)\t\($1.1)\t\($1.2)\n" }.joined()
        try Data(labelled.utf8).write(to: folder.appendingPathComponent("train.tsv"))
        try Data(labelled.utf8).write(to: folder.appendingPathComponent("dev.tsv"))
        let test = "index\tsentence1\tsentence2\n" + Self.rows.enumerated().map { "\($0)\t\($1.0)\t\($1.1)\n" }.joined()
        try Data(test.utf8).write(to: folder.appendingPathComponent("test.tsv"))
    }

    func testTinyAlbertWithUnigramTokenizerTrainsWithFreeLBAndSavesTheTokenizer() throws {
        let fixture = try repositoryResource("FreeLBModelsTests/Resources/tiny-albert")
        let tokenizerFolder = try repositoryResource("FreeLBTokenizersTests/Resources/unigram-albert-100")
        let keep = ProcessInfo.processInfo.environment["FREELB_KEEP_ALBERT_RUN"].flatMap { $0.isEmpty ? nil : $0 }
        let root: URL
        if let keep {
            root = URL(fileURLWithPath: keep)
            try? FileManager.default.removeItem(at: root)
        } else {
            root = try temporaryDirectory(self)
        }
        let model = root.appendingPathComponent("model")
        let data = root.appendingPathComponent("data")
        let run = root.appendingPathComponent("run")
        try writeModel(to: model, fixture: fixture, tokenizer: tokenizerFolder)
        try writeRTE(to: data)

        let tokenizer = try loadTokenizer(directory: model)
        XCTAssertTrue(tokenizer is UnigramTokenizer)
        let config = try ModelConfiguration(contentsOf: model.appendingPathComponent("config.json"))
        XCTAssertEqual(tokenizer.vocabularySize, config.vocabSize, "tokenizer and model vocabularies must match")

        let result = try CLI.run(
            [
                "train", "--model", model.path, "--task", "rte", "--data-dir", data.path,
                "--output-dir", run.path, "--method", "freelb",  // FreeLB's default K and radii
                "--max-steps", "2", "--batch-size", "4", "--max-seq-length", "\(Self.maxLength)",
                "--learning-rate", "1e-3", "--threads", "1"
            ], timeout: 300)
        XCTAssertEqual(result.status, 0, "stderr: \(result.stderr.suffix(2000))")
        XCTAssertFalse(result.signalled)

        let final = run.appendingPathComponent("final")
        for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: final.appendingPathComponent(name).path), name)
        }
        XCTAssertEqual(
            try Data(contentsOf: final.appendingPathComponent("tokenizer.json")),
            try Data(contentsOf: tokenizerFolder.appendingPathComponent("tokenizer.json")))

        // The saved folder reads back: same ids as the input tokenizer, finite logits of shape [rows, 2].
        let saved = try loadTokenizer(directory: final)
        let encodings = saved.encodeBatch(Self.rows.map(\.0), pairs: Self.rows.map(\.1), maxLength: Self.maxLength)
        XCTAssertEqual(encodings, tokenizer.encodeBatch(Self.rows.map(\.0), pairs: Self.rows.map(\.1), maxLength: Self.maxLength))
        XCTAssertTrue(encodings.allSatisfy { $0.ids.allSatisfy { $0 >= 0 && Int($0) < config.vocabSize } })
        let (trained, _) = try TransformerClassifier.load(final.path, kind: .classification)
        let length = encodings[0].count
        let input = EncoderInput(
            inputIds: encodings.flatMap(\.ids), tokenTypeIds: encodings.flatMap(\.typeIds),
            attentionMask: encodings.flatMap(\.attentionMask), shape: [encodings.count, length])
        let logits = trained(input).logits
        XCTAssertEqual(logits.shape, [Self.rows.count, 2])
        XCTAssertTrue(logits.scalars.allSatisfy(\.isFinite))

        if keep != nil {
            let reference: [String: Any] = [
                "texts": Self.rows.map(\.0), "text_pairs": Self.rows.map(\.1), "max_length": Self.maxLength,
                "input_ids": encodings.map(\.ids), "token_type_ids": encodings.map(\.typeIds),
                "attention_mask": encodings.map(\.attentionMask),
                "logits": (0..<Self.rows.count).map { Array(logits.scalars[(2 * $0)..<(2 * $0 + 2)]) }
            ]
            try JSONSerialization.data(withJSONObject: reference, options: [.prettyPrinted, .sortedKeys])
                .write(to: run.appendingPathComponent("swift_reference.json"))
        }
    }
}
