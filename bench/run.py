"""Benchmark brainstorm's NumpyHandler (float32) against PyTorch on the CPU, as ratios.

For each of the spec's example networks (see ``bench/networks.py``) it times,
in ONE process and in alternating rounds:

* a training step: feed a batch, forward, backward and an SGD-with-momentum
  update (brainstorm: ``provide_external_data``, the network's passes and its
  ``MomentumStepper``; torch: ``zero_grad``, forward, ``backward``, ``SGD.step``);
* an inference pass: feed a batch, forward in test mode, loss (torch under
  ``torch.inference_mode``);

and reports step times, throughput (samples/s; characters/s for the LSTM) and
the ratio brainstorm time / torch time per round as min/median/max. Both
engines run the same network with the same parameter values on the same data
(checked: their inference losses must agree). For ``mnist_pi`` it also times
the training step's eight matrix products as a plain ``np.matmul`` loop and
reports the fraction of that speed each engine reaches.

Peak memory is measured in fresh subprocesses per engine and network (see
``memory_probe``), as the model's persistent memory plus the growth of the
resident set size over training and inference steps; ``--memory-repeats``
processes per engine (default 3), the median reported.

Without torch (not importable, or ``--no-torch``) only brainstorm's numbers are
reported. ``--quick`` is a smoke run: small batches, one timed step per round.

Usage:
    python -m bench [--quick] [--examples mnist_pi ...] [--rounds 7] [--steps 5]
                    [--no-torch] [--no-memory] [--memory-repeats 3] [--json results.json]
"""

import argparse
import dataclasses
import datetime
import json
import os
import statistics
import subprocess
import sys

if __package__ in (None, ''):  # run as a script: python bench/run.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from bench import _common  # noqa: E402
from bench.networks import EXAMPLES, LEARNING_RATE, MOMENTUM, inference_losses, \
    torch_loss  # noqa: E402

QUICK_SIZES = {'batch_size': 4, 'time_steps': 3}
#: relative difference of the two engines' inference losses above which the run stops
LOSS_TOLERANCE = 1e-3


def import_torch(disabled):
    """The torch module, or None (with the reason) when disabled or not importable."""
    if disabled:
        return None, 'disabled by --no-torch'
    try:
        import torch
    except ImportError as error:
        return None, f'not importable ({error}); install the bench extra: pip install ".[bench]"'
    return torch, None


# ---- training and inference steps -------------------------------------------------------

def brainstorm_training_step(net, data):
    """A step function: feed ``data``, forward, backward, momentum update.

    Uses ``brainstorm.training.MomentumStepper`` when it exists; until then the
    same update (v = momentum * v - lr * gradients; parameters += v) done with
    handler operations on the network's single parameter and gradient arrays.
    """
    try:
        from brainstorm.training.steppers import MomentumStepper
    except ImportError:
        MomentumStepper = None
    if MomentumStepper is not None:
        # unscaled learning rate: the same update as torch.optim.SGD with momentum
        stepper = MomentumStepper(learning_rate=LEARNING_RATE, momentum=MOMENTUM,
                                  scale_learning_rate=False)
        stepper.start(net)

        def step():
            net.provide_external_data(data)
            stepper.run()
        return step

    handler = net.handler
    parameters, gradients = net.buffer.parameters, net.buffer.gradients
    velocity = handler.zeros(parameters.shape)

    def step():
        net.provide_external_data(data)
        net.forward_pass(training_pass=True)
        net.backward_pass()
        handler.mult_st(MOMENTUM, velocity, velocity)
        handler.mult_add_st(-LEARNING_RATE, gradients, velocity)
        handler.add_tt(parameters, velocity, parameters)
    return step


def brainstorm_inference_step(net, data):
    def step():
        net.provide_external_data(data)
        net.forward_pass(training_pass=False)
    return step


def torch_steps(torch, example, model, data):
    """(training step, inference step) functions for the torch model."""
    inputs, labels = example.torch_data(data)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)

    def train():
        model.train()
        optimizer.zero_grad()
        torch_loss(example, model(inputs), labels).backward()
        optimizer.step()

    def infer():
        model.eval()
        with torch.inference_mode():
            torch_loss(example, model(inputs), labels)
    return train, infer


def mlp_gemm_step(example):
    """A step function running the matrix products of one MLP training step with np.matmul.

    Returns (step, flops): forward x @ W per layer, backward x.T @ dH per layer
    and dH @ W.T for every layer but the first (the data needs no deltas).
    """
    rnd = np.random.RandomState(0)
    sizes = [example.in_shape[0], 1200, 1200, example.classes]
    batch = example.samples_per_batch
    calls, flops = [], 0
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        x = rnd.standard_normal((batch, n_in)).astype(np.float32)
        W = rnd.standard_normal((n_in, n_out)).astype(np.float32)
        dH = rnd.standard_normal((batch, n_out)).astype(np.float32)
        calls.append((x, W, np.empty((batch, n_out), np.float32)))
        calls.append((x.T, dH, np.empty((n_in, n_out), np.float32)))
        flops += 2 * 2 * batch * n_in * n_out
        if index > 0:
            calls.append((dH, W.T, np.empty((batch, n_in), np.float32)))
            flops += 2 * batch * n_in * n_out

    def step():
        for a, b, out in calls:
            np.matmul(a, b, out=out)
    return step, flops


# ---- one example --------------------------------------------------------------------------

def measure_example(example, torch, rounds, steps, warmup, settle_seconds):
    """Time one example; returns a dict of results (seconds, ratios, check values)."""
    data = example.make_data()
    net = example.build_brainstorm()
    train = {'brainstorm': brainstorm_training_step(net, data)}
    infer = {'brainstorm': brainstorm_inference_step(net, data)}
    result = {'name': example.name, 'batch_size': example.batch_size,
              'time_steps': example.time_steps,
              'targets': dataclasses.asdict(example.targets) if example.targets else None}
    if torch is not None:
        model = example.build_torch(net)
        ours, theirs = inference_losses(example, net, model, data)
        result['inference_loss'] = {'brainstorm': ours, 'torch': theirs}
        if abs(ours - theirs) > LOSS_TOLERANCE * max(1.0, abs(theirs)):
            raise RuntimeError(f"{example.name}: the engines disagree (inference loss "
                               f"{ours} vs {theirs}): not the same network")
        train['torch'], infer['torch'] = torch_steps(torch, example, model, data)
    if example.name == 'mnist_pi':
        train['numpy_gemm'], result['gemm_flops'] = mlp_gemm_step(example)
    for phase, steps_by_engine in (('train', train), ('infer', infer)):
        for step in steps_by_engine.values():
            for _ in range(warmup):
                step()
        result[phase] = _common.alternate(steps_by_engine, rounds, steps, settle_seconds)
    return result


def ratios(result, phase, engine='brainstorm', other='torch'):
    times = result[phase]
    if other not in times:
        return None
    return [ours / theirs for ours, theirs in zip(times[engine], times[other])]


# ---- memory -----------------------------------------------------------------------------------

def memory_probe(engine, example, steps):
    """Peak memory of training one example with one engine, in bytes (in a fresh process).

    The network (and, for torch, the model) is built and initialised first, the
    data made and every BLAS warmed up; then the peak-RSS mark is reset and
    ``steps`` training steps and one inference pass run. The result is the
    model's persistent memory at the reset, counted exactly (torch: its
    parameters; brainstorm: the arrays its BufferManager holds, resized for
    the data's T and B and written once, so that they are resident), plus the
    peak RSS growth over the steps (activations, gradients, optimizer state,
    scratch, allocator overhead). So a one-time cost of building (brainstorm's
    initializers draw float64 arrays) is left out for both. For brainstorm
    ``brainstorm-traced`` gives tracemalloc's peak from the stepper's creation
    on over the same steps plus the same persistent bytes, which counts
    numpy's array memory exactly.
    """
    import gc
    tracing = engine == 'brainstorm-traced'
    data = example.make_data()
    _common.warm_up_blas()
    net = example.build_brainstorm()
    if engine == 'torch':
        import torch
        model = example.build_torch(net)
        del net
        persistent = sum(p.numel() * p.element_size() for p in model.parameters())
        torch.mm(torch.ones(64, 64), torch.ones(64, 64))
        train, infer = torch_steps(torch, example, model, data)
    else:
        # sized for the data first, so that its arrays are counted once, here
        # (a resize in the first step would count the small T=1, B=1 ones twice)
        time_size, batch_size = data['default'].shape[:2]
        net.buffer_manager.resize(time_size, batch_size)
        persistent = 0
        for array in net.buffer_manager._memory.values():
            # zeros from calloc are not resident until written: write them (values unchanged)
            np.multiply(array, 1.0, out=array)
            persistent += array.nbytes
        if tracing:
            # from here on: the stepper's state (its velocity) is made next
            import tracemalloc
            tracemalloc.start()
        train = brainstorm_training_step(net, data)
        infer = brainstorm_inference_step(net, data)
    gc.collect()
    baseline = _common.reset_peak_rss()
    for _ in range(steps):
        train()
    infer()
    if tracing:
        return {'traced_peak_bytes': tracemalloc.get_traced_memory()[1] + persistent}
    peak = _common.peak_rss_since_reset()
    if baseline is None or peak is None:
        return {'peak_bytes': None}
    return {'peak_bytes': peak - baseline + persistent, 'persistent_bytes': persistent}


def run_memory_probes(example_name, engines, quick, steps, repeats=1):
    """Run :func:`memory_probe` in fresh subprocesses; engine -> result dict.

    Each engine is probed ``repeats`` times, the engines taking turns; a
    figure is the median over its repeats (torch's peak varies from process to
    process by some 20 % with its allocator's and oneDNN's choices), and
    ``<figure>_all`` keeps every value.
    """
    runs = {engine: [] for engine in engines}
    for _ in range(repeats):
        for engine in engines:
            command = [sys.executable, '-m', 'bench.run', '--memory-probe', engine,
                       '--examples', example_name, '--steps', str(steps)]
            if quick:
                command.append('--quick')
            completed = subprocess.run(command, capture_output=True, text=True,
                                       cwd=os.path.dirname(os.path.dirname(
                                           os.path.abspath(__file__))))
            if completed.returncode != 0:
                raise RuntimeError(f"memory probe {engine} {example_name} failed:\n"
                                   f"{completed.stderr[-2000:]}")
            runs[engine].append(json.loads(completed.stdout.strip().splitlines()[-1]))
    results = {}
    for engine, probes in runs.items():
        result = {}
        for figure in probes[0]:
            values = [probe[figure] for probe in probes]
            known = [value for value in values if value is not None]
            result[figure] = statistics.median(known) if known else None
            result[figure + '_all'] = values
        results[engine] = result
    return results


# ---- report ---------------------------------------------------------------------------------

def _ms(seconds):
    return f"{seconds * 1e3:.1f}"


def _triple(values):
    low, middle, high = _common.summary(values)
    return f"{low:.2f}/{middle:.2f}/{high:.2f}"


def _megabytes(value):
    return '-' if value is None else f"{value / 2 ** 20:.0f}"


def _target(result, kind, ratio):
    """'<= 1.1 met' / '<= 1.1 MISSED' for a median ratio; '-' where there is no target."""
    targets = result.get('targets')
    if not targets:
        return '-'
    limit = targets[kind]
    if ratio is None:
        return f"<= {limit}"
    return f"<= {limit} {'met' if round(ratio, 2) <= limit else 'MISSED'}"


def report(results, memory, torch_present):
    """The results table(s) as text."""
    header = ['example', 'T x B', 'train ms bs', 'samples/s bs']
    if torch_present:
        header += ['train ms torch', 'samples/s torch', 'train ratio min/med/max', 'target']
    header += ['infer ms bs']
    if torch_present:
        header += ['infer ms torch', 'infer ratio min/med/max', 'target']
    header += ['peak MB bs (traced)']
    if torch_present:
        header += ['peak MB torch', 'memory ratio', 'target']
    rows = []
    for result in results:
        samples = result['time_steps'] * result['batch_size']
        train_ours = _common.summary(result['train']['brainstorm'])[1]
        infer_ours = _common.summary(result['infer']['brainstorm'])[1]
        row = [result['name'], f"{result['time_steps']} x {result['batch_size']}",
               _ms(train_ours), f"{samples / train_ours:.0f}"]
        if torch_present:
            train_theirs = _common.summary(result['train']['torch'])[1]
            row += [_ms(train_theirs), f"{samples / train_theirs:.0f}",
                    _triple(ratios(result, 'train')),
                    _target(result, 'train', _common.summary(ratios(result, 'train'))[1])]
        row += [_ms(infer_ours)]
        if torch_present:
            row += [_ms(_common.summary(result['infer']['torch'])[1]),
                    _triple(ratios(result, 'infer')),
                    _target(result, 'infer', _common.summary(ratios(result, 'infer'))[1])]
        probes = memory.get(result['name'], {})
        ours = probes.get('brainstorm', {}).get('peak_bytes')
        traced = probes.get('brainstorm-traced', {}).get('traced_peak_bytes')
        row += [f"{_megabytes(ours)} ({_megabytes(traced)})" if probes else 'skipped']
        if torch_present:
            theirs = probes.get('torch', {}).get('peak_bytes')
            row += [_megabytes(theirs) if probes else 'skipped',
                    f"{ours / theirs:.2f}" if ours and theirs else '-',
                    _target(result, 'memory', ours / theirs if ours and theirs else None)]
        rows.append(row)
    lines = [_common.format_table(header, rows)]
    for result in results:
        if 'gemm_flops' not in result:
            continue
        flops = result['gemm_flops']
        gemm = _common.summary(result['train']['numpy_gemm'])[1]
        line = (f"{result['name']}: the step's 8 matrix products as np.matmul: {_ms(gemm)} ms "
                f"= {flops / gemm / 1e9:.1f} GFLOP/s; a brainstorm training step reaches "
                f"{gemm / _common.summary(result['train']['brainstorm'])[1]:.0%} of that")
        if torch_present:
            line += (f", torch's {gemm / _common.summary(result['train']['torch'])[1]:.0%}")
        lines.append(line)
    for result in results:
        if 'inference_loss' in result:
            losses = result['inference_loss']
            lines.append(f"{result['name']}: same function check: inference loss brainstorm "
                         f"{losses['brainstorm']:.6f}, torch {losses['torch']:.6f}")
    return '\n'.join(lines)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog='python -m bench',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: small batches, 2 rounds of 1 step, 1 warm-up step')
    parser.add_argument('--examples', nargs='+', choices=list(EXAMPLES),
                        default=list(EXAMPLES), help='which networks (default: all)')
    parser.add_argument('--rounds', type=int, default=7, help='alternating rounds (default 7)')
    parser.add_argument('--steps', type=int, default=5,
                        help='timed steps per engine and round (default 5)')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first (default 3)')
    parser.add_argument('--no-torch', action='store_true', help='brainstorm only')
    parser.add_argument('--no-memory', action='store_true', help='skip the memory probes')
    parser.add_argument('--memory-repeats', type=int, default=None,
                        help='fresh processes per engine for the peak memory, whose '
                             'median is reported (default 3; 1 with --quick)')
    parser.add_argument('--cpu-clock', action='store_true',
                        help='time by process CPU time instead of wall-clock time (for a '
                             'loaded machine; run single-threaded: OPENBLAS_NUM_THREADS=1 '
                             'MKL_NUM_THREADS=1 OMP_NUM_THREADS=1)')
    parser.add_argument('--json', metavar='FILE', help='also write all figures as JSON')
    parser.add_argument('--memory-probe', metavar='ENGINE', help=argparse.SUPPRESS,
                        choices=['brainstorm', 'brainstorm-traced', 'torch'])
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.warmup = 2, 1, 1
    if args.memory_repeats is None:
        args.memory_repeats = 1 if args.quick else 3
    args.memory_repeats = max(1, args.memory_repeats)
    return args


def selected_examples(args):
    examples = [EXAMPLES[name] for name in args.examples]
    if args.quick:
        examples = [example.shrunk(**QUICK_SIZES) for example in examples]
    return examples


def main(argv=None):
    args = parse_arguments(argv)
    examples = selected_examples(args)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe, examples[0], args.steps)))
        return 0
    torch, why_not = import_torch(args.no_torch)
    if args.cpu_clock:
        _common.use_cpu_clock()
    print(f"brainstorm benchmark, {datetime.datetime.now().isoformat(timespec='minutes')}"
          f"{' (--quick smoke run: small batches, not comparable)' if args.quick else ''}")
    _common.warm_up_blas()  # loads scipy's BLAS too, so that machine_lines lists it
    for line in _common.machine_lines():
        print(line)
    if torch is None:
        print(f"torch: absent, {why_not}; reporting brainstorm alone")
    else:
        print(f"torch: {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"clock: {'process CPU time' if args.cpu_clock else 'wall-clock time'}")
    print(f"protocol: {args.rounds} alternating rounds x {args.steps} steps per engine after "
          f"{args.warmup} warm-up steps; a round's time is its median step, each block after "
          f"{_common.SETTLE_SECONDS} s idle; ratio = brainstorm / torch per round")
    if not args.no_memory:
        print(f"peak memory: median of {args.memory_repeats} fresh processes per "
              f"engine")
    results, memory = [], {}
    for example in examples:
        print(f"... {example.name}", file=sys.stderr, flush=True)
        results.append(measure_example(example, torch, args.rounds, args.steps, args.warmup,
                                       0.0 if args.quick else _common.SETTLE_SECONDS))
        if not args.no_memory:
            engines = ['brainstorm', 'brainstorm-traced'] + (['torch'] if torch else [])
            memory[example.name] = run_memory_probes(
                example.name, engines, args.quick, max(2, args.warmup), args.memory_repeats)
    print()
    print(report(results, memory, torch is not None))
    if args.json:
        with open(args.json, 'w') as output:
            json.dump({'cpu_model': _common.cpu_model(), 'blas': _common.brainstorm_blas(),
                       'machine': _common.machine_lines(), 'results': results,
                       'memory': memory}, output, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
