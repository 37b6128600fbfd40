import Foundation

/// Errors from model resolution; each says what was tried and how to fix it.
public enum HubError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// `nameOrPath` looks like a path (starts with `/`, `.` or `~`) but nothing is there.
    case localPathNotFound(path: String)
    /// `nameOrPath` exists but is a file, not a folder.
    case notAFolder(path: String)
    /// Neither a folder nor a valid `org/name` model id.
    case invalidModelID(String, reason: String)
    /// Offline (`HF_HUB_OFFLINE` / `TRANSFORMERS_OFFLINE`) and the cache has no usable snapshot.
    case offlineCacheMiss(model: String, revision: String, cache: String, tried: [String], variable: String)
    /// The Hub could not be reached (DNS, refused, timeout) and the cache has no usable snapshot.
    case hubUnreachable(model: String, revision: String, url: String, reason: String, cache: String)
    /// HTTP error status for a file the model needs (404 of a required file, 401/403, 5xx).
    case httpStatus(url: String, status: Int, message: String)
    /// None of the weights files in the requested list exists in the repository.
    case noWeightsFile(model: String, revision: String, tried: [String])
    /// The server gave no `X-Repo-Commit` (or an unusable header value).
    case badServerHeader(url: String, header: String, value: String?)
    /// Downloaded byte count differs from `Content-Length` / `X-Linked-Size`.
    case sizeMismatch(url: String, expected: Int64, actual: Int64)
    /// SHA-256 of the download differs from the ETag (LFS files); the bytes were discarded.
    case checksumMismatch(url: String, expected: String, actual: String)
    /// The transfer kept failing after `attempts` tries (a partial `.incomplete` file is kept for resuming).
    case downloadFailed(url: String, attempts: Int, bytesSoFar: Int64, reason: String)
    /// A local file-system operation on the cache failed.
    case fileSystem(path: String, reason: String)

    public var description: String {
        switch self {
        case let .localPathNotFound(path):
            return
                "model path '\(path)' does not exist. Pass an existing folder holding config.json and model.safetensors, or a Hub model id like 'bert-base-uncased'."
        case let .notAFolder(path):
            return "model path '\(path)' is a file; pass the folder that holds config.json and model.safetensors."
        case let .invalidModelID(id, reason):
            return
                "'\(id)' is not a local folder and not a valid Hub model id (\(reason)). Use 'name' or 'org/name', or an existing folder."
        case let .offlineCacheMiss(model, revision, cache, tried, variable):
            return """
                cannot find model '\(model)' (revision \(revision)) offline: it is not a local folder and the \
                Hugging Face cache has no snapshot with config.json and weights. Looked at: \(tried.joined(separator: ", ")). \
                Downloading is disabled because \(variable) is set. Fix: pass a local folder with the model files, \
                unset \(variable) to download, or pre-populate the cache at \(cache) \
                (e.g. `huggingface-cli download \(model)` on a machine with network access).
                """
        case let .hubUnreachable(model, revision, url, reason, cache):
            return """
                cannot download model '\(model)' (revision \(revision)): \(url) failed: \(reason). \
                The cache at \(cache) has no usable snapshot. Fix: check the network or HF_ENDPOINT, \
                pass a local folder with the model files, or pre-populate the cache.
                """
        case let .httpStatus(url, status, message):
            var hint = ""
            if status == 401 || status == 403 {
                hint =
                    " The model may be private or gated; download it with `huggingface-cli login && huggingface-cli download` and pass the folder."
            }
            if status == 404 { hint = " Check the model id, the revision and the file name." }
            return "HTTP \(status) for \(url)\(message.isEmpty ? "" : ": \(message)").\(hint)"
        case let .noWeightsFile(model, revision, tried):
            return
                "model '\(model)' (revision \(revision)) has none of the weights files \(tried); only safetensors checkpoints are supported."
        case let .badServerHeader(url, header, value):
            return
                "\(url): response header \(header) is \(value.map { "'\($0)'" } ?? "missing"); is the endpoint a Hugging Face Hub?"
        case let .sizeMismatch(url, expected, actual):
            return
                "\(url): downloaded \(actual) bytes but the server announced \(expected); the partial file was kept for resuming, retry."
        case let .checksumMismatch(url, expected, actual):
            return
                "\(url): SHA-256 \(actual) does not match the ETag \(expected); the download was discarded, retry (a proxy may be altering files)."
        case let .downloadFailed(url, attempts, bytes, reason):
            return
                "\(url): download failed after \(attempts) attempt(s) with \(bytes) bytes received: \(reason). Retry to resume from the partial file."
        case let .fileSystem(path, reason):
            return "\(path): \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
