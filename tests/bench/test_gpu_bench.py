"""Smoke test of ``bench/gpu.py``: it runs as users run it, and says when there is no GPU.

With a GPU, and on the CPU emulation of CUDA (``tests/cuda_emulator``), the quick
run must also find equal CPU and GPU inference losses (the script exits 1 on a
mismatch); the timings are not checked.
"""

import json
import os
import subprocess
import sys

from tests.cuda_emulator.marks import needs_emulator

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*arguments):
    completed = subprocess.run([sys.executable, '-m', 'bench.gpu', *arguments], cwd=REPOSITORY,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout


def gpu_present():
    from brainstorm.errors import HandlerUnavailableError
    from brainstorm.handlers import PyCudaHandler
    try:
        PyCudaHandler()
    except HandlerUnavailableError:
        return False
    return True


def test_quick_run_reports_each_network_on_each_engine():
    output = run('--quick', '--examples', 'mnist_pi', 'hutter_lstm_256')
    for name in ('mnist_pi', 'hutter_lstm_256'):
        engines = [line.split()[1] for line in output.splitlines() if line.startswith(name)]
        assert engines == (['cpu', 'gpu'] if gpu_present() else ['cpu']), output
    if not gpu_present():
        assert 'no GPU present: PyCudaHandler needs pycuda and an NVIDIA GPU' in output


def test_gpu_only_without_a_gpu_says_so_and_succeeds():
    output = run('--quick', '--gpu-only', '--examples', 'mnist_pi')
    if not gpu_present():
        assert 'no GPU present' in output
        assert not any(line.startswith('mnist_pi') for line in output.splitlines())


@needs_emulator
def test_quick_run_on_the_emulated_gpu_finds_the_cpu_losses(tmp_path):
    names = ['mnist_pi', 'cifar10_cnn', 'hutter_lstm_256', 'hutter_lstm_1000']
    completed = subprocess.run([sys.executable, '-m', 'tests.cuda_emulator', 'bench.gpu',
                                '--quick', '--examples', *names, '--json',
                                str(tmp_path / 'results.json')],
                               cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    output = completed.stdout
    assert completed.returncode == 0, output[-3000:] + completed.stderr[-3000:]
    assert 'gpu: brainstorm CPU CUDA emulator' in output
    for name in names:
        engines = [line.split()[1] for line in output.splitlines() if line.startswith(name + ' ')]
        assert engines == ['cpu', 'gpu'], output
    results = json.loads((tmp_path / 'results.json').read_text())['results']
    for name in names:
        assert results[name]['loss_relative_difference'] < 1e-3, results[name]
        assert len(results[name]['gpu']['step_seconds']) == 2
