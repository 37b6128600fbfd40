#!/usr/bin/env bash
# Fails, listing every finding, when a Swift file under Sources, Tests or Examples differs from the style in
# .swift-format (swift-format of the toolchain: 4-space indent, lines up to 130 characters, the lint rules
# left on there). Fix with: swift format --in-place --recursive Sources Tests Examples
# (or name the files). Takes about 1 second (2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
swift format lint --strict --parallel --recursive Sources Tests Examples
