#!/usr/bin/env bash
# One prepared GPU session: install pycuda from a carried payload, run the GPU tests
# and the GPU benchmark, write every log into $OUT.
#
# The GPU machine has CUDA 13 (nvcc), numpy, h5py and PyTorch, but no pycuda and no
# network. So, in two steps:
#
#   1. here, where the package registry is reachable, for the GPU machine's Python
#      (python3 -V there; 3.12 if unknown):
#          bench/gpu_session.sh prepare 3.12
#      fills dist/gpu_payload/ (git-ignored): pycuda's source distribution and the
#      wheels of everything pycuda and the tests need (pytools, platformdirs,
#      siphash24, typing_extensions, mako, MarkupSafe, scipy, click, pyyaml,
#      jsonschema, rich, pytest, hypothesis and their dependencies).
#   2. on the GPU machine, with dist/gpu_payload carried along:
#          bash bench/gpu_session.sh run
#      (the device tool: command "bash bench/gpu_session.sh run",
#       carry ["dist/gpu_payload"], timeout_s 600).
#
# "run" writes into $OUT (or ./gpu_logs): environment.txt, pycuda_build.log,
# tests_ops.log, tests_gpu.log, tests_layers.log, tests_training.log, bench.log,
# bench.json, and summary.txt (one line per step with its exit status).
set -u

PAYLOAD=${PAYLOAD:-dist/gpu_payload}
PYCUDA_VERSION=${PYCUDA_VERSION:-2026.1}

prepare() {
    local python_version=${1:-3.12}
    local helper_venv=/tmp/brainstorm_gpu_prepare
    mkdir -p "$PAYLOAD/sdist" "$PAYLOAD/wheels"
    python3 -m venv "$helper_venv"
    "$helper_venv/bin/pip" install -q setuptools wheel numpy
    # pycuda has no Linux wheels; its sdist needs setuptools+wheel to report metadata
    "$helper_venv/bin/pip" download -q --no-deps --no-build-isolation \
        "pycuda==$PYCUDA_VERSION" -d "$PAYLOAD/sdist"
    "$helper_venv/bin/pip" download -q --only-binary=:all: --python-version "$python_version" \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 --platform any -d "$PAYLOAD/wheels" \
        pytools platformdirs siphash24 typing_extensions mako markupsafe \
        "scipy>=1.10" "click>=8.1" "pyyaml>=6.0" "jsonschema>=4.18" "rich>=13.0" \
        "pytest>=7.4" "hypothesis>=6.80" setuptools wheel
    du -sh "$PAYLOAD"
}

run() {
    local out=${OUT:-gpu_logs}
    mkdir -p "$out"
    local summary="$out/summary.txt"
    : > "$summary"
    step() {  # step NAME LOGFILE COMMAND...: run, log, record the exit status
        local name=$1 log=$2
        shift 2
        local start=$SECONDS
        "$@" > "$out/$log" 2>&1
        local status=$?
        echo "$name: exit $status, $((SECONDS - start)) s (log: $log)" | tee -a "$summary"
        return $status
    }
    {
        date; uname -a; python3 -V; nvidia-smi; command -v nvcc && nvcc --version
        python3 -c "import numpy, h5py; print('numpy', numpy.__version__, 'h5py', h5py.__version__)"
        ls "$PAYLOAD"/sdist "$PAYLOAD"/wheels
    } > "$out/environment.txt" 2>&1

    # a venv that sees the machine's numpy, h5py and torch
    python3 -m venv --system-site-packages /tmp/brainstorm_gpu_venv
    local python=/tmp/brainstorm_gpu_venv/bin/python
    step install-dependencies install.log "$python" -m pip install --no-index \
        --find-links "$PAYLOAD/wheels" pytools platformdirs mako "scipy>=1.10" "click>=8.1" \
        "pyyaml>=6.0" "jsonschema>=4.18" "rich>=13.0" "pytest>=7.4" "hypothesis>=6.80" \
        setuptools wheel
    step install-brainstorm install_brainstorm.log "$python" -m pip install --no-index \
        --no-deps --no-build-isolation -e .

    local cuda_root
    cuda_root=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
    build_pycuda() {
        set -e
        rm -rf /tmp/pycuda_build && mkdir -p /tmp/pycuda_build
        tar xzf "$PAYLOAD"/sdist/pycuda-*.tar.gz -C /tmp/pycuda_build
        cd /tmp/pycuda_build/pycuda-*
        local curand=""
        [ -f "$cuda_root/include/curand.h" ] || curand="--no-cuda-enable-curand"
        "$python" configure.py --cuda-root="$cuda_root" $curand
        # compile the extension in parallel, then package what was built
        "$python" setup.py build_ext --parallel "$(nproc)"
        "$python" -m pip wheel --no-index --no-deps --no-build-isolation -w /tmp/pycuda_wheel .
        "$python" -m pip install --no-index --no-deps /tmp/pycuda_wheel/pycuda-*.whl
    }
    ( step build-pycuda pycuda_build.log build_pycuda ) || true
    step pycuda-import pycuda_import.log "$python" -c "
import numpy as np
from brainstorm.handlers import PyCudaHandler
handler = PyCudaHandler(np.float32)
a = handler.create_from_numpy(np.arange(6.0).reshape(2, 3))
handler.add_st(1.0, a, a)
print(handler.get_numpy_copy(a))
print(handler.context.get_device().name())"

    export BRAINSTORM_CUBLAS_LIBRARY=${BRAINSTORM_CUBLAS_LIBRARY:-}
    # the emulated variants (ids with "emulated") run in CI; here only the GPU counts
    local pytest=("$python" -m pytest -q -p no:cacheprovider -rfEs --maxfail=50 -k "not emulated")
    step tests-gpu tests_gpu.log timeout 200 "${pytest[@]}" tests/handlers/test_pycuda_handler.py \
        tests/handlers/test_cuda_sources.py
    step tests-ops tests_ops.log timeout 200 "${pytest[@]}" -m gpu \
        tests/handlers/test_ops_against_reference.py
    step tests-layers tests_layers.log timeout 150 "${pytest[@]}" tests/layers/test_against_reference.py
    step tests-training tests_training.log timeout 60 "${pytest[@]}" tests/training/test_gpu_training.py
    step bench bench.log timeout 240 "$python" -m bench.gpu --steps 10 --cpu-steps 1 \
        --json "$out/bench.json"
    cat "$summary"
}

case "${1:-}" in
    prepare) shift; prepare "$@" ;;
    run) run ;;
    *) echo "usage: $0 prepare [python version] | run" >&2; exit 2 ;;
esac
