"""Helpers of the trainer and its hooks: nested logs, log names, reports, atomic files.

Logs are nested dicts whose leaves are lists, one entry per call of the hook that
writes them: ``logs['validation']['Accuracy'] == [0.1, 0.5, 0.7]``. A *log name* is a
dotted path into them: ``'validation.Accuracy'``, ``'rolling_training.total_loss'``,
``'Params.W.mean'``.
"""

import dataclasses
import os
import sys
from collections import OrderedDict
from brainstorm.utils import temporary_file_beside


def add_log(logs, name, values):
    """Append ``values`` (a dict, possibly nested, or a single value) to ``logs[name]``.

    Dicts are merged key by key; every leaf becomes (or extends) a list.

    Args:
        logs (dict): the nested logs, changed in place.
        name (str): key under which to store.
        values: a number/array/str, or a (nested) dict of them.
    """
    if isinstance(values, dict):
        node = logs.setdefault(name, OrderedDict())
        if not isinstance(node, dict):
            raise TypeError(f"log {name!r} holds values and cannot take the dict {values!r}")
        for key, value in values.items():
            add_log(node, key, value)
    else:
        node = logs.setdefault(name, [])
        if not isinstance(node, list):
            raise TypeError(f"log {name!r} holds a dict and cannot take the value {values!r}")
        node.append(values)


def get_log(logs, log_name):
    """The list of values logged under the dotted ``log_name``, or None if not logged yet."""
    node = logs
    for part in log_name.split('.'):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, list) else None


def latest_value(logs, log_name):
    """The last value logged under ``log_name``, or None if there is none yet."""
    values = get_log(logs, log_name)
    return values[-1] if values else None


def copy_logs(logs):
    """A copy of nested logs (dicts and lists copied, values shared)."""
    if isinstance(logs, dict):
        return OrderedDict((key, copy_logs(value)) for key, value in logs.items())
    if isinstance(logs, list):
        return list(logs)
    return logs


def loss_names(net):
    """The names under which a network's losses are logged (``'total_loss'`` first)."""
    names = [name for name, layer in net.layers.items() if layer.layer_type == 'Loss']
    return ['total_loss'] + (names if len(names) > 1 else [])


@dataclasses.dataclass
class Report:
    """Something worth telling the user, handed to ``Trainer.reporter``.

    Attributes:
        kind (str): ``'log'`` (a hook or the rolling training loss logged ``values``),
            or ``'stop'`` (training stops; ``message`` says why).
        name (str): the hook (or ``'rolling_training'``, or ``'Trainer'``).
        epoch_nr (int): current epoch (0 before training).
        update_nr (int): completed updates.
        values (Optional[dict]): what was logged (for ``'log'``).
        message (str): a sentence (for ``'stop'``).
    """

    kind: str
    name: str
    epoch_nr: int
    update_nr: int
    values: dict = None
    message: str = ''


def format_report(report):
    """Plain-text rendering of a :class:`Report` (one or more lines, no newline at end)."""
    where = f"epoch {report.epoch_nr}, update {report.update_nr}"
    if report.kind != 'log':
        return f"{report.name} ({where}): {report.message}"
    lines = [f"{report.name} ({where}):"]
    lines += _format_values(report.values or {}, indent='  ')
    return '\n'.join(lines)


def _format_values(values, indent):
    lines = []
    for key, value in values.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines += _format_values(value, indent + '  ')
        elif isinstance(value, float):
            lines.append(f"{indent}{key}: {value:.6g}")
        else:
            lines.append(f"{indent}{key}: {value}")
    return lines


def print_report(report, stream=None):
    """The default ``Trainer.reporter``: writes :func:`format_report` to ``sys.stderr``.

    The trainer calls it only for what is verbose; the CLI replaces it with its own.
    """
    stream = sys.stderr if stream is None else stream
    stream.write(format_report(report) + '\n')
    stream.flush()


def run_network(net, iterator, all_inputs=True):
    """Run ``net`` forward over every batch of ``iterator`` (brainstorm 0.5's helper).

    A generator: after each inference forward pass it yields the batch index, so
    the caller reads what it needs from ``net`` (``net.get(...)``) in between.

    Args:
        net (brainstorm.structure.Network): the network.
        iterator (brainstorm.data_iterators.DataIterator): the data.
        all_inputs (bool): passed to ``net.provide_external_data``: every input
            of the network must be in the data.

    Yields:
        int: the index of the batch just run.

    Example:
        >>> for _ in run_network(net, getter):
        ...     outputs.append(net.get('Output.outputs.predictions'))
    """
    for index, batch in enumerate(iterator(handler=net.handler)):
        net.provide_external_data(batch, all_inputs=all_inputs)
        net.forward_pass(training_pass=False)
        yield index


def write_atomically(filename, write):
    """Write a file under a temporary name in its folder, then rename it into place.

    A crash or kill during writing leaves the old file (if any) untouched.

    Args:
        filename (str or os.PathLike): the final path; its folder must exist.
        write (callable): ``write(temporary_path)`` creates the file's content.
    """
    filename = os.fspath(filename)
    handle, temporary = temporary_file_beside(filename)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, filename)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


__all__ = ['run_network', 'add_log', 'get_log', 'latest_value', 'copy_logs', 'loss_names',
           'Report', 'format_report', 'print_report', 'write_atomically']
