#!/usr/bin/env bash
# Fails, listing every mismatch, when a target's dependencies in Package.swift differ from the modules
# its Swift files import (test targets may also depend on an executable they run), when a target other
# than FreeLBTensor (and freelb-bench, the kernel tests) uses CFreeLBKernels / FreeLBBLAS, or when a
# target sets unsafeFlags. The manifest comes from `swift package dump-package`; the comparison is
# scripts/check-dependencies.swift. Needs only Swift.
set -euo pipefail
cd "$(dirname "$0")/.."
manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
swift package dump-package > "$manifest"
swift scripts/check-dependencies.swift "$manifest"
