"""Where a step's time goes: CPU time per handler op, and what is left for Python.

Wraps every public method of the network's handler in a timer, runs training
or inference steps of one example network (see ``bench/networks.py``) and
prints, per op: calls per step, CPU milliseconds per step and the share of the
step. "python" is the step's CPU time outside any op (layer code, buffer
views, the network's loop). CPU time (``time.thread_time``, this thread only)
rather than wall-clock time, so that other processes on a loaded machine hurt
the figures less; run it single-threaded (``OPENBLAS_NUM_THREADS=1
OMP_NUM_THREADS=1``: OpenMP's for oneDNN and MKL) so that
the thread's CPU time is all the work. The timers cost about a microsecond per
call, billed to "python".

``--wall-clock`` times with ``time.perf_counter`` instead: what a step takes with
all BLAS threads, as ``python -m bench`` measures it (needs a quiet machine).

Usage:
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/profile_ops.py mnist_pi [--phase infer] [--steps 20]
    python bench/profile_ops.py hutter_lstm_256 --wall-clock
"""

import argparse
import collections
import functools
import os
import sys
import time

if __package__ in (None, ''):  # run as a script: python bench/profile_ops.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.networks import EXAMPLES  # noqa: E402
from bench.run import brainstorm_inference_step, brainstorm_training_step  # noqa: E402


def instrument(handler, clock=time.thread_time):
    """Replace the handler's public methods by timed wrappers; returns op -> [calls, seconds]."""
    totals = collections.defaultdict(lambda: [0, 0.0])
    depth = [0]  # composites call primitives: bill only the outermost op

    def timed(name, method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            if depth[0]:
                return method(*args, **kwargs)
            depth[0] += 1
            start = clock()
            try:
                return method(*args, **kwargs)
            finally:
                totals[name][1] += clock() - start
                totals[name][0] += 1
                depth[0] -= 1
        return wrapper

    for name in dir(type(handler)):
        if name.startswith('_') or name == 'set_seed' or \
                isinstance(getattr(type(handler), name), property):
            continue  # the activation tables are properties; their entries are timed ops
        method = getattr(handler, name)
        if callable(method):
            setattr(handler, name, timed(name, method))
    return totals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('example', choices=list(EXAMPLES))
    parser.add_argument('--phase', choices=['train', 'infer'], default='infer')
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--wall-clock', action='store_true',
                        help='wall-clock time (all threads) instead of this thread\'s CPU time')
    args = parser.parse_args(argv)
    clock, unit = (time.perf_counter, 'wall-clock') if args.wall_clock else (time.thread_time,
                                                                              'CPU')
    example = EXAMPLES[args.example]
    data = example.make_data()
    net = example.build_brainstorm()
    make = brainstorm_training_step if args.phase == 'train' else brainstorm_inference_step
    step = make(net, data)
    for _ in range(3):
        step()
    totals = instrument(net.handler, clock)
    step()
    totals.clear()
    start = clock()
    for _ in range(args.steps):
        step()
    total = (clock() - start) / args.steps
    in_ops = sum(seconds for _, seconds in totals.values()) / args.steps
    print(f"{args.example} {args.phase}: {total * 1e3:.3f} ms {unit} per step, "
          f"{args.steps} steps")
    rows = sorted(totals.items(), key=lambda item: -item[1][1])
    rows.append(('python (outside ops)', [0, (total - in_ops) * args.steps]))
    for name, (calls, seconds) in rows:
        per_step = seconds / args.steps
        print(f"  {name:28s} {calls / args.steps:8.1f} calls {per_step * 1e3:9.3f} ms "
              f"{per_step / total:6.1%}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
