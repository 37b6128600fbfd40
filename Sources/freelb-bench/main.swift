// freelb-bench: performance measurements for the FreeLB engine.
//   freelb-bench [kernels] [--json] [--reps N] [--no-numpy]
// Subcommands are dispatched on the first argument (default: kernels).
import Foundation

let benchUsage = """
    usage: freelb-bench [subcommand] [options]
    subcommands:
      kernels   GEMM GFLOP/s at transformer shapes (vs numpy when python3 + numpy are on PATH),
                GB/s of the GELU / softmax / LayerNorm / dropout-mask C kernels on 1 and N threads
      step      full training steps (vanilla, FreeLB-K, PGD, FreeAT, YOPO) of an all-MiniLM-L6-v2-sized
                model, with the PyTorch peer (benchmarks/torch_baseline.py) in the same run when
                python3 has torch + transformers (FREELB_TORCH_PYTHON picks the interpreter)
    options (step): --batch 32 --seq 128 --steps 5 --warmup 1 --threads N --methods vanilla,freelb
                    --adv-steps 3 --no-dropout --model-dir DIR --no-peer --peer-script PATH --json
                    --precision fp32,bf16 (default: both where bf16 runs; bf16 is compared with PyTorch
                    under bf16 autocast, fp32 with PyTorch fp32)
    options (kernels):
      --json        one JSON object per measurement instead of a table
      --reps N      timed repetitions per measurement (median reported; default 7)
      --no-numpy    skip the numpy comparison
    """

var arguments = Array(CommandLine.arguments.dropFirst())
let subcommand = arguments.first.map { $0.hasPrefix("-") ? "kernels" : $0 } ?? "kernels"
if let first = arguments.first, !first.hasPrefix("-") { arguments.removeFirst() }

switch subcommand {
case "kernels":
    do {
        let options = try KernelBenchOptions(arguments: arguments)
        runKernelBench(options)
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n\(benchUsage)\n".utf8))
        exit(2)
    }
case "step":
    do {
        try runStepBench(try StepBenchOptions(arguments: arguments))
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n\(benchUsage)\n".utf8))
        exit(2)
    }
case "help", "-h", "--help":
    print(benchUsage)
default:
    FileHandle.standardError.write(Data("error: unknown subcommand '\(subcommand)'\n\(benchUsage)\n".utf8))
    exit(2)
}
