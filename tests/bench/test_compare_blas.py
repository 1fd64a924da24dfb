"""bench/compare_blas.py: which of several benchmark runs misses the fewest targets.

The runs are written here as ``python -m bench --json`` writes them, with chosen
step times, so that every ratio (and so every verdict) is known in advance.
"""

import json
import subprocess
import sys

import pytest

from bench import compare_blas

TARGETS = {'train': 0.9, 'infer': 1.1, 'memory': 0.9}


def bench_run(path, blas, train, infer, memory=0.8, cpu_model='Test CPU @ 1 GHz',
              examples=('mnist_pi',), rounds=3):
    """Write a bench run whose every round has the ratios ``train`` / ``infer``."""
    results, probes = [], {}
    for name in examples:
        torch_times = [0.010 + 0.001 * index for index in range(rounds)]
        results.append({
            'name': name, 'batch_size': 100, 'time_steps': 1, 'targets': TARGETS,
            'train': {'brainstorm': [train * time for time in torch_times],
                      'torch': torch_times},
            'infer': {'brainstorm': [infer * time for time in torch_times],
                      'torch': torch_times}})
        probes[name] = {'brainstorm': {'peak_bytes': int(memory * 100e6)},
                        'torch': {'peak_bytes': int(100e6)}}
    with open(path, 'w') as stream:
        json.dump({'cpu_model': cpu_model, 'blas': blas, 'results': results,
                   'memory': probes}, stream)
    return str(path)


def test_median_ratios_and_missed_targets(tmp_path):
    run = compare_blas.load_run(bench_run(tmp_path / 'a.json', 'mkl', 0.95, 1.0,
                                          memory=0.91))
    figures = compare_blas.median_ratios(run)
    assert figures['mnist_pi', 'train'] == (pytest.approx(0.95), 0.9)
    assert figures['mnist_pi', 'infer'] == (pytest.approx(1.0), 1.1)
    assert figures['mnist_pi', 'memory'] == (pytest.approx(0.91), 0.9)
    assert sorted(compare_blas.missed(figures)) == [('mnist_pi', 'memory'),
                                                    ('mnist_pi', 'train')]


def test_a_ratio_at_the_target_after_rounding_is_met(tmp_path):
    # the bench's report rounds to two decimals: 0.904 prints as 0.90, which meets <= 0.9
    run = compare_blas.load_run(bench_run(tmp_path / 'a.json', 'mkl', 0.904, 1.0))
    assert compare_blas.missed(compare_blas.median_ratios(run)) == []


def test_fewest_missed_targets_wins_over_a_lower_mean(tmp_path):
    fast_but_missing = bench_run(tmp_path / 'a.json', 'mkl', 0.5, 1.2)  # infer missed
    slower_all_met = bench_run(tmp_path / 'b.json', 'onednn', 0.85, 1.05)
    runs = [compare_blas.load_run(path) for path in (fast_but_missing, slower_all_met)]
    best, lines = compare_blas.choose(runs)
    assert best['blas'] == 'onednn'
    assert lines[0].startswith('onednn: 0 target(s) missed')
    assert lines[1].startswith('mkl: 1 target(s) missed')
    assert lines[-1] == 'best: onednn'


def test_lower_geometric_mean_breaks_a_tie_and_a_near_tie_is_called_one(tmp_path):
    clear = [compare_blas.load_run(bench_run(tmp_path / 'a.json', 'mkl', 0.8, 1.0)),
             compare_blas.load_run(bench_run(tmp_path / 'b.json', 'onednn', 0.7, 0.9))]
    assert compare_blas.choose(clear)[1][-1] == 'best: onednn'
    near = [compare_blas.load_run(bench_run(tmp_path / 'c.json', 'mkl', 0.80, 1.0)),
            compare_blas.load_run(bench_run(tmp_path / 'd.json', 'onednn', 0.79, 1.0))]
    best, lines = compare_blas.choose(near)
    assert best['blas'] == 'onednn'
    assert 'within 3% of mkl: a tie on one run' in lines[-1]


def test_report_table_and_command_line(tmp_path):
    first = bench_run(tmp_path / 'a.json', 'mkl', 0.95, 1.0,
                      examples=('mnist_pi', 'hutter_lstm_256'))
    second = bench_run(tmp_path / 'b.json', 'onednn sgemm + openblas (numpy) 3.2.0', 0.85,
                       1.0, examples=('mnist_pi', 'hutter_lstm_256'))
    completed = subprocess.run([sys.executable, '-m', 'bench.compare_blas', first, second],
                               capture_output=True, text=True, check=True)
    lines = completed.stdout.splitlines()
    assert lines[0] == 'machine: Test CPU @ 1 GHz'
    train_row = next(line.split() for line in lines if line.startswith('hutter_lstm_256')
                     and ' train ' in line)
    assert train_row == ['hutter_lstm_256', 'train', '<=', '0.9', '0.95', 'MISSED',
                         '0.85', 'ok']
    assert lines[-1] == 'best: onednn sgemm + openblas (numpy) 3.2.0'


def test_runs_of_different_processors_are_flagged(tmp_path):
    runs = [compare_blas.load_run(bench_run(tmp_path / 'a.json', 'mkl', 0.8, 1.0)),
            compare_blas.load_run(bench_run(tmp_path / 'b.json', 'onednn', 0.8, 1.0,
                                            cpu_model='Other CPU'))]
    assert 'WARNING: these runs come from different processors' in compare_blas.report(runs)


@pytest.mark.parametrize('content, message', [
    ('{not json', 'cannot read a benchmark run'),
    ('[1, 2]', "no 'results' list"),
    ('{"results": []}', 'the run measured no example'),
])
def test_unreadable_runs_give_one_error_line_and_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / 'bad.json'
    path.write_text(content)
    assert compare_blas.main([str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f'error: {path}: ') and message in error
    assert '\n' not in error


def test_a_run_without_torch_cannot_be_compared(tmp_path, capsys):
    path = tmp_path / 'a.json'
    bench_run(path, 'mkl', 0.8, 1.0)
    run = json.loads(path.read_text())
    for phase in ('train', 'infer'):
        del run['results'][0][phase]['torch']
    path.write_text(json.dumps(run))
    assert compare_blas.main([str(path)]) == 2
    assert 'mnist_pi has no torch times (run without --no-torch)' in capsys.readouterr().err
