"""A masked LSTM sequence classifier on JapaneseVowels (UCR/UEA archive, from the
aeon wheel): which of 9 speakers said the vowel, from 7-29 frames of 12 cepstrum
coefficients. It reaches 90% accuracy on the 370 test utterances.

The converter's mask marks every real frame. A sequence gets one decision, so the
mask used here marks each sequence's last real frame: the loss and the accuracy
count that frame only (the network has read the whole utterance there), and the
Minibatches still cut every batch to its longest sequence through that mask.
(Trained on every frame instead, the early frames, which say little about the
speaker, pull the test accuracy down to ~91-93% per frame.)
"""

import h5py
import numpy as np
import pytest

import brainstorm as bs

THRESHOLD = 0.90
EPOCHS = 30


def last_frame_mask(mask):
    """(T, B, 1) mask with a 1 at each sequence's last nonzero step of ``mask``."""
    last_steps = (mask[:, :, 0] > 0).sum(axis=0).astype(int) - 1
    result = np.zeros_like(mask)
    result[last_steps, np.arange(mask.shape[1]), 0] = 1
    return result


def test_last_frame_mask():
    mask = np.array([[1, 1], [1, 0], [0, 0]], dtype=np.float32)[:, :, None]
    expected = np.array([[0, 1], [1, 0], [0, 0]], dtype=np.float32)[:, :, None]
    np.testing.assert_array_equal(last_frame_mask(mask), expected)


@pytest.mark.realdata
def test_masked_lstm_classifies_japanese_vowels_to_90_percent(japanese_vowels_hdf5):
    def load(split):
        with h5py.File(japanese_vowels_hdf5, 'r') as f:
            group = f['normalized_split'][split]
            data = {name: group[name][:] for name in ('default', 'targets', 'mask')}
        data['mask'] = last_frame_mask(data['mask'])
        return data

    training, test = load('training'), load('test')
    assert test['targets'].shape[1] == 370
    bs.global_rnd.set_seed(1)
    net = bs.tools.create_net_from_spec('classification', 12, 9, 'L32', mask_name='mask')
    assert 'Mask' in net.layers
    trainer = bs.Trainer(bs.training.AdamStepper(learning_rate=0.01), verbose=False)
    trainer.add_hook(bs.hooks.StopAfterEpoch(EPOCHS))
    trainer.train(net, bs.Minibatches(30, **training))

    scores = bs.tools.evaluate(net, bs.Minibatches(100, shuffle=False, **test),
                               [bs.scorers.Accuracy(mask_name='mask')])
    assert scores['Accuracy'] >= THRESHOLD, scores


@pytest.mark.realdata
@pytest.mark.slow
def test_bidirectional_lstm_is_at_least_as_good_as_the_forward_one(japanese_vowels_hdf5):
    # every real frame is classified: a forward LSTM has read only the frames so far,
    # a bidirectional one the whole utterance (its reversed half reads each sequence
    # from its own last real frame: the mask goes to it)
    with h5py.File(japanese_vowels_hdf5, 'r') as f:
        group = f['normalized_split']
        training, test = ({name: group[split][name][:] for name in ('default', 'targets', 'mask')}
                          for split in ('training', 'test'))
    accuracies = {}
    for spec in ('L32', 'L32<>'):
        bs.global_rnd.set_seed(1)
        net = bs.tools.create_net_from_spec('classification', 12, 9, spec, mask_name='mask')
        trainer = bs.Trainer(bs.training.AdamStepper(learning_rate=0.01), verbose=False)
        trainer.add_hook(bs.hooks.StopAfterEpoch(EPOCHS))
        trainer.train(net, bs.Minibatches(30, **training))
        scores = bs.tools.evaluate(net, bs.Minibatches(100, shuffle=False, **test),
                                   [bs.scorers.Accuracy(mask_name='mask')])
        accuracies[spec] = scores['Accuracy']
    assert 'Lstm_reverse' in net.layers
    assert accuracies['L32<>'] >= accuracies['L32'], accuracies
