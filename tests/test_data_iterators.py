"""Tests of brainstorm.data_iterators: shapes, coverage, seeding, statistics, h5py input,
mask cutting, validation errors and exact resumption with get_state / set_state."""

import json

import h5py
import numpy as np
import pytest

from brainstorm.data_iterators import (AddGaussianNoise, AddSaltNPepper, DataIterator, Flip,
                                       Minibatches, MultiHot, OneHot, Online, Pad, RandomCrop,
                                       Undivided)
from brainstorm.errors import IteratorValidationError
from brainstorm.randomness import global_rnd

NR_SEQUENCES = 10


@pytest.fixture(autouse=True)
def seeded():
    global_rnd.set_seed(1234)


def make_data(nr_sequences=NR_SEQUENCES, time_steps=3):
    """Inputs whose value identifies the sequence, static targets and a mask."""
    inputs = np.arange(time_steps * nr_sequences * 2, dtype=np.float64)
    inputs = inputs.reshape(time_steps, nr_sequences, 2)
    targets = np.arange(nr_sequences).reshape(1, nr_sequences, 1)
    return {'default': inputs, 'targets': targets}


def collect(iterator):
    return [{name: np.array(value) for name, value in batch.items()} for batch in iterator()]


def images(nr_sequences=6, time_steps=2, height=4, width=5, channels=3):
    values = np.arange(time_steps * nr_sequences * height * width * channels, dtype=np.float64)
    return values.reshape(time_steps, nr_sequences, height, width, channels)


# ---- sources: shapes, lengths, coverage -----------------------------------------------

def test_undivided_yields_everything_once():
    data = make_data()
    iterator = Undivided(**data)
    batches = collect(iterator)
    assert iterator.length == 1 and len(batches) == 1
    assert iterator.data_shapes == {'default': (3, 10, 2), 'targets': (1, 10, 1)}
    for name, value in data.items():
        np.testing.assert_array_equal(batches[0][name], value)


@pytest.mark.parametrize('shuffle', [False, True], ids=['ordered', 'shuffled'])
def test_online_visits_every_sequence_once(shuffle):
    data = make_data()
    iterator = Online(shuffle=shuffle, **data)
    batches = collect(iterator)
    assert iterator.length == NR_SEQUENCES == len(batches)
    assert iterator.data_shapes == {'default': (3, 10, 2), 'targets': (1, 10, 1)}
    seen = []
    for batch in batches:
        assert batch['default'].shape == (3, 1, 2) and batch['targets'].shape == (1, 1, 1)
        sequence = int(batch['targets'][0, 0, 0])
        np.testing.assert_array_equal(batch['default'], data['default'][:, sequence:sequence + 1])
        seen.append(sequence)
    assert sorted(seen) == list(range(NR_SEQUENCES))
    assert (seen == sorted(seen)) != shuffle


@pytest.mark.parametrize('batch_size', [1, 3, 4, 10, 11])
@pytest.mark.parametrize('shuffle', [False, True], ids=['ordered', 'shuffled'])
def test_minibatches_cover_every_sequence_once_in_contiguous_batches(batch_size, shuffle):
    data = make_data()
    iterator = Minibatches(batch_size, shuffle=shuffle, **data)
    batches = collect(iterator)
    expected_length = -(-NR_SEQUENCES // batch_size)
    assert iterator.length == expected_length == len(batches)
    assert iterator.data_shapes == {'default': (3, 10, 2), 'targets': (1, 10, 1)}
    seen = []
    for batch in batches:
        sequences = batch['targets'][0, :, 0]
        # instances are never moved across batches: each batch is one block of the data
        assert sequences[0] % batch_size == 0
        np.testing.assert_array_equal(sequences, np.arange(sequences[0], sequences[-1] + 1))
        assert len(sequences) == min(batch_size, NR_SEQUENCES - sequences[0])
        np.testing.assert_array_equal(batch['default'], data['default'][:, sequences])
        seen.extend(sequences.tolist())
    assert sorted(seen) == list(range(NR_SEQUENCES))
    if not shuffle:
        assert seen == list(range(NR_SEQUENCES))


def test_minibatches_shuffles_the_batch_order_anew_every_epoch():
    iterator = Minibatches(1, **make_data(nr_sequences=20))
    first, second = ([int(batch['targets'][0, 0, 0]) for batch in iterator()] for _ in range(2))
    assert sorted(first) == sorted(second) == list(range(20))
    assert first != second


def iterator_builders():
    data = {'default': images(nr_sequences=20), 'targets': np.arange(20).reshape(1, 20, 1),
            'words': np.arange(40).reshape(1, 20, 2) % 7}
    return {
        'online': lambda: Online(**data),
        'minibatches': lambda: Minibatches(3, **data),
        'noise': lambda: AddGaussianNoise(Minibatches(3, **data), {'default': 1.0}),
        'salt-n-pepper': lambda: AddSaltNPepper(Minibatches(3, **data), {'default': 0.5}),
        'flip': lambda: Flip(Minibatches(3, **data)),
        'crop': lambda: RandomCrop(Minibatches(3, **data), {'default': (2, 3)}),
        'chain': lambda: Flip(RandomCrop(Pad(AddGaussianNoise(
            MultiHot(OneHot(Minibatches(3, **data), {'targets': 20}), {'words': 7}),
            {'default': 0.1}), {'default': 1}), {'default': (4, 5)})),
    }


BUILDERS = iterator_builders()


@pytest.mark.parametrize('name', sorted(BUILDERS))
def test_same_seed_gives_same_batches_and_different_seed_different(name):
    build = BUILDERS[name]
    global_rnd.set_seed(7)
    first = collect(build())
    global_rnd.set_seed(7)
    again = collect(build())
    global_rnd.set_seed(8)
    other = collect(build())
    assert batches_equal(first, again)
    assert not batches_equal(first, other)


def batches_equal(first, second):
    return len(first) == len(second) and all(
        a.keys() == b.keys() and all(np.array_equal(a[key], b[key]) for key in a)
        for a, b in zip(first, second))


# ---- resuming exactly -------------------------------------------------------------------

@pytest.mark.parametrize('consumed', [0, 1, 4, 6])
@pytest.mark.parametrize('name', sorted(BUILDERS))
def test_set_state_and_discarding_consumed_batches_resumes_bit_exactly(name, consumed):
    build = BUILDERS[name]
    global_rnd.set_seed(3)
    iterator = build()
    collect(iterator)                            # a first epoch moves the random states on
    state = iterator.get_state()                 # what the trainer stores at an epoch start
    uninterrupted = collect(iterator)
    # the state must survive being written out, e.g. as JSON with lists
    state = json.loads(json.dumps(state, default=lambda array: array.tolist()))

    global_rnd.set_seed(99)                      # a fresh process: different seeds
    resumed_iterator = build()
    resumed_iterator.set_state(state)
    batches = resumed_iterator()
    for _ in range(consumed):
        next(batches)
    resumed = [{key: np.array(value) for key, value in batch.items()} for batch in batches]
    assert batches_equal(resumed, uninterrupted[consumed:])


def test_get_state_holds_the_states_of_wrapped_iterators():
    source = Minibatches(2, **make_data())
    iterator = AddGaussianNoise(source, {'default': 1.0})
    state = iterator.get_state()
    assert set(state) == {'random_state', 'wrapped'}
    np.testing.assert_array_equal(state['wrapped']['random_state']['keys'],
                                  source.rnd.get_state()[1])


def test_set_state_rejects_a_state_of_another_chain():
    data = make_data()
    with pytest.raises(IteratorValidationError, match="'wrapped'"):
        AddGaussianNoise(Minibatches(2, **data), {'default': 1.0}).set_state(
            Minibatches(2, **data).get_state())
    with pytest.raises(IteratorValidationError, match='random_state'):
        Minibatches(2, **data).set_state({'seed': 1})


# ---- h5py input ---------------------------------------------------------------------------

@pytest.fixture()
def h5_group(tmp_path):
    data = make_data(nr_sequences=11)
    mask = np.ones((3, 11, 1))
    mask[2:, :5] = 0
    data['mask'] = mask
    with h5py.File(tmp_path / 'data.hdf5', 'w') as file:
        for name, value in data.items():
            file[f'training/{name}'] = value
    file = h5py.File(tmp_path / 'data.hdf5', 'r')
    yield data, file['training']
    file.close()


@pytest.mark.parametrize('make', [
    pytest.param(lambda data: Minibatches(4, **data), id='minibatches'),
    pytest.param(lambda data: Online(**data), id='online'),
    pytest.param(lambda data: Undivided(**data), id='undivided'),
])
def test_h5py_datasets_give_the_same_batches_as_numpy(h5_group, make):
    data, group = h5_group
    global_rnd.set_seed(5)
    from_numpy = collect(make(data))
    global_rnd.set_seed(5)
    from_file = collect(make(group))             # **group: the spec's usage
    assert batches_equal(from_numpy, from_file)


@pytest.mark.parametrize('make, largest_read', [
    pytest.param(lambda data: Minibatches(4, **data), 4, id='minibatches'),
    pytest.param(lambda data: Online(**data), 1, id='online'),
])
def test_h5py_datasets_are_read_batch_by_batch(h5_group, monkeypatch, make, largest_read):
    _, group = h5_group
    reads = []
    original_getitem = h5py.Dataset.__getitem__

    def counting_getitem(dataset, index, *args, **kwargs):
        reads.append(index)
        return original_getitem(dataset, index, *args, **kwargs)

    iterator = make(group)
    monkeypatch.setattr(h5py.Dataset, '__getitem__', counting_getitem)
    collect(iterator)
    assert len(reads) == 3 * iterator.length     # one read per item and batch
    for index in reads:
        assert isinstance(index, tuple) and index[0] == slice(None)
        sequences = index[1]
        assert isinstance(sequences, slice) and sequences.step is None
        assert 0 < sequences.stop - sequences.start <= largest_read


# ---- mask cutting ----------------------------------------------------------------------

def test_minibatches_cut_each_batch_to_its_longest_valid_sequence():
    data = make_data(nr_sequences=6, time_steps=5)
    lengths = np.array([2, 1, 4, 3, 0, 1])
    data['mask'] = (np.arange(5)[:, None] < lengths[None, :])[:, :, None].astype(np.float64)
    batches = collect(Minibatches(2, shuffle=False, **data))
    assert [batch['default'].shape[0] for batch in batches] == [2, 4, 1]
    for index, batch in enumerate(batches):
        time_steps = batch['mask'].shape[0]
        sequences = slice(2 * index, 2 * index + 2)
        np.testing.assert_array_equal(batch['default'], data['default'][:time_steps, sequences])
        np.testing.assert_array_equal(batch['mask'], data['mask'][:time_steps, sequences])
        np.testing.assert_array_equal(batch['targets'], data['targets'][:, sequences])


def test_minibatches_cut_according_to_another_name_or_not_at_all():
    data = make_data(nr_sequences=2, time_steps=4)
    data['valid'] = np.zeros((4, 2, 1))
    data['valid'][:2] = 1
    assert collect(Minibatches(2, cut_according_to='valid', **data))[0]['default'].shape[0] == 2
    assert collect(Minibatches(2, cut_according_to='mask', **data))[0]['default'].shape[0] == 4


@pytest.mark.parametrize('as_type', [list, np.array], ids=['list', 'array'])
def test_minibatches_cut_according_to_sequence_lengths_as_in_0_5(as_type):
    data = make_data(nr_sequences=6, time_steps=5)
    lengths = [2, 1, 4, 3, 0, 1]
    batches = collect(Minibatches(2, shuffle=False, cut_according_to=as_type(lengths), **data))
    assert [batch['default'].shape[0] for batch in batches] == [2, 4, 1]
    for index, batch in enumerate(batches):
        time_steps = batch['default'].shape[0]
        sequences = slice(2 * index, 2 * index + 2)
        np.testing.assert_array_equal(batch['default'], data['default'][:time_steps, sequences])
        np.testing.assert_array_equal(batch['targets'], data['targets'][:, sequences])


@pytest.mark.parametrize('lengths', [[1, 2], [1, 2, 3, 9, 1, 1], [1.5] * 6, [[1]] * 6],
                         ids=['too-few', 'longer-than-T', 'floats', 'nested'])
def test_minibatches_bad_sequence_lengths_are_clear_errors(lengths):
    with pytest.raises(IteratorValidationError, match="cut_according_to must be"):
        Minibatches(2, cut_according_to=lengths, **make_data(nr_sequences=6, time_steps=5))


# ---- augmentation statistics and correctness ---------------------------------------------

def test_gaussian_noise_has_the_requested_mean_and_std():
    data = {'default': np.zeros((1, 2000, 10), dtype=np.float32),
            'targets': np.ones((1, 2000, 1))}
    batch = collect(AddGaussianNoise(Undivided(**data), {'default': 2.0}, {'default': 1.0}))[0]
    noise = batch['default']
    assert noise.dtype == np.float32
    assert abs(noise.mean() - 1.0) < 0.06 and abs(noise.std() - 2.0) < 0.05
    np.testing.assert_array_equal(batch['targets'], data['targets'])
    assert not data['default'].any()             # the source data is untouched


def test_salt_n_pepper_corrupts_the_requested_fraction_with_the_requested_ratio():
    data = {'default': np.full((1, 1000, 20), 0.5)}
    corrupted = collect(AddSaltNPepper(Undivided(**data), {'default': 0.3},
                                       {'default': 0.25}))[0]['default']
    assert set(np.unique(corrupted)) <= {0.0, 0.5, 1.0}
    assert abs(np.mean(corrupted == 1.0) - 0.3 * 0.25) < 0.01
    assert abs(np.mean(corrupted == 0.0) - 0.3 * 0.75) < 0.015
    assert np.all(data['default'] == 0.5)


def test_flip_flips_the_width_axis_of_whole_sequences_at_the_requested_rate():
    data = images(nr_sequences=2000, time_steps=2, height=2, width=3, channels=2)
    flipped_data = collect(Flip(Undivided(default=data), {'default': 0.3}))[0]['default']
    is_flipped = np.all(flipped_data == data[:, :, :, ::-1], axis=(0, 2, 3, 4))
    is_kept = np.all(flipped_data == data, axis=(0, 2, 3, 4))
    assert np.all(is_flipped != is_kept)         # every sequence wholly flipped or kept
    assert abs(is_flipped.mean() - 0.3) < 0.04


def test_flip_defaults_to_default_with_probability_one_half():
    iterator = Flip(Undivided(default=images(nr_sequences=4000, height=1, width=2, channels=1)))
    assert iterator.prob_dict == {'default': 0.5}
    data = iterator.iter.data['default']
    flipped = collect(iterator)[0]['default']
    assert abs(np.mean(flipped[0, :, 0, 0, 0] != data[0, :, 0, 0, 0]) - 0.5) < 0.03


@pytest.mark.parametrize('value', [None, -1.5])
def test_pad_adds_the_value_on_all_sides(value):
    data = images(nr_sequences=3, height=2, width=3)
    iterator = Pad(Undivided(default=data), {'default': 2},
                   None if value is None else {'default': value})
    assert iterator.data_shapes['default'] == (2, 3, 6, 7, 3)
    padded = collect(iterator)[0]['default']
    assert padded.shape == (2, 3, 6, 7, 3)
    np.testing.assert_array_equal(padded[:, :, 2:4, 2:5], data)
    border = np.ones(padded.shape, dtype=bool)
    border[:, :, 2:4, 2:5] = False
    assert np.all(padded[border] == (0 if value is None else value))


def test_random_crop_takes_windows_at_uniform_positions():
    height, width, crop = 5, 6, (2, 3)
    nr_sequences = 4000
    rows, columns = np.meshgrid(np.arange(height), np.arange(width), indexing='ij')
    image = (10 * rows + columns).astype(np.float64)[None, None, :, :, None]
    data = np.repeat(np.repeat(image, nr_sequences, axis=1), 2, axis=0)
    data[1] += 100                               # time steps differ, crop position must not
    iterator = RandomCrop(Undivided(default=data), {'default': crop})
    assert iterator.data_shapes['default'] == (2, nr_sequences, 2, 3, 1)
    cropped = collect(iterator)[0]['default']
    tops = (cropped[0, :, 0, 0, 0] // 10).astype(int)
    lefts = (cropped[0, :, 0, 0, 0] % 10).astype(int)
    for sequence in range(0, nr_sequences, 397):
        top, left = tops[sequence], lefts[sequence]
        np.testing.assert_array_equal(cropped[:, sequence],
                                      data[:, sequence, top:top + 2, left:left + 3])
    top_counts = np.bincount(tops, minlength=height - crop[0] + 1)
    left_counts = np.bincount(lefts, minlength=width - crop[1] + 1)
    assert len(top_counts) == 4 and len(left_counts) == 4
    for counts in (top_counts, left_counts):
        assert np.all(np.abs(counts / nr_sequences - 0.25) < 0.03)


def test_one_hot_and_multi_hot_match_a_loop_reference():
    indices = np.array([[[2], [0]], [[1], [3]]])
    words = np.array([[[0, 2], [1, 1]]])
    iterator = MultiHot(OneHot(Undivided(default=indices.astype(np.float64), words=words),
                               {'default': 4}), {'words': 3})
    assert iterator.data_shapes == {'default': (2, 2, 4), 'words': (1, 2, 3)}
    batch = collect(iterator)[0]
    expected_one_hot = np.zeros((2, 2, 4))
    expected_multi_hot = np.zeros((1, 2, 3))
    for t in range(2):
        for b in range(2):
            expected_one_hot[t, b, indices[t, b, 0]] = 1
            for word in words[0, b]:
                expected_multi_hot[0, b, word] = 1
    np.testing.assert_array_equal(batch['default'], expected_one_hot)
    np.testing.assert_array_equal(batch['words'], expected_multi_hot)


@pytest.mark.parametrize('indices, message', [
    (np.array([[[4]]]), r'\[0, 4\)'),
    (np.array([[[-1]]]), r'\[0, 4\)'),
    (np.array([[[1.5]]]), 'integer class indices'),
])
def test_one_hot_rejects_bad_indices(indices, message):
    with pytest.raises(IteratorValidationError, match=message):
        collect(OneHot(Undivided(default=indices), {'default': 4}))


def test_yielded_arrays_cannot_change_the_source_data():
    data = make_data()
    batch = next(Minibatches(4, **data)())
    with pytest.raises(ValueError):
        batch['default'][...] = 0


# ---- validation errors ---------------------------------------------------------------------

@pytest.mark.parametrize('named_data, message', [
    ({'default': np.zeros((3, 4, 2)), 'targets': np.zeros((2, 4, 1))},
     r"'targets' has shape \(2, 4, 1\) with T=2, expected T=3"),
    ({'default': np.zeros((3, 4, 2)), 'targets': np.zeros((1, 5, 1))},
     r"'targets' has shape \(1, 5, 1\) with B=5"),
    ({'default': [[1.0, 2.0]]}, "'default' must be a numpy array or an h5py dataset"),
    ({'default': np.zeros(4)}, r"'default' has shape \(4,\)"),
    ({'default': np.zeros((3, 0, 1))}, 'holds no data'),
    ({}, 'no data given'),
])
@pytest.mark.parametrize('source', [Undivided, Online, Minibatches])
def test_sources_reject_inconsistent_data(source, named_data, message):
    with pytest.raises(IteratorValidationError, match=message):
        source(**named_data)


@pytest.mark.parametrize('batch_size', [0, -2, 1.5, True])
def test_minibatches_reject_a_bad_batch_size(batch_size):
    with pytest.raises(IteratorValidationError, match='batch_size'):
        Minibatches(batch_size, default=np.zeros((1, 4, 1)))


@pytest.mark.parametrize('make, message', [
    (lambda it: AddGaussianNoise(it, {'inputs': 1.0}), "std_dict names the data item 'inputs'"),
    (lambda it: AddGaussianNoise(it, {'default': -1.0}), r"std_dict\['default'\]"),
    (lambda it: AddGaussianNoise(it, {'default': 1.0}, {'targets': 1.0}), 'not in std_dict'),
    (lambda it: AddSaltNPepper(it, {'default': 1.5}), r"prob_dict\['default'\]"),
    (lambda it: AddSaltNPepper(it, {'default': 0.1}, {'default': 2}), r"ratio_dict"),
    (lambda it: Flip(it, {'targets': 0.5}), r"'targets' has shape \(1, 4, 1\).*5-D"),
    (lambda it: Flip(it, {'image': 'half'}), r"prob_dict\['image'\]"),
    (lambda it: Pad(it, {'image': -1}), r"size_dict\['image'\]"),
    (lambda it: Pad(it, {'image': 1}, {'default': 0}), 'not in size_dict'),
    (lambda it: RandomCrop(it, {'image': (6, 2)}), r'1 <= height <= 5'),
    (lambda it: RandomCrop(it, {'image': 3}), r"shape_dict\['image'\]"),
    (lambda it: RandomCrop(it, {'default': (1, 1)}), r"'default' has shape \(1, 4, 3\)"),
    (lambda it: OneHot(it, {'default': 5}), r'\(T, B, 1\)'),
    (lambda it: OneHot(it, {'targets': 0}), 'positive integer'),
    (lambda it: MultiHot(it, {'image': 5}), r'\(T, B, K\)'),
    (lambda it: MultiHot(it, {'words': 5}), "provides only"),
    (lambda it: Flip(it.data), 'expected a DataIterator'),
])
def test_wrappers_reject_bad_settings_at_construction(make, message):
    source = Undivided(default=np.zeros((1, 4, 3)), targets=np.zeros((1, 4, 1)),
                       image=np.zeros((1, 4, 5, 6, 3)))
    with pytest.raises(IteratorValidationError, match=message):
        make(source)


def test_flip_default_needs_a_default_item():
    with pytest.raises(IteratorValidationError, match="'default'"):
        Flip(Undivided(image=np.zeros((1, 2, 3, 3, 1))))


def test_base_iterator_is_abstract():
    iterator = DataIterator({'default': (1, 2, 3)}, length=None)
    assert iterator.data_shapes == {'default': (1, 2, 3)} and iterator.length is None
    with pytest.raises(NotImplementedError):
        next(iterator())
