"""The spec's cifar10_cnn example (the walkthrough's network and schedule) makes
progress in a few updates on a small CIFAR-10-format file converted from a
generated archive (no registry carries the real CIFAR-10)."""

import h5py
import numpy as np

import brainstorm as bs
from brainstorm.initializers import Gaussian

#: the spec's shortened form of the cifar10_cnn network (images are (H, W, C))
CIFAR10_CNN_SPEC = 'C32:5p2 P3s2 C32:5p2 P3s2 C64:5p2 P3s2 F64'
EPOCHS = 3  # of 2 updates (200 training images, batches of 100)


def test_cifar10_cnn_lowers_the_training_loss_in_a_few_updates(cifar10_small_hdf5):
    with h5py.File(cifar10_small_hdf5, 'r') as f:
        images = f['normalized_split/training/default'][:]
        targets = f['normalized_split/training/targets'][:]
    bs.global_rnd.set_seed(42)
    net = bs.tools.create_net_from_spec('classification', (32, 32, 3), 10, CIFAR10_CNN_SPEC)
    # the example's initialization (the spec string names repeated types _1, _2, ...)
    net.initialize({'Convolution2D*': {'W': Gaussian(0.01), 'bias': 0},
                    'FullyConnected': {'W': Gaussian(0.1), 'bias': 0},
                    'Output_projection': {'W': Gaussian(0.1), 'bias': 0}})
    first_filters = net.get('Convolution2D_1.parameters.W')

    def training_set_loss():
        data = bs.Minibatches(100, shuffle=False, default=images, targets=targets)
        return bs.tools.evaluate(net, data)['total_loss']

    before = training_set_loss()
    trainer = bs.Trainer(bs.training.MomentumStepper(learning_rate=0.01, momentum=0.9),
                         verbose=False)
    trainer.add_hook(bs.hooks.StopAfterEpoch(EPOCHS))
    trainer.train(net, bs.Minibatches(100, default=images, targets=targets))
    after = training_set_loss()

    assert trainer.current_update_nr == 2 * EPOCHS
    assert np.isfinite(after) and after < before, (before, after)
    epoch_losses = trainer.logs['rolling_training']['total_loss']
    assert all(later < earlier for earlier, later in zip(epoch_losses, epoch_losses[1:])), \
        epoch_losses
    # the gradient reached the first convolution through three pooling layers
    assert not np.array_equal(net.get('Convolution2D_1.parameters.W'), first_filters)
