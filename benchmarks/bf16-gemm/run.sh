#!/usr/bin/env bash
# Builds and runs gemm_bf16.c on 2 threads (OpenBLAS and oneDNN's OpenMP). Needs libdnnl-dev and
# libopenblas-dev (apt). Usage: benchmarks/bf16-gemm/run.sh [REPS]
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -O2 -o "$out/gemm_bf16" gemm_bf16.c $(pkg-config --cflags --libs openblas) -ldnnl -lm
OPENBLAS_NUM_THREADS=${THREADS:-2} OMP_NUM_THREADS=${THREADS:-2} "$out/gemm_bf16" "${1:-9}"
