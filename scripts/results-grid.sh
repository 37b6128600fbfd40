#!/usr/bin/env bash
# Issue 8's grid: all-MiniLM-L6-v2 on RTE, MRPC, STS-B, CoLA × vanilla, PGD-3, FreeAT-3, FreeLB-3,
# FreeLB-3 without dropout-mask reuse × seeds 1, 2, 3, with the budget in scripts/grid-common.sh and
# the perturbation chosen by scripts/search.sh. Resumable: rerun the same command.
# Seed-major order (every task and method of seed 1 first). Two single-threaded workers split the
# methods of each (task, seed) so that their loads match: vanilla + FreeLB-3 + FreeAT-3 (1 + 3 + 3
# passes per batch) and PGD-3 + FreeLB-3 without reuse (4 + 3).
# Finished cells' small files are kept in docs/results/grid (committed) and seed the run folders, so
# the grid advances across sessions even when runs/ (checkpoints, gitignored) is gone.
# Table only, from the cells finished so far: REPORT_ONLY=1 scripts/results-grid.sh
# One worker over chosen methods (e.g. seeds 4 and 5 of vanilla and FreeLB-3):
#   SEEDS=4,5 METHODS=vanilla,freelb scripts/results-grid.sh
# The grid runs a copy of the release binary (runs/bin/freelb), so rebuilding during a grid is safe;
# FREELB_BIN=path runs that binary instead (built from a clean checkout of a commit, say).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
set -euo pipefail
source scripts/grid-common.sh
grid="${GRID_DIR:-runs/grid}"
kept="${KEPT_DIR:-docs/results/grid}"
tasks="${TASKS:-rte,cola,mrpc,stsb}"   # the robustness tasks (RTE, CoLA) first
seeds="${SEEDS:-1,2,3}"
# α and ε from scripts/search.sh (docs/results.md); ADV_LR / ADV_MAX_NORM give another radius (a grid
# folder of its own: GRID_DIR and KEPT_DIR), as scripts/search-radius.sh does.
adv_flags=(--adv-lr "${ADV_LR:-0.01}" --adv-max-norm "${ADV_MAX_NORM:-0.03}" --adv-init-mag 0)
# PRECISION=bf16 runs the cells with --precision bf16 (a grid folder of its own: GRID_DIR and KEPT_DIR).
[ -n "${PRECISION:-}" ] && adv_flags+=(--precision "$PRECISION")
grid_flags=(--model "$FREELB_MINILM_DIR" --data-dir "${FREELB_DATA_DIR:-../shared/data/glue}" --output-dir "$grid"
            "${shared_flags[@]}" "${adv_flags[@]}")
mkdir -p "$grid" "$kept"
sync_cells "$kept" "$grid"
if [ -n "${FREELB_BIN:-}" ]; then   # a binary built elsewhere (e.g. from a clean checkout of a commit)
    freelb="$FREELB_BIN"
else
    swift build -c release --product freelb
    mkdir -p runs/bin && cp .build/release/freelb runs/bin/freelb.new && mv runs/bin/freelb.new runs/bin/freelb
    freelb=runs/bin/freelb
fi
trap 'sync_cells "$grid" "$kept"' EXIT

worker() {   # METHODS LOG
    for seed in ${seeds//,/ }; do
        for task in ${tasks//,/ }; do
            "$freelb" experiment --tasks "$task" --methods "$1" --seeds "$seed" "${grid_flags[@]}" \
                --threads 1 >> "$2" 2>&1 || return 1
            sync_cells "$grid" "$kept"
        done
    done
}
if [ -z "${REPORT_ONLY:-}" ]; then
    if [ -n "${METHODS:-}" ]; then
        worker "$METHODS" "$grid/worker-$METHODS.log"
        exit 0   # the table: REPORT_ONLY=1 REPORT_SEEDS=1,2,3,4,5 scripts/results-grid.sh
    else
        worker vanilla,freelb,freeat "$grid/worker-1.log" &
        worker pgd,freelb-noreuse "$grid/worker-2.log" &
        wait
    fi
fi
"$freelb" experiment --tasks "$tasks" --methods "${REPORT_METHODS:-vanilla,pgd,freeat,freelb,freelb-noreuse}" --seeds "${REPORT_SEEDS:-$seeds}" \
    "${grid_flags[@]}" --report-only
cp "$grid/results.md" "$grid/results.json" "$grid"/*.svg "$kept/"
