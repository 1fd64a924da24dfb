"""The spec's chapter 2 walkthrough (examples/cifar10_cnn.py), run as its text.

``WALKTHROUGH`` is the walkthrough's code blocks in order, copied from the spec,
with only these changes:

- the GPU line ``network.set_handler(PyCudaHandler())`` is commented out (the
  default handler, NumpyHandler, is used; the spec says the line is not needed
  without a GPU);
- ``StopAfterEpoch(20)`` is ``StopAfterEpoch(1)``, so the test takes seconds;
- the two ``Minibatches(...`` lines get the closing parenthesis that the spec's
  text lost (as printed they do not parse);
- two statements the walkthrough describes in prose but whose code blocks the
  spec's text lost are written as described: ``network.initialize`` (Conv*: W
  Gaussian(0.01), bias 0; FC and Output_projection: W Gaussian(0.1), bias 0)
  and the ``SaveBestNetwork`` hook on ``validation.Accuracy`` at its maximum.

The data file is a small CIFAR-10-format file (the documented layout
``normalized_split/{training,validation}/{default,targets}``, TNHWC), converted
from a generated archive; ``BRAINSTORM_DATA_DIR`` points at its folder.
"""

import os
import re

import h5py
import pytest

WALKTHROUGH = '''\
from __future__ import division, print_function, unicode_literals
import os
import h5py
import brainstorm as bs
from brainstorm.data_iterators import Minibatches
from brainstorm.handlers import PyCudaHandler
from brainstorm.initializers import Gaussian

bs.global_rnd.set_seed(42)

data_dir = os.environ.get('BRAINSTORM_DATA_DIR', '.../data')
data_file = os.path.join(data_dir, 'CIFAR-10.hdf5')
ds = h5py.File(data_file, 'r')['normalized_split']

getter_tr = Minibatches(100, default=ds['training']['default'][:], targets=ds['training']['targets'])
getter_va = Minibatches(100, default=ds['validation']['default'][:], targets=ds['validation']['targets'])

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

# network.set_handler(PyCudaHandler())

network.initialize({'Conv*': {'W': Gaussian(0.01), 'bias': 0},
                    'FC': {'W': Gaussian(0.1), 'bias': 0},
                    'Output_projection': {'W': Gaussian(0.1), 'bias': 0}})

trainer = bs.Trainer(bs.training.MomentumStepper(learning_rate=0.01, momentum=0.9))
trainer.add_hook(bs.hooks.ProgressBar())

scorers = [bs.scorers.Accuracy(out_name='Output.outputs.probabilities')]
trainer.train_scorers = scorers
trainer.add_hook(bs.hooks.MonitorScores('valid_getter', scorers, name='validation'))

trainer.add_hook(bs.hooks.SaveBestNetwork('validation.Accuracy',
                                          filename='cifar10_cnn_best.hdf5',
                                          name='best weights',
                                          criterion='max'))

trainer.add_hook(bs.hooks.StopAfterEpoch(1))

trainer.train(network, getter_tr, valid_getter=getter_va)

print("Best validation accuracy:", max(trainer.logs["validation"]["Accuracy"]))
'''


def test_walkthrough_text_runs_and_prints_the_best_validation_accuracy(
        cifar10_small_hdf5, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('BRAINSTORM_DATA_DIR', str(cifar10_small_hdf5.parent))
    monkeypatch.chdir(tmp_path)  # SaveBestNetwork writes cifar10_cnn_best.hdf5 here
    namespace = {'__name__': '__walkthrough__'}
    exec(compile(WALKTHROUGH, 'walkthrough.py', 'exec'), namespace)

    trainer, network = namespace['trainer'], namespace['network']
    accuracies = trainer.logs['validation']['Accuracy']
    assert len(accuracies) == 2  # before training and after the one epoch
    assert all(0.0 <= accuracy <= 1.0 for accuracy in accuracies)
    assert trainer.current_epoch_nr == 1 and trainer.current_update_nr == 2  # 200 / 100
    assert len(trainer.logs['rolling_training']['Accuracy']) == 1  # the train scorer

    printed = capsys.readouterr().out
    match = re.search(r'Best validation accuracy: (\S+)', printed)
    assert match, printed
    assert float(match.group(1)) == pytest.approx(max(accuracies))

    best_file = tmp_path / 'cifar10_cnn_best.hdf5'
    assert best_file.is_file()
    import brainstorm as bs
    best = bs.Network.from_hdf5(str(best_file))
    assert best.get('parameters').shape == network.get('parameters').shape
    namespace['ds'].file.close()


def test_the_walkthrough_reads_the_documented_layout(cifar10_small_hdf5):
    """The fixture has what the walkthrough reads: TNHWC images and (1, B, 1) targets."""
    with h5py.File(cifar10_small_hdf5, 'r') as f:
        for split, size in (('training', 200), ('validation', 100)):
            assert f[f'normalized_split/{split}/default'].shape == (1, size, 32, 32, 3)
            assert f[f'normalized_split/{split}/targets'].shape == (1, size, 1)
    assert os.path.basename(cifar10_small_hdf5) == 'CIFAR-10.hdf5'
