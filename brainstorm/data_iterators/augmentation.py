"""Wrappers that augment the batches of another iterator: noise, flips, padding, crops.

All work on whole batches with numpy (no per-element Python loops), draw from their
own random state, and return new arrays (the wrapped iterator's arrays are never
written). Settings are dicts ``data name -> value``; items not named pass through
unchanged. Image wrappers expect 5-D data in TNHWC layout ``(T, B, H, W, C)`` and
treat a sequence of images alike (one flip decision / crop position per sequence
``b``, shared by its ``T`` time steps). Under a :class:`BatchShard` (data-parallel
training) each wrapper draws for the whole global batch and keeps its part, so the
processes together see the batch one process would have seen.
"""

import numbers

import numpy as np

from brainstorm.data_iterators.base import WrappingIterator
from brainstorm.errors import IteratorValidationError


class AddGaussianNoise(WrappingIterator):
    """Adds Gaussian noise ``N(mean, std**2)`` to every entry of the named items.

    Args:
        iter (DataIterator): iterator that provides the named items.
        std_dict (dict[str, float]): name -> standard deviation (>= 0).
        mean_dict (Optional[dict[str, float]]): name -> mean (default 0); every
            name must also be in ``std_dict``.

    Float data keeps its dtype; integer data becomes float64.
    """

    def __init__(self, iter, std_dict, mean_dict=None):  # noqa: A002
        super().__init__(iter)
        self.std_dict = _check_dict(self, 'std_dict', std_dict)
        self.mean_dict = _check_dict(self, 'mean_dict', mean_dict or {})
        self.check_names('std_dict', self.std_dict)
        for name, std in self.std_dict.items():
            _check_number(self, 'std_dict', name, std, low=0.0)
        for name, mean in self.mean_dict.items():
            if name not in self.std_dict:
                raise IteratorValidationError(
                    f"AddGaussianNoise: mean_dict names {name!r}, which is not in std_dict "
                    f"{sorted(self.std_dict)}; give every noisy item a standard deviation")
            _check_number(self, 'mean_dict', name, mean)

    def transform(self, batch):
        batch = dict(batch)
        for name, std in self.std_dict.items():
            data = batch[name]
            noisy = self.draw_for_batch(self.rnd.standard_normal, data.shape)
            noisy *= std
            noisy += self.mean_dict.get(name, 0.0) + data
            batch[name] = noisy.astype(_float_dtype(data), copy=False)
        return batch


class AddSaltNPepper(WrappingIterator):
    """Sets a random fraction of the entries of the named items to 1 (salt) or 0 (pepper).

    Each entry is corrupted with probability ``prob``; a corrupted entry becomes
    1.0 with probability ``ratio`` and 0.0 otherwise.

    Args:
        iter (DataIterator): iterator that provides the named items.
        prob_dict (dict[str, float]): name -> probability in [0, 1] that an entry
            is corrupted.
        ratio_dict (Optional[dict[str, float]]): name -> fraction in [0, 1] of the
            corrupted entries that become salt (default 0.5); every name must also
            be in ``prob_dict``.
    """

    def __init__(self, iter, prob_dict, ratio_dict=None):  # noqa: A002
        super().__init__(iter)
        self.prob_dict = _check_dict(self, 'prob_dict', prob_dict)
        self.ratio_dict = _check_dict(self, 'ratio_dict', ratio_dict or {})
        self.check_names('prob_dict', self.prob_dict)
        for name, prob in self.prob_dict.items():
            _check_number(self, 'prob_dict', name, prob, low=0.0, high=1.0)
        for name, ratio in self.ratio_dict.items():
            if name not in self.prob_dict:
                raise IteratorValidationError(
                    f"AddSaltNPepper: ratio_dict names {name!r}, which is not in prob_dict "
                    f"{sorted(self.prob_dict)}")
            _check_number(self, 'ratio_dict', name, ratio, low=0.0, high=1.0)

    def transform(self, batch):
        batch = dict(batch)
        for name, prob in self.prob_dict.items():
            data = batch[name]
            draws = self.draw_for_batch(self.rnd.random_sample, data.shape)
            salt_limit = prob * self.ratio_dict.get(name, 0.5)
            corrupted = np.array(data, copy=True)
            corrupted[draws < prob] = 0
            corrupted[draws < salt_limit] = 1
            batch[name] = corrupted
        return batch


class Flip(WrappingIterator):
    """Flips images horizontally at random.

    The spec says "the last dimension is flipped"; in TNHWC data
    ``(T, B, H, W, C)`` the horizontal axis is the width, axis 3 (flipping the
    last axis would reverse the colour channels), so axis 3 is flipped. One
    decision is drawn per sequence ``b`` and applies to all its time steps.

    Args:
        iter (DataIterator): iterator that provides the named 5-D items.
        prob_dict (Optional[dict[str, float]]): name -> flip probability in
            [0, 1]. Defaults to ``{'default': 0.5}``.
    """

    def __init__(self, iter, prob_dict=None):  # noqa: A002
        super().__init__(iter)
        self.prob_dict = _check_dict(self, 'prob_dict',
                                     {'default': 0.5} if prob_dict is None else prob_dict)
        self.check_names('prob_dict', self.prob_dict)
        self.check_images(self.prob_dict)
        for name, prob in self.prob_dict.items():
            _check_number(self, 'prob_dict', name, prob, low=0.0, high=1.0)

    def transform(self, batch):
        batch = dict(batch)
        for name, prob in self.prob_dict.items():
            data = batch[name]
            flipped = self.draw_for_batch(self.rnd.random_sample, data.shape[1:2], 0) < prob
            batch[name] = np.where(flipped[None, :, None, None, None],
                                   data[:, :, :, ::-1, :], data)
        return batch


class Pad(WrappingIterator):
    """Pads images by the same number of pixels on all four sides.

    Args:
        iter (DataIterator): iterator that provides the named 5-D items.
        size_dict (dict[str, int]): name -> padding in pixels (>= 0) added above,
            below, left and right, so ``(H, W)`` becomes ``(H + 2s, W + 2s)``.
        value_dict (Optional[dict[str, float]]): name -> fill value (default 0);
            every name must also be in ``size_dict``.
    """

    def __init__(self, iter, size_dict, value_dict=None):  # noqa: A002
        super().__init__(iter)
        data_shapes = dict(self.iter.data_shapes)
        self.size_dict = _check_dict(self, 'size_dict', size_dict)
        self.value_dict = _check_dict(self, 'value_dict', value_dict or {})
        self.check_names('size_dict', self.size_dict)
        self.check_images(self.size_dict)
        for name, size in self.size_dict.items():
            _check_integer(self, 'size_dict', name, size, low=0)
            t, b, height, width, channels = data_shapes[name]
            data_shapes[name] = (t, b, height + 2 * size, width + 2 * size, channels)
        for name, value in self.value_dict.items():
            if name not in self.size_dict:
                raise IteratorValidationError(
                    f"Pad: value_dict names {name!r}, which is not in size_dict "
                    f"{sorted(self.size_dict)}")
            _check_number(self, 'value_dict', name, value)
        self.data_shapes = data_shapes

    def transform(self, batch):
        batch = dict(batch)
        for name, size in self.size_dict.items():
            widths = ((0, 0), (0, 0), (size, size), (size, size), (0, 0))
            batch[name] = np.pad(batch[name], widths, mode='constant',
                                 constant_values=self.value_dict.get(name, 0))
        return batch


class RandomCrop(WrappingIterator):
    """Crops a ``(height, width)`` window at a uniformly random position per sequence.

    Args:
        iter (DataIterator): iterator that provides the named 5-D items.
        shape_dict (dict[str, tuple[int, int]]): name -> ``(height, width)`` of
            the crop, each positive and at most the image's size.
    """

    def __init__(self, iter, shape_dict):  # noqa: A002
        super().__init__(iter)
        self.shape_dict = {}
        data_shapes = dict(self.iter.data_shapes)
        self.check_names('shape_dict', _check_dict(self, 'shape_dict', shape_dict))
        self.check_images(shape_dict)
        for name, crop in shape_dict.items():
            t, b, height, width, channels = data_shapes[name]
            if (not isinstance(crop, (tuple, list)) or len(crop) != 2 or
                    not all(_is_integer(size) and 1 <= size for size in crop) or
                    crop[0] > height or crop[1] > width):
                raise IteratorValidationError(
                    f"RandomCrop: shape_dict[{name!r}] must be (height, width) with "
                    f"1 <= height <= {height} and 1 <= width <= {width} (the image size "
                    f"of {name!r}, shape {data_shapes[name]}), got {crop!r}")
            self.shape_dict[name] = (int(crop[0]), int(crop[1]))
            data_shapes[name] = (t, b, int(crop[0]), int(crop[1]), channels)
        self.data_shapes = data_shapes

    def transform(self, batch):
        batch = dict(batch)
        for name, (crop_height, crop_width) in self.shape_dict.items():
            data = batch[name]
            nr_sequences, height, width = data.shape[1:4]
            top = self.draw_for_batch(
                lambda size: self.rnd.randint(0, height - crop_height + 1, size=size),
                (nr_sequences,), 0)
            left = self.draw_for_batch(
                lambda size: self.rnd.randint(0, width - crop_width + 1, size=size),
                (nr_sequences,), 0)
            rows = top[:, None] + np.arange(crop_height)       # (B, h)
            columns = left[:, None] + np.arange(crop_width)    # (B, w)
            sequences = np.arange(nr_sequences)[:, None, None]
            # advanced indices on the adjacent axes 1-3 broadcast to (B, h, w)
            batch[name] = data[:, sequences, rows[:, :, None], columns[:, None, :]]
        return batch


def _check_dict(owner, setting_name, value):
    if not isinstance(value, dict):
        raise IteratorValidationError(
            f"{type(owner).__name__}: {setting_name} must be a dict mapping data names to "
            f"values, got {type(value).__name__}")
    return dict(value)


def _is_integer(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)


def _check_number(owner, setting_name, name, value, low=None, high=None):
    valid = isinstance(value, (numbers.Real, np.number)) and not isinstance(value, bool) \
        and np.isfinite(value)
    if valid and low is not None and value < low:
        valid = False
    if valid and high is not None and value > high:
        valid = False
    if not valid:
        bounds = (f" in [{low}, {high}]" if high is not None else
                  f" >= {low}" if low is not None else "")
        raise IteratorValidationError(
            f"{type(owner).__name__}: {setting_name}[{name!r}] must be a finite number"
            f"{bounds}, got {value!r}")


def _check_integer(owner, setting_name, name, value, low):
    if not _is_integer(value) or value < low:
        raise IteratorValidationError(
            f"{type(owner).__name__}: {setting_name}[{name!r}] must be an integer >= {low}, "
            f"got {value!r}")


def _float_dtype(data):
    return data.dtype if np.issubdtype(data.dtype, np.floating) else np.dtype(np.float64)
