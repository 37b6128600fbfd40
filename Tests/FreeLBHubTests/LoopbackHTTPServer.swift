import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Minimal HTTP/1.1 server on 127.0.0.1 (port chosen by the kernel) for download tests.
/// Serves a fixed map of paths; supports HEAD, GET, `Range: bytes=N-`, 404, 302 redirects,
/// and cutting the connection halfway through a body. One thread per connection,
/// `Connection: close` on every response. It stops itself after `lifetime` seconds.
final class LoopbackHTTPServer: @unchecked Sendable {
    struct Route {
        var body: [UInt8] = []
        var status = 200
        var headers: [String: String] = [:]
        /// Number of upcoming GETs of this path that send only half the body, then close the connection.
        var cutGets = 0
    }

    struct LogEntry: Equatable {
        var method: String
        var path: String
        var range: String?
    }

    private let lock = NSLock()
    private var routes: [String: Route]
    private var _log: [LogEntry] = []
    private var stopped = false
    private let listenFD: Int32
    private let deadline: Date
    private let acceptThreadDone = DispatchSemaphore(value: 0)
    let port: UInt16

    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }
    var log: [LogEntry] { lock.lock(); defer { lock.unlock() }; return _log }

    init(routes: [String: Route], lifetime: TimeInterval = 30) throws {
        self.routes = routes
        self.deadline = Date().addingTimeInterval(lifetime)
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")  // loopback only
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw Failure("bind/listen: \(String(cString: strerror(errno)))")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        listenFD = fd
        port = UInt16(bigEndian: addr.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    func setRoute(_ path: String, _ route: Route) { lock.lock(); routes[path] = route; lock.unlock() }

    /// Stops accepting and waits (bounded) for the accept thread to exit.
    func stop() {
        lock.lock()
        let already = stopped
        stopped = true
        lock.unlock()
        if !already { _ = acceptThreadDone.wait(timeout: .now() + 5) }
    }

    deinit { stop() }

    private var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped || Date() > deadline }

    private func acceptLoop() {
        defer { close(listenFD); acceptThreadDone.signal() }
        while !isStopped {
            var p = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let c = accept(listenFD, nil, nil)
            if c < 0 { continue }
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            Thread.detachNewThread { [self] in handle(c) }
        }
    }

    private func handle(_ c: Int32) {
        defer { close(c) }
        // Read the request head (bodies are never sent by the client here).
        var buf = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !buf.containsHeaderEnd {
            let n = recv(c, &chunk, chunk.count, 0)
            if n <= 0 || buf.count > 65536 { return }
            buf += chunk[0..<n]
        }
        let head = String(decoding: buf, as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = head[0].split(separator: " ")
        guard requestLine.count >= 2 else { return }
        let method = String(requestLine[0])
        let path = String(requestLine[1])
        var range: String?
        for line in head.dropFirst() {
            if line.lowercased().hasPrefix("range:") { range = line.dropFirst(6).trimmingCharacters(in: .whitespaces) }
        }

        lock.lock()
        _log.append(LogEntry(method: method, path: path, range: range))
        let route = routes[path]
        var cut = false
        if method == "GET", var r = route, r.cutGets > 0 {
            r.cutGets -= 1
            routes[path] = r
            cut = true
        }
        lock.unlock()

        guard let route else {
            send(c, status: "404 Not Found", headers: ["X-Error-Code": "EntryNotFound", "Content-Length": "0"], body: [])
            return
        }
        var headers = route.headers
        let body = route.body
        if route.status != 200 {
            headers["Content-Length"] = "0"
            send(c, status: "\(route.status) Status", headers: headers, body: [])
            return
        }
        var start = 0
        var status = "200 OK"
        if let range, range.hasPrefix("bytes="), range.hasSuffix("-"), let n = Int(range.dropFirst(6).dropLast()) {
            if n >= body.count {
                send(
                    c, status: "416 Range Not Satisfiable",
                    headers: ["Content-Range": "bytes */\(body.count)", "Content-Length": "0"], body: [])
                return
            }
            start = n
            status = "206 Partial Content"
            headers["Content-Range"] = "bytes \(n)-\(body.count - 1)/\(body.count)"
        }
        let slice = Array(body[start...])
        headers["Content-Length"] = "\(slice.count)"
        if method == "HEAD" {
            send(c, status: status, headers: headers, body: [])
        } else if cut {
            send(c, status: status, headers: headers, body: Array(slice.prefix(slice.count / 2)))  // then close: a cut transfer
        } else {
            send(c, status: status, headers: headers, body: slice)
        }
    }

    private func send(_ c: Int32, status: String, headers: [String: String], body: [UInt8]) {
        var text = "HTTP/1.1 \(status)\r\nConnection: close\r\n"
        for (k, v) in headers.sorted(by: { $0.key < $1.key }) { text += "\(k): \(v)\r\n" }
        text += "\r\n"
        let bytes = Array(text.utf8) + body
        var off = 0
        while off < bytes.count {
            #if canImport(Glibc)
                let n = bytes[off...].withUnsafeBytes { Glibc.send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            #else
                let n = bytes[off...].withUnsafeBytes { Darwin.send(c, $0.baseAddress, $0.count, 0) }
            #endif
            if n <= 0 { return }
            off += n
        }
    }
}

private extension Array where Element == UInt8 {
    var containsHeaderEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 {
            return true
        }
        return false
    }
}
