"""Training throughput of the spec's example networks on the GPU next to the CPU.

For each example network (``bench/networks.py``: mnist_pi, cifar10_cnn, the
hutter LSTMs) it builds the network twice with the same parameters, once on
``NumpyHandler(float32)`` (CPU) and once on ``PyCudaHandler(float32)`` (GPU),
checks that one inference pass gives the same loss on both (relative
difference below 1e-3: the two handlers compute the same function), then times
training steps (feed a batch, forward, backward, momentum update) on each and
reports step times and samples/s (characters/s for the LSTMs). Every GPU step
ends with a device synchronisation, so the times are complete.

Without a GPU (no pycuda, no driver, no device) it says so and exits 0 after
the CPU numbers (or at once with ``--gpu-only``).

Usage:
    python -m bench.gpu [--quick] [--examples mnist_pi ...] [--steps 5] [--cpu-steps 2]
                        [--gpu-only] [--json results.json]
"""

import argparse
import json
import os
import statistics
import sys

if __package__ in (None, ''):  # run as a script: python bench/gpu.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from bench import _common  # noqa: E402
from bench.networks import EXAMPLES, LEARNING_RATE, MOMENTUM  # noqa: E402

QUICK_SIZES = {'batch_size': 4, 'time_steps': 3}
LOSS_TOLERANCE = 1e-3


def gpu_handler():
    """(PyCudaHandler(float32), None) or (None, the reason there is none)."""
    from brainstorm.errors import HandlerUnavailableError
    from brainstorm.handlers import PyCudaHandler
    try:
        return PyCudaHandler(np.float32, seed=1), None
    except HandlerUnavailableError as error:
        return None, str(error)


def device_name(handler):
    try:
        return handler.context.get_device().name()
    except Exception:  # a description only; never fail the benchmark for it
        return 'unknown device'


def training_step(net, data, synchronize=None):
    """A step: feed ``data``, forward, backward, momentum update (then wait for the GPU)."""
    from brainstorm.training.steppers import MomentumStepper
    stepper = MomentumStepper(learning_rate=LEARNING_RATE, momentum=MOMENTUM,
                              scale_learning_rate=False)
    stepper.start(net)

    def step():
        net.provide_external_data(data)
        stepper.run()
        if synchronize is not None:
            synchronize()
    return step


def inference_loss(net, data):
    net.provide_external_data(data)
    net.forward_pass(training_pass=False)
    return net.get_loss_values()['total_loss']


def measure(example, handler, steps, warm_up, synchronize=None):
    """Build ``example`` on ``handler``; (inference loss, list of step seconds)."""
    net = example.build_brainstorm()
    if handler is not None:
        net.set_handler(handler)
    data = example.make_data()
    loss = inference_loss(net, data)
    step = training_step(net, data, synchronize)
    _common.time_steps(step, warm_up)
    return loss, _common.time_steps(step, steps)


def row(example, engine, times):
    median = statistics.median(times)
    return [example.name, engine, f"{median * 1000:.1f}", f"{min(times) * 1000:.1f}",
            f"{example.samples_per_batch / median:,.0f}"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='small batches, few steps')
    parser.add_argument('--examples', nargs='+', choices=sorted(EXAMPLES),
                        default=['mnist_pi', 'cifar10_cnn', 'hutter_lstm_256',
                                 'hutter_lstm_1000'])
    parser.add_argument('--steps', type=int, default=20, help='timed GPU steps per network')
    parser.add_argument('--cpu-steps', type=int, default=3, help='timed CPU steps per network')
    parser.add_argument('--gpu-only', action='store_true', help='skip the CPU measurements')
    parser.add_argument('--json', help='also write the results to this file')
    options = parser.parse_args(argv)

    print('\n'.join(_common.machine_lines()))
    handler, reason = gpu_handler()
    if handler is None:
        print(f"no GPU present: {reason}")
        if options.gpu_only:
            return 0
    else:
        print(f"gpu: {device_name(handler)}")
    synchronize = handler.context.synchronize if handler is not None else None

    rows, results, failures = [], {}, []
    for name in options.examples:
        example = EXAMPLES[name]
        if options.quick:
            example = example.shrunk(**QUICK_SIZES)
        steps = 2 if options.quick else options.steps
        cpu_steps = 1 if options.quick else options.cpu_steps
        entry = {'samples_per_batch': example.samples_per_batch}
        if not options.gpu_only:
            cpu_loss, cpu_times = measure(example, None, cpu_steps, 1)
            rows.append(row(example, 'cpu', cpu_times))
            entry['cpu'] = {'loss': cpu_loss, 'step_seconds': cpu_times}
        if handler is not None:
            gpu_loss, gpu_times = measure(example, handler, steps, 3, synchronize)
            rows.append(row(example, 'gpu', gpu_times))
            entry['gpu'] = {'loss': gpu_loss, 'step_seconds': gpu_times}
            if 'cpu' in entry:
                difference = abs(gpu_loss - cpu_loss) / max(abs(cpu_loss), 1e-12)
                entry['loss_relative_difference'] = difference
                speedup = statistics.median(cpu_times) / statistics.median(gpu_times)
                entry['gpu_speedup'] = speedup
                rows[-1].append(f"{speedup:.1f}x")
                if difference > LOSS_TOLERANCE:
                    failures.append(f"{name}: GPU inference loss {gpu_loss} differs from the "
                                    f"CPU's {cpu_loss} by {difference:.2e} (relative)")
        results[name] = entry
    header = ['network', 'engine', 'median step ms', 'min step ms', 'samples/s', 'GPU speedup']
    print(_common.format_table(header, [r + [''] * (len(header) - len(r)) for r in rows]))
    if options.json:
        with open(options.json, 'w') as file:
            json.dump({'gpu': None if handler is None else device_name(handler),
                       'no_gpu_reason': reason, 'results': results}, file, indent=2)
    for failure in failures:
        print(f"MISMATCH {failure}")
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
