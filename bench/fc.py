"""One FullyConnected layer's forward+backward against the three matrix products it needs.

The network is Input(784) -> FullyConnected(1200) on ``NumpyHandler(float32)``,
batch 100. One pass is ``forward_pass(training_pass=True)`` then
``backward_pass()`` (which clears the backward buffers, computes the activation
derivative, input deltas, weight and bias gradients). The reference is the
three raw products with preallocated outputs: ``x @ W``, ``dH @ W.T`` and
``x.T @ dH``. Both are timed in alternating rounds in one process; the script
prints the ratio (target: at most 1.15) as min/median/max over rounds, for the
default ReLU activation and for a linear layer.

Usage:
    python bench/fc.py [--rounds 15] [--steps 20] [--batch 100] [--inputs 784] [--units 1200]
"""

import argparse
import os
import sys

if __package__ in (None, ''):  # run as a script: python bench/fc.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from bench import _common  # noqa: E402

TARGET = 1.15


def layer_pass(batch, inputs, units, activation, seed=0):
    """A step function: one forward+backward pass of Input -> FullyConnected."""
    from brainstorm import layers
    from brainstorm.structure.network import Network
    rnd = np.random.RandomState(seed)
    input_layer = layers.Input(out_shapes={'default': (inputs,)})
    dense = layers.FullyConnected(units, activation=activation, name='FC')
    net = Network.from_layer(input_layer >> dense)
    net.handler.set_from_numpy(net.buffer.parameters,
                               rnd.uniform(-0.05, 0.05, net.buffer.parameters.shape))
    net.provide_external_data(
        {'default': rnd.standard_normal((1, batch, inputs)).astype(np.float32)})

    def step():
        # backward_pass clears all deltas first: without a loss layer the layer's output
        # deltas are zeros, which costs BLAS the same as any other values
        net.forward_pass(training_pass=True)
        net.backward_pass()
    return step


def matmul_pass(batch, inputs, units, seed=0):
    """A step function: the three products of a FullyConnected forward+backward."""
    rnd = np.random.RandomState(seed)
    x = rnd.standard_normal((batch, inputs)).astype(np.float32)
    W = rnd.standard_normal((inputs, units)).astype(np.float32)
    dH = rnd.standard_normal((batch, units)).astype(np.float32)
    y = np.empty((batch, units), np.float32)
    dx = np.empty((batch, inputs), np.float32)
    dW = np.empty((inputs, units), np.float32)

    def step():
        np.matmul(x, W, out=y)
        np.matmul(dH, W.T, out=dx)
        np.matmul(x.T, dH, out=dW)
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--batch', type=int, default=100)
    parser.add_argument('--inputs', type=int, default=784)
    parser.add_argument('--units', type=int, default=1200)
    parser.add_argument('--cpu-clock', action='store_true',
                        help='time by process CPU time (single-threaded runs on a loaded '
                             'machine; see bench/_common.py)')
    args = parser.parse_args(argv)
    if args.cpu_clock:
        _common.use_cpu_clock()
    _common.warm_up_blas()
    for line in _common.machine_lines():
        print(line)
    flops = 3 * 2 * args.batch * args.inputs * args.units
    for activation in ('rel', 'linear'):
        steps = {'brainstorm': layer_pass(args.batch, args.inputs, args.units, activation),
                 'matmul': matmul_pass(args.batch, args.inputs, args.units)}
        for step in steps.values():
            for _ in range(3):
                step()
        times = _common.alternate(steps, args.rounds, args.steps)
        ratio = [ours / theirs for ours, theirs in zip(times['brainstorm'], times['matmul'])]
        low, middle, high = _common.summary(ratio)
        ours = _common.summary(times['brainstorm'])[1]
        theirs = _common.summary(times['matmul'])[1]
        verdict = 'met' if middle <= TARGET else 'NOT met'
        print(f"FullyConnected {args.inputs}->{args.units} ({activation}), batch {args.batch}, "
              f"float32: forward+backward {ours * 1e3:.2f} ms, 3 np.matmul {theirs * 1e3:.2f} ms "
              f"({flops / theirs / 1e9:.1f} GFLOP/s); ratio min/median/max "
              f"{low:.3f}/{middle:.3f}/{high:.3f} (target <= {TARGET}: {verdict})")
    return 0


if __name__ == '__main__':
    sys.exit(main())
