#!/usr/bin/env bash
# Issue 8's hyper-parameter search (docs/results.md, "Search"): FreeLB-3 on CoLA dev, seed 1, with the
# grid's budget (3 epochs, batch 16, lr 5e-5, warmup 0.1, max length 128, length-grouped batches),
# three perturbation settings against vanilla. Two single-threaded workers run side by side.
# Resumable: rerun the same command. Summaries are kept in docs/results/search.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
set -euo pipefail
out="${SEARCH_DIR:-runs/search}"
kept=docs/results/search
source scripts/grid-common.sh
mkdir -p "$out" "$kept"
sync_cells "$kept" "$out"
swift build -c release --product freelb
trap 'sync_cells "$out" "$kept"' EXIT

search() {   # NAME METHOD FLAGS...
    local name=$1 method=$2; shift 2
    .build/release/freelb experiment --tasks cola --methods "$method" --seeds 1 --model "$FREELB_MINILM_DIR" \
        --data-dir "${FREELB_DATA_DIR:-../shared/data/glue}" --output-dir "$out/$name" "${shared_flags[@]}" \
        --threads 1 "$@" > "$out/$name.log" 2>&1
}
# Worker 1: vanilla, then the session-1 setting. Worker 2: a milder setting with a clean first pass,
# then the session-1 setting after one vanilla epoch (535 steps of CoLA at batch 16).
( search vanilla vanilla && search a03-e10-m05 freelb --adv-lr 0.03 --adv-max-norm 0.1 --adv-init-mag 0.05 ) &
( search a01-e03-m0 freelb --adv-lr 0.01 --adv-max-norm 0.03 --adv-init-mag 0 &&
  search a03-e10-m05-begin535 freelb --adv-lr 0.03 --adv-max-norm 0.1 --adv-init-mag 0.05 --adv-begin-step 535 ) &
wait
for f in "$out"/*/results.md; do echo "## $(basename "$(dirname "$f")")"; cat "$f"; done
