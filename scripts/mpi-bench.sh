#!/usr/bin/env bash
# The measurements of docs/scaling.md on one machine: MiniLM-L6, RTE, global batch 32 × 128, vanilla and FreeLB-3,
# `mpirun -np 2 --threads 1` against one process with `--threads 2`: steady tokens/s (steps 2..N), the share
# of the step spent in the gradient allreduce (metrics.jsonl), the final evaluation's time (sharded over the
# ranks, against one process with 1 and 2 threads), and an experiment grid of 4 small cells.
# Needs a release build and Open MPI. Holds /tmp/bench.lock and pauses the background results grid
# (SIGSTOP to runs/bin/freelb-530b2c4 processes) while it times, resuming it on exit.
# Usage: scripts/mpi-bench.sh [steps]   (FREELB_DATA_DIR: the glue folder; default ../shared/data/glue)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-6}
bin=.build/release/freelb
model=${FREELB_MINILM_DIR:-models/all-MiniLM-L6-v2}
data=${FREELB_DATA_DIR:-../shared/data/glue}
out=$(mktemp -d /tmp/freelb-mpi-bench.XXXXXX)
mpi=(mpirun -np 2 --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)

exec 9>/tmp/bench.lock
flock 9
trap 'pkill -CONT -f freelb-530b2c4 || true' EXIT
pkill -STOP -f freelb-530b2c4 || true

# Each stdout line prefixed with its arrival time (seconds).
stamp() { while IFS= read -r line; do echo "$(date +%s.%N) $line"; done; }
train=(train --model "$model" --task rte --data-dir "$data" --max-seq-length 128 --batch-size 32 --eval-batch-size 64
    --learning-rate 2e-5 --adv-init-mag 0.05 --adv-lr 0.03 --adv-max-norm 0.1 --json)

# label: tokens/s over steps 2..N, seconds per step, allreduce share, final-evaluation seconds.
report() {
    local label=$1 folder=$2 log=$3
    awk -v label="$label" '
        /"event":"step"/ {
            match($0, /"elapsed_seconds":[0-9.e+-]+/); e = substr($0, RSTART + 18, RLENGTH - 18) + 0
            match($0, /"tokens_per_second":[0-9.e+-]+/); r = substr($0, RSTART + 20, RLENGTH - 20) + 0
            match($0, /"step":[0-9]+/); s = substr($0, RSTART + 7, RLENGTH - 7) + 0
            if (s == 1) { e1 = e; k1 = r * e }
            eN = e; kN = r * e; n = s; tLast = $1
        }
        /"event":"eval"/ { tEval = $1 - tLast }
        END { printf "%s: %.0f tokens/s, %.3f s/step (steps 2..%d), final evaluation %.2f s\n", label, (kN - k1) / (eN - e1), (eN - e1) / (n - 1), n, tEval }
    ' "$log"
    if grep -q allreduce_seconds "$folder/metrics.jsonl"; then
        awk '/"type":"train"/ {
                match($0, /"allreduce_seconds":[0-9.e+-]+/); a = substr($0, RSTART + 20, RLENGTH - 20) + 0
                match($0, /"elapsed_seconds":[0-9.e+-]+/); e = substr($0, RSTART + 18, RLENGTH - 18) + 0
                match($0, /"step":[0-9]+/); s = substr($0, RSTART + 7, RLENGTH - 7) + 0
                if (s == 1) { a1 = a; e1 = e } aN = a; eN = e
            }
            END { printf "  allreduce (rank 0, incl. waiting for rank 1): %.3f s/step, %.1f%% of the step\n", (aN - a1) / (s - 1), 100 * (aN - a1) / (eN - e1) }' \
            "$folder/metrics.jsonl"
    fi
}

for method in vanilla freelb; do
    extra=(--method "$method" --adv-steps 3 --max-steps "$steps")
    "$bin" "${train[@]}" "${extra[@]}" --output-dir "$out/$method-np1" --threads 2 | stamp >"$out/$method-np1.log"
    report "$method -np 1 --threads 2" "$out/$method-np1" "$out/$method-np1.log"
    "${mpi[@]}" "$bin" "${train[@]}" "${extra[@]}" --output-dir "$out/$method-np2" --threads 1 2>/dev/null \
        | stamp >"$out/$method-np2.log"
    report "$method mpirun -np 2 --threads 1" "$out/$method-np2" "$out/$method-np2.log"
done
# The final evaluation on one process with one thread: what rank 0 alone would take.
"$bin" "${train[@]}" --method vanilla --max-steps 1 --output-dir "$out/eval-np1-t1" --threads 1 | stamp >"$out/eval-np1-t1.log"
awk '/"event":"step"/ { t = $1 } /"event":"eval"/ { printf "final evaluation, one process, 1 thread: %.2f s\n", $1 - t }' \
    "$out/eval-np1-t1.log"

grid=(experiment --tasks rte --methods vanilla,freelb --seeds 1,2 --model "$model" --data-dir "$data" --max-seq-length 64
    --batch-size 16 --max-steps 4 --eval-limit 64 --learning-rate 2e-5 --adv-init-mag 0.05 --adv-steps 3)
start=$(date +%s.%N)
"$bin" "${grid[@]}" --output-dir "$out/grid-np1" --threads 2 >/dev/null 2>&1
echo "experiment, 4 cells, -np 1 --threads 2: $(echo "$(date +%s.%N) - $start" | bc) s"
start=$(date +%s.%N)
"${mpi[@]}" "$bin" "${grid[@]}" --output-dir "$out/grid-np2" --threads 1 >/dev/null 2>&1
echo "experiment, 4 cells, mpirun -np 2 --threads 1: $(echo "$(date +%s.%N) - $start" | bc) s"
cmp <(sed -n '1,/^$/p' "$out/grid-np1/results.md") <(sed -n '1,/^$/p' "$out/grid-np2/results.md") \
    && echo "experiment: the score tables are identical"
echo "logs: $out"
