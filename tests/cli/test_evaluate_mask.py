"""``bstorm evaluate`` masks its scores as the experiment's scorers do: with the input
that masks the network's loss, unless told otherwise (--mask none / --mask NAME)."""

import json

import h5py
import numpy as np
import pytest


@pytest.fixture
def masked_sequences(tmp_path):
    """A network whose loss is masked, and data whose padded frames have wrong targets."""
    import brainstorm as bs
    from brainstorm import tools
    rnd = np.random.RandomState(0)
    network = tools.create_net_from_spec('classification', 3, 4, 'L5', mask_name='mask')
    network.initialize(bs.initializers.Gaussian(0.5), seed=1)
    T, B = 6, 20
    data = rnd.randn(T, B, 3).astype(np.float32)
    mask = np.zeros((T, B, 1), np.float32)
    lengths = rnd.randint(2, T + 1, size=B)
    for column, length in enumerate(lengths):
        mask[:length, column] = 1
    # targets: what the network predicts on real frames, something else on padding
    network.provide_external_data({'default': data, 'targets': np.zeros((T, B, 1)),
                                   'mask': mask})
    network.forward_pass()
    predicted = network.get('Output.outputs.predictions').argmax(axis=2)[..., None]
    targets = np.where(mask > 0, predicted, (predicted + 1) % 4).astype(np.float32)
    network_path = tmp_path / 'net.h5'
    network.save_as_hdf5(str(network_path))
    data_path = tmp_path / 'data.h5'
    with h5py.File(data_path, 'w') as h5file:
        split = h5file.create_group('test')
        split['default'], split['targets'], split['mask'] = data, targets, mask
    return network_path, data_path


def _accuracy(bstorm, *arguments):
    result = bstorm('evaluate', *arguments, '--json')
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)['results']['Accuracy']


def test_evaluate_uses_the_loss_mask_by_default(bstorm, masked_sequences):
    network, data = masked_sequences
    assert _accuracy(bstorm, network, data) == pytest.approx(1.0)
    assert _accuracy(bstorm, network, data, '--mask', 'mask') == pytest.approx(1.0)
    assert _accuracy(bstorm, network, data, '--mask', 'none') < 0.9


def test_an_unknown_mask_input_is_bad_input(bstorm, masked_sequences):
    network, data = masked_sequences
    result = bstorm('evaluate', network, data, '--mask', 'nomask')
    assert result.exit_code == 2 and "no input 'nomask'" in result.stderr
