# Shared by scripts/results-grid.sh and scripts/search.sh (sourced): the training budget every method
# gets, and the copy of finished cells' small files (summary, settings, metrics) between the run
# folder (runs/, gitignored, with checkpoints) and docs/results (committed).
shared_flags=(--epochs 3 --batch-size 16 --learning-rate 5e-5 --warmup-ratio 0.1 --max-seq-length 128
              --adv-steps 3 --group-by-length)
sync_cells() {   # FROM TO: the small files of every finished cell (one with summary.json)
    (cd "$1" 2>/dev/null && find . -name summary.json) | while read -r f; do
        local cell; cell=$(dirname "$f")
        mkdir -p "$2/$cell"
        for name in summary.json run_config.json metrics.jsonl; do
            if [ -f "$1/$cell/$name" ] && [ ! -f "$2/$cell/$name" ]; then cp "$1/$cell/$name" "$2/$cell/$name"; fi
        done
    done
}
