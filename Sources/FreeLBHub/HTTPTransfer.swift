import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Synchronous HTTP over URLSession: HEAD without following redirects (the Hub puts
/// `X-Repo-Commit`, `X-Linked-Etag`, `X-Linked-Size` on the 302 of LFS files), and
/// GET streamed into a file, optionally resuming with `Range: bytes=N-`.
final class HTTPTransfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Head {
        var status: Int
        var headers: [String: String]  // lowercased names
        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    enum GetOutcome {
        /// 200 or 206 and the transfer ended cleanly; `appended` tells whether the file was extended.
        case completed(status: Int)
        /// Any HTTP status other than 200/206 (body discarded).
        case httpStatus(Int, Head)
        /// Transport error (refused, reset, cut mid-body, timeout); bytes written so far stay in the file.
        case transportError(String)
    }

    private let followRedirects: Bool
    private let rangeHeader: String?
    private var sink: FileHandle?
    private var resumeOffset: Int64 = 0
    private let done = DispatchSemaphore(value: 0)
    private var response: HTTPURLResponse?
    private var error: Error?
    private var writeError: String?
    private var acceptedBody = false

    private init(followRedirects: Bool, rangeHeader: String?) {
        self.followRedirects = followRedirects
        self.rangeHeader = rangeHeader
    }

    static func configuration(timeout: TimeInterval) -> URLSessionConfiguration {
        let c = URLSessionConfiguration.ephemeral
        c.timeoutIntervalForRequest = timeout
        c.requestCachePolicy = .reloadIgnoringLocalCacheData
        c.urlCache = nil
        return c
    }

    private static func request(_ url: URL, method: String, range: String?, timeout: TimeInterval) -> URLRequest {
        var r = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        r.httpMethod = method
        r.setValue("identity", forHTTPHeaderField: "Accept-Encoding")  // sizes and ranges are of the raw bytes
        r.setValue("freelb-swift/1", forHTTPHeaderField: "User-Agent")
        if let range { r.setValue(range, forHTTPHeaderField: "Range") }
        return r
    }

    /// HEAD `url`; redirects are not followed. Throws only on transport errors (as a String reason).
    static func head(_ url: URL, timeout: TimeInterval) -> Result<Head, TransportFailure> {
        let t = HTTPTransfer(followRedirects: false, rangeHeader: nil)
        let session = URLSession(configuration: configuration(timeout: timeout), delegate: t, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        session.dataTask(with: request(url, method: "HEAD", range: nil, timeout: timeout)).resume()
        t.done.wait()
        if let r = t.response { return .success(Head(status: r.statusCode, headers: lowercased(r))) }
        return .failure(TransportFailure(reason: t.error.map(describe) ?? "no response"))
    }

    /// GET `url` into `file`, starting at byte `offset` (a Range request when > 0).
    /// 206 appends at `offset`; 200 rewrites the file from byte 0.
    static func get(_ url: URL, into file: URL, offset: Int64, timeout: TimeInterval) -> GetOutcome {
        let range = offset > 0 ? "bytes=\(offset)-" : nil
        let t = HTTPTransfer(followRedirects: true, rangeHeader: range)
        t.resumeOffset = offset
        let session = URLSession(configuration: configuration(timeout: timeout), delegate: t, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        if !FileManager.default.fileExists(atPath: file.path) {
            _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        }
        do {
            t.sink = try FileHandle(forWritingTo: file)
        } catch {
            return .transportError("cannot open \(file.path) for writing: \(error.localizedDescription)")
        }
        defer { try? t.sink?.close() }
        session.dataTask(with: request(url, method: "GET", range: range, timeout: timeout)).resume()
        t.done.wait()
        if let w = t.writeError { return .transportError(w) }
        guard let r = t.response else { return .transportError(t.error.map(describe) ?? "no response") }
        if !t.acceptedBody { return .httpStatus(r.statusCode, Head(status: r.statusCode, headers: lowercased(r))) }
        if let e = t.error { return .transportError(describe(e)) }
        return .completed(status: r.statusCode)
    }

    struct TransportFailure: Error { var reason: String }

    private static func lowercased(_ r: HTTPURLResponse) -> [String: String] {
        var h: [String: String] = [:]
        for (k, v) in r.allHeaderFields { h[String(describing: k).lowercased()] = String(describing: v) }
        return h
    }

    private static func describe(_ e: Error) -> String {
        let ns = e as NSError
        return "\(ns.localizedDescription) (\(ns.domain) \(ns.code))"
    }

    // MARK: URLSession delegate

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
    ) {
        guard followRedirects else { return completionHandler(nil) }
        var r = request
        if let rangeHeader { r.setValue(rangeHeader, forHTTPHeaderField: "Range") }
        completionHandler(r)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        let http = response as? HTTPURLResponse
        self.response = http
        guard let http, let sink else { return completionHandler(http == nil ? .cancel : .allow) }  // HEAD: no sink
        do {
            switch http.statusCode {
            case 206:
                // Content-Range must start where the partial file ends.
                let cr =
                    (http.allHeaderFields.first { String(describing: $0.key).lowercased() == "content-range" }?.value as? String)
                    ?? ""
                guard cr.hasPrefix("bytes \(resumeOffset)-") else {
                    writeError = "unexpected Content-Range '\(cr)' for a resume at byte \(resumeOffset)"
                    return completionHandler(.cancel)
                }
                try sink.truncate(atOffset: UInt64(resumeOffset))
                try sink.seek(toOffset: UInt64(resumeOffset))
            case 200:
                try sink.truncate(atOffset: 0)  // server ignored the Range: start over
            default:
                return completionHandler(.cancel)
            }
        } catch {
            writeError = "cannot prepare the partial file: \(error.localizedDescription)"
            return completionHandler(.cancel)
        }
        acceptedBody = true
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard acceptedBody, writeError == nil, let sink else { return }
        do {
            try sink.write(contentsOf: data)
        } catch {
            writeError = "cannot write the partial file: \(error.localizedDescription)"
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if response == nil, let r = task.response as? HTTPURLResponse { response = r }
        self.error = error
        done.signal()
    }
}
