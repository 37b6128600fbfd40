#!/usr/bin/env bash
# Issue 19's runs, as two single-threaded workers (every step is resumable and skips finished cells, so
# rerunning the script picks up where it stopped):
#   (fp32, done) seeds 4 and 5 of vanilla and FreeLB-3 on RTE, CoLA, MRPC, STS-B:
#       SEEDS=4,5 METHODS=vanilla,freelb scripts/results-grid.sh
#   worker A: the random-perturbation control at the grid's ε (0.03), seeds 1-3, in bf16 beside the bf16
#       FreeLB-3 cells of docs/results/grid-bf16; then the multiple-choice grid (scripts/results-mc.sh);
#   worker B: the second radius: scripts/search-radius.sh in bf16, then FreeLB-3 and random at the chosen ε,
#       seeds 1-3.
# The tables: scripts/report-part2.sh (GLUE) and REPORT_ONLY=1 scripts/results-mc.sh (multiple choice).
# FREELB_BIN: a binary built from a clean checkout of a commit (else each script builds one).
# Usage: nohup setsid nice -n 19 scripts/results-part2.sh > runs/part2.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export PRECISION=bf16
(
    GRID_DIR=runs/grid-bf16 KEPT_DIR=docs/results/grid-bf16 SEEDS=1,2,3 METHODS=random bash scripts/results-grid.sh
    TASKS="${MC_TASKS:-arc-challenge,arc-easy,commonsenseqa}" bash scripts/results-mc.sh
) > runs/part2-worker-a.log 2>&1 &
(
    bash scripts/search-radius.sh
    eps=$(cat docs/results/search-radius-bf16/chosen-eps)
    if [ "$eps" != none ]; then
        alpha=$(awk -v e="$eps" 'BEGIN { printf "%.6g", e / 3 }')
        ADV_MAX_NORM="$eps" ADV_LR="$alpha" GRID_DIR="runs/grid-eps-$eps-bf16" KEPT_DIR="docs/results/grid-eps-$eps-bf16" \
            SEEDS=1,2,3 METHODS=freelb,random bash scripts/results-grid.sh
    fi
) > runs/part2-worker-b.log 2>&1 &
wait
