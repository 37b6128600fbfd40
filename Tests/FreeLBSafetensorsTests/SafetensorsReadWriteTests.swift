import Foundation
import XCTest
import FreeLBSafetensors

/// Fresh temporary folder per test, removed afterwards.
class TempDirTestCase: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Writes `u64le(header.count) + header + data` by hand (no padding unless the caller adds it).
    func rawFile(_ name: String, header: String, data: [UInt8], headerLengthOverride: UInt64? = nil) throws -> URL {
        let h = Array(header.utf8)
        var bytes: [UInt8] = []
        var n = (headerLengthOverride ?? UInt64(h.count)).littleEndian
        withUnsafeBytes(of: &n) { bytes += $0 }
        bytes += h
        bytes += data
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func leBytes(_ values: [UInt16]) -> [UInt8] { values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }
    func leBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v -> [UInt8] in
            let b = v.bitPattern; return (0..<4).map { UInt8((b >> (8 * $0)) & 0xFF) }
        }
    }
    func leBytes(_ values: [Int64]) -> [UInt8] {
        values.flatMap { v -> [UInt8] in
            let b = UInt64(bitPattern: v); return (0..<8).map { UInt8((b >> (8 * UInt64($0))) & 0xFF) }
        }
    }
}

final class SafetensorsReadWriteTests: TempDirTestCase {
    func testRoundTripPreservesNamesShapesValuesAndMetadataBitExactly() throws {
        let a = NamedTensor(
            name: "bert.encoder.layer.0.attention.self.query.weight", shape: [2, 3], values: [1, -2.5, 3e-8, .pi, -0.0, 65504])
        let b = NamedTensor(name: "classifier.bias", shape: [3], values: [0.1, 0.2, 0.3])
        let s = NamedTensor(name: "scalar", shape: [], values: [42])
        let e = NamedTensor(name: "empty", shape: [0, 4], values: [])
        let url = dir.appendingPathComponent("rt.safetensors")
        try SafetensorsWriter.write([a, b, s, e], metadata: ["format": "pt", "note": "quote \" and \\ and \n"], to: url)

        let f = try SafetensorsFile(url: url)
        XCTAssertEqual(f.names, ["bert.encoder.layer.0.attention.self.query.weight", "classifier.bias", "empty", "scalar"])
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "quote \" and \\ and \n"])
        // Float32 written and read as raw bits: exact equality, including -0.0.
        for t in [a, b, s, e] {
            XCTAssertEqual(try f.info(t.name).dtype, .f32)
            XCTAssertEqual(try f.info(t.name).shape, t.shape)
            XCTAssertEqual(try f.floats(t.name).map(\.bitPattern), t.values.map(\.bitPattern), t.name)
        }
        XCTAssertEqual(try f.tensor("classifier.bias"), b)
    }

    func testWriterLaysOutKeysSortedContiguouslyWithHeaderPaddedToMultipleOf8() throws {
        let url = dir.appendingPathComponent("layout.safetensors")
        try SafetensorsWriter.write(
            [
                NamedTensor(name: "b", shape: [2], values: [1, 2]),
                NamedTensor(name: "a", shape: [1], values: [3])
            ], to: url)
        let bytes = [UInt8](try Data(contentsOf: url))
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        XCTAssertEqual(n % 8, 0, "header length must be a multiple of 8")
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        // Same bytes the reference (Rust) serializer produces, then space padding.
        let compact =
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        XCTAssertEqual(header.trimmingCharacters(in: .whitespaces), compact)
        XCTAssertTrue(header.hasPrefix(compact) && header.dropFirst(compact.count).allSatisfy { $0 == " " })
        XCTAssertEqual(bytes.count, 8 + n + 12)
        XCTAssertEqual(Array(bytes[(8 + n)...]), leBytes([3, 1, 2] as [Float]), "a's data first, then b's")
    }

    func testReadsFloatsIntoCallerBufferAndRejectsWrongSize() throws {
        let url = dir.appendingPathComponent("buf.safetensors")
        try SafetensorsWriter.write([NamedTensor(name: "w", shape: [2, 2], values: [1, 2, 3, 4])], to: url)
        let f = try SafetensorsFile(url: url)
        var out = [Float](repeating: 0, count: 4)
        try out.withUnsafeMutableBufferPointer { try f.readFloats("w", into: $0) }
        XCTAssertEqual(out, [1, 2, 3, 4])
        var small = [Float](repeating: 0, count: 3)
        XCTAssertThrowsError(try small.withUnsafeMutableBufferPointer { try f.readFloats("w", into: $0) }) {
            XCTAssertEqual($0 as? SafetensorsError, .destinationSizeMismatch(file: url.path, tensor: "w", expected: 4, actual: 3))
        }
        XCTAssertThrowsError(try f.floats("nope")) {
            XCTAssertEqual($0 as? SafetensorsError, .tensorNotFound(file: url.path, tensor: "nope"))
        }
    }

    func testDecodesF16ExactlyIncludingSubnormalsInfinitiesAndNaN() throws {
        // Expected values: Python struct.unpack('<e', ...) of each bit pattern (exact in Float32).
        let bits: [UInt16] = [0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x8000, 0x7C00, 0xFC00, 0x7E00]
        let expected: [Float] = [
            1.0, -2.0, 0.333251953125, 65504.0, 5.960464477539063e-08, 6.097555160522461e-05,
            6.103515625e-05, -0.0, .infinity, -.infinity, .nan
        ]
        let url = try rawFile(
            "f16.safetensors", header: #"{"h":{"dtype":"F16","shape":[11],"data_offsets":[0,22]}}"#, data: leBytes(bits))
        let got = try SafetensorsFile(url: url).floats("h")
        XCTAssertEqual(got.count, 11)
        for (g, e) in zip(got, expected) {
            if e.isNaN { XCTAssertTrue(g.isNaN) } else { XCTAssertEqual(g.bitPattern, e.bitPattern, "\(g) vs \(e)") }
        }
    }

    func testDecodesBF16AsUpperHalfOfFloat32() throws {
        // Expected values: Python struct.unpack('<f', pack('<I', b << 16)).
        let bits: [UInt16] = [0x3F80, 0xC040, 0x3EAB, 0x7F7F, 0x0001, 0x4049]
        let expected: [Float] = [
            1.0, -3.0, 0.333984375, 3.3895313892515355e+38, 0x1p-133 /* = 9.183549615799121e-41 */, 3.140625
        ]
        // A leading F32 tensor puts the [2, 3] BF16 data at buffer offset 4.
        let url = try rawFile(
            "bf16.safetensors",
            header:
                #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2,3],"data_offsets":[4,16]}}"#,
            data: leBytes([7] as [Float]) + leBytes(bits))
        let f = try SafetensorsFile(url: url)
        XCTAssertEqual(try f.info("b").dtype, .bf16)
        XCTAssertEqual(try f.info("b").shape, [2, 3])
        XCTAssertEqual(try f.floats("b").map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(try f.floats("x"), [7])
    }

    func testReadsI64PositionIdsAndRefusesThemAsFloats() throws {
        let ids: [Int64] = [0, 1, 2, -5, Int64.max]
        // The 1-byte header padding below makes the I64 data start at an unaligned address: loads must not trap.
        let url = try rawFile(
            "ids.safetensors",
            header:
                #"{"embeddings.position_ids":{"dtype":"I64","shape":[1,5],"data_offsets":[0,40]},"m":{"dtype":"I32","shape":[2],"data_offsets":[40,48]}} "#,
            data: leBytes(ids) + [0xFF, 0xFF, 0xFF, 0xFF, 3, 0, 0, 0])
        let f = try SafetensorsFile(url: url)
        XCTAssertEqual(try f.info("embeddings.position_ids").dtype, .i64)
        XCTAssertEqual(try f.integers("embeddings.position_ids"), ids)
        XCTAssertEqual(try f.integers("m"), [-1, 3])
        XCTAssertThrowsError(try f.floats("embeddings.position_ids")) {
            XCTAssertEqual(
                $0 as? SafetensorsError,
                .unsupportedConversion(file: url.path, tensor: "embeddings.position_ids", dtype: "I64", to: "Float32"))
        }
    }

    // MARK: - Atomic write

    func testAtomicWriteLeavesNoTemporaryFileBehind() throws {
        let url = dir.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write([NamedTensor(name: "w", shape: [3], values: [1, 2, 3])], to: url)
        try SafetensorsWriter.write([NamedTensor(name: "w", shape: [3], values: [4, 5, 6])], to: url)  // overwrite
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"])
        XCTAssertEqual(try SafetensorsFile(url: url).floats("w"), [4, 5, 6])
    }

    func testFailedWriteDoesNotClobberExistingFile() throws {
        let url = dir.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write([NamedTensor(name: "w", shape: [3], values: [1, 2, 3])], to: url)
        let before = try Data(contentsOf: url)
        // values.count (2) != product(shape) (3): rejected before anything is written.
        XCTAssertThrowsError(try SafetensorsWriter.write([NamedTensor(name: "w", shape: [3], values: [9, 9])], to: url)) {
            guard case .invalidTensor(url.path, "w", _)? = $0 as? SafetensorsError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(
            try SafetensorsWriter.write(
                [NamedTensor(name: "w", shape: [1], values: [1]), NamedTensor(name: "w", shape: [1], values: [2])], to: url))
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"])
    }

    func testWriteFailingAtRenameRemovesTemporaryAndKeepsDestination() throws {
        // The destination is a non-empty folder: the temporary is fully written and fsync'ed, then rename fails.
        let target = dir.appendingPathComponent("out.safetensors")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data([1, 2, 3]).write(to: target.appendingPathComponent("keep"))
        XCTAssertThrowsError(try SafetensorsWriter.write([NamedTensor(name: "w", shape: [1], values: [1])], to: target)) {
            guard case .writeFailed(target.path, let reason)? = $0 as? SafetensorsError else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("rename"), reason)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.safetensors"])
        XCTAssertEqual(try Data(contentsOf: target.appendingPathComponent("keep")), Data([1, 2, 3]))
    }

    func testWriteIntoMissingFolderFailsWithTypedError() {
        let url = dir.appendingPathComponent("no/such/folder/x.safetensors")
        XCTAssertThrowsError(try SafetensorsWriter.write([NamedTensor(name: "w", shape: [1], values: [1])], to: url)) {
            guard case .writeFailed(url.path, _)? = $0 as? SafetensorsError else { return XCTFail("\($0)") }
        }
    }
}
