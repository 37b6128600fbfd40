// Radius search (docs/method.md §13, step 2): the radius r_b of each kept example comes from the anchor
// model: the first value of the descending grid linspace(R, 1e-2, 11) ++ linspace(9e-3, 1e-4, 11) at which
// attack(anchor, r) keeps max loss ≤ ln 2.
import Foundation
import FreeLBModels

/// The radius found for one example, with the anchor's attack at that radius.
public struct RadiusSearchResult: Codable, Equatable, Sendable {
    public var radius: Float
    /// Position of `radius` in `RobustnessAnalysis.radiusGrid(R)`.
    public var gridIndex: Int
    public var anchorAttack: AttackResult
    /// The first loss above ln 2 that the anchor's attack met at the previous (larger) grid value
    /// (that attack stops there); nil at index 0.
    public var largerRadiusMaxLoss: Double?
}

extension RobustnessAnalysis {
    /// The loss threshold of the radius search: ln 2.
    public static let lossThreshold = log(2.0)

    /// linspace(R, 1e-2, 11) ++ linspace(9e-3, 1e-4, 11), descending, repeated values dropped.
    public static func radiusGrid(_ searchRadius: Float) -> [Float] {
        func linspace(_ a: Double, _ b: Double, _ n: Int) -> [Float] {
            (0..<n).map { Float(a + (b - a) * Double($0) / Double(n - 1)) }
        }
        var grid: [Float] = []
        for r in linspace(Double(searchRadius), 1e-2, 11) + linspace(9e-3, 1e-4, 11) where grid.last != r { grid.append(r) }
        return grid
    }

    /// The radius of one example (nil when the anchor's max loss exceeds ln 2 at every grid value).
    public static func findRadius(
        anchor: TransformerClassifier, example: RobustnessExample, searchRadius: Float,
        settings: AttackSettings = AttackSettings()
    ) throws -> RadiusSearchResult? {
        try findRadii(anchor: anchor, examples: [example], searchRadius: searchRadius, settings: settings)[0]
    }

    /// Walks `radiusGrid(R)` downwards for all examples at once: at each grid value the examples still
    /// without a radius are attacked (with early stop, as docs/method.md §13 asks, whatever `settings.earlyStop`
    /// says), and those whose max loss is ≤ ln 2 take that radius. An attack stops as soon as its loss passes
    /// ln 2, which decides that grid value without changing any radius.
    public static func findRadii(
        anchor: TransformerClassifier, examples: [RobustnessExample], searchRadius: Float,
        settings: AttackSettings = AttackSettings(),
        progress: (([String: Any]) -> Void)? = nil
    ) throws -> [RadiusSearchResult?] {
        guard searchRadius >= 1e-2, searchRadius.isFinite else {
            throw RobustnessError.invalidSetting(
                field: "searchRadius", value: Double(searchRadius), expected: "≥ 1e-2 and finite")
        }
        var search = settings
        search.earlyStop = true
        search.stopAboveLoss = lossThreshold  // past ln 2 the radius fails whatever the rest of the attack does
        var found = [RadiusSearchResult?](repeating: nil, count: examples.count)
        var pending = Array(examples.indices)
        var lastMaxLoss = [Double?](repeating: nil, count: examples.count)
        for (index, r) in radiusGrid(searchRadius).enumerated() where !pending.isEmpty {
            let results = try attack(anchor, examples: pending.map { examples[$0] }, radius: r, settings: search)
            var still: [Int] = []
            for (i, result) in zip(pending, results) {
                if result.maxLoss <= lossThreshold {
                    found[i] = RadiusSearchResult(
                        radius: r, gridIndex: index, anchorAttack: result, largerRadiusMaxLoss: lastMaxLoss[i])
                } else {
                    lastMaxLoss[i] = result.maxLoss
                    still.append(i)
                }
            }
            progress?([
                "event": "radius", "radius": Double(r), "attacked": pending.count, "found": pending.count - still.count,
                "pending": still.count
            ])
            pending = still
        }
        return found
    }
}
