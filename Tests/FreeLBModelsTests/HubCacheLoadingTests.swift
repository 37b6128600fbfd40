import Foundation
import XCTest
import FreeLBHub
import FreeLBModels
import FreeLBSafetensors

/// Loading by Hub id from a Hugging Face cache laid out as huggingface_hub writes it:
/// `$HF_HOME/hub/models--org--tiny/{refs/main, blobs/<sha256>, snapshots/<commit>/<file> -> ../../blobs/<sha256>}`.
/// Offline only (HF_HUB_OFFLINE=1): these tests never touch the network.
final class HubCacheLoadingTests: XCTestCase {
    let commit = "0123456789abcdef0123456789abcdef01234567"

    /// Writes `model` into a fake cache under `home` as `org/tiny`; returns the snapshot folder.
    func populateCache(home: URL, with model: TransformerClassifier) throws -> URL {
        let saved = home.appendingPathComponent("saved")
        try model.save(to: saved)
        let repo = home.appendingPathComponent("hub/models--org--tiny")
        let blobs = repo.appendingPathComponent("blobs"), snapshot = repo.appendingPathComponent("snapshots/\(commit)")
        let fm = FileManager.default
        for directory in [blobs, snapshot, repo.appendingPathComponent("refs")] {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        for file in ["config.json", "model.safetensors"] {
            let data = try Data(contentsOf: saved.appendingPathComponent(file))
            let blob = SHA256.hex(SHA256.hash(data))
            try data.write(to: blobs.appendingPathComponent(blob))
            try fm.createSymbolicLink(
                atPath: snapshot.appendingPathComponent(file).path, withDestinationPath: "../../blobs/\(blob)")
        }
        try Data(commit.utf8).write(to: repo.appendingPathComponent("refs/main"))
        return snapshot
    }

    func testLoadsModelIdFromOfflineCacheSnapshot() throws {
        let home = try temporaryDirectory(self)
        let model = tinyModel(.bert, kind: .classification)
        let snapshot = try populateCache(home: home, with: model)
        let environment = ["HF_HOME": home.path, "HF_HUB_OFFLINE": "1"]

        let directory = try ModelLocator(environment: environment).resolve("org/tiny")
        let loaded = try TransformerClassifier.load(from: directory, kind: .classification)
        loaded.eval()
        XCTAssertEqual(directory.standardizedFileURL.path, snapshot.standardizedFileURL.path, "resolved to snapshots/<commit>")
        let input = paddedBatch(pad: 0, typeVocab: 2)
        XCTAssertEqual(loaded(input).logits.scalars, model(input).logits.scalars, "cached model gives identical logits (bitwise)")
    }

    func testOfflineUnknownModelIdSaysWhatWasTried() throws {
        let home = try temporaryDirectory(self)
        _ = try populateCache(home: home, with: tinyModel(.bert, kind: .classification))
        let environment = ["HF_HOME": home.path, "HF_HUB_OFFLINE": "1"]
        do {
            _ = try TransformerClassifier.load(
                from: ModelLocator(environment: environment).resolve("org/unknown-model"),
                kind: .classification)
            XCTFail("an uncached id must not load offline")
        } catch let error as HubError {
            guard case let .offlineCacheMiss(model, _, cache, tried, variable) = error else {
                return XCTFail("expected offlineCacheMiss, got \(error)")
            }
            XCTAssertEqual(model, "org/unknown-model")
            XCTAssertEqual(variable, "HF_HUB_OFFLINE")
            XCTAssertEqual(cache, home.appendingPathComponent("hub").path)
            XCTAssertEqual(tried, [home.appendingPathComponent("hub/models--org--unknown-model/refs/main").path])
            for part in ["org/unknown-model", "HF_HUB_OFFLINE", "offline", home.path] {
                XCTAssertTrue(error.description.contains(part), "message should mention '\(part)': \(error.description)")
            }
        }
    }

    /// A snapshot whose weights blob is gone is not usable: offline, that is an error, not a crash.
    func testOfflineSnapshotWithoutWeightsIsACacheMiss() throws {
        let home = try temporaryDirectory(self)
        let snapshot = try populateCache(home: home, with: tinyModel(.bert, kind: .classification))
        try FileManager.default.removeItem(at: snapshot.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(
            try TransformerClassifier.load(
                from: ModelLocator(environment: ["HF_HOME": home.path, "HF_HUB_OFFLINE": "1"]).resolve("org/tiny"),
                kind: .classification)
        ) { error in
            guard
                case .offlineCacheMiss(model: "org/tiny", revision: "main", cache: _, tried: _, variable: "HF_HUB_OFFLINE")? =
                    error as? HubError
            else {
                return XCTFail("expected offlineCacheMiss for org/tiny, got \(error)")
            }
        }
    }
}
