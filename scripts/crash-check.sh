#!/usr/bin/env bash
# Crash and full-disk check of run folders (docs/reliability.md), with the real all-MiniLM-L6-v2:
#  1. KILLS times: resume a FreeLB-3 run that checkpoints every step and `kill -9` it: odd kills at a
#     random 0.5-10 s, even kills within 0.3 s of a `.partial` folder appearing (mid-write). After each kill the published checkpoint (`latest`) must load (`freelb evaluate` reads
#     its config and weights and rejects non-finite ones). Finally the run is finished and its final/
#     weights must equal, byte for byte, those of the same run trained without interruption.
#  2. A run on a full disk (a 500 MB tmpfs: room for best/ and one
#     checkpoint of 270 MB, not two; root only) must fail with an error and leave the previous
#     checkpoint loadable.
# Usage: scripts/crash-check.sh [KILLS]   (default 30). Needs GLUE RTE under FREELB_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
set -euo pipefail
kills="${1:-30}"
swift build -c release --product freelb >/dev/null
freelb=.build/release/freelb
work=$(mktemp -d /tmp/freelb-crash-check-XXXX)
trap 'umount "$work/full" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/glue/RTE"
for split in train dev; do head -41 "${FREELB_DATA_DIR:-../shared/data/glue}/RTE/$split.tsv" > "$work/glue/RTE/$split.tsv"; done
args=(train --model "$FREELB_MINILM_DIR" --task rte --data-dir "$work/glue" --max-seq-length 64 --batch-size 4
      --max-steps 30 --eval-steps 1 --method freelb --adv-steps 3 --adv-init-mag 0.05 --adv-lr 0.03 --threads 1 --json)

# A checkpoint loads: its model (through `freelb evaluate`, with the model's tokenizer files beside it),
# its trainer_state.json, and its optimizer.safetensors header and sizes.
check_checkpoint() {   # FOLDER
    local view="$work/view"
    rm -rf "$view"; mkdir -p "$view"
    ln -s "$1/config.json" "$1/model.safetensors" "$view/"
    for f in vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json; do
        [ -f "$FREELB_MINILM_DIR/$f" ] && ln -s "$FREELB_MINILM_DIR/$f" "$view/"
    done
    "$freelb" evaluate --model "$view" --task rte --data-dir "$work/glue" --limit 4 --max-seq-length 64 --threads 1 \
        > /dev/null 2> "$work/eval.err" || { cat "$work/eval.err"; return 1; }
    python3 - "$1" <<'PY' || return 1
import json, os, struct, sys
folder = sys.argv[1]
json.load(open(os.path.join(folder, "trainer_state.json")))
path = os.path.join(folder, "optimizer.safetensors")
size = os.path.getsize(path)
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
assert 8 + n + end == size, f"{path}: {size} bytes, header describes {8 + n + end}"
PY
}

"$freelb" "${args[@]}" --output-dir "$work/reference" > /dev/null
killed_in_write=0
for i in $(seq 1 "$kills"); do
    "$freelb" "${args[@]}" --output-dir "$work/victim" > "$work/victim.log" 2>&1 &
    pid=$!
    if [ $((i % 2)) -eq 0 ]; then   # even kills: while a checkpoint or best/ folder is being written
        for _ in $(seq 1 1000); do ls -d "$work"/victim/*.partial >/dev/null 2>&1 && break; sleep 0.02; done
        sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.3f", 0.3 * rand() }')"
    else                            # odd kills: at a random time
        sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.5 + 9.5 * rand() }')"
    fi
    if ls -d "$work"/victim/*.partial >/dev/null 2>&1; then killed_in_write=$((killed_in_write + 1)); fi
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -f "$work/victim/latest" ]; then
        check_checkpoint "$work/victim/$(cat "$work/victim/latest")" || { echo "kill $i: the published checkpoint does not load"; exit 1; }
    fi
done
"$freelb" "${args[@]}" --output-dir "$work/victim" > /dev/null
if cmp -s "$work/reference/final/model.safetensors" "$work/victim/final/model.safetensors"; then same=yes; else same=NO; fi
echo "kill -9: $kills kills ($killed_in_write while a checkpoint folder was being written); every published checkpoint loaded;"
echo "         final weights identical to the uninterrupted run: $same"
[ "$same" = yes ] || exit 1

if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$work/full"
    mount -t tmpfs -o size=500m tmpfs "$work/full"
    set +e
    "$freelb" "${args[@]}" --output-dir "$work/full/run" > "$work/full.log" 2> "$work/full.err"
    status=$?
    set -e
    checkpoint="$work/full/run/$(cat "$work/full/run/latest")"
    if [ "$status" -ne 0 ] && check_checkpoint "$checkpoint"; then
        echo "full disk: exit $status with: $(tail -1 "$work/full.err")"
        echo "           the previous checkpoint $(basename "$checkpoint") still loads"
    else
        echo "full disk: FAILED (exit $status)"; cat "$work/full.err"; exit 1
    fi
fi
