"""The spec's walkthrough (chapter 2) on a small generated CIFAR-10-like file.

The code is the walkthrough's, with the GPU line left out, the data file pointed at a
generated HDF5 file of the documented layout, smaller batches and fewer epochs.
"""

import h5py
import numpy as np
import pytest

import brainstorm as bs
from brainstorm.data_iterators import Minibatches
from brainstorm.initializers import Gaussian


@pytest.fixture
def cifar_like_file(tmp_path):
    """``normalized_split/{training,validation}/{default,targets}``, TNHWC images."""
    rnd = np.random.RandomState(0)
    filename = str(tmp_path / 'CIFAR-10.hdf5')
    with h5py.File(filename, 'w') as f:
        for split, size in (('training', 40), ('validation', 20)):
            targets = rnd.randint(10, size=(1, size, 1))
            images = rnd.randn(1, size, 32, 32, 3).astype(np.float32) * 0.1
            images[..., 0] += targets[..., None, None, 0] / 10.0  # learnable signal
            f[f'normalized_split/{split}/default'] = images
            f[f'normalized_split/{split}/targets'] = targets.astype(np.float32)
    return filename


@pytest.mark.slow
def test_walkthrough_runs_and_reports_a_validation_accuracy(cifar_like_file, tmp_path):
    bs.global_rnd.set_seed(42)
    ds = h5py.File(cifar_like_file, 'r')['normalized_split']
    getter_tr = Minibatches(20, default=ds['training']['default'][:],
                            targets=ds['training']['targets'])
    getter_va = Minibatches(20, default=ds['validation']['default'][:],
                            targets=ds['validation']['targets'])

    inp, fc = bs.tools.get_in_out_layers('classification', (32, 32, 3), 10)
    (inp >>
     bs.layers.Convolution2D(32, kernel_size=(5, 5), padding=2, name='Conv1') >>
     bs.layers.Pooling2D(type="max", kernel_size=(3, 3), stride=(2, 2)) >>
     bs.layers.Convolution2D(32, kernel_size=(5, 5), padding=2, name='Conv2') >>
     bs.layers.Pooling2D(type="max", kernel_size=(3, 3), stride=(2, 2)) >>
     bs.layers.Convolution2D(64, kernel_size=(5, 5), padding=2, name='Conv3') >>
     bs.layers.Pooling2D(type="max", kernel_size=(3, 3), stride=(2, 2)) >>
     bs.layers.FullyConnected(64, name='FC') >>
     fc)
    network = bs.Network.from_layer(fc)
    network.initialize({'Conv*': {'W': Gaussian(0.01), 'bias': 0},
                        'FC': {'W': Gaussian(0.1), 'bias': 0},
                        'Output_projection': {'W': Gaussian(0.1), 'bias': 0}})

    trainer = bs.Trainer(bs.training.MomentumStepper(learning_rate=0.01, momentum=0.9))
    trainer.add_hook(bs.hooks.ProgressBar())
    scorers = [bs.scorers.Accuracy(out_name='Output.outputs.probabilities')]
    trainer.train_scorers = scorers
    trainer.add_hook(bs.hooks.MonitorScores('valid_getter', scorers, name='validation'))
    best_file = str(tmp_path / 'cifar10_cnn_best.hdf5')
    trainer.add_hook(bs.hooks.SaveBestNetwork('validation.Accuracy', filename=best_file,
                                              name='best weights', criterion='max'))
    trainer.add_hook(bs.hooks.StopAfterEpoch(2))
    trainer.train(network, getter_tr, valid_getter=getter_va)

    accuracies = trainer.logs["validation"]["Accuracy"]
    assert len(accuracies) == 3 and all(0.0 <= value <= 1.0 for value in accuracies)
    assert len(trainer.logs['rolling_training']['Accuracy']) == 2
    best = bs.Network.from_hdf5(best_file)
    assert best.get('parameters').shape == network.get('parameters').shape
