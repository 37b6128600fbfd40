import Foundation
import XCTest
@testable import FreeLBData

/// Expected values computed once, offline, with scikit-learn 1.9.1 / scipy 1.17.1 (Python, float64):
///   from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
///   from scipy.stats import pearsonr, spearmanr
///   accuracy_score(y, p), f1_score(y, p), matthews_corrcoef(y, p)     # binary vectors below
///   accuracy_score(ym, pm), matthews_corrcoef(ym, pm)                 # 3-class vectors below
///   pearsonr(xs, ys)[0], spearmanr(xs, ys)[0]                         # scores below (with ties)
/// Tolerance 1e-12: both sides are float64 sums of ≤ 20 terms, so only last-bit rounding can differ.
final class MetricsTests: XCTestCase {
    let p = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1]
    let y = [1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1]
    let pm = [0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 2, 0]
    let ym = [0, 1, 2, 1, 1, 0, 2, 2, 1, 0, 2, 0]
    let xs = [0.5, 2.25, 3.0, 4.75, 1.0, 2.25, 3.5, 5.0, 0.0, 2.25]
    let ys = [0.0, 2.0, 3.2, 4.0, 1.4, 2.6, 3.0, 4.8, 0.2, 1.0]
    let tol = 1e-12

    func testBinaryMetricsEqualScikitLearn() throws {
        XCTAssertEqual(Metrics.accuracy(p, y), 0.75, accuracy: tol)
        XCTAssertEqual(Metrics.f1(p, y), 0.782608695652174, accuracy: tol)
        XCTAssertEqual(Metrics.matthewsCorrelation(p, y), 0.4923659639173309, accuracy: tol)
        let mrpc = try Metrics.compute(task: TaskRegistry.mrpc, predictions: p, labels: y)
        XCTAssertEqual(mrpc["f1"]!, 0.782608695652174, accuracy: tol)
        XCTAssertEqual(mrpc["accuracy"]!, 0.75, accuracy: tol)
        XCTAssertEqual(mrpc["score"]!, (0.782608695652174 + 0.75) / 2, accuracy: tol)
        let cola = try Metrics.compute(task: TaskRegistry.cola, predictions: p, labels: y)
        XCTAssertEqual(cola["mcc"]!, 0.4923659639173309, accuracy: tol)
    }

    func testMulticlassMCCEqualsScikitLearn() {
        XCTAssertEqual(Metrics.accuracy(pm, ym), 0.75, accuracy: tol)
        XCTAssertEqual(Metrics.matthewsCorrelation(pm, ym), 0.625, accuracy: tol)
    }

    func testPearsonAndSpearmanWithTiesEqualScipy() throws {
        XCTAssertEqual(Metrics.pearson(xs, ys), 0.9478804896476728, accuracy: tol)
        XCTAssertEqual(Metrics.spearman(xs, ys), 0.9387209722839687, accuracy: tol)
        XCTAssertEqual(Metrics.ranks([2.25, 0.5, 2.25, 9]), [2.5, 1, 2.5, 4], "scipy rankdata(method='average')")
        let stsb = try Metrics.compute(task: TaskRegistry.stsb, predictions: xs.map(Float.init), labels: ys.map(Float.init))
        // Float inputs: xs/ys are exact in Float except 3.2, 1.4, 2.6, 4.8, 0.2 (rel. error 6e-8), hence 1e-6.
        XCTAssertEqual(stsb["pearson"]!, 0.9478804896476728, accuracy: 1e-6)
        XCTAssertEqual(stsb["spearman"]!, 0.9387209722839687, accuracy: 1e-6)
    }

    func testDegenerateInputsFollowTheZeroDivisionConvention() {
        XCTAssertEqual(Metrics.matthewsCorrelation([1, 1, 1], [0, 1, 0]), 0, "sklearn returns 0")
        XCTAssertEqual(Metrics.f1([0, 0], [0, 0]), 0, "sklearn zero_division=0")
        XCTAssertEqual(Metrics.pearson([1, 1, 1], [1, 2, 3]), 0)
    }

    func testMNLIMatchedMismatchedAndMultipleChoiceAccuracy() throws {
        let r = try Metrics.mnli(
            matchedPredictions: [0, 1, 2, 2], matchedLabels: [0, 1, 2, 0],
            mismatchedPredictions: [1, 1], mismatchedLabels: [1, 0])
        XCTAssertEqual(r["accuracy_m"]!, 0.75, accuracy: tol)
        XCTAssertEqual(r["accuracy_mm"]!, 0.5, accuracy: tol)
        XCTAssertEqual(r["accuracy"]!, 0.625, accuracy: tol)
        let arc = try Metrics.compute(task: TaskRegistry.arcChallenge, predictions: [0, 3, 2, 4], labels: [0, 3, 1, 4])
        XCTAssertEqual(arc["accuracy"]!, 0.75, accuracy: tol)
    }

    /// BERT-Large's GLUE leaderboard test entry (Devlin et al. 2018): CoLA 60.5, SST-2 94.9, MRPC 89.3/85.4,
    /// STS-B 87.6/86.5, QQP 72.1/89.3, MNLI-m 86.7, MNLI-mm 85.9, QNLI 92.7, RTE 70.1, WNLI 65.1 -> score 80.5.
    /// Tolerance 0.05: the leaderboard rounds to one decimal.
    func testGLUEScoreReproducesTheLeaderboardAverage() throws {
        let results: [String: [String: Double]] = [
            "cola": ["mcc": 60.5], "sst-2": ["accuracy": 94.9], "mrpc": ["f1": 89.3, "accuracy": 85.4],
            "sts-b": ["pearson": 87.6, "spearman": 86.5], "qqp": ["f1": 72.1, "accuracy": 89.3],
            "mnli": ["accuracy_m": 86.7, "accuracy_mm": 85.9], "qnli": ["accuracy": 92.7], "rte": ["accuracy": 70.1],
            "wnli": ["accuracy": 65.1], "ax": ["mcc": 39.6]
        ]
        XCTAssertEqual(try Metrics.glueScore(results), 80.5, accuracy: 0.05)
        var partial = results
        partial["wnli"] = nil
        assertDataError(try Metrics.glueScore(partial), kind: .invalidArgument, line: nil, field: "results")
        XCTAssertEqual(
            try Metrics.glueScore(["sst2": ["accuracy": 0.9], "rte": ["accuracy": 0.7]], requireAll: false),
            0.8, accuracy: tol)
    }

    func testMismatchedSizesAndWrongKindsThrow() {
        assertDataError(
            try Metrics.compute(task: TaskRegistry.sst2, predictions: [1], labels: [1, 0]),
            kind: .invalidArgument, line: nil, field: "predictions")
        assertDataError(
            try Metrics.compute(task: TaskRegistry.stsb, predictions: [1], labels: [1]),
            kind: .invalidArgument, line: nil, field: "predictions")
        assertDataError(
            try Metrics.compute(task: TaskRegistry.sst2, predictions: [Int](), labels: []),
            kind: .invalidArgument, line: nil, field: "predictions")
    }
}
