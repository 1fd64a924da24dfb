"""Smoke tests of the benchmark scripts: they run as users run them and print their tables.

The numbers are not checked (benchmarks are scripts, not timed tests); what is checked
is that ``python -m bench --quick`` and ``python bench/fc.py`` still work with the
engine as it is, with or without torch in the interpreter.
"""

import os
import subprocess
import sys

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = ('mnist_pi', 'cifar10_cnn', 'hutter_lstm_1000', 'hutter_lstm_256', 'hutter_gru_256')


def run(*arguments):
    completed = subprocess.run([sys.executable, *arguments], cwd=REPOSITORY,
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def table_rows(output):
    """Rows of the results table: the lines after the header's dashed rule."""
    lines = output.splitlines()
    rule = next(index for index, line in enumerate(lines) if set(line) <= {'-', ' '} and
                line.startswith('---'))
    header = lines[rule - 1]
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip() or ':' in line.split()[0]:
            break
        rows.append(line.split())
    return header, rows


def test_quick_run_prints_one_row_per_example():
    output = run('-m', 'bench', '--quick', '--no-memory')
    header, rows = table_rows(output)
    assert 'train ms bs' in header
    assert [row[0] for row in rows] == list(EXAMPLES)
    for row in rows:
        assert float(row[4]) > 0  # brainstorm's training step time in ms
    assert 'mnist_pi: the step\'s 8 matrix products as np.matmul' in output
    try:
        import torch  # noqa: F401
    except ImportError:
        assert 'torch: absent' in output
    else:
        assert 'train ratio min/med/max' in header


def test_memory_probes_report_megabytes():
    output = run('bench/run.py', '--quick', '--examples', 'mnist_pi')  # also: run as a path
    header, rows = table_rows(output)
    assert 'peak MB bs (traced)' in header
    (row,) = rows
    # 'NN (MM)': the RSS growth and tracemalloc's peak, both whole megabytes
    traced = [cell for cell in row if cell.startswith('(') and cell.endswith(')')]
    assert len(traced) == 1 and int(traced[0][1:-1]) > 0, row


def test_fully_connected_script_prints_both_ratios():
    output = run('bench/fc.py', '--rounds', '2', '--steps', '1', '--batch', '10',
                 '--inputs', '20', '--units', '30')
    lines = [line for line in output.splitlines() if line.startswith('FullyConnected')]
    assert len(lines) == 2
    assert all('ratio min/median/max' in line for line in lines)


def test_memory_probes_repeat_and_report_the_median(tmp_path):
    results = tmp_path / 'results.json'
    run('-m', 'bench', '--quick', '--no-torch', '--examples', 'mnist_pi',
        '--memory-repeats', '3', '--json', str(results))
    import json
    import statistics
    probes = json.loads(results.read_text())['memory']['mnist_pi']['brainstorm']
    assert len(probes['peak_bytes_all']) == 3
    assert probes['peak_bytes'] == statistics.median(probes['peak_bytes_all'])
