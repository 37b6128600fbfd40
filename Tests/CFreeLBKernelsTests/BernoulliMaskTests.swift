// Counter-based dropout mask: deterministic, splittable by offset, keep rate as asked.
import CFreeLBKernels
import Foundation
import XCTest

final class BernoulliMaskTests: XCTestCase {
    private func mask(seed: UInt64, offset: UInt64 = 0, keep: Float, scale: Float = 2, n: Int) -> [Float] {
        var m = [Float](repeating: .nan, count: n)
        flb_bernoulli_mask(seed, offset, keep, scale, &m, n)
        return m
    }

    func testSameSeedGivesSameMaskAndOtherSeedsDiffer() {
        forEachISA { isa in
            let a = mask(seed: 42, keep: 0.5, n: 4099)
            XCTAssertEqual(a, mask(seed: 42, keep: 0.5, n: 4099), "\(isa) deterministic")
            XCTAssertNotEqual(a, mask(seed: 43, keep: 0.5, n: 4099), "\(isa) seed changes the mask")
            XCTAssertTrue(a.allSatisfy { $0 == 0 || $0 == 2 }, "\(isa) values are 0 or scale")
        }
    }

    /// Every variant (vector body, scalar tail) hashes the same counter, so the mask cannot depend
    /// on the ISA or on where a range is split.
    func testChunkedGenerationEqualsOneShotAcrossVariants() {
        let n = 10_007
        let reference = mask(seed: 7, offset: 1_000, keep: 0.9, scale: 1 / 0.9, n: n)
        forEachISA { isa in
            XCTAssertEqual(
                mask(seed: 7, offset: 1_000, keep: 0.9, scale: 1 / 0.9, n: n), reference, "\(isa) one-shot equals default variant"
            )
            var chunked = [Float](repeating: .nan, count: n)
            var start = 0
            for size in [1, 7, 13, 16, 1000, 3, 4099] + [n] {
                let len = min(size, n - start)
                if len <= 0 { break }
                chunked.withUnsafeMutableBufferPointer { buf in
                    flb_bernoulli_mask(7, 1_000 + UInt64(start), 0.9, 1 / 0.9, buf.baseAddress! + start, len)
                }
                start += len
            }
            XCTAssertEqual(chunked, reference, "\(isa) chunks at odd offsets equal one shot")
        }
    }

    /// Keep rate within 4σ, σ = sqrt(p(1−p)/n); pairs of neighbours kept together at rate p² within
    /// 4σ (no correlation between consecutive counters); p = 0 and p = 1 are exact.
    func testKeepRateAndNeighbourIndependenceWithinFourSigma() {
        let n = 1_000_000
        for p: Float in [0.1, 0.5, 0.9] {
            let m = mask(seed: 2024, offset: 123_456_789, keep: p, scale: 1, n: n)
            let kept = Double(m.reduce(0, +))
            let pd = Double(p), sigma = (pd * (1 - pd) / Double(n)).squareRoot()
            XCTAssertEqual(kept / Double(n), pd, accuracy: 4 * sigma, "keep rate for p=\(p)")
            var both = 0.0
            for i in 0..<(n - 1) where m[i] == 1 && m[i + 1] == 1 { both += 1 }
            let q = pd * pd, pairs = Double(n - 1)
            // Overlapping pairs are 1-dependent; their variance is below 3 q(1 − q)/pairs.
            XCTAssertEqual(both / pairs, q, accuracy: 4 * (3 * q * (1 - q) / pairs).squareRoot(), "neighbour pairs for p=\(p)")
        }
        XCTAssertTrue(mask(seed: 1, keep: 0, n: 999).allSatisfy { $0 == 0 }, "keep 0 drops all")
        XCTAssertTrue(mask(seed: 1, keep: 1, n: 999).allSatisfy { $0 == 2 }, "keep 1 keeps all")
    }
}
