#!/usr/bin/env bash
# Issue 16's accuracy check: the bf16 grid cells (docs/results/grid-bf16, FreeLB-3 at --precision bf16) against the
# fp32 grid cells of the same task and seed (docs/results/grid), as a markdown table: per seed the fp32 and bf16
# scores and their difference, and the fp32 seed std of the task over the same seeds (population std, as the grid
# table reports). Usage: scripts/compare-precision.sh [METHOD] [SEEDS]   (default: freelb 1,2,3)
set -euo pipefail
cd "$(dirname "$0")/.."
method=${1:-freelb}
seeds=${2:-1,2,3}
score() {   # summary.json → best dev score × 100, or empty
    [ -f "$1" ] && awk -F: '/"bestMetric"/ { gsub(/[ ,]/, "", $2); printf "%.2f", 100 * $2 }' "$1"
}
echo "| task | seed | fp32 | bf16 | bf16 − fp32 |"
echo "|---|---|---|---|---|"
for task in rte mrpc stsb cola; do
    fp32s=()
    diffs=()
    for seed in ${seeds//,/ }; do
        a=$(score "docs/results/grid/$task/$method/seed-$seed/summary.json" || true)
        b=$(score "docs/results/grid-bf16/$task/$method/seed-$seed/summary.json" || true)
        [ -n "$a" ] && fp32s+=("$a")
        if [ -n "$a" ] && [ -n "$b" ]; then
            d=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.2f", b - a }')
            diffs+=("$d")
            echo "| $task | $seed | $a | $b | $d |"
        else
            echo "| $task | $seed | ${a:-–} | ${b:-(not run yet)} | – |"
        fi
    done
    std=$(printf '%s\n' "${fp32s[@]}" | awk '{ s += $1; q += $1 * $1; n++ } END { if (n) { m = s / n; printf "%.2f", sqrt(q / n - m * m) } }')
    mean=$(printf '%s\n' "${diffs[@]:-}" | awk 'NF { s += $1; n++ } END { if (n) printf "%+.2f", s / n; else printf "–" }')
    echo "| $task | fp32 seed std ${std:-–} | | | mean ${mean} |"
done
