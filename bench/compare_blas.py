"""Which BLAS ``BRAINSTORM_BLAS=auto`` should take on a processor: compare benchmark runs.

Each input is the ``--json`` file of one ``python -m bench`` run on the same machine,
made with a different ``BRAINSTORM_BLAS`` (``bench/cpu_session.sh`` makes them all).
The script prints, per example and kind (train, infer, memory), every run's median
ratio brainstorm / torch with its target, then per run how many targets it misses
and the geometric mean of its median time ratios, and names the run that misses the
fewest targets (ties: the lower geometric mean). A difference of a few per cent in
the geometric mean is within the spread of one run on a shared machine; the report
says so rather than pretending to a winner.

Usage:
    python -m bench.compare_blas cpu_logs/bench_mkl.json cpu_logs/bench_onednn.json ...
"""

import argparse
import json
import math
import os
import statistics
import sys

if __package__ in (None, ''):  # run as a script: python bench/compare_blas.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common  # noqa: E402

KINDS = ('train', 'infer', 'memory')
#: relative difference of two geometric means below which the report calls it a tie
NOISE = 0.03


class ComparisonError(Exception):
    """A run file that cannot be compared (unreadable, not a bench run, no torch)."""


def load_run(path):
    """One ``python -m bench --json`` file as a dict, with ``'path'`` added.

    Raises:
        ComparisonError: if the file cannot be read or is not such a run.
    """
    try:
        with open(path, encoding='utf-8') as stream:
            run = json.load(stream)
    except (OSError, ValueError) as error:
        raise ComparisonError(f"{path}: cannot read a benchmark run: {error}") from None
    if not isinstance(run, dict) or not isinstance(run.get('results'), list):
        raise ComparisonError(f"{path}: not the --json output of python -m bench "
                              f"(no 'results' list)")
    if not run['results']:
        raise ComparisonError(f"{path}: the run measured no example")
    run['path'] = path
    return run


def run_label(run):
    """What a run is called in the tables: the BLAS it used, else its file name."""
    return run.get('blas') or os.path.basename(run['path'])


def median_ratios(run):
    """{(example, kind): (median ratio or None, target or None)} of one run.

    Raises:
        ComparisonError: if the run has no torch times (made with ``--no-torch``).
    """
    figures = {}
    for result in run['results']:
        targets = result.get('targets') or {}
        for kind in ('train', 'infer'):
            times = result[kind]
            if 'torch' not in times:
                raise ComparisonError(f"{run['path']}: {result['name']} has no torch times "
                                      f"(run without --no-torch)")
            ratios = [ours / theirs for ours, theirs in zip(times['brainstorm'], times['torch'])]
            figures[result['name'], kind] = (statistics.median(ratios), targets.get(kind))
        probes = run.get('memory', {}).get(result['name'], {})
        ours = probes.get('brainstorm', {}).get('peak_bytes')
        theirs = probes.get('torch', {}).get('peak_bytes')
        figures[result['name'], 'memory'] = (ours / theirs if ours and theirs else None,
                                             targets.get('memory'))
    return figures


def missed(figures):
    """The (example, kind) keys whose median ratio is over its target (rounded as the
    bench's report rounds: to two decimals)."""
    return [key for key, (ratio, limit) in figures.items()
            if ratio is not None and limit is not None and round(ratio, 2) > limit]


def time_geometric_mean(figures):
    """Geometric mean of a run's median train and infer ratios."""
    ratios = [ratio for (_, kind), (ratio, _) in figures.items()
              if kind != 'memory' and ratio is not None]
    return math.exp(sum(math.log(ratio) for ratio in ratios) / len(ratios))


def choose(runs):
    """(best run, list of lines explaining the choice) for runs of one machine."""
    scored = []
    for run in runs:
        figures = median_ratios(run)
        scored.append((len(missed(figures)), time_geometric_mean(figures), run))
    scored.sort(key=lambda score: score[:2])
    best_missed, best_mean, best = scored[0]
    lines = [f"{run_label(run)}: {count} target(s) missed, geometric mean of the time "
             f"ratios {mean:.3f}" for count, mean, run in scored]
    ties = [run_label(run) for count, mean, run in scored[1:]
            if count == best_missed and mean <= best_mean * (1 + NOISE)]
    verdict = f"best: {run_label(best)}"
    if ties:
        verdict += (f" (within {NOISE:.0%} of {', '.join(ties)}: a tie on one run; repeat "
                    f"the runs before changing auto)")
    return best, lines + [verdict]


def machines(runs):
    """The distinct CPU models the runs name (a run without the field counts as '?')."""
    return sorted({run.get('cpu_model', '?') for run in runs})


def table(runs):
    """Median ratio per example and kind (rows) and run (columns), with the targets."""
    figures = [median_ratios(run) for run in runs]
    keys = []
    for run_figures in figures:
        keys.extend(key for key in run_figures if key not in keys)
    header = ['example', 'kind', 'target'] + [run_label(run) for run in runs]
    rows = []
    for key in keys:
        limit = next((run_figures[key][1] for run_figures in figures
                      if key in run_figures and run_figures[key][1] is not None), None)
        row = list(key) + ['-' if limit is None else f"<= {limit}"]
        for run_figures in figures:
            ratio, _ = run_figures.get(key, (None, None))
            mark = '' if limit is None or ratio is None else (
                ' ok' if round(ratio, 2) <= limit else ' MISSED')
            row.append('-' if ratio is None else f"{ratio:.2f}{mark}")
        rows.append(row)
    return _common.format_table(header, rows)


def report(runs):
    """The whole comparison as text."""
    lines = []
    models = machines(runs)
    lines.append(f"machine: {', '.join(models)}")
    if len(models) > 1:
        lines.append("WARNING: these runs come from different processors; compare runs of "
                     "one machine only")
    lines.append(table(runs))
    lines.append('')
    lines.extend(choose(runs)[1])
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench.compare_blas',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('runs', nargs='+', metavar='RUN.json',
                        help='python -m bench --json files, one per BRAINSTORM_BLAS')
    args = parser.parse_args(argv)
    try:
        print(report([load_run(path) for path in args.runs]))
    except ComparisonError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
