#!/usr/bin/env bash
# Issue 8's robustness table (paper Table 5, spec §10): on RTE and CoLA dev, the seed-1 models of
# vanilla, PGD-3 and FreeLB-3 from scripts/results-grid.sh, FreeLB as the anchor. Scaled to this
# machine: R = 0.5 (the seed-1 anchors need less; the seed-3 RTE anchor reaches it), at most 150 PGD steps of the spec's size
# 5e-3 (enough to reach the sphere of R and climb on it), the first LIMIT dev examples (RTE 128, CoLA 200).
# Writes docs/results/robustness/<task>.json (the full report), <task>.md (the table) and <task>.log
# (progress events with elapsed seconds). SEED=n uses the seed-n models instead, into <task>-seed-n.*.
set -euo pipefail
cd "$(dirname "$0")/.."
grid="${GRID_DIR:-runs/grid}"
out=docs/results/robustness
mkdir -p "$out"
swift build -c release --product freelb
seed="${SEED:-1}"
suffix=""; [ "$seed" = 1 ] || suffix="-seed-$seed"
for spec in ${ROBUSTNESS_TASKS:-rte:128 cola:200}; do
    task=${spec%%:*} limit=${spec##*:}
    models=()
    for method in vanilla pgd freelb; do
        cell="$grid/$task/$method/seed-$seed"
        [ -f "$cell/best/model.safetensors" ] || { echo "robustness: $cell/best is missing; run scripts/results-grid.sh first"; exit 1; }
        models+=("$method=$cell")
    done
    .build/release/freelb robustness --models "${models[@]}" --anchor freelb --task "$task" \
        --data-dir "${FREELB_DATA_DIR:-../shared/data/glue}" --limit "$limit" --radius 0.5 --max-steps 150 \
        --threads "${THREADS:-2}" --output "$out/$task$suffix.json" > "$out/$task$suffix.md.tmp" 2> "$out/$task$suffix.log"
    mv "$out/$task$suffix.md.tmp" "$out/$task$suffix.md"
done
