#!/usr/bin/env bash
# Issue 19's second radius: the largest ε (α = ε/3, as in the grid's 0.01 / 0.03; μ 0) at which FreeLB-3
# still leaves the majority class by epoch 2 on both RTE and CoLA, seed 1, with the grid's protocol.
# "Leaves the majority class": the epoch-2 dev score beats predicting the majority class (RTE accuracy
# > 0.527, CoLA MCC > 0). Candidates are tried from the largest down; the first that passes on both
# tasks is chosen and written to docs/results/search-radius/chosen-eps. Each run is a full 3-epoch
# grid cell in runs/grid-eps-<ε>, so the chosen radius's seed-1 FreeLB-3 cells are reused by
#   ADV_MAX_NORM=<ε> ADV_LR=<ε/3> GRID_DIR=runs/grid-eps-<ε> KEPT_DIR=docs/results/grid-eps-<ε> \
#   SEEDS=1,2,3 METHODS=freelb,random scripts/results-grid.sh
# Resumable. Usage: scripts/search-radius.sh [EPS_LIST]   (default 0.1,0.06,0.045)
set -euo pipefail
cd "$(dirname "$0")/.."
candidates="${1:-0.1,0.06,0.045}"
# PRECISION=bf16 runs every cell in bf16, in folders of their own (…-bf16).
suffix="${PRECISION:+-$PRECISION}"
out="docs/results/search-radius$suffix"
mkdir -p "$out"
summary="$out/summary.md"
echo "| ε | α | RTE accuracy after epoch 1 / 2 / 3 | CoLA MCC after epoch 1 / 2 / 3 | leaves the majority class by epoch 2 |" > "$summary"
echo "|---|---|---|---|---|" >> "$summary"
epoch_scores() {   # METRICS_FILE METRIC: the metric of the epoch-end evaluations, " / "-separated
    { if [[ "$1" == *.gz ]]; then zcat "$1"; else cat "$1"; fi; } | grep '"type":"eval"' \
        | sed -E "s/.*\"$2\":([-0-9.e]+).*/\\1/" | head -3 | paste -sd'/' | sed 's#/# / #g'
}
epoch2() { echo "$1" | awk -F' / ' '{ print $2 }'; }
chosen=""
for eps in ${candidates//,/ }; do
    alpha=$(awk -v e="$eps" 'BEGIN { printf "%.6g", e / 3 }')
    ADV_MAX_NORM="$eps" ADV_LR="$alpha" GRID_DIR="runs/grid-eps-$eps$suffix" KEPT_DIR="docs/results/grid-eps-$eps$suffix" \
        TASKS=rte,cola SEEDS=1 METHODS=freelb bash scripts/results-grid.sh
    metrics() { ls "docs/results/grid-eps-$eps$suffix/$1/freelb/seed-1/"metrics.jsonl* | head -1; }
    rte=$(epoch_scores "$(metrics rte)" accuracy)
    cola=$(epoch_scores "$(metrics cola)" mcc)
    pass=$(awk -v r="$(epoch2 "$rte")" -v c="$(epoch2 "$cola")" 'BEGIN { print (r > 0.527 && c > 0) ? "yes" : "no" }')
    echo "| $eps | $alpha | $rte | $cola | $pass |" >> "$summary"
    if [ "$pass" = yes ]; then chosen="$eps"; break; fi
done
echo "${chosen:-none}" > "$out/chosen-eps"
cat "$summary"; echo "chosen ε: ${chosen:-none}"
