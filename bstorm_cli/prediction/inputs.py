"""Reading inputs without targets for ``bstorm predict``: HDF5, ``.npy``, ``.npz`` and CSV.

Every reader gives an :class:`InputData`: the arrays the network needs, time-major
``(T, N, ...)``, read one batch at a time (HDF5 datasets and ``.npy`` files are sliced
on disk; CSV is parsed chunk by chunk), so memory does not grow with the data.
Arrays without the time axis (``(N, ...)``, as numpy and CSV data usually are) get
``T = 1``; a flat row whose length is the product of an image input's shape is
reshaped to it (CSV of 64 pixels for an 8x8x1 input).
"""

import csv
import dataclasses
import pathlib

import numpy as np

from bstorm_cli.errors import BadInputError, Location

HDF5_SUFFIXES = ('.h5', '.hdf5', '.hdf')


class _TimeMajor:
    """An array-like ``(N, ...)`` or ``(T, N, ...)`` seen as ``(T, N) + feature_shape``."""

    def __init__(self, array, add_time, feature_shape):
        self.array = array
        self.add_time = add_time
        self.feature_shape = tuple(feature_shape)
        lead = (1, array.shape[0]) if add_time else tuple(array.shape[:2])
        self.shape = lead + self.feature_shape

    def rows(self, start, stop):
        if self.add_time:
            part = np.asarray(self.array[start:stop])[None]
        else:
            part = np.asarray(self.array[:, start:stop])
        return part.reshape(part.shape[:2] + self.feature_shape)


def _time_major(array, feature_shape, name, location):
    """View ``array`` as (T, N, *feature_shape), or say which shapes do not fit."""
    feature_shape = tuple(feature_shape)
    shape = tuple(array.shape)
    size = int(np.prod(feature_shape))
    if shape[2:] == feature_shape and len(shape) == len(feature_shape) + 2:
        return _TimeMajor(array, False, feature_shape)
    if shape[1:] == feature_shape or (len(shape) == 2 and shape[1] == size):
        return _TimeMajor(array, True, feature_shape)
    if len(shape) == 3 and shape[2] == size and feature_shape:
        return _TimeMajor(array, False, feature_shape)
    raise BadInputError(f"input {name!r}: the data has shape {shape}, the network expects "
                        f"(T, B) + {feature_shape}, (B,) + {feature_shape} or (B, {size})",
                        location)


@dataclasses.dataclass
class InputData:
    """Inputs for prediction, read in batches.

    Attributes:
        arrays (dict): input name -> _TimeMajor (``.shape`` is ``(T, N, ...)``).
        mask (Optional[_TimeMajor]): ``(T, N, 1)`` real steps 1, padding 0.
        where (str): the group that was read ('' for files without groups).
        count (int): N, the number of sequences (samples).
        time_size (int): T.
        close: callable releasing open files.
    """

    arrays: dict
    mask: object
    where: str
    count: int
    time_size: int
    close: object = lambda: None

    def batches(self, batch_size, mask_name):
        """Yield input name -> (T, B, ...) arrays, ``batch_size`` sequences at a time."""
        for start in range(0, self.count, batch_size):
            stop = min(start + batch_size, self.count)
            batch = {name: array.rows(start, stop) for name, array in self.arrays.items()}
            if self.mask is not None:
                batch[mask_name] = self.mask.rows(start, stop)
            yield batch


def _single(arrays, location):
    count = {array.shape[1] for array in arrays.values()}
    steps = {array.shape[0] for array in arrays.values()}
    if len(count) > 1 or len(steps) > 1:
        shapes = ', '.join(f"{name} {array.shape}" for name, array in arrays.items())
        raise BadInputError(f"the inputs disagree in T or N: {shapes}", location)
    return count.pop(), steps.pop()


def _feature_shapes(network, needed):
    inputs = network.layers['Input'].out_shapes
    return {name: tuple(inputs[name].feature_shape) for name in needed}


def open_inputs(data, network, needed, group=None, split=None, mask_name='mask'):
    """Open ``data`` and return the InputData for the inputs ``needed``.

    Args:
        data (str): a file (HDF5, .npy, .npz, .csv) or ``builtin:NAME``.
        network: the network (for the feature shapes).
        needed (list[str]): the input names the prediction depends on.
        group (Optional[str]): HDF5 group holding the inputs (or the splits).
        split (Optional[str]): HDF5 split group (test, validation, ...).
        mask_name (str): name of the mask array, used when present.

    Raises:
        BadInputError: missing or unreadable file, missing inputs, shapes that do not fit.
    """
    from bstorm_cli.experiment import build
    location = Location(str(data))
    shapes = _feature_shapes(network, needed)
    if str(data).startswith(build.BUILTIN_PREFIX):
        path = build.resolve_data_path(str(data), pathlib.Path.cwd(), location)
        return _hdf5_inputs(path, shapes, group, split, mask_name, location)
    path = pathlib.Path(data)
    if not path.exists():
        raise BadInputError("no such file", location)
    suffix = path.suffix.lower()
    if (group or split) and suffix not in HDF5_SUFFIXES:
        raise BadInputError("--group and --split apply to HDF5 files only", location)
    if suffix in HDF5_SUFFIXES:
        return _hdf5_inputs(path, shapes, group, split, mask_name, location)
    if suffix == '.npy':
        return _npy_inputs(path, shapes, location)
    if suffix == '.npz':
        return _npz_inputs(path, shapes, mask_name, location)
    if suffix == '.csv':
        return _csv_inputs(path, shapes, location)
    raise BadInputError(f"unknown data format {suffix or '(no extension)'!r}",
                        location, "use .h5/.hdf5, .npy, .npz or .csv")


def _candidate_groups(h5file, group, split):
    import h5py
    if group:
        base = [group]
    else:
        base = [''] + [key for key in h5file if isinstance(h5file[key], h5py.Group)]
    if split:
        return [f"{name}/{split}".strip('/') for name in base]
    found = []
    for name in base:  # the group itself, then its split groups
        found.append(name)
        if name and name not in h5file:
            continue
        parent = h5file[name] if name else h5file
        if isinstance(parent, h5py.Group):
            found += [f"{name}/{key}".strip('/') for key in parent
                      if isinstance(parent[key], h5py.Group)]
    return list(dict.fromkeys(found))


def _hdf5_inputs(path, shapes, group, split, mask_name, location):
    import h5py
    h5file = build_open(path, location)
    try:
        if group and group not in h5file:
            raise BadInputError(f"no group {group!r} in the file", location)
        problems = []
        for where in _candidate_groups(h5file, group, split):
            if where and (where not in h5file or not isinstance(h5file[where], h5py.Group)):
                continue
            node = h5file[where] if where else h5file
            missing = [name for name in shapes if not isinstance(node.get(name), h5py.Dataset)]
            if missing:
                if where or not problems:
                    problems.append(f"{where or '/'} lacks {', '.join(missing)}")
                continue
            try:
                arrays = {name: _time_major(node[name], shape, name, location)
                          for name, shape in shapes.items()}
            except BadInputError as error:
                problems.append(f"{where or '/'}: {error.message}")
                continue
            mask = None
            if isinstance(node.get(mask_name), h5py.Dataset):
                mask = _time_major(node[mask_name], (1,), mask_name, location)
            count, time_size = _single(arrays, location)
            return InputData(arrays, mask, where, count, time_size, h5file.close)
        wanted = f"split {split!r}" if split else "the inputs"
        raise BadInputError(f"no group of the file holds {wanted} the network needs "
                            f"({', '.join(f'{n} {s}' for n, s in shapes.items())}): "
                            f"{'; '.join(problems) or 'no such group'}", location,
                            "choose the group with --group (and --split)")
    except BaseException:
        h5file.close()
        raise


def build_open(path, location):
    from bstorm_cli.experiment import build
    return build.open_data_file(pathlib.Path(path), location)


def _only_input(shapes, location, kind):
    if len(shapes) != 1:
        raise BadInputError(f"the network needs {len(shapes)} inputs "
                            f"({', '.join(shapes)}); a {kind} file holds one array",
                            location, "use an .npz or HDF5 file with one array per input")
    return next(iter(shapes.items()))


def _npy_inputs(path, shapes, location):
    name, shape = _only_input(shapes, location, '.npy')
    try:
        array = np.load(path, mmap_mode='r', allow_pickle=False)
    except (OSError, ValueError) as error:
        raise BadInputError(f"not a readable .npy file ({error})", location) from error
    arrays = {name: _time_major(array, shape, name, location)}
    count, time_size = _single(arrays, location)
    return InputData(arrays, None, '', count, time_size)


def _npz_inputs(path, shapes, mask_name, location):
    try:
        archive = np.load(path, allow_pickle=False)
        names = list(archive.files)
    except (OSError, ValueError) as error:
        raise BadInputError(f"not a readable .npz file ({error})", location) from error
    arrays = {}
    for name, shape in shapes.items():
        key = name if name in names else (names[0] if len(names) == 1 and len(shapes) == 1
                                          else None)
        if key is None:
            raise BadInputError(f"the file has no array {name!r} (arrays: "
                                f"{', '.join(names) or 'none'})", location)
        # an .npz member is a zip entry: numpy reads it whole (no memory mapping)
        arrays[name] = _time_major(archive[key], shape, name, location)
    mask = _time_major(archive[mask_name], (1,), mask_name, location) \
        if mask_name in names and mask_name not in shapes else None
    count, time_size = _single(arrays, location)
    return InputData(arrays, mask, '', count, time_size, archive.close)


class _CsvRows:
    """The numeric rows of a CSV file as a (N, F) array-like read in chunks."""

    def __init__(self, path, location):
        self.path = path
        self.location = location
        self.header = None
        count, width = 0, None
        with open(path, newline='', encoding='utf-8') as stream:
            for line_number, row in enumerate(csv.reader(stream), start=1):
                if not row or row[0].startswith('#'):
                    continue
                if width is None and count == 0 and self.header is None and \
                        not _is_numeric(row):
                    self.header = line_number
                    continue
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    raise BadInputError(f"row has {len(row)} values, the first one has {width}",
                                        Location(str(path), line_number))
                count += 1
        if count == 0:
            raise BadInputError("the CSV file holds no rows of numbers", location)
        self.shape = (count, width)
        self._position = None

    def __getitem__(self, rows):
        """Rows ``start:stop`` (read sequentially: batches come in order)."""
        start, stop = rows.start, rows.stop
        if self._position is None or self._position[0] != start:
            self._position = (0, self._reader())
        _, reader = self._position
        values = []
        for _ in range(stop - start):
            line_number, row = next(reader)
            try:
                values.append([float(value) for value in row])
            except ValueError as error:
                raise BadInputError(f"not a number: {error}",
                                    Location(str(self.path), line_number)) from error
        self._position = (stop, reader)
        return np.asarray(values, dtype=np.float64)

    def _reader(self):
        with open(self.path, newline='', encoding='utf-8') as stream:
            for line_number, row in enumerate(csv.reader(stream), start=1):
                if not row or row[0].startswith('#') or line_number == self.header:
                    continue
                yield line_number, row


def _is_numeric(row):
    try:
        [float(value) for value in row]
    except ValueError:
        return False
    return True


def _csv_inputs(path, shapes, location):
    name, shape = _only_input(shapes, location, 'CSV')
    rows = _CsvRows(path, location)
    arrays = {name: _time_major(rows, shape, name, location)}
    count, time_size = _single(arrays, location)
    return InputData(arrays, None, '', count, time_size)
