// `freelb-bench step`: full training steps of an all-MiniLM-L6-v2-sized BERT, as the PyTorch peer
// (benchmarks/torch_baseline.py) measures them, and the peer itself in the same invocation
// when python3 with torch + transformers is available.
import Foundation
import FreeLB
import FreeLBBLAS
import FreeLBModels
import FreeLBNN
import FreeLBTensor

struct StepBenchOptions {
    var batch = 32, seq = 128, steps = 5, warmup = 1, threads = ComputeThreads.defaultCount
    var methods: [String] = ["vanilla", "freelb"]
    var adversarialSteps = 3  // K
    var dropout = true
    var modelDir: String?
    var peer = true
    var peerScript = "benchmarks/torch_baseline.py"
    var python = ProcessInfo.processInfo.environment["FREELB_TORCH_PYTHON"] ?? "python3"
    var json = false
    /// Engine precisions to measure; each is compared with the peer at the same precision (PyTorch fp32, and
    /// PyTorch under bf16 autocast). Default: both where bf16 can run.
    var precisions: [Precision] = MixedPrecision.bf16Unavailability == nil ? [.fp32, .bf16] : [.fp32]

    init(arguments: [String]) throws {
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < arguments.count else { throw RunError("\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--batch": batch = Int(try value()) ?? batch
            case "--seq": seq = Int(try value()) ?? seq
            case "--steps": steps = Int(try value()) ?? steps
            case "--warmup": warmup = Int(try value()) ?? warmup
            case "--threads": threads = Int(try value()) ?? threads
            case "--methods": methods = try value().split(separator: ",").map(String.init)
            case "--adv-steps": adversarialSteps = Int(try value()) ?? adversarialSteps
            case "--no-dropout": dropout = false
            case "--model-dir": modelDir = try value()
            case "--no-peer": peer = false
            case "--peer-script": peerScript = try value()
            case "--python": python = try value()
            case "--json": json = true
            case "--precision":
                let text = try value()
                precisions = try text.split(separator: ",").map {
                    guard let p = Precision(rawValue: String($0)) else {
                        throw RunError("--precision \(text): fp32, bf16 or fp32,bf16")
                    }
                    return p
                }
            default: throw RunError("unknown option \(arguments[i])")
            }
            i += 1
        }
    }
}

struct StepMeasurement: Codable {
    var engine, method: String
    var precision: Precision
    var batch, seq: Int
    var stepMedian, stepMin, tokensPerSecond: Double
    var mfu: Double
    var peakRSSMiB: Double
    var evalTokensPerSecond: Double?
}

/// MiniLM-L6 configuration (6 layers, 384 wide, 12 heads, FFN 1536, vocab 30522).
func miniLMConfiguration(dropout: Bool) -> ModelConfiguration {
    ModelConfiguration(
        vocabSize: 30522, hiddenSize: 384, numHiddenLayers: 6, numAttentionHeads: 12, intermediateSize: 1536,
        hiddenDropoutProb: dropout ? 0.1 : 0, attentionProbsDropoutProb: dropout ? 0.1 : 0,
        maxPositionEmbeddings: 512, numLabels: 2)
}

/// Forward FLOPs as the peer counts them: 2·B·S·P + L·4·B·S²·H + 2·B·(H² + H·C), P = L·(4H² + 2HI).
func forwardFLOPs(_ c: ModelConfiguration, batch: Int, seq: Int) -> Double {
    let (b, s, h, l, i) = (
        Double(batch), Double(seq), Double(c.hiddenSize), Double(c.numHiddenLayers), Double(c.intermediateSize)
    )
    let p = l * (4 * h * h + 2 * h * i)
    return 2 * b * s * p + l * 4 * b * s * s * h + 2 * b * (h * h + h * 2)
}

/// Best of `reps` 2048³ oneDNN bf16 products split over the engine's threads (as the engine runs them), in GFLOP/s.
func bf16GemmPeak(reps: Int = 10) -> Double {
    let n = 2048
    let a = [UInt16](repeating: 0x3f00, count: n * n), b = [UInt16](repeating: 0x3e80, count: n * n)
    let c = Tensor(zeros: [n, n])
    let threads = ComputeThreads.count, per = (n + threads - 1) / threads
    var best = 0.0
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            for _ in 0..<reps {
                let t = Date()
                DispatchQueue.concurrentPerform(iterations: threads) { i in
                    let rows = min(n, (i + 1) * per) - i * per
                    guard rows > 0 else { return }
                    BF16GEMM.gemm(
                        transA: false, transB: false, m: rows, n: n, k: n, a: pa.baseAddress! + i * per * n, lda: n,
                        b: pb.baseAddress!, ldb: n, c: c.data + i * per * n, ldc: n, accumulate: false)
                }
                best = max(best, 2 * pow(Double(n), 3) / Date().timeIntervalSince(t) / 1e9)
            }
        }
    }
    return best
}

/// Best of `reps` 2048³ sgemm, in GFLOP/s.
func gemmPeak(reps: Int = 10) -> Double {
    let n = 2048
    let a = Tensor(repeating: 0.5, shape: [n, n]), b = Tensor(repeating: 0.25, shape: [n, n]), c = Tensor(zeros: [n, n])
    var best = 0.0
    BLAS.setThreadCount(ComputeThreads.count)  // the peak of threaded BLAS, as the peer measures it
    defer { BLAS.setThreadCount(ComputeThreads.splitsGEMMs ? 1 : ComputeThreads.count) }
    for _ in 0..<reps {
        let t = Date()
        BLAS.sgemm(
            transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: a.data, lda: n, b: b.data, ldb: n, beta: 0, c: c.data,
            ldc: n)
        best = max(best, 2 * pow(Double(n), 3) / Date().timeIntervalSince(t) / 1e9)
    }
    return best
}

func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}

func runStepBench(_ options: StepBenchOptions) throws {
    ComputeThreads.setCount(options.threads)
    let peakBefore = gemmPeak()
    let bf16Peak = options.precisions.contains(.bf16) ? bf16GemmPeak() : nil
    var results: [StepMeasurement] = []
    for precision in options.precisions {
        try MixedPrecision.setPrecision(precision)
        defer { try? MixedPrecision.setPrecision(.fp32) }
        for methodName in options.methods {
            let config = miniLMConfiguration(dropout: options.dropout)
            let model: TransformerClassifier
            if let dir = options.modelDir {
                model = try TransformerClassifier.load(dir, kind: .classification, numLabels: 2).model
            } else {
                model = TransformerClassifier(config: config, kind: .classification, seed: 0)
                model.initializeWeights(seed: 0)
                model.prepareParameters()
            }
            if options.dropout { model.train() } else { model.eval() }
            var generator = SeededGenerator(seed: 0)
            let count = options.batch * options.seq
            let ids = (0..<count).map { _ in Int32(1000 + generator.next() % 29000) }
            let labels = (0..<options.batch).map { _ in Int32(generator.next() % 2) }
            let batch = TrainingBatch(
                input: EncoderInput(inputIds: ids, shape: [options.batch, options.seq]), labels: .classes(labels))
            let state = TrainingState(model: model, optimizer: AdamW(learningRate: 2e-5), maxGradNorm: 1, seed: 0)
            let perturbation = PerturbationConfig(norm: .l2, initMagnitude: 0.1, radius: 0.5, stepSize: 0.1)
            let method: TrainingStep
            let k = options.adversarialSteps
            var multiplier = 3.0
            switch methodName {
            case "vanilla": method = VanillaStep()
            case "freelb": method = try FreeLBStep(perturbation: perturbation, steps: k); multiplier = 3 * Double(k)
            case "pgd": method = PGDStep(perturbation: perturbation, steps: k); multiplier = 2 * Double(k) + 3
            case "freeat": method = FreeATStep(perturbation: perturbation, steps: k); multiplier = 3 * Double(k)
            case "yopo":
                method = try YOPOStep(perturbation: perturbation, steps: k, innerSteps: 3); multiplier = 3 * Double(k + 1)
            default: throw RunError("unknown method \(methodName)")
            }
            // As the Trainer runs a step: at bf16 each weight is rounded once per step.
            func step() { _ = MixedPrecision.cachingLeafCasts { method.step([batch], state: state) } }
            for _ in 0..<options.warmup { step() }
            var times: [Double] = []
            for _ in 0..<options.steps {
                let t = Date()
                step()
                times.append(Date().timeIntervalSince(t))
            }
            // Evaluation throughput: no-grad forward passes.
            model.eval()
            var evalTimes: [Double] = []
            for _ in 0..<(options.warmup + 3) {
                let t = Date()
                _ = withNoGrad { MixedPrecision.cachingLeafCasts { model(batch.input).logits } }
                evalTimes.append(Date().timeIntervalSince(t))
            }
            let sorted = times.sorted()
            let median = sorted[sorted.count / 2]
            let flops = multiplier * forwardFLOPs(config, batch: options.batch, seq: options.seq)
            let evalMedian = evalTimes.dropFirst(options.warmup).sorted()[1]
            let peak = precision == .bf16 ? (bf16Peak ?? 1) : max(peakBefore, gemmPeak())
            results.append(
                StepMeasurement(
                    engine: precision == .bf16 ? "swift-bf16" : "swift", method: methodName, precision: precision,
                    batch: options.batch, seq: options.seq, stepMedian: median, stepMin: sorted[0],
                    tokensPerSecond: Double(count) / median, mfu: flops / median / 1e9 / peak, peakRSSMiB: peakRSSMiB(),
                    evalTokensPerSecond: Double(count) / evalMedian))
        }
    }
    // The peer at each measured precision: PyTorch fp32, and PyTorch under torch.autocast("cpu", bfloat16).
    var peerResults: [String: [String: Any]] = [:]
    if options.peer {
        for precision in options.precisions {
            for methodName in options.methods where ["vanilla", "freelb", "pgd", "freeat"].contains(methodName) {
                if let r = runPeer(options, method: methodName, precision: precision) {
                    peerResults["\(methodName)/\(precision.rawValue)"] = r
                }
            }
        }
    }
    print(String(format: "GEMM peak (2048³, best of 10): %.1f GFLOP/s on %d threads", peakBefore, options.threads))
    if let bf16Peak { print(String(format: "bf16 GEMM peak (oneDNN, 2048³, best of 10): %.1f GFLOP/s", bf16Peak)) }
    print("batch×seq  method   engine        step median  step min  tokens/s  MFU    peak RSS MiB  eval tok/s")
    for r in results {
        print(
            String(
                format: "%3d×%-5d  %@  %@  %8.3f s  %7.3f s  %8.0f  %4.0f%%  %9.0f  %9.0f", r.batch, r.seq,
                r.method.padding(toLength: 7, withPad: " ", startingAt: 0) as NSString,
                r.engine.padding(toLength: 12, withPad: " ", startingAt: 0) as NSString,
                r.stepMedian, r.stepMin, r.tokensPerSecond, 100 * r.mfu, r.peakRSSMiB, r.evalTokensPerSecond ?? 0))
        if let p = peerResults["\(r.method)/\(r.precision.rawValue)"], let med = p["step_s_median"] as? Double,
            let mn = p["step_s_min"] as? Double, let rss = p["peak_rss_mib"] as? Double, let mfu = p["mfu_median"] as? Double
        {
            let peerEval = p["eval_tokens_per_s"] as? Double
            let peerName = r.precision == .bf16 ? "pytorch-bf16" : "pytorch"
            print(
                String(
                    format: "%3d×%-5d  %@  %@  %8.3f s  %7.3f s  %8.0f  %4.0f%%  %9.0f  %9@", r.batch, r.seq,
                    r.method.padding(toLength: 7, withPad: " ", startingAt: 0) as NSString,
                    peerName.padding(toLength: 12, withPad: " ", startingAt: 0) as NSString,
                    med, mn, Double(r.batch * r.seq) / med, 100 * mfu, rss,
                    (peerEval.map { String(format: "%.0f", $0) } ?? "–") as NSString))
            print(
                String(
                    format: "           ratio %@/%@: step %.2f (target ≤ 0.80), RSS %.2f (target ≤ 1)", r.engine as NSString,
                    peerName as NSString, r.stepMedian / med, r.peakRSSMiB / rss))
        }
    }
    for precision in options.precisions {
        guard let vanilla = results.first(where: { $0.method == "vanilla" && $0.precision == precision }) else { continue }
        for r in results where r.method == "freelb" && r.precision == precision {
            print(
                String(
                    format: "%@ FreeLB-%d / vanilla step time: %.2f (K × 1.05 = %.2f)", precision.rawValue as NSString,
                    options.adversarialSteps, r.stepMedian / vanilla.stepMedian,
                    Double(options.adversarialSteps) * 1.05))
        }
    }
    for precision in options.precisions {
        let peerEval = options.peer ? runPeerEvaluation(options, precision: precision) : nil
        if let swiftEval = results.first(where: { $0.precision == precision })?.evalTokensPerSecond, let peerEval {
            print(
                String(
                    format: "%@ eval (no-grad forward) tokens/s: swift %.0f, pytorch %.0f, ratio %.2f (target ≥ 1.25)",
                    precision.rawValue as NSString, swiftEval, peerEval, swiftEval / peerEval))
        }
    }
    if options.peer && peerResults.isEmpty {
        print(
            "PyTorch peer not measured: `\(options.python) -c 'import torch, transformers'` failed or \(options.peerScript) is missing."
        )
    }
    if options.json {
        let encoder = JSONEncoder()
        for r in results { print("RESULT_JSON " + String(decoding: try encoder.encode(r), as: UTF8.self)) }
    }
}

/// Runs the PyTorch peer script with the same configuration; nil when unavailable.
func runPeer(_ options: StepBenchOptions, method: String, precision: Precision) -> [String: Any]? {
    guard FileManager.default.fileExists(atPath: options.peerScript) else { return nil }
    var arguments = [
        options.peerScript, "--batch", "\(options.batch)", "--seq", "\(options.seq)", "--method", method,
        "--adv-steps", "\(options.adversarialSteps)", "--threads", "\(options.threads)", "--steps", "\(options.steps)",
        "--warmup", "\(options.warmup)"
    ]
    if let dir = options.modelDir { arguments += ["--model-dir", dir] } else { arguments += ["--config", "minilm-l6"] }
    if !options.dropout { arguments.append("--no-dropout") }
    if precision == .bf16 { arguments += ["--autocast", "bf16"] }
    guard let output = runPython(options.python, arguments) else { return nil }
    for line in output.split(separator: "\n") where line.hasPrefix("RESULT_JSON ") {
        return try? JSONSerialization.jsonObject(with: Data(line.dropFirst("RESULT_JSON ".count).utf8)) as? [String: Any]
    }
    return nil
}

/// Runs `python arguments…` and returns its stdout, or nil when it cannot start or fails.
func runPython(_ python: String, _ arguments: [String]) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [python] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
}

/// PyTorch's eval-mode, no-grad forward throughput (tokens/s) for the same model shape and batch;
/// nil when torch/transformers are unavailable. Same random-init MiniLM-L6 shape as the peer script.
func runPeerEvaluation(_ options: StepBenchOptions, precision: Precision) -> Double? {
    let script = """
        import sys, time, torch, transformers
        torch.set_num_threads(\(options.threads)); torch.manual_seed(0)
        d = sys.argv[1] if len(sys.argv) > 1 else None
        if d: m = transformers.AutoModelForSequenceClassification.from_pretrained(d, num_labels=2)
        else: m = transformers.BertForSequenceClassification(transformers.BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536, num_labels=2))
        m.eval(); ids = torch.randint(1000, 30000, (\(options.batch), \(options.seq)))
        ts = []
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=\(precision == .bf16 ? "True" : "False")):
            for i in range(\(options.warmup + 3)):
                t = time.perf_counter(); m(input_ids=ids); ts.append(time.perf_counter() - t)
        ts = sorted(ts[\(options.warmup):]); print("EVAL_TOKENS_PER_S", \(options.batch * options.seq) / ts[1])
        """
    guard let output = runPython(options.python, ["-c", script] + (options.modelDir.map { [$0] } ?? [])) else { return nil }
    for line in output.split(separator: "\n") where line.hasPrefix("EVAL_TOKENS_PER_S ") {
        return Double(line.dropFirst("EVAL_TOKENS_PER_S ".count).trimmingCharacters(in: .whitespaces))
    }
    return nil
}
