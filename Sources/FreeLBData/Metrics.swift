import Foundation

/// GLUE metrics with the definitions of scikit-learn / scipy, as fractions in [0, 1] (the leaderboard shows ×100).
/// Degenerate inputs follow scikit-learn's zero-division convention: F1, MCC, Pearson and Spearman are 0 when
/// their denominator is 0 (scipy would return NaN for a constant vector; 0 keeps model selection well defined).
public enum Metrics {
    /// Classification and multiple choice: `predictions`/`labels` are class (choice) ids.
    /// Returns the task's `metrics` plus "score" (the GLUE task score: mean of the task's metrics).
    public static func compute(task: TaskSpec, predictions: [Int], labels: [Int]) throws -> [String: Double] {
        guard !task.isRegression else {
            throw DataError(.invalidArgument, field: "predictions", "task \(task.name) is a regression task; pass scores")
        }
        try checkSizes(predictions.count, labels.count)
        var r: [String: Double] = [:]
        for m in task.metrics {
            switch m {
            case "accuracy": r[m] = accuracy(predictions, labels)
            case "f1": r[m] = f1(predictions, labels)
            case "mcc": r[m] = matthewsCorrelation(predictions, labels)
            default: throw DataError(.invalidArgument, field: "metric", "metric \(m) needs scores")
            }
        }
        r["score"] = taskScore(task: task, metrics: r)
        return r
    }

    /// Regression (STS-B): pearson, spearman and their mean "score".
    public static func compute(task: TaskSpec, predictions: [Double], labels: [Double]) throws -> [String: Double] {
        guard task.isRegression else {
            throw DataError(.invalidArgument, field: "predictions", "task \(task.name) is a classification task; pass class ids")
        }
        try checkSizes(predictions.count, labels.count)
        var r = ["pearson": pearson(predictions, labels), "spearman": spearman(predictions, labels)]
        r["score"] = taskScore(task: task, metrics: r)
        return r
    }

    /// `compute` for Float scores.
    public static func compute(task: TaskSpec, predictions: [Float], labels: [Float]) throws -> [String: Double] {
        try compute(task: task, predictions: predictions.map(Double.init), labels: labels.map(Double.init))
    }

    /// MNLI: matched and mismatched accuracy, and their mean (the MNLI contribution to the GLUE score).
    public static func mnli(
        matchedPredictions: [Int], matchedLabels: [Int], mismatchedPredictions: [Int],
        mismatchedLabels: [Int]
    ) throws -> [String: Double] {
        try checkSizes(matchedPredictions.count, matchedLabels.count)
        try checkSizes(mismatchedPredictions.count, mismatchedLabels.count)
        let m = accuracy(matchedPredictions, matchedLabels), mm = accuracy(mismatchedPredictions, mismatchedLabels)
        return ["accuracy_m": m, "accuracy_mm": mm, "accuracy": (m + mm) / 2, "score": (m + mm) / 2]
    }

    /// GLUE task score: the unweighted mean of the task's metrics (MRPC/QQP: F1 and accuracy; STS-B: Pearson and
    /// Spearman; MNLI: matched and mismatched accuracy when both are given).
    public static func taskScore(task: TaskSpec, metrics: [String: Double]) -> Double {
        if task.name == "mnli", let m = metrics["accuracy_m"], let mm = metrics["accuracy_mm"] { return (m + mm) / 2 }
        let values = task.metrics.compactMap { metrics[$0] }
        return values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// The GLUE score: the mean of the nine task scores (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI;
    /// AX is not included), as on the GLUE leaderboard. `results` maps task names (any registry alias) to metric
    /// dictionaries from `compute`/`mnli`. With `requireAll`, a missing task is an error; otherwise the mean is
    /// over the tasks present.
    public static func glueScore(_ results: [String: [String: Double]], requireAll: Bool = true) throws -> Double {
        var scores: [String: Double] = [:]
        for (name, metrics) in results {
            let task = try TaskRegistry.task(named: name)
            guard TaskRegistry.glueScoreTasks.contains(task.name) else { continue }
            scores[task.name] = taskScore(task: task, metrics: metrics)
        }
        let missing = TaskRegistry.glueScoreTasks.filter { scores[$0] == nil }
        if (requireAll && !missing.isEmpty) || scores.isEmpty {
            throw DataError(
                .invalidArgument, field: "results", "GLUE score needs all nine tasks; missing: \(missing.joined(separator: ", "))"
            )
        }
        return scores.values.reduce(0, +) / Double(scores.count)
    }

    // MARK: Definitions

    public static func accuracy(_ p: [Int], _ y: [Int]) -> Double {
        guard !p.isEmpty else { return 0 }
        return Double(zip(p, y).filter { $0 == $1 }.count) / Double(p.count)
    }

    /// Binary F1 of class `positive` (sklearn `f1_score` default, positive label 1): 2TP / (2TP + FP + FN).
    public static func f1(_ p: [Int], _ y: [Int], positive: Int = 1) -> Double {
        var tp = 0, fp = 0, fn = 0
        for (a, b) in zip(p, y) {
            if a == positive && b == positive { tp += 1 } else if a == positive { fp += 1 } else if b == positive { fn += 1 }
        }
        let d = 2 * tp + fp + fn
        return d == 0 ? 0 : Double(2 * tp) / Double(d)
    }

    /// Matthews correlation, multiclass form of sklearn `matthews_corrcoef`:
    /// (c·s − Σ p_k t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²)), c = correct, s = samples, p/t = predicted/true counts.
    public static func matthewsCorrelation(_ p: [Int], _ y: [Int]) -> Double {
        var pc: [Int: Double] = [:], tc: [Int: Double] = [:]
        var c = 0.0
        for (a, b) in zip(p, y) {
            pc[a, default: 0] += 1
            tc[b, default: 0] += 1
            if a == b { c += 1 }
        }
        let s = Double(p.count)
        let keys = Set(pc.keys).union(tc.keys)
        let cov = c * s - keys.reduce(0) { $0 + (pc[$1] ?? 0) * (tc[$1] ?? 0) }
        let vp = s * s - pc.values.reduce(0) { $0 + $1 * $1 }
        let vt = s * s - tc.values.reduce(0) { $0 + $1 * $1 }
        let d = (vp * vt).squareRoot()
        return d == 0 ? 0 : cov / d
    }

    /// Pearson correlation (scipy `pearsonr`), two-pass in Double.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        guard n > 1 else { return 0 }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) {
            sxy += (a - mx) * (b - my)
            sxx += (a - mx) * (a - mx)
            syy += (b - my) * (b - my)
        }
        let d = (sxx * syy).squareRoot()
        return d == 0 ? 0 : max(-1, min(1, sxy / d))
    }

    /// Spearman rank correlation (scipy `spearmanr`): Pearson of ranks, ties get their average rank.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        pearson(ranks(x), ranks(y))
    }

    /// 1-based ranks with ties averaged (scipy `rankdata(method="average")`).
    public static func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = avg }
            i = j + 1
        }
        return r
    }

    /// Row-wise argmax of a row-major [rows, cols] array; entries with `mask` 0 are skipped
    /// (multiple choice: pass `Batch.choiceMask`). Ties pick the first.
    public static func argmax(_ logits: [Float], rows: Int, cols: Int, mask: [Int32]? = nil) -> [Int] {
        (0..<rows).map { r in
            var best = -1
            for c in 0..<cols where mask.map({ $0[r * cols + c] != 0 }) ?? true {
                if best < 0 || logits[r * cols + c] > logits[r * cols + best] { best = c }
            }
            return max(best, 0)
        }
    }

    private static func checkSizes(_ p: Int, _ y: Int) throws {
        guard p == y else {
            throw DataError(.invalidArgument, field: "predictions", "\(p) predictions for \(y) labels")
        }
        guard p > 0 else { throw DataError(.invalidArgument, field: "predictions", "no predictions") }
    }
}
