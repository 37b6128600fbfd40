#!/usr/bin/env bash
# Regenerates every PyTorch golden into a temporary folder and compares it with the committed copies
# under Tests/*/Resources (tolerances: tools/goldens/goldens.py). Exit status 0: they match.
#   tools/goldens/check.sh [MINILM_DIR]     (default: models/all-MiniLM-L6-v2, from scripts/finetune.sh)
# PYTHON picks the interpreter (default: python3) with the packages of tools/goldens/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-python3}"
minilm="${1:-models/all-MiniLM-L6-v2}"
[ -f "$minilm/model.safetensors" ] || { echo "no MiniLM checkpoint in $minilm (run scripts/finetune.sh once, or pass its folder)" >&2; exit 2; }
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
"$python" tools/goldens/gen_fixtures.py --minilm-dir "$minilm" --out "$tree" > "$tree/generate.log" 2>&1 || { cat "$tree/generate.log"; exit 1; }
"$python" tools/goldens/gen_fixtures_more.py --out "$tree" >> "$tree/generate.log" 2>&1 || { cat "$tree/generate.log"; exit 1; }
"$python" tools/goldens/verify_fixtures.py "$tree"
"$python" tools/goldens/verify_fixtures_more.py "$tree"
"$python" tools/goldens/goldens.py compare "$tree"
