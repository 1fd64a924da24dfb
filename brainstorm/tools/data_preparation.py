"""Preparing (T, B, ...) data sets: shuffling sequences and splitting them into parts."""

import math

import numpy as np

from brainstorm.errors import DataError
from brainstorm.randomness import global_rnd


def _check_arrays(function_name, data):
    """numpy arrays with at least 2 dimensions and one common B (axis 1)."""
    if not data:
        raise DataError(f"{function_name}: no data given; pass one or more arrays of shape "
                        f"(T, B, ...)")
    arrays = []
    for index, item in enumerate(data):
        array = np.asarray(item)
        if array.ndim < 2:
            raise DataError(f"{function_name}: argument {index} has shape {array.shape}; "
                            f"expected (T, B, ...)")
        if arrays and array.shape[1] != arrays[0].shape[1]:
            raise DataError(f"{function_name}: argument {index} has B={array.shape[1]} "
                            f"(shape {array.shape}), argument 0 has B={arrays[0].shape[1]}; "
                            f"all arrays must have the same number of sequences (axis 1)")
        arrays.append(array)
    return arrays


def shuffle_data(*data, seed=None):
    """Shuffle the sequences of one or more data arrays, all in the same order.

    One random permutation of axis 1 (B) is drawn from a random state seeded
    with ``seed``, or, without one, by ``brainstorm.global_rnd`` (so
    ``global_rnd.set_seed(n)`` makes it reproducible), and applied to every array.

    Example:
        >>> x, y = shuffle_data(x, y, seed=42)

    Args:
        *data (numpy.ndarray): arrays of shape (T, B, ...) with the same B.
        seed (Optional[int]): seed of the permutation (brainstorm 0.5's keyword).

    Returns:
        tuple[numpy.ndarray]: shuffled copies, one per argument, in order.

    Raises:
        DataError: for no arrays, arrays of fewer than 2 dimensions, or differing B.
    """
    arrays = _check_arrays('shuffle_data', data)
    permutation = global_rnd.create_random_state(seed).permutation(arrays[0].shape[1])
    return tuple(array[:, permutation] for array in arrays)


def _part_sizes(parts, batch_size):
    """Number of sequences of each part (see :func:`split`)."""
    if isinstance(parts, (int, float)) or not hasattr(parts, '__len__') or not len(parts):
        raise DataError(f"split: parts must be a non-empty sequence of fractions or counts, "
                        f"e.g. (0.9, 0.1) or (50000, None), got {parts!r}")
    counts = [part for part in parts if part is not None]
    if all(isinstance(part, float) for part in counts) and None not in parts:
        if any(not math.isfinite(part) or part < 0 for part in counts) or \
                not math.isclose(sum(counts), 1.0, abs_tol=1e-9):
            raise DataError(f"split: fractions must be >= 0 and sum to 1, got {parts!r}")
        boundaries = [0] + [int(round(value * batch_size))
                            for value in np.cumsum(counts)[:-1]] + [batch_size]
        return [stop - start for start, stop in zip(boundaries[:-1], boundaries[1:])]
    if not all(isinstance(part, (int, np.integer)) and not isinstance(part, bool) and part >= 0
               for part in counts) or list(parts).count(None) > 1:
        raise DataError(f"split: parts must be all fractions (floats summing to 1) or all "
                        f"counts (ints >= 0, at most one None for 'the rest'), got {parts!r}")
    rest = batch_size - sum(counts)
    if (None in parts and rest < 0) or (None not in parts and rest != 0):
        raise DataError(f"split: the counts {parts!r} add up to {sum(counts)}, but the data "
                        f"has B={batch_size} sequences")
    return [rest if part is None else int(part) for part in parts]


def _fractions_of(ratios):
    """``ratios`` (relative part sizes) as fractions summing to 1."""
    try:
        values = [float(ratio) for ratio in ratios]
    except (TypeError, ValueError):
        values = None
    if not values or any(isinstance(ratio, bool) for ratio in ratios) or \
            any(not math.isfinite(value) or value < 0 for value in values) or sum(values) <= 0:
        raise DataError(f"split: ratios must be relative sizes (numbers >= 0, not all 0), "
                        f"e.g. (9, 1), got {ratios!r}")
    total = sum(values)
    fractions = [value / total for value in values]
    fractions[-1] = 1.0 - sum(fractions[:-1])    # exactly 1 in all
    return tuple(fractions)


def split(*data, ratios=(9, 1), parts=None):
    """Split one or more data arrays along B (axis 1) into consecutive parts.

    Combine with :func:`shuffle_data` for a random split.

    Example:
        >>> (x_train, y_train), (x_valid, y_valid) = split(x, y, ratios=(9, 1))
        >>> (x_train,), (x_valid,) = split(x, parts=(50000, None))

    Args:
        *data (numpy.ndarray): arrays of shape (T, B, ...) with the same B.
        ratios (tuple): relative sizes of the parts (numbers >= 0, not all 0),
            brainstorm 0.5's keyword: ``(9, 1)`` gives 90% and 10%; part
            boundaries are rounded to the nearest sequence.
        parts (Optional[tuple]): this project's earlier keyword, used instead of
            ``ratios`` when given: either fractions of B (floats >= 0 summing to
            1) or numbers of sequences (ints >= 0 summing to B; one entry may be
            None for all the remaining sequences).

    Returns:
        tuple[tuple[numpy.ndarray]]: one tuple per part, holding that part of
        every argument in order (views of the arguments, not copies).

    Raises:
        DataError: for bad arrays (see :func:`shuffle_data`) or bad ``parts``.
    """
    arrays = _check_arrays('split', data)
    if parts is None:
        parts = _fractions_of(ratios)
    sizes = _part_sizes(parts, arrays[0].shape[1])
    result = []
    start = 0
    for size in sizes:
        result.append(tuple(array[:, start:start + size] for array in arrays))
        start += size
    return tuple(result)
