"""Training-step throughput of the spec's cifar10_cnn network, optionally against PyTorch.

The network (spec walkthrough): 32x32x3 images -> Conv 32 5x5 pad 2 -> MaxPool 3x3
stride 2 -> Conv 32 5x5 pad 2 -> MaxPool -> Conv 64 5x5 pad 2 -> MaxPool -> FC 64 ->
FC 10 -> SoftmaxCE -> Loss, all ReLU except the output projection, batch 100, float32.
One step is ``forward_pass(training_pass=True)`` + ``backward_pass()`` through
``NumpyHandler(float32)`` (no parameter update, which is the same cheap elementwise
work in both engines). The script prints samples per second, best and median of
``--repeats`` steps.

With ``--torch-python PATH`` it also times the same network (NCHW and channels_last,
``torch.nn.CrossEntropyLoss``, forward + ``backward()``, no update) in PyTorch on the
CPU, run by that interpreter (torch is not a dependency of brainstorm; keep it in
its own virtual environment), and prints the ratio of step times.

Usage:
    python bench/cnn.py [--repeats 20] [--torch-python /tmp/torchvenv/bin/python]
"""

import argparse
import json
import statistics
import subprocess
import time

import numpy as np

import brainstorm.layers as layers
from brainstorm.handlers import NumpyHandler
from brainstorm.initializers import Gaussian
from brainstorm.structure.network import Network

BATCH = 100
IMAGE = (32, 32, 3)
CLASSES = 10

TORCH_SCRIPT = r'''
import json, statistics, sys, time, torch
repeats, batch = int(sys.argv[1]), int(sys.argv[2])
torch.manual_seed(0)
def make_net():
    relu, pool = torch.nn.ReLU(), torch.nn.MaxPool2d(3, 2)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 5, padding=2), relu, pool,
        torch.nn.Conv2d(32, 32, 5, padding=2), relu, pool,
        torch.nn.Conv2d(32, 64, 5, padding=2), relu, pool,
        torch.nn.Flatten(), torch.nn.Linear(64 * 3 * 3, 64), relu, torch.nn.Linear(64, 10))
results = {"threads": torch.get_num_threads()}
for layout in ("NCHW", "channels_last"):
    net, loss_function = make_net(), torch.nn.CrossEntropyLoss()
    x = torch.randn(batch, 3, 32, 32)
    targets = torch.randint(0, 10, (batch,))
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
        net = net.to(memory_format=torch.channels_last)
    def step():
        net.zero_grad(set_to_none=False)
        loss_function(net(x), targets).backward()
    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); step(); times.append(time.perf_counter() - start)
    results[layout] = {"best_ms": min(times) * 1e3, "median_ms": statistics.median(times) * 1e3}
print(json.dumps(results))
'''


def build_network():
    """The cifar10_cnn network, built with brainstorm.tools when it is there."""
    try:
        from brainstorm.tools import get_in_out_layers
        inp, projection = get_in_out_layers('classification', IMAGE, CLASSES)
    except (ImportError, AttributeError):
        inp = layers.Input(out_shapes={'default': IMAGE, 'targets': (1,)})
        projection = layers.FullyConnected(CLASSES, activation='linear',
                                           name='Output_projection')
        output = layers.SoftmaxCE(name='Output')
        projection >> output
        inp - 'targets' >> 'targets' - output
        output - 'loss' >> layers.Loss()
    (inp >>
     layers.Convolution2D(32, kernel_size=(5, 5), padding=2, name='Conv1') >>
     layers.Pooling2D(type="max", kernel_size=(3, 3), stride=(2, 2)) >>
     layers.Convolution2D(32, kernel_size=(5, 5), padding=2, name='Conv2') >>
     layers.Pooling2D(type="max", kernel_size=(3, 3), stride=(2, 2)) >>
     layers.Convolution2D(64, kernel_size=(5, 5), padding=2, name='Conv3') >>
     layers.Pooling2D(type="max", kernel_size=(3, 3), stride=(2, 2)) >>
     layers.FullyConnected(64, name='FC') >>
     projection)
    return Network.from_layer(projection)


def time_brainstorm(repeats):
    """Step times in seconds of forward + backward on one random batch."""
    net = build_network()
    net.set_handler(NumpyHandler(np.float32))
    net.initialize({'Conv*': {'W': Gaussian(0.01), 'bias': 0},
                    'FC': {'W': Gaussian(0.1), 'bias': 0},
                    'Output_projection': {'W': Gaussian(0.1), 'bias': 0}}, seed=1)
    rnd = np.random.RandomState(0)
    net.provide_external_data({
        'default': rnd.standard_normal((1, BATCH) + IMAGE).astype(np.float32),
        'targets': rnd.randint(0, CLASSES, (1, BATCH, 1)).astype(np.float32)})
    for _ in range(3):  # fills the handler's scratch cache
        net.forward_pass(training_pass=True)
        net.backward_pass()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        net.forward_pass(training_pass=True)
        net.backward_pass()
        times.append(time.perf_counter() - start)
    return times


def time_torch(python, repeats):
    result = subprocess.run([python, '-c', TORCH_SCRIPT, str(repeats), str(BATCH)],
                            check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--torch-python', default=None,
                        help='a Python interpreter that has torch (e.g. /tmp/torchvenv/bin/python)')
    arguments = parser.parse_args()
    # torch runs before and after brainstorm, so that a change in machine load
    # during the run does not favour one side; best times are the least noisy
    torch_runs = []
    if arguments.torch_python:
        torch_runs.append(time_torch(arguments.torch_python, arguments.repeats))
    times = time_brainstorm(arguments.repeats)
    if arguments.torch_python:
        torch_runs.append(time_torch(arguments.torch_python, arguments.repeats))
    best, median = min(times), statistics.median(times)
    print(f"brainstorm NumpyHandler(float32), batch {BATCH}: best {best * 1e3:.1f} ms "
          f"({BATCH / best:.0f} samples/s), median {median * 1e3:.1f} ms "
          f"({BATCH / median:.0f} samples/s)")
    if not torch_runs:
        return
    print(f"torch threads: {torch_runs[0]['threads']}")
    for layout in ('NCHW', 'channels_last'):
        torch_best = min(run[layout]['best_ms'] for run in torch_runs) / 1e3
        torch_median = statistics.median(run[layout]['median_ms'] for run in torch_runs) / 1e3
        print(f"torch {layout:13s}: best {torch_best * 1e3:.1f} ms "
              f"({BATCH / torch_best:.0f} samples/s), median {torch_median * 1e3:.1f} ms; "
              f"brainstorm / torch: {best / torch_best:.2f}x (best), "
              f"{median / torch_median:.2f}x (median)")


if __name__ == '__main__':
    main()
