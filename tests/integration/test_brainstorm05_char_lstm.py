"""brainstorm 0.5's hutter_lstm example, as its script is written, on a tiny text.

What the 0.5 script relies on and this test pins: layers named by
create_net_from_spec, MonitorScores every N updates, SaveBestNetwork watching the
monitor's total_loss at its default epoch timescale (no error about the
mismatch), a scorer reading ``Output.outputs.predictions``, and reloading the
best network.
"""

import numpy as np
import pytest

import brainstorm as bs

TEXT = "the quick brown fox jumps over the lazy dog. " * 12
SEQUENCE_LENGTH = 15


def char_data():
    """(T, B, 1) character indices and next-character targets, and the alphabet size."""
    alphabet = sorted(set(TEXT))
    codes = np.array([alphabet.index(char) for char in TEXT])
    count = (len(codes) - 1) // SEQUENCE_LENGTH
    inputs = codes[:count * SEQUENCE_LENGTH].reshape(count, SEQUENCE_LENGTH).T[..., None]
    targets = codes[1:count * SEQUENCE_LENGTH + 1].reshape(count, SEQUENCE_LENGTH).T[..., None]
    return inputs, targets, len(alphabet)


def test_the_0_5_hutter_example_trains_and_its_best_network_reloads(tmp_path):
    inputs, targets, alphabet_size = char_data()
    x_tr, y_tr = inputs[:, :30], targets[:, :30]
    x_va, y_va = inputs[:, 30:], targets[:, 30:]
    bs.global_rnd.set_seed(42)
    getter_tr = bs.data_iterators.OneHot(
        bs.data_iterators.Minibatches(10, default=x_tr, targets=y_tr, shuffle=False),
        {'default': alphabet_size})
    getter_va = bs.data_iterators.OneHot(
        bs.data_iterators.Minibatches(10, default=x_va, targets=y_va, shuffle=False),
        {'default': alphabet_size})

    network = bs.tools.create_net_from_spec('classification', alphabet_size, alphabet_size,
                                            'L16')
    network.initialize(bs.initializers.Gaussian(0.1))

    trainer = bs.Trainer(bs.training.MomentumStepper(learning_rate=0.3, momentum=0.9),
                         verbose=False)
    trainer.add_hook(bs.hooks.ProgressBar())
    scorers = [bs.scorers.Accuracy(out_name='Output.outputs.predictions')]
    # 3 updates per epoch; the monitor runs every 3 updates, at each epoch's last update
    trainer.add_hook(bs.hooks.MonitorScores('valid_getter', scorers, name='validation',
                                            interval=3, timescale='update'))
    best_file = str(tmp_path / 'hutter_lstm_best.hdf5')
    saver = bs.hooks.SaveBestNetwork('validation.total_loss', filename=best_file,
                                     name='best weights', criterion='min')
    trainer.add_hook(saver)
    trainer.add_hook(bs.hooks.StopAfterEpoch(15))
    trainer.train(network, getter_tr, valid_getter=getter_va)

    losses = trainer.logs['validation']['total_loss']
    assert len(losses) == 16 and len(trainer.logs['validation']['Accuracy']) == 16
    assert min(losses) < 0.8 * losses[0]           # it learned something of the text
    assert saver.best_value == pytest.approx(min(losses))
    assert list(network.layers)[:2] == ['Input', 'Lstm']

    best = saver.load_best_network()
    again = bs.Network.from_hdf5(best_file)
    np.testing.assert_array_equal(best.get('parameters'), again.get('parameters'))
    scores = bs.tools.evaluate(best, getter_va, scorers=scorers)
    # the saved network is the one the monitor scored: same loss, same accuracy
    best_index = int(np.argmin(losses))
    assert scores['total_loss'] == pytest.approx(losses[best_index], rel=1e-4)
    assert scores['Accuracy'] == pytest.approx(
        trainer.logs['validation']['Accuracy'][best_index])
