#!/usr/bin/env bash
# Issue 8's grid: all-MiniLM-L6-v2 on RTE, MRPC, STS-B, CoLA × vanilla, PGD-3, FreeAT-3, FreeLB-3,
# FreeLB-3 without dropout-mask reuse × seeds 1, 2, 3. Resumable: rerun the same command.
# Finished cells' summary.json files are kept in docs/results/grid (committed) and seed the run cache,
# so the grid advances across sessions even when runs/ (checkpoints, gitignored) is gone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
set -euo pipefail
grid="${GRID_DIR:-runs/grid}"
kept=docs/results/grid
sync_summaries() {   # $1 → $2, summary.json files only
    (cd "$1" 2>/dev/null && find . -name summary.json) | while read -r f; do
        [ -f "$2/$f" ] || { mkdir -p "$2/$(dirname "$f")"; cp "$1/$f" "$2/$f"; }
    done
}
mkdir -p "$grid" "$kept"
sync_summaries "$kept" "$grid"
swift build -c release --product freelb
trap 'sync_summaries "$grid" "$kept"' EXIT
.build/release/freelb experiment --tasks "${TASKS:-rte,mrpc,stsb,cola}" \
    --methods vanilla,pgd,freeat,freelb,freelb-noreuse --seeds "${SEEDS:-1,2,3}" \
    --model "$FREELB_MINILM_DIR" --data-dir "${FREELB_DATA_DIR:-../shared/data/glue}" --output-dir "$grid" \
    --epochs 3 --batch-size 16 --learning-rate 5e-5 --warmup-ratio 0.1 --max-seq-length 128 \
    --adv-steps 3 --adv-lr 0.03 --adv-init-mag 0.05 --adv-max-norm 0.1 --threads 2 "$@"
cp "$grid/results.md" "$grid/results.json" "$kept/" 2>/dev/null || true
