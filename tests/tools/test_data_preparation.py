"""shuffle_data and split: one permutation for all arrays, seeding, part sizes, errors."""

import numpy as np
import pytest

from brainstorm import global_rnd
from brainstorm.errors import DataError
from brainstorm.tools import shuffle_data, split


def _data(batch_size=10):
    x = np.arange(2 * batch_size * 3, dtype=float).reshape(2, batch_size, 3)
    y = np.arange(batch_size).reshape(1, batch_size, 1)
    return x, y


def test_shuffle_applies_one_permutation_along_b_to_every_array():
    x, y = _data()
    shuffled_x, shuffled_y = shuffle_data(x, y)
    order = shuffled_y[0, :, 0]
    assert sorted(order) == list(range(10)) and list(order) != list(range(10))
    np.testing.assert_array_equal(shuffled_x, x[:, order])


def test_shuffle_is_seeded_by_global_rnd_and_returns_copies():
    x, y = _data()
    global_rnd.set_seed(5)
    first = shuffle_data(x, y)
    global_rnd.set_seed(5)
    second = shuffle_data(x, y)
    third = shuffle_data(x, y)
    np.testing.assert_array_equal(first[0], second[0])
    assert not np.array_equal(second[1], third[1])
    first[0][...] = -1
    assert x.min() == 0


@pytest.mark.parametrize('function', [shuffle_data, split])
@pytest.mark.parametrize('data, fragment', [
    ((), 'no data given'),
    ((np.zeros(3),), 'expected (T, B, ...)'),
    ((np.zeros((1, 4, 2)), np.zeros((1, 5, 2))), 'argument 1 has B=5'),
])
def test_bad_data_is_rejected(function, data, fragment):
    with pytest.raises(DataError) as info:
        function(*data)
    assert fragment in str(info.value)


@pytest.mark.parametrize('parts, sizes', [
    ((0.9, 0.1), [9, 1]),
    ((0.5, 0.5), [5, 5]),
    ((0.34, 0.33, 0.33), [3, 4, 3]),   # boundaries round(3.4)=3, round(6.7)=7
    ((1.0,), [10]),
    ((3, 7), [3, 7]),
    ((2, None), [2, 8]),
    ((None, 4, 0), [6, 4, 0]),
])
def test_split_sizes(parts, sizes):
    x, y = _data()
    result = split(x, y, parts=parts)
    assert [part_x.shape[1] for part_x, _ in result] == sizes
    np.testing.assert_array_equal(np.concatenate([part_y for _, part_y in result], axis=1), y)
    np.testing.assert_array_equal(np.concatenate([part_x for part_x, _ in result], axis=1), x)


@pytest.mark.parametrize('ratios, sizes', [((9, 1), [9, 1]), ((1, 1), [5, 5]),
                                           ((2, 1, 1), [5, 3, 2]), ((3,), [10]),
                                           ((0.7, 0.3), [7, 3])])
def test_split_takes_relative_ratios_as_in_0_5(ratios, sizes):
    x, y = _data()
    result = split(x, y, ratios=ratios)
    assert [part_x.shape[1] for part_x, _ in result] == sizes
    np.testing.assert_array_equal(np.concatenate([part_y for _, part_y in result], axis=1), y)


@pytest.mark.parametrize('ratios', [(), (0, 0), (1, -1), ('a', 1), (True, 1)])
def test_split_rejects_bad_ratios(ratios):
    with pytest.raises(DataError, match="ratios must be relative sizes"):
        split(_data()[0], ratios=ratios)


def test_shuffle_data_takes_a_seed():
    x, y = _data(30)
    first, second = shuffle_data(x, y, seed=3), shuffle_data(x, y, seed=3)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(shuffle_data(x, seed=4)[0], first[0])
    assert not np.array_equal(first[0], x)


def test_split_default_is_ninety_ten_and_returns_views():
    x, _ = _data(20)
    (train,), (valid,) = split(x)
    assert (train.shape[1], valid.shape[1]) == (18, 2)
    assert np.shares_memory(train, x)


@pytest.mark.parametrize('parts, fragment', [
    ((0.5, 0.4), 'sum to 1'),
    ((1.2, -0.2), 'sum to 1'),
    ((3, 3), 'add up to 6'),
    ((8, 8, None), 'add up to 16'),
    ((None, None), 'at most one None'),
    ((0.5, 5), 'all fractions'),
    ((True, 9), 'all fractions'),
    ((), 'non-empty sequence'),
    (0.5, 'non-empty sequence'),
])
def test_split_rejects_bad_parts(parts, fragment):
    x, _ = _data()
    with pytest.raises(DataError) as info:
        split(x, parts=parts)
    assert fragment in str(info.value)
