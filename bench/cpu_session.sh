#!/usr/bin/env bash
# One prepared CPU benchmark session: every figure issue #19 asks for on this processor,
# once per BLAS that brainstorm can use here, and the comparison that decides what
# BRAINSTORM_BLAS=auto should take on this vendor (bench/compare_blas.py).
#
# Run it from the repository root, in a virtual environment with the benchmark extra
# (pip install -e '.[bench]': torch, threadpoolctl, mkl and oneDNN), on a quiet machine:
#
#     bash bench/cpu_session.sh
#
# Per BLAS: `python -m bench --rounds 7 --steps 3` (2 threads, wall clock, with peak
# memory; about 5 minutes on a 2-core machine), the single-threaded CPU-time run that
# bench/README.md reports beside it (about 4 minutes), and bench/fc.py. Three BLAS take
# about 30 minutes (27 on the AMD EPYC of bench/README.md). Settings, from the environment:
#
#     BLAS_CHOICES  the BRAINSTORM_BLAS values to run (default "mkl onednn openblas");
#                   one that cannot be loaded here is recorded as skipped
#     ROUNDS STEPS  of the 2-thread runs (default 7 and 3)
#     SINGLE=0      skip the single-threaded runs
#     QUICK=1       a smoke run of the script itself (--quick: small batches, figures
#                   not comparable; the comparison still runs)
#     OUT           where the logs go (default ./cpu_logs)
#
# Writes environment.txt, bench_<blas>.log and .json, single_<blas>.log and .json,
# fc_<blas>.log, compare.txt (2 threads), compare_single.txt, and summary.txt (one line
# per step with its exit status).
set -u

OUT=${OUT:-cpu_logs}
BLAS_CHOICES=${BLAS_CHOICES:-mkl onednn openblas}
ROUNDS=${ROUNDS:-7}
STEPS=${STEPS:-3}
SINGLE=${SINGLE:-1}
QUICK=${QUICK:-0}
PYTHON=${PYTHON:-python}

mkdir -p "$OUT"
summary="$OUT/summary.txt"
: > "$summary"

step() {  # step NAME LOGFILE COMMAND...: run, log, record the exit status
    local name=$1 log=$2
    shift 2
    local start=$SECONDS
    "$@" > "$OUT/$log" 2>&1
    local status=$?
    echo "$name: exit $status, $((SECONDS - start)) s (log: $log)" | tee -a "$summary"
    return $status
}

# Some machines of this workplace set these, which slows current OpenBLAS; unset for
# the benchmarks only (bench/README.md, "BLAS and threads")
bench() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PYTHON" "$@"; }
one_thread() {
    OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_NUM_THREADS=1 bench "$@"
}

quick=()
fc_size=()
if [ "$QUICK" = 1 ]; then
    quick=(--quick --examples mnist_pi hutter_lstm_256)
    fc_size=(--rounds 2 --steps 2)
    ROUNDS=2
    STEPS=1
fi

{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    grep -m1 'model name' /proc/cpuinfo
    grep -m1 'vendor_id' /proc/cpuinfo
    grep -m1 'cpu family' /proc/cpuinfo
    grep -m1 '^model[[:space:]]' /proc/cpuinfo
    echo "logical CPUs: $(nproc)"
    cat /proc/loadavg
    "$PYTHON" -V
    "$PYTHON" -m pip list 2>/dev/null \
        | grep -i -E '^(numpy|scipy|torch|mkl|onednn[-a-z]*|threadpoolctl) '
    echo "auto takes: $(BRAINSTORM_BLAS=auto "$PYTHON" -c \
        'from bench import _common; print(_common.brainstorm_blas())')"
} > "$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt"

runs=()
single_runs=()
for choice in $BLAS_CHOICES; do
    if ! BRAINSTORM_BLAS=$choice "$PYTHON" -c \
            'from brainstorm.handlers import _cblas; _cblas.load()' \
            > "$OUT/load_$choice.log" 2>&1; then
        echo "$choice: skipped, cannot be loaded here ($(tail -n 1 "$OUT/load_$choice.log"))" \
            | tee -a "$summary"
        continue
    fi
    export BRAINSTORM_BLAS=$choice
    step "bench $choice" "bench_$choice.log" bench -m bench "${quick[@]}" \
        --rounds "$ROUNDS" --steps "$STEPS" --json "$OUT/bench_$choice.json" \
        && runs+=("$OUT/bench_$choice.json")
    if [ "$SINGLE" = 1 ]; then
        step "single-threaded $choice" "single_$choice.log" one_thread -m bench "${quick[@]}" \
            --rounds "$ROUNDS" --steps "$STEPS" --no-memory --cpu-clock \
            --json "$OUT/single_$choice.json" && single_runs+=("$OUT/single_$choice.json")
    fi
    step "fc $choice" "fc_$choice.log" bench bench/fc.py "${fc_size[@]}"
    unset BRAINSTORM_BLAS
done

if [ "${#runs[@]}" -gt 0 ]; then
    step "compare, 2 threads" compare.txt "$PYTHON" -m bench.compare_blas "${runs[@]}"
    cat "$OUT/compare.txt"
fi
if [ "${#single_runs[@]}" -gt 0 ]; then
    step "compare, 1 thread" compare_single.txt "$PYTHON" -m bench.compare_blas \
        "${single_runs[@]}"
fi
cat "$summary"
