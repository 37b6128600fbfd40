#!/usr/bin/env bash
# Issue 19's comparison tables, from the kept cells in docs/results (no training):
#   random-control-0.03: vanilla (fp32 grid) against random and FreeLB-3 (bf16) at the grid's ε 0.03,
#                        and FreeLB-3 against random (both bf16, paired on the seed);
#   random-control-<ε>:  the same at the larger radius that scripts/search-radius.sh chose (PRECISION=bf16),
#                        vanilla being the ε-independent fp32 grid cells.
# Each report folder in runs/report links the cells it pairs, and its results.md, results.json and
# per-task SVGs are copied to docs/results/<name>/ (vs-vanilla) and docs/results/<name>/freelb-vs-random/.
# Usage: scripts/report-part2.sh [SEEDS]   (default 1,2,3)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
set -euo pipefail
source scripts/grid-common.sh
seeds="${1:-1,2,3}"
tasks=rte,cola,mrpc,stsb
swift build -c release --product freelb
freelb=.build/release/freelb

report() {   # NAME ADV_LR ADV_MAX_NORM ADVERSARIAL_DIR
    local name=$1 lr=$2 eps=$3 cells=$4 root="runs/report/$1"
    rm -rf "$root"
    for task in ${tasks//,/ }; do
        mkdir -p "$root/$task"
        ln -s "$(pwd)/docs/results/grid/$task/vanilla" "$root/$task/vanilla"
        for method in random freelb; do ln -s "$(pwd)/$cells/$task/$method" "$root/$task/$method"; done
    done
    local flags=(--model "$FREELB_MINILM_DIR" --data-dir "${FREELB_DATA_DIR:-../shared/data/glue}" --output-dir "$root"
                 "${shared_flags[@]}" --adv-lr "$lr" --adv-max-norm "$eps" --adv-init-mag 0 --precision bf16
                 --tasks "$tasks" --seeds "$seeds" --report-only)
    mkdir -p "docs/results/$name/freelb-vs-random"
    "$freelb" experiment --methods vanilla,random,freelb "${flags[@]}" 2> "$root/report.log"
    cp "$root/results.md" "$root/results.json" "$root"/*.svg "docs/results/$name/"
    "$freelb" experiment --methods random,freelb "${flags[@]}" 2>> "$root/report.log"
    cp "$root/results.md" "$root/results.json" "$root"/*.svg "docs/results/$name/freelb-vs-random/"
}
report random-control-0.03 0.01 0.03 docs/results/grid-bf16
eps=$(cat docs/results/search-radius-bf16/chosen-eps 2>/dev/null || echo none)
if [ "$eps" != none ]; then
    report "random-control-$eps" "$(awk -v e="$eps" 'BEGIN { printf "%.6g", e / 3 }')" "$eps" "docs/results/grid-eps-$eps-bf16"
fi
