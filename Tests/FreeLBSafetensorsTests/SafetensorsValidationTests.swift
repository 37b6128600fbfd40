import Foundation
import XCTest
import FreeLBSafetensors

/// Every malformed file must produce a typed error naming the file (and tensor/field), never a crash.
final class SafetensorsValidationTests: TempDirTestCase {
    private func openError(_ url: URL, file: StaticString = #filePath, line: UInt = #line) -> SafetensorsError? {
        do {
            _ = try SafetensorsFile(url: url)
            XCTFail("opening \(url.lastPathComponent) should fail", file: file, line: line)
            return nil
        } catch let e as SafetensorsError {
            XCTAssertTrue(e.description.hasPrefix(url.path), "message names the file: \(e)", file: file, line: line)
            return e
        } catch {
            XCTFail("untyped error \(error)", file: file, line: line)
            return nil
        }
    }

    private let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    func testEmptyAndShorterThan8BytesAreTruncated() throws {
        for (name, bytes) in [("empty", [UInt8]()), ("five", [1, 2, 3, 4, 5])] {
            let url = dir.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            XCTAssertEqual(
                openError(url), .truncated(file: url.path, fileSize: bytes.count, needed: 8, what: "the 8-byte header length"))
        }
    }

    func testFileCutInsideTheHeaderIsTruncated() throws {
        // Claims a 100-byte header; the file holds 8 + 20 bytes.
        let url = try rawFile("cut-header", header: String(repeating: " ", count: 20), data: [], headerLengthOverride: 100)
        guard case .headerTooLarge = openError(url) else { return XCTFail() }  // 100 > file size 28
        let url2 = try rawFile("cut-header2", header: String(repeating: " ", count: 20), data: [], headerLengthOverride: 24)
        XCTAssertEqual(openError(url2), .truncated(file: url2.path, fileSize: 28, needed: 32, what: "the 24-byte JSON header"))
    }

    func testFileCutInsideTheDataReportsTheTensorWhoseOffsetsPassTheEnd() throws {
        let url = try rawFile("cut-data", header: good, data: [0, 0, 0, 0, 0])  // 5 of 8 data bytes
        XCTAssertEqual(openError(url), .offsetsOutOfBounds(file: url.path, tensor: "a", begin: 0, end: 8, bufferSize: 5))
    }

    func testAbsurdHeaderLengthIsRejectedBeforeReading() throws {
        let url = try rawFile("absurd", header: good, data: [UInt8](repeating: 0, count: 8), headerLengthOverride: UInt64.max)
        XCTAssertEqual(
            openError(url),
            .headerTooLarge(file: url.path, headerLength: UInt64.max, fileSize: 8 + good.utf8.count + 8, limit: 100_000_000))
        // Over the 100 MB limit even if it were smaller than the file (not creating such a file: the limit check comes first).
        let url2 = try rawFile("absurd2", header: good, data: [], headerLengthOverride: 100_000_001)
        guard case .headerTooLarge(_, 100_000_001, _, 100_000_000)? = openError(url2) else { return XCTFail() }
    }

    func testInvalidJSONHeader() throws {
        let url = try rawFile("badjson", header: #"{"a":{"dtype":"F32","#, data: [])
        guard case .invalidHeader(url.path, nil, let reason)? = openError(url) else { return XCTFail() }
        XCTAssertTrue(reason.contains("not valid JSON"), reason)
        let notObject = try rawFile("array", header: "[1,2]", data: [])
        guard case .invalidHeader(_, nil, let r2)? = openError(notObject) else { return XCTFail() }
        XCTAssertTrue(r2.contains("not a JSON object"), r2)
    }

    func testWrongFieldTypesNameTheField() throws {
        let cases: [(String, String)] = [
            (#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, "a.dtype"),
            (#"{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#, "a.shape"),
            (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, "a.shape"),
            (#"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, "a.shape"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}"#, "a.data_offsets"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":3}}"#, "__metadata__.k"),
            (#"{"a":7}"#, "a")
        ]
        for (i, (header, field)) in cases.enumerated() {
            let url = try rawFile("field\(i)", header: header, data: [UInt8](repeating: 0, count: 8))
            guard case .invalidHeader(url.path, field, _)? = openError(url) else {
                XCTFail("case \(i): expected field \(field)"); continue
            }
        }
    }

    func testUnknownDtypeNamesTensorAndDtype() throws {
        let url = try rawFile(
            "dtype", header: #"{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(openError(url), .unknownDtype(file: url.path, tensor: "w", dtype: "F128"))
    }

    func testShapeDisagreeingWithByteRange() throws {
        // [3] F32 = 12 bytes, range spans 8.
        let url = try rawFile(
            "shape", header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(
            openError(url),
            .shapeByteMismatch(file: url.path, tensor: "w", shape: [3], dtype: "F32", expectedBytes: 12, actualBytes: 8))
        // Element count overflowing Int is a header error, not a trap.
        let url2 = try rawFile(
            "overflow", header: #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#,
            data: [UInt8](repeating: 0, count: 8))
        guard case .invalidHeader(_, "w.shape", _)? = openError(url2) else { return XCTFail() }
        // begin > end
        let url3 = try rawFile(
            "reversed", header: #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, data: [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(openError(url3), .offsetsOutOfBounds(file: url3.path, tensor: "w", begin: 8, end: 0, bufferSize: 8))
    }

    func testOverlappingOffsets() throws {
        let header =
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let url = try rawFile("overlap", header: header, data: [UInt8](repeating: 0, count: 12))
        guard case .nonContiguousOffsets(url.path, "b", let reason)? = openError(url) else { return XCTFail() }
        XCTAssertTrue(reason.contains("overlap tensor 'a'"), reason)
    }

    func testGapBetweenTensorsAndTrailingBytes() throws {
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        let url = try rawFile("gap", header: gap, data: [UInt8](repeating: 0, count: 12))
        guard case .nonContiguousOffsets(url.path, "b", let reason)? = openError(url) else { return XCTFail() }
        XCTAssertTrue(reason.contains("gap of 4 bytes after tensor 'a'"), reason)

        let startGap = try rawFile(
            "startgap", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        guard case .nonContiguousOffsets(_, "a", _)? = openError(startGap) else { return XCTFail() }

        let trailing = try rawFile("trailing", header: good, data: [UInt8](repeating: 0, count: 9))
        guard case .nonContiguousOffsets(_, "a", let r2)? = openError(trailing) else { return XCTFail() }
        XCTAssertTrue(r2.contains("cover 8 bytes but the data buffer has 9"), r2)
    }

    func testMissingFileAndFolderAreCannotOpen() throws {
        let missing = dir.appendingPathComponent("nope.safetensors")
        guard case .cannotOpen(missing.path, _)? = openError(missing) else { return XCTFail() }
        guard case .cannotOpen(dir.path, "not a regular file")? = openError(dir) else { return XCTFail() }
    }

    func testGarbageFilesNeverCrash() throws {
        // Deterministic pseudo-random byte strings (LCG) with plausible small header lengths:
        // every open must either succeed or throw a SafetensorsError.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt8 { state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(state >> 56) }
        let valid = Array(good.utf8)
        for i in 0..<200 {
            var header = valid
            for _ in 0..<(1 + i % 4) { header[Int(next()) % header.count] = next() }  // corrupt 1-4 bytes
            let url = try rawFile("fuzz\(i)", header: String(decoding: header, as: UTF8.self), data: (0..<8).map { _ in next() })
            do { _ = try SafetensorsFile(url: url) } catch is SafetensorsError {} catch { XCTFail("untyped \(error)") }
        }
    }
}
