import Foundation
import XCTest
import FreeLBHub

/// Known-answer vectors from FIPS 180-4 / NIST CSRC examples (also `printf ... | sha256sum`).
final class SHA256Tests: XCTestCase {
    private func hex(_ s: String) -> String { SHA256.hex(SHA256.hash(Data(s.utf8))) }

    func testNISTVectors() {
        XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),  // 448 bits: padding spills into a 2nd block
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            hex(
                "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
            ),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    func testOneMillionAsFedInUnevenChunks() {
        // NIST: 10^6 x 'a'. Chunks of 1..127 bytes exercise the partial-block buffer.
        let data = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        var s = SHA256()
        var i = 0, step = 1
        while i < data.count {
            let n = min(step, data.count - i)
            data[i..<(i + n)].withUnsafeBytes { s.update($0) }
            i += n
            step = step % 127 + 1
        }
        XCTAssertEqual(SHA256.hex(s.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testBlockBoundaryLengthsMatchOneShot() {
        // 55, 56, 63, 64, 65 bytes hit every padding branch; streaming byte by byte must agree with one-shot.
        for n in [55, 56, 63, 64, 65, 119, 120] {
            let d = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            var s = SHA256()
            for b in d { [b].withUnsafeBytes { s.update($0) } }
            XCTAssertEqual(s.finalize(), SHA256.hash(d), "length \(n)")
        }
        // 64 x 'a' (one full block then a padding block), from `printf 'a%.0s' {1..64} | sha256sum`.
        XCTAssertEqual(hex(String(repeating: "a", count: 64)), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }
}
