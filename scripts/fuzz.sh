#!/usr/bin/env bash
# libFuzzer targets for the readers of untrusted files (see Fuzz/ and docs/reliability.md, Fuzzing).
#
#   scripts/fuzz.sh TARGET SECONDS   build TARGET and fuzz it for SECONDS; exits non-zero on a crash
#   scripts/fuzz.sh replay           build every target and run every seed corpus once (what CI runs)
#   scripts/fuzz.sh list             the target names
#
# Targets: safetensors, config, tokenizer-json, vocab-txt, glue-tsv, mc-jsonl.
# Each library module is compiled from Sources/ with `swiftc -sanitize=fuzzer,address` (no SwiftPM),
# the harness Fuzz/TARGET/main.swift is linked against it. Build outputs, the grown corpus and
# crash inputs go to .build-fuzz/ (gitignored); the seed corpora in Fuzz/corpus/TARGET are never written.
# Needs the Linux Swift toolchain's libFuzzer; where it is missing, this fails (it never skips).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(safetensors config tokenizer-json vocab-txt glue-tsv mc-jsonl)
BUILD=.build-fuzz
MODULES=$BUILD/modules
SWIFTC=${SWIFTC:-swiftc}
# The library sources (another folder with the same layout can be fuzzed with FUZZ_SOURCES=...).
SOURCES=${FUZZ_SOURCES:-Sources}
SWIFT_FLAGS=(-sanitize=fuzzer,address -O -g -parse-as-library -swift-version 5 -use-ld=lld)

usage() {
    echo "usage: scripts/fuzz.sh TARGET SECONDS | replay | list   (targets: ${TARGETS[*]})" >&2
    exit 2
}

fail() {
    echo "fuzz.sh: $*" >&2
    exit 1
}

# The library modules a target needs, in build order.
modules_of() {
    case "$1" in
        safetensors) echo FreeLBSafetensors ;;
        config) echo FreeLBModelsConfiguration ;;
        tokenizer-json | vocab-txt) echo FreeLBTokenizers ;;
        glue-tsv | mc-jsonl) echo FreeLBTokenizers FreeLBData ;;
        *) fail "unknown target '$1' (targets: ${TARGETS[*]})" ;;
    esac
}

# Shared harness files a target compiles besides Fuzz/TARGET/*.swift.
common_of() {
    case "$1" in
        safetensors | config) echo Fuzz/Common/FuzzSupport.swift ;;
        tokenizer-json | vocab-txt) echo Fuzz/Common/FuzzSupport.swift Fuzz/Common/TokenizerProbe.swift ;;
        glue-tsv | mc-jsonl) echo Fuzz/Common/FuzzSupport.swift Fuzz/Common/BatchProbe.swift ;;
    esac
}

# Builds one library module (instrumented) into $MODULES, once per run of this script.
declare -A BUILT=()
build_module() {
    local name=$1 module sources
    [[ -n ${BUILT[$name]:-} ]] && return 0
    case "$name" in
        # config.json only: ModelConfiguration.swift stands alone (Foundation only), compiled as FreeLBModels
        # so the harness imports the real module name without building the tensor engine and BLAS.
        FreeLBModelsConfiguration) module=FreeLBModels; sources=("$SOURCES"/FreeLBModels/ModelConfiguration.swift) ;;
        *) module=$name; sources=("$SOURCES"/"$name"/*.swift) ;;
    esac
    mkdir -p "$MODULES"
    "$SWIFTC" "${SWIFT_FLAGS[@]}" -I "$MODULES" -module-name "$module" -emit-module \
        -emit-module-path "$MODULES/$module.swiftmodule" -emit-library -static \
        -o "$MODULES/lib$module.a" "${sources[@]}" ||
        fail "could not build module $module with $SWIFTC ${SWIFT_FLAGS[*]}"
    BUILT[$name]=1
}

build_target() {
    local target=$1 libraries=() name module
    for name in $(modules_of "$target"); do
        build_module "$name"
        module=$name
        [[ $name == FreeLBModelsConfiguration ]] && module=FreeLBModels
        libraries+=("$MODULES/lib$module.a")
    done
    # shellcheck disable=SC2046
    "$SWIFTC" "${SWIFT_FLAGS[@]}" -I "$MODULES" -module-name "Fuzz_${target//-/_}" \
        $(common_of "$target") Fuzz/"$target"/*.swift "${libraries[@]}" -o "$BUILD/fuzz-$target" ||
        fail "could not build the fuzz target $target (is libFuzzer in this Swift toolchain? -sanitize=fuzzer needs the Linux toolchain)"
}

# Options for every run: per-input timeout (FUZZ_TIMEOUT seconds; raise it where other jobs may pause
# this one, as a paused input reads as a hang), memory limits that turn huge allocations into findings.
# Leak detection is off: Foundation's Data(contentsOf:) leaks a 4 kB buffer on an empty file (not ours).
FUZZ_OPTIONS=(-timeout="${FUZZ_TIMEOUT:-20}" -rss_limit_mb=2048 -malloc_limit_mb=1024 -detect_leaks=0 -print_final_stats=1)
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

fuzz() {
    local target=$1 seconds=$2 crashes=$BUILD/crashes/$1 grown=$BUILD/corpus/$1
    [[ $seconds =~ ^[0-9]+$ ]] || usage
    [[ -d Fuzz/corpus/$target ]] || fail "no seed corpus Fuzz/corpus/$target"
    build_target "$target"
    mkdir -p "$crashes" "$grown"
    echo "fuzzing $target for $seconds s (new inputs: $grown, crashes: $crashes)"
    # The first folder receives new inputs; the committed seeds are only read. CPU time is printed
    # too: on a shared machine the wall-clock budget is not all spent fuzzing.
    local status=0 TIMEFORMAT="fuzz $target: wall %R s, cpu %U s user + %S s sys"
    time "$BUILD/fuzz-$target" "${FUZZ_OPTIONS[@]}" -max_total_time="$seconds" -artifact_prefix="$crashes/" \
        "$grown" "Fuzz/corpus/$target" || status=$?
    [[ $status -eq 0 ]] || fail "$target crashed; the input is in $crashes/ (reproduce: $BUILD/fuzz-$target $crashes/<file>)"
}

replay() {
    local start=$SECONDS target log count
    mkdir -p "$BUILD"
    for target in "${TARGETS[@]}"; do build_target "$target"; done
    for target in "${TARGETS[@]}"; do
        log=$BUILD/replay-$target.log
        count=$(find "Fuzz/corpus/$target" -type f | wc -l)
        [[ $count -gt 0 ]] || fail "empty seed corpus Fuzz/corpus/$target"
        # -runs=0: execute every corpus input once, mutate nothing.
        mkdir -p "$BUILD/crashes/$target"
        if ! "$BUILD/fuzz-$target" "${FUZZ_OPTIONS[@]}" -runs=0 -artifact_prefix="$BUILD/crashes/$target/" \
            "Fuzz/corpus/$target" >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            fail "replay of Fuzz/corpus/$target failed (full log: $log)"
        fi
        echo "fuzz replay: $target: $count inputs, no crash"
    done
    echo "fuzz replay: all ${#TARGETS[@]} targets passed in $((SECONDS - start)) s (build included)"
}

case "${1:-}" in
    replay) [[ $# -eq 1 ]] || usage; replay ;;
    list) printf '%s\n' "${TARGETS[@]}" ;;
    "" | -h | --help) usage ;;
    *) [[ $# -eq 2 ]] || usage; fuzz "$1" "$2" ;;
esac
