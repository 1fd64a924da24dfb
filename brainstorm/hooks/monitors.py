"""Monitors: hooks that measure something and log it.

* ``MonitorLoss(iter_name)`` / ``MonitorScores(iter_name, scorers)``: run the network
  (inference pass) over a named data iterator and log the losses (``'total_loss'``
  and, with several Loss layers, one per layer) and the scorers' values.
* ``MonitorLayerParameters`` / ``Gradients`` / ``InOuts`` / ``Deltas``: log
  ``{'min', 'max', 'mean', 'std'}`` of every buffer of one layer, e.g.
  ``logs['Params']['W']['mean']`` or ``logs['IO']['outputs']['default']['max']``.
* ``InfoUpdater(run)``: copies progress and logs into a Sacred run's ``info`` dict
  (any object with an ``info`` dict works; sacred itself is not imported).
"""

from collections import OrderedDict

import numpy as np

from brainstorm.errors import TrainingError
from brainstorm.hooks.base import Hook
from brainstorm.scorers import aggregate_losses_and_scores, gather_losses_and_scores
from brainstorm.training.utils import copy_logs, loss_names

STATISTICS = ('min', 'avg', 'max', 'mean', 'std')


def buffer_statistics(array):
    """``{'min', 'avg', 'max', 'mean', 'std'}`` of an array, as floats (NaN when empty).

    ``min``, ``avg`` and ``max`` are brainstorm 0.5's keys; ``mean`` (= ``avg``) and
    ``std`` are kept for this project's earlier logs.
    """
    if array.size == 0:
        return OrderedDict((name, float('nan')) for name in STATISTICS)
    values = array.astype(np.float64, copy=False)
    mean = float(values.mean())
    return OrderedDict([('min', float(values.min())), ('avg', mean),
                        ('max', float(values.max())), ('mean', mean),
                        ('std', float(values.std()))])


class MonitorScores(Hook):
    """Monitor the losses and optionally several scores using a given data iterator.

    Runs an inference forward pass over every batch of ``iter_name`` and logs the
    batch-size weighted mean of each loss and each scorer's aggregate, e.g.
    ``logs['validation']['total_loss']`` and ``logs['validation']['Accuracy']``.

    Args:
        iter_name (str): name of the data iterator to use (as given to ``train()``).
        scorers (list[brainstorm.scorers.Scorer]): scorers to evaluate.
        name (Optional[str]): key in the trainer logs; default 'MonitorScores'.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
        verbose (Optional[bool]): report the logged values; None: the trainer's.

    Example:
        >>> trainer.add_hook(MonitorScores('valid_getter', [Accuracy()], name='validation'))
    """

    can_stop = False

    def __init__(self, iter_name, scorers, name=None, timescale='epoch', interval=1,
                 verbose=None):
        super().__init__(name, timescale, interval, verbose)
        if not isinstance(iter_name, str):
            raise TrainingError(f"{self.name}: iter_name must be the name of a data iterator "
                                f"(a string), got {iter_name!r}")
        self.iter_name = iter_name
        self.scorers = list(scorers)
        names = [scorer.name for scorer in self.scorers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise TrainingError(f"{self.name}: several scorers are named {duplicates[0]!r}; "
                                f"give them different names (name=...)")
        self._iterator = None

    __undescribed__ = {'_iterator': None}

    def required_iterators(self):
        return (self.iter_name,)

    def provided_logs(self, net):
        return loss_names(net) + [scorer.name for scorer in self.scorers]

    def start(self, net, stepper, verbose, named_data_iters):
        super().start(net, stepper, verbose, named_data_iters)
        self._iterator = named_data_iters[self.iter_name]

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        scores = OrderedDict()
        for data in self._iterator(net.handler):
            net.provide_external_data(data)
            net.forward_pass(training_pass=False)
            gather_losses_and_scores(net, self.scorers, scores)
        return aggregate_losses_and_scores(scores, net, self.scorers)


class MonitorLoss(MonitorScores):
    """Monitor the losses computed by the network on a dataset using a given data iterator.

    Logs ``'total_loss'`` (and one entry per Loss layer when there are several).

    Args:
        iter_name (str): name of the data iterator to use (as given to ``train()``).
        name (Optional[str]): key in the trainer logs; default 'MonitorLoss'.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
        verbose (Optional[bool]): report the logged values; None: the trainer's.
    """

    def __init__(self, iter_name, name=None, timescale='epoch', interval=1, verbose=None):
        super().__init__(iter_name, (), name, timescale, interval, verbose)

    def __describe__(self):
        description = super().__describe__()
        description.pop('scorers', None)
        return description

    def __init_from_description__(self, description):
        self.scorers = []


class _LayerMonitor(Hook):
    """Shared part of the MonitorLayer* hooks: a layer name and buffer statistics.

    The default name is brainstorm 0.5's ``<default_name_prefix>_<layer_name>``,
    e.g. ``'MonitorParameters_Hidden'``.
    """

    can_stop = False

    #: the default name is this followed by '_' and the layer name
    default_name_prefix = ''

    def __init__(self, layer_name, name=None, timescale='epoch', interval=1, verbose=None):
        if not isinstance(layer_name, str):
            raise TrainingError(f"{name or type(self).__name__}: layer_name must be a "
                                f"string, got {layer_name!r}")
        if name is None:
            name = f"{self.default_name_prefix}_{layer_name}"
        super().__init__(name, timescale, interval, verbose)
        self.layer_name = layer_name

    def required_layers(self):
        return (self.layer_name,)

    def provided_logs(self, net):
        return None

    def _statistics_of(self, net, *kinds):
        layer_buffers = net.buffer[self.layer_name]
        log = OrderedDict()
        for kind in kinds:
            keys = list(layer_buffers[kind].keys()) if kind in layer_buffers else []
            # net.get leaves out the context slots of recurrent layers
            log[kind] = OrderedDict(
                (key, buffer_statistics(net.get(f"{self.layer_name}.{kind}.{key}")))
                for key in keys)
        return log


class MonitorLayerParameters(_LayerMonitor):
    """Monitor some statistics about all the parameters of a layer.

    Logs ``{parameter name: {'min', 'avg', 'max', 'mean', 'std'}}``.

    Args:
        layer_name (str): the layer to monitor.
        name (Optional[str]): default ``'<Monitor...>_<layer_name>'`` (see the class).
        timescale, interval, verbose: as for every hook.
    """

    default_name_prefix = 'MonitorParameters'

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        return self._statistics_of(net, 'parameters')['parameters']


class MonitorLayerGradients(_LayerMonitor):
    """Monitor some statistics about all the gradients of a layer.

    Logs ``{parameter name: {'min', 'avg', 'max', 'mean', 'std'}}`` of the gradients of the
    last backward pass (zeros before the first update).

    Args:
        layer_name (str): the layer to monitor.
        name (Optional[str]): default ``'<Monitor...>_<layer_name>'`` (see the class).
        timescale, interval, verbose: as for every hook.
    """

    default_name_prefix = 'MonitorGradients'

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        return self._statistics_of(net, 'gradients')['gradients']


class MonitorLayerInOuts(_LayerMonitor):
    """Monitor some statistics about all the inputs and outputs of a layer.

    Logs ``{'inputs': {name: stats}, 'outputs': {name: stats}}`` of the last forward
    pass (which may be a monitor's inference pass if one ran just before).

    Args:
        layer_name (str): the layer to monitor.
        name (Optional[str]): default ``'<Monitor...>_<layer_name>'`` (see the class).
        timescale, interval, verbose: as for every hook.
    """

    default_name_prefix = 'MonitorInOuts'

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        return self._statistics_of(net, 'inputs', 'outputs')


class MonitorLayerDeltas(_LayerMonitor):
    """Monitor some statistics about all the deltas of a layer.

    Logs ``{'input_deltas': {name: stats}, 'output_deltas': {name: stats}}`` of the
    last backward pass.

    Args:
        layer_name (str): the layer to monitor.
        name (Optional[str]): default ``'<Monitor...>_<layer_name>'`` (see the class).
        timescale, interval, verbose: as for every hook.
    """

    default_name_prefix = 'MonitorDeltas'

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        return self._statistics_of(net, 'input_deltas', 'output_deltas')


class InfoUpdater(Hook):
    """Save the information from logs to the Sacred custom info dict.

    Writes ``run.info['epoch_nr']``, ``['update_nr']``, ``['nr_parameters']`` and
    ``['logs']`` (a copy of the trainer logs). ``run`` is a Sacred ``Run`` (the
    ``_run`` of a captured function) or anything with an ``info`` dict.

    Args:
        run: object with a dict attribute ``info``.
        name (Optional[str]): default 'InfoUpdater'.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
    """

    can_stop = False

    provided_log_entries = ()
    __undescribed__ = {'run': None}

    def __init__(self, run, name=None, timescale='epoch', interval=1):
        super().__init__(name, timescale, interval)
        if not isinstance(getattr(run, 'info', None), dict):
            raise TrainingError(f"{self.name}: run must have a dict attribute 'info' (a "
                                f"Sacred Run does), got {type(run).__name__}")
        self.run = run

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        info = self.run.info
        info['epoch_nr'] = epoch_nr
        info['update_nr'] = update_nr
        info['nr_parameters'] = int(net.buffer.parameters.size)
        info['logs'] = copy_logs(logs)


__all__ = ['MonitorScores', 'MonitorLoss', 'MonitorLayerParameters', 'MonitorLayerGradients',
           'MonitorLayerInOuts', 'MonitorLayerDeltas', 'InfoUpdater', 'buffer_statistics']
