#!/usr/bin/env bash
# The test command: set-up (apt packages, MiniLM checkpoint), build, and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
set -euo pipefail
scripts/check-dependencies.sh
bash scripts/example-check.sh   # a package depending on this one by URL and version builds and runs
swift build --build-tests
swift test --skip-build "$@"
