# Shared by scripts/results-grid.sh and scripts/search.sh (sourced): the training budget every method
# gets, and the copy of finished cells' small files (summary, settings, metrics) between the run
# folder (runs/, gitignored, with checkpoints) and docs/results (committed).
shared_flags=(--epochs 3 --batch-size 16 --learning-rate 5e-5 --warmup-ratio 0.1 --max-seq-length 128
              --adv-steps 3 --group-by-length)
# Kept copies hold no machine paths: the checkout's root becomes relative, the shared folder beside it
# ../shared (the resume check compares --model by name and ignores --data-dir and --output-dir), and
# metrics.jsonl is kept gzipped.
sync_cells() {   # FROM TO: the small files of every finished cell (one with summary.json)
    local root parent
    root=$(pwd); parent=$(dirname "$root")
    (cd "$1" 2>/dev/null && find . -name summary.json) | while read -r f; do
        local cell; cell=$(dirname "$f")
        mkdir -p "$2/$cell"
        for name in summary.json run_config.json; do
            if [ -f "$1/$cell/$name" ] && [ ! -f "$2/$cell/$name" ]; then
                # JSON's optional "\/" escape first, then plain paths.
                sed -e 's#\\/#/#g' -e "s#$root/##g" -e "s#$parent/shared/#../shared/#g" "$1/$cell/$name" > "$2/$cell/$name"
            fi
        done
        if [ -f "$1/$cell/metrics.jsonl" ] && [ ! -f "$2/$cell/metrics.jsonl" ] && [ ! -f "$2/$cell/metrics.jsonl.gz" ]; then
            gzip -9 -n -c "$1/$cell/metrics.jsonl" > "$2/$cell/metrics.jsonl.gz"
        fi
        if [ -f "$1/$cell/metrics.jsonl.gz" ] && [ ! -f "$2/$cell/metrics.jsonl" ] && [ ! -f "$2/$cell/metrics.jsonl.gz" ]; then
            cp "$1/$cell/metrics.jsonl.gz" "$2/$cell/metrics.jsonl.gz"
        fi
    done
}
tidy_kept() {   # DIR: gzip plain metrics.jsonl and drop machine paths from run_config.json (cells kept by older scripts)
    local root parent
    root=$(pwd); parent=$(dirname "$root")
    find "$1" -name metrics.jsonl | while read -r f; do gzip -9 -n -f "$f"; done
    find "$1" -name run_config.json | while read -r f; do
        sed -i -e 's#\\/#/#g' -e "s#$root/##g" -e "s#$parent/shared/#../shared/#g" "$f"
    done
}
