#!/usr/bin/env bash
# Issue 19's multiple-choice grid (the paper's Table 2): all-MiniLM-L6-v2 on ARC-Challenge, ARC-Easy and
# CommonsenseQA × vanilla and FreeLB-3 (joint δ over a question's choices) × seeds 1, 2, 3, in bf16, with
# the GLUE grid's budget and perturbation (scripts/grid-common.sh; α 0.01, ε 0.03, μ 0) except the
# learning rate, which a short search picks first:
#   search: ARC-Challenge, seed 1, both methods at lr 2e-5 and 5e-5 (two trials per method, the same
#   for both); the lr with the higher mean dev accuracy over the two methods is used for every task
#   and both methods, so the comparison stays paired. Written to docs/results/mc-search/.
# Then each finished cell's best/ model gets its test split scored: ARC test accuracy (public labels,
# test-accuracy.json) and the CommonsenseQA leaderboard CSV (test-predictions/).
# Resumable: rerun the same command. Finished cells' small files are kept in docs/results/grid-mc.
# FREELB_BIN: a binary built from a clean checkout of a commit (else the script builds one).
# TASKS, SEEDS narrow the grid (default arc-challenge,arc-easy,commonsenseqa and 1,2,3).
# Table only: REPORT_ONLY=1 scripts/results-mc.sh (also refreshes the tables in docs/results.md)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
set -euo pipefail
source scripts/grid-common.sh
data="${FREELB_DATA_DIR:-../shared/data}"
grid=runs/grid-mc
kept=docs/results/grid-mc
search_out=runs/mc-search
search_kept=docs/results/mc-search
tasks="${TASKS:-arc-challenge,arc-easy,commonsenseqa}"
seeds="${SEEDS:-1,2,3}"
mc_flags=(--model "$FREELB_MINILM_DIR" --data-dir "$data" --epochs 3 --batch-size 16 --warmup-ratio 0.1
          --max-seq-length 128 --adv-steps 3 --group-by-length --adv-lr 0.01 --adv-max-norm 0.03 --adv-init-mag 0
          --precision bf16)
mkdir -p "$grid" "$kept" "$search_out" "$search_kept"
sync_cells "$kept" "$grid"
sync_cells "$search_kept" "$search_out"
if [ -n "${FREELB_BIN:-}" ]; then
    freelb="$FREELB_BIN"
else
    swift build -c release --product freelb
    mkdir -p runs/bin && cp .build/release/freelb runs/bin/freelb.new && mv runs/bin/freelb.new runs/bin/freelb
    freelb=runs/bin/freelb
fi
trap 'sync_cells "$grid" "$kept"; sync_cells "$search_out" "$search_kept"' EXIT

score() { sed -nE 's/.*"bestMetric" : ([-0-9.e]+).*/\1/p' "$1"; }
if [ -z "${REPORT_ONLY:-}" ]; then
    # The learning-rate search (seed 1 of ARC-Challenge).
    for lr in 2e-5 5e-5; do
        "$freelb" experiment --tasks arc-challenge --methods vanilla,freelb --seeds 1 "${mc_flags[@]}" \
            --learning-rate "$lr" --output-dir "$search_out/lr-$lr" --threads 1 >> "$search_out/search.log" 2>&1
        sync_cells "$search_out" "$search_kept"
    done
    {
        echo "| learning rate | vanilla dev accuracy | FreeLB-3 dev accuracy | mean |"
        echo "|---|---|---|---|"
        for lr in 2e-5 5e-5; do
            v=$(score "$search_kept/lr-$lr/arc-challenge/vanilla/seed-1/summary.json")
            f=$(score "$search_kept/lr-$lr/arc-challenge/freelb/seed-1/summary.json")
            awk -v lr="$lr" -v v="$v" -v f="$f" 'BEGIN { printf "| %s | %.2f | %.2f | %.2f |\n", lr, 100 * v, 100 * f, 50 * (v + f) }'
        done
    } > "$search_kept/summary.md"
    # Ties keep the smaller rate (first row).
    chosen=$(awk -F' \\| ' 'NR > 2 { m = $4 + 0; if (best == "" || m > best) { best = m; lr = $1 } } END { sub(/^\| /, "", lr); print lr }' \
        "$search_kept/summary.md")
    echo "$chosen" > "$search_kept/chosen-lr"
    cat "$search_kept/summary.md"; echo "chosen learning rate: $chosen"
fi
lr=$(cat "$search_kept/chosen-lr")
# Seed 1 of ARC-Challenge at the chosen rate is the search's run: seed the grid with it.
for method in vanilla freelb; do
    from="$search_out/lr-$lr/arc-challenge/$method/seed-1"
    to="$grid/arc-challenge/$method/seed-1"
    if [ -f "$from/summary.json" ] && [ ! -e "$to" ]; then mkdir -p "$(dirname "$to")" && cp -r "$from" "$to"; fi
done
sync_cells "$grid" "$kept"

if [ -z "${REPORT_ONLY:-}" ]; then
    for seed in ${seeds//,/ }; do
        for task in ${tasks//,/ }; do
            "$freelb" experiment --tasks "$task" --methods vanilla,freelb --seeds "$seed" "${mc_flags[@]}" \
                --learning-rate "$lr" --output-dir "$grid" --threads 1 >> "$grid/worker.log" 2>&1
            for method in vanilla freelb; do
                cell="$grid/$task/$method/seed-$seed"
                kept_cell="$kept/$task/$method/seed-$seed"
                # Cells restored from docs/results have no weights, and their test files are kept already.
                if [ -e "$kept_cell/test-predictions" ] || [ -e "$kept_cell/test-accuracy.json" ]; then continue; fi
                if [ "$task" = commonsenseqa ]; then   # test answers are hidden: the leaderboard's CSV
                    [ -d "$cell/test-predictions" ] || "$freelb" predict --model "$cell/best" --task "$task" \
                        --data-dir "$data" --precision bf16 --threads 1 --output-dir "$cell/test-predictions"
                else
                    [ -f "$cell/test-accuracy.json" ] || "$freelb" evaluate --model "$cell/best" --task "$task" \
                        --data-dir "$data" --precision bf16 --threads 1 --split test > "$cell/test-accuracy.json.tmp" \
                        && mv "$cell/test-accuracy.json.tmp" "$cell/test-accuracy.json"
                fi
                for name in test-accuracy.json test-predictions; do
                    [ -e "$cell/$name" ] && mkdir -p "$kept_cell" && cp -r "$cell/$name" "$kept_cell/"
                done
            done
            sync_cells "$grid" "$kept"
        done
    done
fi
"$freelb" experiment --tasks "$tasks" --methods vanilla,freelb --seeds "${REPORT_SEEDS:-$seeds}" "${mc_flags[@]}" \
    --learning-rate "$lr" --output-dir "$grid" --report-only
cp "$grid/results.md" "$grid/results.json" "$grid"/*.svg "$kept/"
# ARC test accuracy (public labels) of each cell's best/ model, per seed and the median.
{
    echo "| task | method | test accuracy ×100, seed ${seeds//,/ \/ } | median |"
    echo "|---|---|---|---|"
    for task in ${tasks//,/ }; do
        [ "$task" = commonsenseqa ] && continue
        for method in vanilla freelb; do
            for seed in ${seeds//,/ }; do
                f="$kept/$task/$method/seed-$seed/test-accuracy.json"
                if [ -f "$f" ]; then sed -nE 's/.*"accuracy" : ([-0-9.e]+).*/\1/p' "$f"; else echo "–"; fi
            done | awk -v task="$task" -v method="$method" '
                { cell[NR] = ($1 == "–") ? "–" : sprintf("%.2f", 100 * $1); if ($1 != "–") v[++n] = 100 * $1 }
                END {
                    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
                    median = n == 0 ? "–" : sprintf("%.2f", n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
                    line = cell[1]; for (i = 2; i <= NR; i++) line = line " / " cell[i]
                    printf "| %s | %s | %s | %s%s |\n", task, method, line, median, (n < NR ? " n=" n : "")
                }'
        done
    done
} > "$kept/test-accuracy.md"
cat "$kept/test-accuracy.md"
# docs/results.md shows both tables between its mc-tables markers.
{
    cat "$kept/results.md"; echo
    echo "ARC test accuracy of each cell's \`best/\` model (\`freelb evaluate --split test\`; \`$kept/test-accuracy.md\`):"; echo
    cat "$kept/test-accuracy.md"
} > runs/mc-tables.md
awk -v tables=runs/mc-tables.md '
    /^<!-- \/mc-tables -->$/ { skip = 0 }
    !skip { print }
    /^<!-- mc-tables -->$/ { while ((getline line < tables) > 0) print line; skip = 1 }
' docs/results.md > docs/results.md.tmp && mv docs/results.md.tmp docs/results.md
