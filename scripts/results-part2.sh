#!/usr/bin/env bash
# Issue 19's runs, in order, one single-threaded worker (every step is resumable and skips finished
# cells, so rerunning the script picks up where it stopped):
#   1. seeds 4 and 5 of vanilla and FreeLB-3 on RTE, CoLA, MRPC, STS-B (5 seeds for the significance tests);
#   2. the random-perturbation control at the grid's ε (0.03), seeds 1-3;
#   3. the second radius: scripts/search-radius.sh, then FreeLB-3 and random at the chosen ε, seeds 1-3.
# FREELB_BIN: a binary built from a clean checkout of a commit (else the script builds one).
# Usage: nohup setsid nice -n 19 scripts/results-part2.sh > runs/part2.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=4,5 METHODS=vanilla,freelb bash scripts/results-grid.sh
SEEDS=1,2,3 METHODS=random bash scripts/results-grid.sh
bash scripts/search-radius.sh
eps=$(cat docs/results/search-radius/chosen-eps)
if [ "$eps" != none ]; then
    alpha=$(awk -v e="$eps" 'BEGIN { printf "%.6g", e / 3 }')
    ADV_MAX_NORM="$eps" ADV_LR="$alpha" GRID_DIR="runs/grid-eps-$eps" KEPT_DIR="docs/results/grid-eps-$eps" \
        SEEDS=1,2,3 METHODS=freelb,random bash scripts/results-grid.sh
fi
