// Helpers shared by the fixture tests: nested JSON arrays from batch.json, and closeness asserts
// that report the worst element.
import Foundation
import XCTest

/// Nested JSON integer arrays → flat values and shape.
public func flatten(_ value: Any) -> (values: [Int32], shape: [Int]) {
    if let array = value as? [Any] {
        var values: [Int32] = []
        var inner: [Int] = []
        for element in array {
            let (v, s) = flatten(element)
            values += v
            inner = s
        }
        return (values, [array.count] + inner)
    }
    return ([Int32((value as! NSNumber).intValue)], [])
}

/// Nested JSON number arrays → flat Float values.
public func flattenFloats(_ value: Any) -> [Float] {
    if let array = value as? [Any] { return array.flatMap(flattenFloats) }
    return [(value as! NSNumber).floatValue]
}

/// Asserts |a − b| ≤ atol + rtol·|b| elementwise and reports the largest deviation.
public func assertClose(
    _ actual: [Float], _ expected: [Float], atol: Float, rtol: Float, _ what: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "\(what): element count", file: file, line: line)
    var worst: Float = 0, worstIndex = 0
    for i in 0..<min(actual.count, expected.count) {
        let excess = abs(actual[i] - expected[i]) - rtol * abs(expected[i])
        if excess > worst { worst = excess; worstIndex = i }
    }
    if worst > atol {
        XCTFail(
            "\(what): index \(worstIndex) got \(actual[worstIndex]), expected \(expected[worstIndex]) (excess \(worst) > atol \(atol))",
            file: file, line: line)
    }
}
