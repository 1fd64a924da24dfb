"""An MLP on the embedded digits (brainstorm.datasets.digits_path(): 8x8 UCI
handwritten digits, 1297 training / 250 validation images) reaches 95%
validation accuracy in a few seconds."""

import h5py

import brainstorm as bs
from brainstorm import datasets

THRESHOLD = 0.95
EPOCHS = 20


def test_mlp_on_the_embedded_digits_reaches_95_percent():
    with h5py.File(datasets.digits_path(), 'r') as f:
        split = f['normalized_split']
        training = {name: split[f'training/{name}'][:] for name in ('default', 'targets')}
        validation = {name: split[f'validation/{name}'][:] for name in ('default', 'targets')}
    bs.global_rnd.set_seed(1)
    net = bs.tools.create_net_from_spec('classification', 64, 10, 'Fr100')
    trainer = bs.Trainer(bs.training.MomentumStepper(learning_rate=0.1, momentum=0.9,
                                                     scale_learning_rate=False),
                         verbose=False)
    trainer.add_hook(bs.hooks.MonitorScores('valid', [bs.scorers.Accuracy()], name='validation'))
    trainer.add_hook(bs.hooks.StopAfterEpoch(EPOCHS))
    trainer.train(net, bs.Minibatches(20, **training),
                  valid=bs.Minibatches(250, shuffle=False, **validation))

    accuracies = trainer.logs['validation']['Accuracy']
    assert accuracies[0] < 0.3  # it starts from chance ...
    assert accuracies[-1] >= THRESHOLD, accuracies  # ... and learns
    losses = trainer.logs['rolling_training']['total_loss']
    assert losses[-1] < 0.2 * losses[0], losses
