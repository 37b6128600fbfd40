// Loading a model by folder or Hugging Face Hub id: FreeLBHub resolves the name to a local folder (the
// folder itself, the Hub cache, or a download), then FreeLBModels reads that folder.
import Foundation
import FreeLBHub
import FreeLBModels

extension TransformerClassifier {
    /// Loads `nameOrPath` (a folder, a cached or downloadable Hub id) with `load(from:kind:numLabels:seed:)`.
    /// `environment` supplies the Hub settings (HF_HOME, HF_HUB_OFFLINE, …). Returns the model and the
    /// folder it came from.
    public static func load(
        _ nameOrPath: String, kind: TaskKind, numLabels: Int? = nil, seed: UInt64 = 0,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws
        -> (model: TransformerClassifier, directory: URL)
    {
        let directory = try ModelLocator(environment: environment).resolve(nameOrPath)
        return (try load(from: directory, kind: kind, numLabels: numLabels, seed: seed), directory)
    }
}
