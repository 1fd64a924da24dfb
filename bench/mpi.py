"""Data-parallel training on MPI: 2 ranks x 1 thread vs 1 process x 1 and x 2 threads.

``python bench/mpi.py [--steps N] [--rounds R] [--quick]`` runs, for ``mnist_pi`` and
``hutter_lstm_256`` (bench/networks.py, float32, the global batch of the spec:
100 images, or 50 sequences of 100 characters), three configurations, each in
fresh processes with its BLAS thread count fixed before numpy loads:

* ``1x1``: one process, one BLAS thread;
* ``1x2``: one process, two BLAS threads;
* ``2x1``: ``mpiexec -n 2``, one BLAS thread each, every rank computing half of
  every batch, gradients summed by ``DataParallel.reduce_gradients`` (the exact
  hot path of ``DataParallelTrainer``: one in-place Allreduce per update).

The three run in turn, ``R`` rounds (so that a change of the machine's load hits
all three alike); each figure is the median over the rounds of a run's median
update time. The load average before and after is printed: on a shared machine
the figures are only as steady as the load.

It prints throughput (samples per second; characters for the LSTM), the median
time per update, the time per update spent in the Allreduce (waiting for the
slower rank included), the gradient size, and a model of the step time on K
ranks connected by a network:

    t(K) = t_compute(1) / K + 2 (K - 1) alpha + 2 (K - 1) / K * S / bandwidth

(a ring allreduce: 2 (K - 1) messages of S / K bytes each way; ``S`` the
gradient bytes, ``alpha`` the per-message latency, ``t_compute(1)`` the measured
1x1 update time; the batch stays global, so each rank computes 1/K of it). The
predictions are for 8 and 64 ranks at 10 Gbit/s (alpha = 25 us, TCP) and 100
Gbit/s (alpha = 3 us, RDMA). They assume compute scales perfectly with a
shrinking per-rank batch, which small per-rank batches do not (BLAS is less
efficient on thin matrices): read them as upper bounds.

``--worker NAME`` is the per-process part (used by the runs above).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPOSITORY not in sys.path:  # python bench/mpi.py
    sys.path.insert(0, REPOSITORY)
NETWORKS = ('mnist_pi', 'hutter_lstm_256')
THREAD_VARIABLES = ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')
#: (name, bandwidth in bytes per second, per-message latency in seconds)
NETWORK_LINKS = (('10 Gbit/s', 10e9 / 8, 25e-6), ('100 Gbit/s', 100e9 / 8, 3e-6))
RANK_COUNTS = (8, 64)
#: (label, processes, BLAS threads per process)
CONFIGURATIONS = (('1x1', 1, 1), ('1x2', 1, 2), ('2x1', 2, 1))


def worker(name, steps, quick):
    """Time ``steps`` updates of ``name`` in this process (under MPI: data parallel)."""
    import numpy as np

    from bench._common import time_steps
    from bench.networks import EXAMPLES
    import brainstorm as bs
    from brainstorm.parallel.launch import world_communicator
    example = EXAMPLES[name]
    if quick:
        example = example.shrunk(batch_size=12, time_steps=5)
    net = example.build_brainstorm()
    data = example.make_data()
    stepper = bs.training.MomentumStepper(learning_rate=0.01, momentum=0.9)
    stepper.start(net)
    comm = world_communicator()
    parallel = None
    if comm is not None:
        from brainstorm.data_iterators.sharding import BatchShard
        from brainstorm.parallel.reduction import DataParallel
        shard = BatchShard(comm.Get_rank(), comm.Get_size())
        part = shard.begin_batch(example.batch_size)
        data = {key: np.ascontiguousarray(values[:, part]) for key, values in data.items()}
        parallel = DataParallel(comm, shard)
        parallel.prepare(net)  # the spare gradient element that carries the stop flag
        parallel.broadcast_parameters(net)
        net.data_parallel = parallel
    net.provide_external_data(data)

    def step():
        net.provide_external_data(data)
        stepper.run()

    time_steps(step, 2)  # warm up
    if comm is not None:
        comm.Barrier()
        parallel.allreduce_seconds, parallel.allreduce_count = 0.0, 0
    times = time_steps(step, steps)
    result = {'step_seconds': statistics.median(times),
              'samples': example.samples_per_batch,
              'gradient_bytes': int(net.buffer.gradients.nbytes)}
    if parallel is not None:
        result['allreduce_seconds'] = parallel.allreduce_seconds / parallel.allreduce_count
        steps_of_all = comm.gather(result['step_seconds'], root=0)
        if comm.Get_rank() != 0:
            return
        result['step_seconds'] = max(steps_of_all)  # the job is as slow as its slowest rank
    print(json.dumps(result))


def _run(name, processes, threads, steps, quick):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [REPOSITORY, os.environ.get('PYTHONPATH')])))
    env.update({variable: str(threads) for variable in THREAD_VARIABLES})
    command = [sys.executable, os.path.abspath(__file__), '--worker', name,
               '--steps', str(steps)] + (['--quick'] if quick else [])
    if processes > 1:
        command = [shutil.which('mpiexec'), '-n', str(processes)] + command
    completed = subprocess.run(command, capture_output=True, text=True, env=env,
                               cwd=REPOSITORY, timeout=1800)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _median_run(results):
    """The run whose update time is the median of ``results`` (dicts of one config)."""
    ordered = sorted(results, key=lambda result: result['step_seconds'])
    return ordered[len(ordered) // 2]


def predicted_step(compute_seconds, gradient_bytes, ranks, bandwidth, latency):
    """The model's seconds per update on ``ranks`` ranks (see the module docstring)."""
    messages = 2 * (ranks - 1)
    return (compute_seconds / ranks + messages * latency +
            messages / ranks * gradient_bytes / bandwidth)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=10, help='timed updates per run')
    parser.add_argument('--rounds', type=int, default=3, help='runs of each configuration')
    parser.add_argument('--quick', action='store_true', help='tiny batches (a smoke run)')
    parser.add_argument('--worker', choices=NETWORKS, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        worker(arguments.worker, arguments.steps, arguments.quick)
        return 0
    from bench._common import format_table, machine_lines
    if shutil.which('mpiexec') is None:
        raise SystemExit("mpiexec not found: pip install '.[mpi]'")
    print('\n'.join(machine_lines()))
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    rows, model_rows = [], []
    for name in NETWORKS:
        rounds = [{label: _run(name, processes, threads, arguments.steps, arguments.quick)
                   for label, processes, threads in CONFIGURATIONS}
                  for _ in range(arguments.rounds)]
        runs = {label: _median_run([one[label] for one in rounds])
                for label, _, _ in CONFIGURATIONS}
        for label, result in runs.items():
            rows.append([name, label, f"{result['samples'] / result['step_seconds']:.0f}",
                         f"{1000 * result['step_seconds']:.1f}",
                         f"{1000 * result['allreduce_seconds']:.2f}"
                         if 'allreduce_seconds' in result else '-',
                         f"{result['gradient_bytes'] / 2 ** 20:.2f}"])
        compute = runs['1x1']['step_seconds']
        size = runs['1x1']['gradient_bytes']
        for link, bandwidth, latency in NETWORK_LINKS:
            for ranks in RANK_COUNTS:
                step = predicted_step(compute, size, ranks, bandwidth, latency)
                model_rows.append([name, link, ranks, f"{1000 * step:.2f}",
                                   f"{compute / step:.1f}", f"{compute / step / ranks:.0%}"])
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print()
    print(format_table(['network', 'ranks x threads', 'samples/s', 'ms/update',
                        'ms in Allreduce', 'gradient MiB'], rows))
    print()
    print(format_table(['network', 'link', 'ranks', 'predicted ms/update', 'speed-up',
                        'efficiency'], model_rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
