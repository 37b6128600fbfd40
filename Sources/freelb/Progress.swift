import Foundation
import FreeLB

/// Writes `object` as one JSON line (sorted keys) to `handle`.
func writeJSONLine(_ object: [String: Any], to handle: FileHandle) {
    handle.write(jsonLine(object) + Data("\n".utf8))
}

/// Renders run events: a live bar on a terminal, else one JSON object per line.
final class ProgressReporter {
    let json: Bool
    var totalSteps = 0
    var lastDraw = Date.distantPast

    init(json: Bool) { self.json = json }

    func emit(_ object: [String: Any]) { writeJSONLine(object, to: .standardOutput) }

    func handle(_ event: RunEvent) {
        switch event {
        case let .started(resumed, total, perEpoch, trainCount, devCount):
            totalSteps = total
            if json {
                emit([
                    "event": "start", "total_steps": total, "steps_per_epoch": perEpoch, "train_examples": trainCount,
                    "dev_examples": devCount, "resumed_from_step": resumed as Any? ?? NSNull()
                ])
            } else {
                print(
                    "training: \(trainCount) examples, \(perEpoch) steps/epoch, \(total) steps; dev: \(devCount) examples"
                        + (resumed.map { "; resuming at step \($0)" } ?? ""))
            }
        case .step(let p):
            if json {
                emit([
                    "event": "step", "step": p.step, "total_steps": p.totalSteps, "epoch": p.epoch, "loss": Double(p.loss),
                    "learning_rate": Double(p.learningRate), "tokens_per_second": p.tokensPerSecond,
                    "elapsed_seconds": p.elapsedSeconds
                ])
            } else if Date().timeIntervalSince(lastDraw) > 0.2 || p.step == p.totalSteps {
                lastDraw = Date()
                let fraction = Double(p.step) / Double(max(1, p.totalSteps))
                let width = 24
                let filled = Int(fraction * Double(width))
                let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
                let perStep = p.elapsedSeconds / Double(max(1, p.step))
                let eta = perStep * Double(p.totalSteps - p.step)
                let line = String(
                    format: "\r%@ %d/%d  epoch %d  loss %.4f  lr %.2e  %.0f tok/s  ETA %@ ", bar, p.step, p.totalSteps,
                    p.epoch + 1, p.loss, p.learningRate, p.tokensPerSecond, formatDuration(eta))
                FileHandle.standardOutput.write(Data(line.utf8))
            }
        case let .evaluation(result, mainMetric, isBest):
            if json {
                var object: [String: Any] = ["event": "eval", "step": result.step, "loss": Double(result.loss), "best": isBest]
                for (k, v) in result.metrics { object[k] = v }
                emit(object)
            } else {
                let metrics = result.metrics.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }
                print(
                    "\n  dev @ step \(result.step): loss \(String(format: "%.4f", result.loss))  "
                        + metrics.joined(separator: "  ")
                        + (isBest ? "  (best \(mainMetric))" : ""))
            }
        case .warning(let message):
            if json { emit(["event": "warning", "message": message]) } else { print("warning: " + message) }
        case let .nonFinite(bad, skipped):
            if json {
                emit([
                    "event": "nonfinite", "step": bad.step, "pass": bad.pass, "value": Double(bad.value),
                    "skipped_batches": skipped, "message": bad.description
                ])
            } else {
                print("\n  warning: \(bad.description); batch skipped (\(skipped) so far)")
            }
        case .checkpointSaved:
            break
        case .finished(let s):
            if json {
                emit([
                    "event": "done", "steps": s.steps, "interrupted": s.interrupted, "wall_seconds": s.wallSeconds,
                    "best_metric": s.bestMetric as Any? ?? NSNull(), "main_metric": s.mainMetric
                ])
            } else {
                print(
                    "\n"
                        + (s.interrupted
                            ? "interrupted at step \(s.steps); checkpoint saved, run again to resume"
                            : String(
                                format: "done: %d steps in %@; best dev %@ %.4f at step %d", s.steps,
                                formatDuration(s.wallSeconds),
                                s.mainMetric, s.bestMetric ?? .nan, s.bestStep ?? -1)))
            }
        }
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "--" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}
