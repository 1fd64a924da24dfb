"""Monitors: logged values against numpy computed from the network's own buffers."""

import numpy as np
import pytest

import brainstorm as bs
from brainstorm.describable import create_from_description, get_description
from brainstorm.errors import TrainingError
from brainstorm.hooks import (InfoUpdater, MonitorLayerDeltas, MonitorLayerGradients,
                              MonitorLayerInOuts, MonitorLayerParameters, MonitorLoss,
                              MonitorScores, StopAfterEpoch)
from brainstorm.hooks.monitors import buffer_statistics
from brainstorm.scorers import Accuracy, Scorer
from brainstorm.training import SgdStepper, Trainer
from tests.training.nets import XOR_INPUTS, XOR_TARGETS, regression_data, regression_net, \
    xor_net


def reference_statistics(array):
    return {'min': array.min(), 'avg': array.mean(), 'max': array.max(), 'mean': array.mean(),
            'std': array.std()}


def test_buffer_statistics_match_numpy():
    array = np.random.RandomState(0).randn(3, 4)
    assert buffer_statistics(array) == pytest.approx(reference_statistics(array), rel=1e-14)
    assert all(np.isnan(value) for value in buffer_statistics(np.zeros((0, 3))).values())


def train_one_epoch(hook, net=None):
    """One epoch of 2 updates; the hook (timescale 'update') sees the state after each."""
    net = regression_net() if net is None else net
    trainer = Trainer(SgdStepper(0.1), verbose=False)
    trainer.add_hook(hook)
    trainer.add_hook(StopAfterEpoch(1))
    inputs, targets = regression_data(8)
    trainer.train(net, bs.Minibatches(4, shuffle=False, default=inputs, targets=targets))
    return net, trainer.logs[hook.name]


def test_monitor_layer_parameters():
    net, log = train_one_epoch(MonitorLayerParameters('Hidden', name='params',
                                                      timescale='update'))
    assert set(log) == {'W', 'bias'} and len(log['W']['mean']) == 3  # start + 2 updates
    for parameter in ('W', 'bias'):
        latest = {stat: values[-1] for stat, values in log[parameter].items()}
        expected = reference_statistics(net.get(f'Hidden.parameters.{parameter}'))
        assert latest == pytest.approx(expected, rel=1e-12)


def test_monitor_layer_gradients():
    net, log = train_one_epoch(MonitorLayerGradients('Hidden', name='grads',
                                                     timescale='update'))
    assert log['W']['max'][0] == 0.0  # before training the gradients are zero
    latest = {stat: values[-1] for stat, values in log['W'].items()}
    assert latest == pytest.approx(reference_statistics(net.get('Hidden.gradients.W')),
                                   rel=1e-12)
    assert latest['std'] > 0


def test_monitor_layer_inouts():
    net, log = train_one_epoch(MonitorLayerInOuts('Hidden', name='io', timescale='update'))
    assert set(log) == {'inputs', 'outputs'}
    for kind in ('inputs', 'outputs'):
        latest = {stat: values[-1] for stat, values in log[kind]['default'].items()}
        assert latest == pytest.approx(reference_statistics(net.get(f'Hidden.{kind}.default')),
                                       rel=1e-12)


def test_monitor_layer_deltas():
    net, log = train_one_epoch(MonitorLayerDeltas('Hidden', name='deltas',
                                                  timescale='update'))
    assert set(log) == {'input_deltas', 'output_deltas'}
    latest = {stat: values[-1] for stat, values in log['output_deltas']['default'].items()}
    assert latest == pytest.approx(
        reference_statistics(net.get('Hidden.output_deltas.default')), rel=1e-12)


@pytest.mark.parametrize('hook_class, prefix', [
    (MonitorLayerParameters, 'MonitorParameters'), (MonitorLayerGradients, 'MonitorGradients'),
    (MonitorLayerDeltas, 'MonitorDeltas'), (MonitorLayerInOuts, 'MonitorInOuts')])
def test_layer_monitors_have_0_5_default_names_and_min_avg_max(hook_class, prefix):
    hook = hook_class('Hidden', timescale='update')
    assert hook.name == f"{prefix}_Hidden"
    _, log = train_one_epoch(hook)
    leaf = log
    while 'min' not in leaf:
        leaf = next(iter(leaf.values()))
    assert list(leaf)[:3] == ['min', 'avg', 'max']
    assert leaf['min'][-1] <= leaf['avg'][-1] <= leaf['max'][-1]


def test_monitor_scores_logs_loss_and_accuracy_of_the_whole_data_set():
    net = xor_net(seed=4)
    inputs = np.concatenate([XOR_INPUTS] * 3, axis=1)
    targets = np.concatenate([XOR_TARGETS, XOR_TARGETS, 1 - XOR_TARGETS], axis=1)
    data = bs.Minibatches(5, shuffle=False, default=inputs, targets=targets)
    monitor = MonitorScores('data', [Accuracy(out_name='Output.outputs.probabilities')],
                            name='validation')
    monitor.start(net, None, False, {'data': data})
    log = monitor(0, 0, net, None, {})

    net.provide_external_data({'default': inputs, 'targets': targets})
    net.forward_pass()
    probabilities = net.get('Output.outputs.probabilities')[0]
    expected_accuracy = np.mean(probabilities.argmax(axis=1) == targets[0, :, 0])
    assert list(log) == ['total_loss', 'Accuracy']
    assert log['Accuracy'] == pytest.approx(expected_accuracy, rel=1e-12)
    assert log['total_loss'] == pytest.approx(net.get_loss_values()['total_loss'], rel=1e-12)


class Misclassified(Scorer):
    """A brainstorm 0.5 user's scorer: defines only __call__ and returns a sum."""

    def __call__(self, true_labels, predicted, mask=None):
        return float((predicted.argmax(axis=1)[:, None] != true_labels).sum())


def test_monitor_scores_runs_a_0_5_user_scorer_over_uneven_batches():
    net = xor_net(seed=4)
    inputs = np.concatenate([XOR_INPUTS] * 3, axis=1)
    targets = np.concatenate([XOR_TARGETS, XOR_TARGETS, 1 - XOR_TARGETS], axis=1)
    monitor = MonitorScores('data', [Misclassified(out_name='Output.outputs.probabilities')],
                            name='validation')
    monitor.start(net, None, False, {'data': bs.Minibatches(5, shuffle=False, default=inputs,
                                                            targets=targets)})
    log = monitor(0, 0, net, None, {})
    net.provide_external_data({'default': inputs, 'targets': targets})
    net.forward_pass()
    probabilities = net.get('Output.outputs.probabilities')[0]
    assert log['Misclassified'] == pytest.approx(
        np.mean(probabilities.argmax(axis=1) != targets[0, :, 0]), rel=1e-12)


def test_monitor_loss_logs_the_losses_only():
    net = regression_net()
    inputs, targets = regression_data(6)
    data = bs.Minibatches(4, default=inputs, targets=targets)
    monitor = MonitorLoss('data')
    monitor.start(net, None, False, {'data': data})
    log = monitor(0, 0, net, None, {})
    net.provide_external_data({'default': inputs, 'targets': targets})
    net.forward_pass()
    assert log == pytest.approx({'total_loss': net.get_loss_values()['total_loss']},
                                rel=1e-12)
    assert monitor.name == 'MonitorLoss' and monitor.provided_logs(net) == ['total_loss']


def test_monitor_scores_rejects_scorers_with_the_same_name():
    with pytest.raises(TrainingError, match="several scorers are named 'Accuracy'"):
        MonitorScores('valid', [Accuracy(), Accuracy()])


class FakeRun:
    def __init__(self):
        self.info = {}


def test_info_updater_writes_into_a_sacred_like_run():
    run = FakeRun()
    trainer = Trainer(SgdStepper(0.1), verbose=False)
    trainer.add_hook(MonitorLoss('training_data_iter', name='training'))
    trainer.add_hook(InfoUpdater(run))
    trainer.add_hook(StopAfterEpoch(2))
    inputs, targets = regression_data(8)
    net = regression_net()
    trainer.train(net, bs.Minibatches(4, default=inputs, targets=targets))
    assert (run.info['epoch_nr'], run.info['update_nr']) == (2, 4)
    assert run.info['nr_parameters'] == net.get('parameters').size
    assert run.info['logs']['training']['total_loss'] == trainer.logs['training']['total_loss']
    assert run.info['logs'] is not trainer.logs  # a copy: later changes do not leak


def test_info_updater_needs_an_info_dict():
    with pytest.raises(TrainingError, match="dict attribute 'info'"):
        InfoUpdater(object())


@pytest.mark.parametrize('hook', [
    MonitorScores('valid', [Accuracy(out_name='Output.outputs.probabilities')],
                  name='validation', interval=2),
    MonitorLoss('valid', timescale='update'),
    MonitorLayerParameters('Hidden', name='p'),
], ids=['scores', 'loss', 'layer'])
def test_description_round_trip(hook):
    copy = create_from_description(get_description(hook))
    assert type(copy) is type(hook)
    assert (copy.name, copy.timescale, copy.interval) == (hook.name, hook.timescale,
                                                          hook.interval)
    assert get_description(copy) == get_description(hook)
