"""Time forward+backward of Lstm and Gru layers (T=100, B=50, 205 inputs; 256 and 1000 cells).

The network is Input -> Lstm(size) or Input -> Gru(size), float32 on ``NumpyHandler``. One pass is a
training forward pass, then a backward pass from random output deltas (input
deltas included). The script prints the best pass of ``--repeats`` as
milliseconds and as characters per second (T*B / seconds).

With ``--torch-python PATH`` it also times ``torch.nn.LSTM`` / ``torch.nn.GRU`` of the same size on
the CPU (no peepholes; input gradients on), run by that interpreter (torch is
not a dependency of brainstorm; keep it in its own virtual environment, e.g.
``python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch numpy``),
and prints brainstorm's time over torch's. Brainstorm and torch are timed in
alternating rounds, so that load from other processes hits both alike.

BLAS threads: NumpyHandler's BLAS uses as many threads as its library chooses;
set ``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS`` (oneDNN's and MKL's) to
compare at a fixed count, and pass the
same number as ``--torch-threads`` (torch's default is one per core).

Usage:
    python bench/lstm.py [--repeats 5] [--rounds 2] [--sizes 256 1000] [--layers Lstm Gru]
                         [--torch-python /tmp/torchvenv/bin/python] [--torch-threads N]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from brainstorm.handlers import NumpyHandler
from brainstorm.structure.network import Network
from brainstorm.testing import LAYER_NAME, build_architecture

TIME_STEPS, BATCH, INPUTS = 100, 50, 205

TORCH_SCRIPT = r'''
import json, sys, time, torch
size, repeats, T, B, I, threads = (int(v) for v in sys.argv[1:7])
if threads > 0:
    torch.set_num_threads(threads)
torch.manual_seed(0)
lstm = getattr(torch.nn, sys.argv[7])(I, size)
x = torch.randn(T, B, I, requires_grad=True)
deltas = torch.randn(T, B, size)
def step():
    out, _ = lstm(x)
    out.backward(deltas)
step(); step()
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter(); step(); best = min(best, time.perf_counter() - start)
print(json.dumps(best))
'''


class LstmPass:
    """One Input -> Lstm(size) (or another recurrent layer type) network with random data,
    parameters and output deltas."""

    def __init__(self, size, seed=0, layer_type='Lstm'):
        rnd = np.random.RandomState(seed)
        architecture = build_architecture(layer_type, {'size': size}, {'default': (INPUTS,)})
        self.net = Network.from_architecture(architecture)
        self.net.set_handler(NumpyHandler(np.float32))
        handler = self.net.handler
        parameters = self.net.buffer.parameters
        handler.set_from_numpy(parameters, rnd.uniform(-0.1, 0.1, parameters.shape))
        self.net.provide_external_data(
            {'default': rnd.standard_normal((TIME_STEPS, BATCH, INPUTS)).astype(np.float32)})
        self.deltas = rnd.standard_normal((TIME_STEPS, BATCH, size)).astype(np.float32)
        self.layer = self.net.layers[LAYER_NAME]
        self.views = self.net.buffer[LAYER_NAME]

    def run(self):
        """Forward, then backward from the output deltas (all backward buffers cleared first)."""
        net = self.net
        net.forward_pass(training_pass=True)
        net.buffer_manager.clear_backward_buffers()
        net.handler.set_from_numpy(self.views.output_deltas.default[:TIME_STEPS], self.deltas)
        self.layer.backward_pass(self.views)


def time_brainstorm(lstm_pass, repeats):
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        lstm_pass.run()
        best = min(best, time.perf_counter() - start)
    return best


#: brainstorm layer type -> the torch module of the same recurrence
TORCH_MODULES = {'Lstm': 'LSTM', 'Gru': 'GRU'}


def time_torch(python, size, repeats, threads, layer_type='Lstm'):
    completed = subprocess.run(
        [python, '-c', TORCH_SCRIPT, str(size), str(repeats), str(TIME_STEPS), str(BATCH),
         str(INPUTS), str(threads or 0), TORCH_MODULES[layer_type]], check=True,
        capture_output=True, text=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--sizes', type=int, nargs='+', default=[256, 1000])
    parser.add_argument('--layers', nargs='+', choices=list(TORCH_MODULES),
                        default=list(TORCH_MODULES))
    parser.add_argument('--torch-python', help='python interpreter that can import torch')
    parser.add_argument('--torch-threads', type=int, help="torch's thread count (default: its own)")
    args = parser.parse_args(argv)
    characters = TIME_STEPS * BATCH
    for layer_type, size in ((layer_type, size) for layer_type in args.layers
                             for size in args.sizes):
        lstm_pass = LstmPass(size, layer_type=layer_type)
        lstm_pass.run()  # fills the handler's scratch cache
        ours = theirs = float('inf')
        for _ in range(args.rounds):
            ours = min(ours, time_brainstorm(lstm_pass, args.repeats))
            if args.torch_python:
                theirs = min(theirs, time_torch(args.torch_python, size, args.repeats,
                                                args.torch_threads, layer_type))
        line = (f"{layer_type:4s} {size:5d}: brainstorm {ours * 1e3:8.1f} ms  "
                f"{characters / ours:9.0f} chars/s")
        if args.torch_python:
            line += (f" | torch {theirs * 1e3:8.1f} ms  {characters / theirs:9.0f} chars/s"
                     f" | ratio {ours / theirs:.2f}")
        print(line + f"  (T={TIME_STEPS}, B={BATCH}, {INPUTS} inputs, float32, "
                     f"forward+backward, best pass; OPENBLAS_NUM_THREADS="
                     f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, OMP_NUM_THREADS="
                     f"{os.environ.get('OMP_NUM_THREADS', 'unset')})")
    return 0


if __name__ == '__main__':
    sys.exit(main())
