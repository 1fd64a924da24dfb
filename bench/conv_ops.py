"""Time the conv and pool handler ops of the cifar10_cnn network (batch 100, float32).

The network's image part is Conv 32 5x5 pad 2 -> MaxPool 3x3 stride 2 -> Conv 32 5x5
pad 2 -> MaxPool -> Conv 64 5x5 pad 2 -> MaxPool, on 32x32x3 NHWC images. The script
runs forward and backward of exactly these ops through ``NumpyHandler`` and prints
milliseconds per op and in total, best of ``--repeats`` runs.

With ``--torch-python PATH`` it also times the same layers in PyTorch on the CPU,
run by that interpreter (torch is not a dependency of brainstorm; keep it in its own
virtual environment), and prints the ratio.

Usage:
    python bench/conv_ops.py [--repeats 10] [--torch-python /tmp/torchvenv/bin/python]
"""

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from brainstorm.handlers.numpy_handler import NumpyHandler

BATCH = 100
# (in height/width, in channels, filters) of each conv; every conv is 5x5, padding 2,
# stride 1, and is followed by a 3x3 max-pool with stride 2 and no padding.
CONVS = [(32, 3, 32), (15, 32, 32), (7, 32, 64)]
KERNEL, PADDING, WINDOW, POOL_STRIDE = 5, 2, (3, 3), (2, 2)

TORCH_SCRIPT = r'''
import json, sys, time, torch
repeats, input_deltas = int(sys.argv[1]), sys.argv[2] == "1"
torch.manual_seed(0)
convs = [torch.nn.Conv2d(c, f, 5, padding=2) for (_, c, f) in %r]
pool = torch.nn.MaxPool2d(3, 2)
results = {}
for layout in ("NCHW", "channels_last"):
    x = torch.randn(%d, 3, 32, 32)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
        for conv in convs:
            conv.to(memory_format=torch.channels_last)
    x.requires_grad_(input_deltas)
    def step():
        h = x
        for conv in convs:
            h = pool(conv(h))
        h.backward(torch.ones_like(h))
    step(); step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter(); step(); best = min(best, time.perf_counter() - start)
    results[layout] = best * 1e3
print(json.dumps(results))
''' % (CONVS, BATCH)


def build_layers(handler, rng):
    """Return per-layer dicts of float32 buffers for the three conv+pool stages."""
    layers = []
    for size, channels, filters in CONVS:
        pooled = (size - WINDOW[0]) // POOL_STRIDE[0] + 1
        layer = {
            'inputs': rng.standard_normal((BATCH, size, size, channels)),
            'weights': 0.05 * rng.standard_normal((filters, KERNEL, KERNEL, channels)),
            'bias': np.zeros(filters),
            'conv_out': np.zeros((BATCH, size, size, filters)),
            'pool_out': np.zeros((BATCH, pooled, pooled, filters)),
            'argmax': np.zeros((BATCH, pooled, pooled, filters)),
        }
        layer = {name: value.astype(handler.dtype) for name, value in layer.items()}
        layer['in_deltas'] = np.zeros_like(layer['inputs'])
        layer['conv_deltas'] = np.zeros_like(layer['conv_out'])
        layer['pool_deltas'] = rng.standard_normal(layer['pool_out'].shape).astype(handler.dtype)
        layer['weight_deltas'] = np.zeros_like(layer['weights'])
        layer['bias_deltas'] = np.zeros_like(layer['bias'])
        layers.append(layer)
    return layers


def op_calls(handler, layers):
    """(name, callable) for every op of one forward+backward pass, in execution order."""
    calls = []
    for index, layer in enumerate(layers):
        calls.append(('conv{} forward'.format(index + 1), lambda l=layer: handler.conv2d_forward_batch(
            l['inputs'], l['weights'], l['bias'], l['conv_out'], PADDING, (1, 1))))
        calls.append(('pool{} forward'.format(index + 1), lambda l=layer: handler.maxpool2d_forward_batch(
            l['conv_out'], WINDOW, l['pool_out'], 0, POOL_STRIDE, l['argmax'])))
    for index, layer in reversed(list(enumerate(layers))):
        calls.append(('pool{} backward'.format(index + 1), lambda l=layer: handler.maxpool2d_backward_batch(
            l['conv_out'], WINDOW, l['pool_out'], 0, POOL_STRIDE, l['argmax'],
            l['conv_deltas'], l['pool_deltas'])))
        calls.append(('conv{} backward'.format(index + 1), lambda l=layer: handler.conv2d_backward_batch(
            l['inputs'], l['weights'], PADDING, (1, 1), l['in_deltas'], l['conv_deltas'],
            l['weight_deltas'], l['bias_deltas'])))
    return calls


def time_numpy(repeats):
    handler = NumpyHandler(np.float32)
    calls = op_calls(handler, build_layers(handler, np.random.default_rng(0)))
    best = {name: float('inf') for name, _ in calls}
    best_total = float('inf')
    for _ in range(repeats + 1):  # the first pass fills the scratch cache
        total = 0.0
        for name, call in calls:
            start = time.perf_counter()
            call()
            elapsed = time.perf_counter() - start
            best[name] = min(best[name], elapsed)
            total += elapsed
        best_total = min(best_total, total)
    return {name: seconds * 1e3 for name, seconds in best.items()}, best_total * 1e3


def time_torch(python, repeats, input_deltas):
    completed = subprocess.run(
        [python, '-c', TORCH_SCRIPT, str(repeats), '1' if input_deltas else '0'],
        check=True, capture_output=True, text=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--torch-python', help='python interpreter that can import torch')
    args = parser.parse_args(argv)
    per_op, total = time_numpy(args.repeats)
    for name, milliseconds in per_op.items():
        print('{:<16} {:8.1f} ms'.format(name, milliseconds))
    print('{:<16} {:8.1f} ms  (forward+backward, batch {}, float32; best pass)'.format(
        'numpy total', total, BATCH))
    if args.torch_python:
        # brainstorm computes the first conv's input deltas too, so torch does as well
        for input_deltas in (True, False):
            timings = time_torch(args.torch_python, args.repeats, input_deltas)
            for layout, milliseconds in timings.items():
                print('{:<16} {:8.1f} ms  torch {} {} input deltas -> ratio {:.2f}'.format(
                    'torch', milliseconds, layout, 'with' if input_deltas else 'without',
                    total / milliseconds))
    return 0


if __name__ == '__main__':
    sys.exit(main())
