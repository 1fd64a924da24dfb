"""BatchShard: the parts of K shards, put together, are the batches of one iterator.

Every chain is built K + 1 times with the same seed (as K processes and one would
build it); the shards' batches, concatenated along B in rank order, must equal the
unsharded chain's batches exactly, random wrappers and mask cutting included.
"""

import h5py
import numpy as np
import pytest

from brainstorm.data_iterators import (AddGaussianNoise, AddSaltNPepper, Flip, Minibatches,
                                       OneHot, Online, Pad, RandomCrop, Undivided)
from brainstorm.data_iterators.windows import SequenceWindows
from brainstorm.data_iterators.sharding import BatchShard
from brainstorm.errors import IteratorValidationError
from brainstorm.randomness import global_rnd


@pytest.mark.parametrize('batch_size, count, sizes', [
    (10, 2, [5, 5]), (10, 3, [4, 3, 3]), (7, 4, [2, 2, 2, 1]), (3, 3, [1, 1, 1])])
def test_parts_are_contiguous_and_differ_by_at_most_one(batch_size, count, sizes):
    parts = [BatchShard(index, count).split(batch_size) for index in range(count)]
    assert [part.stop - part.start for part in parts] == sizes
    assert parts[0].start == 0 and parts[-1].stop == batch_size
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))


def _images(nr_sequences=11):
    rnd = np.random.RandomState(0)
    return {'default': rnd.rand(1, nr_sequences, 4, 4, 2),
            'targets': rnd.randint(0, 3, size=(1, nr_sequences, 1))}


def _sequences(nr_sequences=11, time_steps=6):
    rnd = np.random.RandomState(1)
    lengths = rnd.randint(1, time_steps, size=nr_sequences)
    lengths[:3] = 2  # the first batch is shorter than T: it gets cut
    mask = (np.arange(time_steps)[:, None] < lengths[None, :]).astype(np.float64)[:, :, None]
    return {'default': rnd.rand(time_steps, nr_sequences, 3), 'mask': mask,
            'targets': rnd.randint(0, 4, size=(time_steps, nr_sequences, 1))}


CHAINS = {
    'minibatches-noise-saltnpepper': lambda data: AddSaltNPepper(
        AddGaussianNoise(Minibatches(4, **data), {'default': 0.3}), {'default': 0.2}),
    'images-pad-crop-flip': lambda data: Flip(RandomCrop(Pad(Minibatches(4, **data),
                                                             {'default': 1}),
                                                         {'default': (4, 4)})),
    'undivided-noise': lambda data: AddGaussianNoise(Undivided(**data), {'default': 1.0}),
    'masked-cut-onehot': lambda data: OneHot(Minibatches(4, **data), {'targets': 4}),
    'sequence-windows-noise': lambda data: AddGaussianNoise(
        SequenceWindows(2, **{key: data[key] for key in ('default', 'targets')}),
        {'default': 0.5}),
}
DATA = {'minibatches-noise-saltnpepper': _images, 'images-pad-crop-flip': _images,
        'undivided-noise': _images, 'masked-cut-onehot': _sequences,
        'sequence-windows-noise': _sequences}


def _batches(chain, data, shard=None, epochs=2):
    global_rnd.set_seed(99)
    iterator = chain(data)
    if shard is not None:
        iterator.set_shard(shard)
    return [batch for _ in range(epochs) for batch in iterator()]


@pytest.mark.parametrize('count', [2, 3])
@pytest.mark.parametrize('name', sorted(CHAINS))
def test_shards_put_together_are_the_global_batches(name, count, tmp_path):
    data = DATA[name]()
    # the source reads from an h5py file, as the CLI's iterators do (partial reads)
    with h5py.File(tmp_path / 'data.h5', 'w') as h5file:
        for key, values in data.items():
            h5file[key] = values
    with h5py.File(tmp_path / 'data.h5', 'r') as h5file:
        datasets = {key: h5file[key] for key in data}
        expected = _batches(CHAINS[name], datasets)
        parts = [_batches(CHAINS[name], datasets, BatchShard(index, count))
                 for index in range(count)]
    assert len(expected) > 1
    for number, batch in enumerate(expected):
        for key, values in batch.items():
            axis = 0 if values.ndim == 1 else 1  # SequenceWindows' (B,) reset signal
            pieces = [part[number][key] for part in parts]
            assert all(piece.shape[axis] < values.shape[axis] for piece in pieces)
            np.testing.assert_array_equal(np.concatenate(pieces, axis=axis), values,
                                          err_msg=f"batch {number}, item {key}")
    if name == 'masked-cut-onehot':  # cut to the whole batch's mask, on every shard
        assert any(batch['default'].shape[0] < 6 for batch in expected)


def test_weight_is_the_share_of_the_global_batch():
    shard = BatchShard(0, 3)
    shard.begin_batch(10)
    assert shard.weight == pytest.approx(0.4)


def test_batches_smaller_than_the_number_of_processes_are_refused():
    data = _images(nr_sequences=9)  # batches of 4, 4 and 1
    with pytest.raises(IteratorValidationError, match='a batch of 1 sequence'):
        Minibatches(4, **data).set_shard(BatchShard(0, 2))
    with pytest.raises(IteratorValidationError, match='Undivided: a batch of 9'):
        Undivided(**data).set_shard(BatchShard(0, 10))
    with pytest.raises(IteratorValidationError, match='Online yields one sequence'):
        Online(**data).set_shard(BatchShard(0, 2))


def test_removing_the_shard_gives_whole_batches_again():
    data = _images()
    iterator = Minibatches(4, shuffle=False, **data)
    iterator.set_shard(BatchShard(1, 2))
    assert next(iterator())['default'].shape[1] == 2
    iterator.set_shard(None)
    assert next(iterator())['default'].shape[1] == 4
