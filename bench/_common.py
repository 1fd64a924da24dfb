"""Timing, memory and machine-description helpers shared by the benchmark scripts.

Timing: every measurement is a list of per-step wall-clock times (seconds,
``time.perf_counter``) taken after warm-up steps, with the garbage collector
run before and switched off during a block, so that a collection triggered by
one engine's garbage is not billed to the other.

Memory: :func:`reset_peak_rss` and :func:`peak_rss_since_reset` measure the peak
resident set size (bytes) of this process over a stretch of code, through
Linux's ``/proc/self/clear_refs`` (writing ``5`` resets the high-water mark
``VmHWM``) and ``/proc/self/status``.
"""

import gc
import os
import platform
import statistics
import time

import numpy as np


#: the clock of every measurement: wall-clock time, or with ``use_cpu_clock()`` the
#: process's CPU time, which other processes on a loaded machine disturb far less; it
#: counts the work of all threads (and their spinning), so it is only meaningful
#: single-threaded (OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_NUM_THREADS=1)
CLOCK = [time.perf_counter]


def use_cpu_clock():
    """Time by process CPU time from now on (see :data:`CLOCK`)."""
    CLOCK[0] = time.process_time


def time_steps(step, count):
    """Call ``step()`` ``count`` times; return the seconds (see :data:`CLOCK`) of each call."""
    clock = CLOCK[0]
    times = []
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(count):
            start = clock()
            step()
            times.append(clock() - start)
    finally:
        if was_enabled:
            gc.enable()
    return times


def summary(values):
    """(min, median, max) of a non-empty sequence of numbers."""
    return min(values), statistics.median(values), max(values)


#: seconds to wait before each timed block: the BLAS libraries' worker threads (numpy's
#: and scipy's OpenBLAS, torch's OpenMP) spin for up to ~0.1 s after their last call and
#: would take cores from whatever runs next
SETTLE_SECONDS = 0.25


def alternate(steps_by_engine, rounds, steps_per_round, settle_seconds=SETTLE_SECONDS):
    """Time several engines in alternating rounds, so load changes hit all alike.

    Args:
        steps_by_engine (dict[str, callable]): engine name -> one step (no arguments).
        rounds (int): how many times every engine is timed.
        steps_per_round (int): steps per engine and round; a round's figure is
            their median.
        settle_seconds (float): idle time before each block (see SETTLE_SECONDS).

    Returns:
        dict[str, list[float]]: engine name -> median step seconds of each round.
    """
    medians = {name: [] for name in steps_by_engine}
    for _ in range(rounds):
        for name, step in steps_by_engine.items():
            time.sleep(settle_seconds)
            medians[name].append(statistics.median(time_steps(step, steps_per_round)))
    return medians


# ---- memory -------------------------------------------------------------------------------

def _status_bytes(field):
    """A ``kB`` field of /proc/self/status in bytes, or None where there is no such file."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def current_rss():
    """Resident set size of this process now, in bytes (None if unknown)."""
    return _status_bytes('VmRSS')


def reset_peak_rss():
    """Reset the peak-RSS mark to the current RSS; return that RSS in bytes.

    Returns None where the kernel does not allow it (not Linux, or no write
    access to /proc/self/clear_refs); then peaks cannot be measured here.
    """
    try:
        with open('/proc/self/clear_refs', 'w') as clear_refs:
            clear_refs.write('5')
    except OSError:
        return None
    return current_rss()


def peak_rss_since_reset():
    """Peak resident set size since :func:`reset_peak_rss`, in bytes (None if unknown)."""
    return _status_bytes('VmHWM')


# ---- machine ------------------------------------------------------------------------------

def cpu_model():
    """The processor's model name, from /proc/cpuinfo where it exists."""
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_description():
    """Which BLAS libraries are loaded, their kernel (architecture) and thread counts.

    Uses threadpoolctl where it is installed; returns a list of short strings.
    """
    try:
        import threadpoolctl
    except ImportError:
        return ['threadpoolctl not installed: BLAS kernel unknown']
    lines = []
    for info in threadpoolctl.threadpool_info():
        name = f"{info.get('internal_api')} {info.get('version') or ''}".strip()
        where = os.path.basename(info.get('filepath', ''))
        architecture = info.get('architecture')
        kernel = f", kernel {architecture}" if architecture else ''
        lines.append(f"{name} ({where}){kernel}, {info.get('num_threads')} threads")
    return lines


def warm_up_blas():
    """Run one small float32 product in every BLAS the engines use, so their
    thread pools and buffers exist before timing or memory baselines."""
    a = np.ones((64, 64), dtype=np.float32)
    np.matmul(a, a)
    from brainstorm.handlers import _blas
    _blas.gemm_into(a, a, np.empty_like(a))  # loads MKL where brainstorm uses it
    # oneDNN takes only the products OpenBLAS would run on more than one thread; its
    # first one sets the library up (6.3 MB resident on the AMD EPYC of bench/README.md)
    b = np.ones((128, 128), dtype=np.float32)
    _blas.gemm_into(b, b, np.empty_like(b))
    try:
        from scipy.linalg import blas
        blas.sgemm(1.0, a, a)
    except ImportError:
        pass


def brainstorm_blas():
    """The BLAS brainstorm's NumpyHandler uses in this process, e.g. ``'mkl'``."""
    from brainstorm.handlers import _cblas
    cblas = _cblas.load()
    if cblas is None:
        return 'scipy (OpenBLAS)'
    version = f" {cblas.version}" if getattr(cblas, 'version', None) else ''
    return cblas.name + version


def machine_lines():
    """Lines describing the machine and libraries, for the report header."""
    lines = [f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, "
             f"Python {platform.python_version()}, numpy {np.__version__}"]
    for variable in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'OPENBLAS_NUM_THREADS',
                     'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        if variable in os.environ:
            lines.append(f"environment: {variable}={os.environ[variable]}")
    lines.extend(f"blas: {line}" for line in blas_description())
    lines.append(f"brainstorm's BLAS: {brainstorm_blas()} "
                 f"(BRAINSTORM_BLAS={os.environ.get('BRAINSTORM_BLAS', 'auto')})")
    from brainstorm.handlers import _compiled_kernels
    for kernels in _compiled_kernels.MODULES:
        module = _compiled_kernels.load(kernels)
        lines.append(f"brainstorm's {kernels} kernels: " + (
            'compiled' if module else
            f"numpy ({_compiled_kernels.unavailable_reason(kernels) or 'switched off'})") +
            f" (BRAINSTORM_COMPILED_KERNELS="
            f"{os.environ.get('BRAINSTORM_COMPILED_KERNELS', 'auto')})")
    return lines


def format_table(header, rows):
    """Plain-text table with left-aligned columns (every cell is turned into a string)."""
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = []
    for index, row in enumerate(cells):
        lines.append('  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            lines.append('  '.join('-' * width for width in widths))
    return '\n'.join(lines)
