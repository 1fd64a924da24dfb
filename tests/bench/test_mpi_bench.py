"""Smoke test of bench/mpi.py: its three configurations run and both tables print."""

import os
import subprocess
import sys

from tests.parallel.conftest import needs_mpi

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@needs_mpi
def test_quick_run_prints_measurements_and_predictions():
    completed = subprocess.run([sys.executable, 'bench/mpi.py', '--quick', '--steps', '1'],
                               cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    measured = [line.split() for line in lines if line.split()[:1] in (['mnist_pi'],
                                                                       ['hutter_lstm_256'])]
    configurations = [row[1] for row in measured if row[1] in ('1x1', '1x2', '2x1')]
    assert configurations == ['1x1', '1x2', '2x1'] * 2
    allreduce_ms = [float(row[4]) for row in measured if row[1] == '2x1']
    assert all(value > 0 for value in allreduce_ms)
    predictions = [row for row in measured if row[1] in ('10', '100')]
    assert len(predictions) == 8
