#!/usr/bin/env bash
# The test command: set-up (apt packages, MiniLM checkpoint), build, and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
set -euo pipefail
scripts/check-dependencies.sh
bash scripts/example-check.sh   # a package depending on this one by URL and version builds and runs
bash scripts/fuzz.sh replay   # every fuzz seed input once under ASan (docs/reliability.md, Fuzzing)
scripts/format-check.sh   # swift format lint against .swift-format (about 1 s)
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test --skip-build "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# XCTest's result as the closing line (Swift Testing, which has no tests here, prints its empty summary last).
summary=$(grep -E "Executed [0-9]+ tests?, with" "$log" | tail -1 || true)
if [[ $summary =~ Executed\ ([0-9]+)\ tests?,\ with\ (([0-9]+)\ tests?\ skipped\ and\ )? ]]; then
    total=${BASH_REMATCH[1]}; skipped=${BASH_REMATCH[3]:-0}
    failed=$(grep -cE "^Test Case '.*' failed" "$log" || true)
    echo "XCTest: $((total - skipped - failed)) passed, $failed failed, $skipped skipped"
fi
exit "$status"
