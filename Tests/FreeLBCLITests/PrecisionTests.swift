// `--precision bf16` through the CLI: recorded in run_config.json, kept on resume (exactly), refused with its
// reason where bf16 cannot run, and the saved weights stay fp32 safetensors.
import Foundation
import FreeLBTensor
import XCTest

final class PrecisionTests: XCTestCase {
    private func trainArguments(model: URL, data: URL, output: URL, maxSteps: Int, precision: String) -> [String] {
        [
            "train", "--model", model.path, "--task", "sst2", "--data-dir", data.path, "--output-dir", output.path,
            "--max-seq-length", "16", "--batch-size", "8", "--max-steps", "\(maxSteps)", "--eval-steps", "2",
            "--learning-rate", "5e-3", "--warmup-steps", "1", "--method", "freelb", "--adv-steps", "2",
            "--adv-init-mag", "0.5", "--adv-lr", "0.1", "--threads", "1", "--precision", precision
        ]
    }

    func testBF16RunIsRecordedResumesExactlyAndSavesFP32Weights() throws {
        if let why = MixedPrecision.bf16Unavailability { throw XCTSkip("\(why)") }
        let root = try temporaryDirectory(self)
        let model = root.appendingPathComponent("model"), data = root.appendingPathComponent("data")
        try TinyTask.writeModel(to: model)
        try TinyTask.writeSST2(to: data, train: 48, dev: 16, test: 4)

        let straight = root.appendingPathComponent("straight")
        let a = try CLI.run(trainArguments(model: model, data: data, output: straight, maxSteps: 4, precision: "bf16"))
        XCTAssertEqual(a.status, 0, a.stderr)
        let config = try readJSONObject(straight.appendingPathComponent("run_config.json"))
        XCTAssertEqual(config["precision"] as? String, "bf16")

        // 2 steps, then the same command with --max-steps 4: the same weights, bit for bit.
        let resumed = root.appendingPathComponent("resumed")
        let first = try CLI.run(trainArguments(model: model, data: data, output: resumed, maxSteps: 2, precision: "bf16"))
        XCTAssertEqual(first.status, 0, first.stderr)
        let changed = try CLI.run(trainArguments(model: model, data: data, output: resumed, maxSteps: 4, precision: "fp32"))
        XCTAssertNotEqual(changed.status, 0, "resuming a bf16 run at fp32 must be refused")
        XCTAssertTrue(changed.stderr.contains("precision"), changed.stderr)
        let second = try CLI.run(trainArguments(model: model, data: data, output: resumed, maxSteps: 4, precision: "bf16"))
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(
            try differingTensors(
                straight.appendingPathComponent("final/model.safetensors"),
                resumed.appendingPathComponent("final/model.safetensors")), [])

        // The same run at fp32 lands close to, but not on, the bf16 weights; both are fp32 files.
        let fp32 = root.appendingPathComponent("fp32")
        let c = try CLI.run(trainArguments(model: model, data: data, output: fp32, maxSteps: 4, precision: "fp32"))
        XCTAssertEqual(c.status, 0, c.stderr)
        let bf16Weights = try tensorBits(straight.appendingPathComponent("final/model.safetensors"))
        let fp32Weights = try tensorBits(fp32.appendingPathComponent("final/model.safetensors"))
        XCTAssertEqual(Set(bf16Weights.keys), Set(fp32Weights.keys))
        var worst: Float = 0
        for (name, tensor) in fp32Weights {
            let other = try XCTUnwrap(bf16Weights[name])
            for (x, y) in zip(tensor.bits, other.bits) {
                let (p, q) = (Float(bitPattern: x), Float(bitPattern: y))
                XCTAssertTrue(q.isFinite, name)
                worst = max(worst, abs(p - q))
            }
        }
        XCTAssertGreaterThan(worst, 0, "bf16 changed the arithmetic")
        // AdamW moves a weight by about lr per step whatever the gradient, so two runs of 4 steps at lr 5e-3 can
        // differ by up to 2 · 4 · 5e-3 = 4e-2 where a tiny gradient flips sign.
        XCTAssertLessThan(worst, 4e-2)
    }

    func testBF16WhereItCannotRunIsRefusedWithTheReason() throws {
        let root = try temporaryDirectory(self)
        let model = root.appendingPathComponent("model"), data = root.appendingPathComponent("data")
        try TinyTask.writeModel(to: model)
        try TinyTask.writeSST2(to: data, train: 8, dev: 8, test: 4)
        setenv("FREELB_DISABLE_BF16", "1", 1)
        defer { unsetenv("FREELB_DISABLE_BF16") }
        let output = root.appendingPathComponent("run")
        let result = try CLI.run(trainArguments(model: model, data: data, output: output, maxSteps: 1, precision: "bf16"))
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(
            result.stderr.contains("--precision bf16: bf16 precision is unavailable: disabled by FREELB_DISABLE_BF16"),
            result.stderr)
        let evaluate = try CLI.run([
            "evaluate", "--model", model.path, "--task", "sst2", "--data-dir", data.path, "--precision", "bf16"
        ])
        XCTAssertEqual(evaluate.status, 1)
        XCTAssertTrue(evaluate.stderr.contains("bf16 precision is unavailable"), evaluate.stderr)
    }
}
