"""``bstorm plot RUN_DIR [-o curves.png]``: learning curves of every logged quantity."""

import pathlib

import click
import numpy as np

from bstorm_cli import console
from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.exit_codes import ExitStatus


def read_run_logs(run_folder):
    """{dotted name: 1-D array} of a run directory's logs.h5 (numeric series only)."""
    from bstorm_cli.experiment import run_dir
    run_folder = pathlib.Path(run_folder)
    if not run_folder.is_dir():
        raise BadInputError("no such run directory", Location(str(run_folder)))
    path = run_folder / run_dir.LOGS_FILE
    if not path.exists():
        raise BadInputError(f"no {run_dir.LOGS_FILE} here (the run wrote no logs yet)",
                            Location(str(run_folder)))
    try:
        logs = run_dir.read_logs(path)
    except (OSError, ValueError, TypeError) as error:
        raise BadInputError(f"cannot read the logs ({error})", Location(str(path))) from error
    return {name: np.asarray(values, dtype=np.float64).ravel() for name, values in logs.items()
            if np.asarray(values).ndim <= 1 and np.asarray(values).size}


def read_run_steps(run_folder):
    """{top-level log name: (epoch numbers, update numbers)} of a run's logs ({} if none)."""
    from bstorm_cli.experiment import run_dir
    try:
        return run_dir.read_log_steps(pathlib.Path(run_folder) / run_dir.LOGS_FILE)
    except (OSError, ValueError, TypeError):
        return {}


def steps_of(name, values, steps):
    """(epochs, updates) of each entry of the series ``name``, or None if not recorded."""
    found = steps.get(name.split('.')[0])
    if found is None or len(found[0]) != len(values) or len(found[1]) != len(values):
        return None
    return found


def write_csv(path, series, steps=None):
    """One row per (epoch, update) at which something was logged, one column per logged
    quantity (empty where it was not logged then). Logs without recorded steps (runs
    from older versions) fall back to one row per log entry."""
    from bstorm_cli.experiment.run_dir import write_text
    steps = steps or {}
    located = {name: steps_of(name, values, steps) for name, values in series.items()}
    if series and all(found is not None for found in located.values()):
        names = list(series)
        rows = {}
        for column, name in enumerate(names):
            for value, epoch, update in zip(series[name], *located[name]):
                rows.setdefault((int(epoch), int(update)), {})[column] = repr(float(value))
        lines = ['epoch,update,' + ','.join(names)]
        for (epoch, update), cells in sorted(rows.items()):
            lines.append(f"{epoch},{update}," + ','.join(cells.get(column, '')
                                                         for column in range(len(names))))
        write_text(path, '\n'.join(lines) + '\n')
        return
    names = list(series)
    rows = max((len(values) for values in series.values()), default=0)
    lines = ['index,' + ','.join(names)]
    for row in range(rows):
        cells = [repr(float(series[name][row])) if row < len(series[name]) else ''
                 for name in names]
        lines.append(f"{row}," + ','.join(cells))
    write_text(path, '\n'.join(lines) + '\n')


def _x_axis(items, steps):
    """(x values of each item, axis label): epochs where every entry has its own epoch,
    updates where several entries share one (hooks called every few updates)."""
    located = [steps_of(name, values, steps) for name, values in items]
    if any(found is None for found in located):
        return [np.arange(1, len(values) + 1) for _, values in items], \
            'log entry (epoch or update, as the hook logs)'
    if all(np.all(np.diff(epochs) > 0) for epochs, _ in located):
        return [epochs for epochs, _ in located], 'epoch'
    return [updates for _, updates in located], 'update'


def plot_curves(path, series, title, steps=None):
    """One panel per log group (hook), each logged quantity a line over epochs (or
    updates, for hooks that log several times per epoch)."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        raise BadInputError("plotting needs matplotlib, which is not installed",
                            hint="pip install '.[plot]' (or write a table with "
                                 "-o curves.csv)") from None
    groups = {}
    for name, values in series.items():
        groups.setdefault(name.split('.')[0], []).append((name, values))
    figure, axes = plt.subplots(len(groups), 1, figsize=(8, 3 * len(groups)), squeeze=False)
    for axis, (group, items) in zip(axes[:, 0], groups.items()):
        x_values, label = _x_axis(items, steps or {})
        for (name, values), x in zip(items, x_values):
            axis.plot(x, values, label=name, marker='.')
        axis.set_title(group)
        axis.set_xlabel(label)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    from bstorm_cli.experiment.run_dir import _temporary_in
    import os
    handle, temporary = _temporary_in(path)
    os.close(handle)
    try:
        figure.savefig(temporary, format=pathlib.Path(path).suffix.lstrip('.') or 'png')
        os.replace(temporary, path)
    finally:
        plt.close(figure)
        if os.path.exists(temporary):
            os.remove(temporary)


@click.command('plot', epilog="""\b
Examples:
  bstorm plot runs/quickstart-20240101-120000 -o curves.png
  bstorm plot runs/quickstart-20240101-120000 -o curves.csv   # no matplotlib needed""")
@click.argument('run', metavar='RUN_DIR|latest|NAME-PREFIX')
@click.option('--output', '-o', default=None, metavar='FILE.{png,svg,pdf,csv}',
              help='Where to write the curves (default: RUN_DIR/curves.png).')
def plot_command(run, output):
    """Plot the learning curves of every quantity a training run logged.

    PNG/SVG/PDF need matplotlib (pip install '.[plot]'); .csv writes
    the numbers as a table instead.
    """
    from bstorm_cli.experiment.run_lookup import resolve_run_directory
    run = str(resolve_run_directory(run))
    series = read_run_logs(run)
    if not series:
        raise BadInputError("the logs hold no numeric series yet", Location(str(run)))
    output = output or str(pathlib.Path(run) / 'curves.png')
    suffix = pathlib.Path(output).suffix.lower()
    if suffix not in ('.png', '.svg', '.pdf', '.csv'):
        raise BadInputError(f"unknown output format {suffix or '(none)'!r}; use .png, .svg, "
                            f".pdf or .csv", Location(output))
    if not pathlib.Path(output).resolve().parent.is_dir():
        raise BadInputError("the output folder does not exist", Location(output))
    steps = read_run_steps(run)
    if suffix == '.csv':
        write_csv(output, series, steps)
    else:
        plot_curves(output, series, pathlib.Path(run).name, steps)
    console.err().print(f"wrote {output} ({len(series)} curves)", markup=False, highlight=False)
    return ExitStatus.OK
