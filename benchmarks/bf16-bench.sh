#!/usr/bin/env bash
# Issue 16's measurements in one go (docs/performance.md, "bf16"): freelb-bench step at 32×128 and 16×64
# (vanilla and FreeLB-3, fp32 and bf16, each against PyTorch fp32 and PyTorch bf16 autocast), then FreeLB-3 at
# sequence 64, 128, 256 and 512 with 4096 tokens per batch. Each precision and method runs in its own process,
# as each PyTorch peer does, so that a peak RSS is that configuration's alone. Needs a release build and python with torch + transformers
# (FREELB_TORCH_PYTHON). Usage: benchmarks/bf16-bench.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
bench=.build/release/freelb-bench
out=${1:-/dev/stdout}
{
    echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    for precision in fp32 bf16; do
        for method in vanilla freelb; do
            "$bench" step --batch 32 --seq 128 --steps 5 --threads 2 --methods "$method" --precision "$precision"
            "$bench" step --batch 16 --seq 64 --steps 8 --threads 2 --methods "$method" --precision "$precision"
        done
    done
    for seq in 64 128 256 512; do
        for precision in fp32 bf16; do
            "$bench" step --batch $((4096 / seq)) --seq "$seq" --steps 3 --threads 2 --methods freelb --precision "$precision"
        done
    done
} 2>&1 | tee "$out"
