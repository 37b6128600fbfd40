// Shared by every fuzz harness: the scratch file that hands each input to a file-based reader,
// and the invariant check that turns a wrong-but-accepted result into a crash libFuzzer records.
import Foundation

/// One scratch folder per fuzzing process, removed at exit.
private let scratchDirectory: URL = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-fuzz-\(getpid())")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: scratchDirectory) }
    return dir
}()

/// A file inside the scratch folder that each input overwrites (readers under test take a URL).
struct ScratchFile {
    let url: URL

    init(named name: String) {
        url = scratchDirectory.appendingPathComponent(name)
    }

    /// Writes the bytes and returns the file's URL.
    @discardableResult
    func write(_ bytes: UnsafeRawBufferPointer) -> URL {
        try! Data(bytes).write(to: url)
        return url
    }

    @discardableResult
    func write(_ text: String) -> URL {
        try! Data(text.utf8).write(to: url)
        return url
    }
}

/// An accepted input that breaks a promise of the API is a bug: stop with a message libFuzzer records.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
             file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError("fuzz invariant violated: " + message(), file: file, line: line) }
}

/// The fuzz input as a buffer (libFuzzer may pass a null pointer for an empty input).
func inputBuffer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size)
}
