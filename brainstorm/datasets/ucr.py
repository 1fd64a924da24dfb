"""Time-series classification from the UCR/UEA archive's ``.ts`` text format.

A ``.ts`` file has ``#`` comment lines, ``@key value`` header lines (``@problemName``,
``@timeStamps``, ``@missing``, ``@univariate``, ``@dimensions``, ``@equalLength``,
``@seriesLength``, ``@classLabel true LABEL ...``) and, after ``@data``, one case per
line: the dimensions separated by ``:``, each a comma-separated series, then the
class label. Series may differ in length between cases (e.g. JapaneseVowels).

Output layout (``normalized_split/{training,validation,test}/``), T = the longest
series of both files, sequences left-aligned and zero-padded at the end:

- ``default``: float32 ``(T, B, dimensions)``, standardised per dimension with the
  training split's valid steps (attributes ``mean``, ``std``) or as in the file;
- ``targets``: int32 ``(T, B, 1)``, the class index repeated at every time step;
- ``mask``: float32 ``(T, B, 1)``, 1 where the sequence has a value, 0 in padding.

Class indices follow the order of the ``@classLabel`` header; the names are in the
``label_names`` attribute. The validation split is a stratified, seeded random
``validation_fraction`` of the TRAIN file (order otherwise kept); test is the TEST file.
"""

import pathlib

import numpy as np

from brainstorm.datasets import _writer
from brainstorm.errors import DataError, FileFormatError


class TsFile:
    """The parsed contents of one ``.ts`` file.

    Attributes:
        path: the file.
        header: dict of lower-cased header keys to their raw value strings.
        comments: the ``#`` comment lines, without the ``#``.
        label_names: class labels in header order.
        series: list of float64 arrays (length, dimensions), one per case.
        labels: int array (cases,) of indices into ``label_names``.
    """

    def __init__(self, path, header, comments, label_names, series, labels):
        self.path = path
        self.header = header
        self.comments = comments
        self.label_names = label_names
        self.series = series
        self.labels = labels

    @property
    def dimensions(self):
        return self.series[0].shape[1]


def _header_flag(header, key, path):
    value = header.get(key)
    if value is None:
        return None
    lowered = value.split()[0].lower() if value.split() else ''
    if lowered not in ('true', 'false'):
        raise FileFormatError(f"{path}: @{key} must be true or false, got {value!r}")
    return lowered == 'true'


def parse_ts(path):
    """Parse a ``.ts`` classification file (see the module docstring).

    Raises:
        DataError: the file is missing.
        FileFormatError: bad header, timestamps (unsupported), a case with unequal
            dimension lengths or a wrong number of dimensions, a value that is not a
            number, a label not in ``@classLabel``, or no ``@data`` section.
    """
    path = pathlib.Path(path)
    try:
        lines = path.read_text(encoding='utf-8', errors='replace').splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    header, comments, label_names = {}, [], None
    data_start = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith('#'):
            comments.append(stripped[1:].strip())
            continue
        if not stripped.startswith('@'):
            raise FileFormatError(f"{path}:{number}: expected a header line (@...) or "
                                  f"@data, found {stripped[:40]!r}")
        key, _, value = stripped[1:].partition(' ')
        key = key.lower()
        if key == 'data':
            data_start = number
            break
        header[key] = value.strip()
        if key == 'classlabel':
            words = value.split()
            if not words or words[0].lower() not in ('true', 'false'):
                raise FileFormatError(f"{path}:{number}: @classLabel must start with true "
                                      f"or false, got {value!r}")
            if words[0].lower() == 'true':
                label_names = words[1:]
    if data_start is None:
        raise FileFormatError(f"{path}: no @data line")
    if _header_flag(header, 'timestamps', path):
        raise FileFormatError(f"{path}: series with time stamps are not supported")
    if not label_names:
        raise FileFormatError(f"{path}: not a classification file "
                              "(expected '@classLabel true LABEL ...')")
    expected_dimensions = None
    if 'dimensions' in header or 'dimension' in header:
        text = header.get('dimensions', header.get('dimension'))
        try:
            expected_dimensions = int(text)
        except ValueError:
            raise FileFormatError(f"{path}: @dimensions must be an integer, "
                                  f"got {text!r}") from None

    label_index = {name: index for index, name in enumerate(label_names)}
    series, labels = [], []
    for number, line in enumerate(lines[data_start:], start=data_start + 1):
        stripped = line.strip()
        if not stripped or stripped.startswith('#'):
            continue
        *fields, label = stripped.split(':')
        label = label.strip()
        if label not in label_index:
            raise FileFormatError(f"{path}:{number}: class label {label!r} is not one of "
                                  f"@classLabel {' '.join(label_names)}")
        if not fields:
            raise FileFormatError(f"{path}:{number}: no series before the class label")
        try:
            # '?' marks a missing value; float('nan') keeps it visible for the check below.
            dims = [np.array([float('nan') if value.strip() == '?' else float(value)
                              for value in field.split(',')], dtype=np.float64)
                    for field in fields]
        except ValueError as error:
            raise FileFormatError(f"{path}:{number}: not a number ({error})") from None
        lengths = {len(dim) for dim in dims}
        if len(lengths) != 1:
            raise FileFormatError(f"{path}:{number}: the dimensions of one case have "
                                  f"different lengths {sorted(lengths)} (not supported)")
        if expected_dimensions is not None and len(dims) != expected_dimensions:
            raise FileFormatError(f"{path}:{number}: {len(dims)} dimensions, the header "
                                  f"says {expected_dimensions}")
        if series and len(dims) != series[0].shape[1]:
            raise FileFormatError(f"{path}:{number}: {len(dims)} dimensions, earlier cases "
                                  f"have {series[0].shape[1]}")
        series.append(np.stack(dims, axis=1))
        labels.append(label_index[label])
    if not series:
        raise FileFormatError(f"{path}: no cases after @data")
    return TsFile(path, header, comments, label_names, series,
                  np.array(labels, dtype=np.int32))


def _find_pair(source, problem):
    """Return (TRAIN path, TEST path, problem name) for ``source``."""
    source = pathlib.Path(source).expanduser()
    if source.is_file():
        name = source.name
        if not name.endswith('_TRAIN.ts'):
            raise DataError(f"{source}: expected a file named PROBLEM_TRAIN.ts or a folder")
        problem = name[:-len('_TRAIN.ts')]
        train = source
    elif source.is_dir():
        if problem is None:
            problems = sorted(path.name[:-len('_TRAIN.ts')] for path in source.glob('*_TRAIN.ts'))
            if len(problems) != 1:
                found = ', '.join(problems) if problems else 'none'
                raise DataError(f"{source}: expected exactly one PROBLEM_TRAIN.ts file, found "
                                f"{found}; name the problem with problem=...")
            problem = problems[0]
        train = source / f'{problem}_TRAIN.ts'
    else:
        raise DataError(f"{source}: not found (expected a folder or a PROBLEM_TRAIN.ts file)")
    test = train.with_name(f'{problem}_TEST.ts')
    for path in (train, test):
        if not path.is_file():
            raise DataError(f"{path}: file not found")
    return train, test, problem


def stratified_validation(labels, fraction, seed):
    """Boolean mask choosing round(fraction * count) random cases of every class."""
    rnd = np.random.RandomState(seed)
    chosen = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = int(round(fraction * len(members)))
        chosen[rnd.permutation(members)[:count]] = True
    return chosen


def _pad(series_list, labels, length):
    """Time-major padded arrays: (T, B, D) values, (T, B, 1) targets and mask."""
    dimensions = series_list[0].shape[1]
    values = np.zeros((length, len(series_list), dimensions), dtype=np.float32)
    mask = np.zeros((length, len(series_list), 1), dtype=np.float32)
    for index, series in enumerate(series_list):
        values[:len(series), index] = series
        mask[:len(series), index] = 1.0
    targets = np.broadcast_to(labels.astype(np.int32)[np.newaxis, :, np.newaxis],
                              (length, len(series_list), 1)).copy()
    return values, targets, mask


def prepare_ucr(source, output, progress=None, *, overwrite=False, problem=None,
                normalization='standardize', validation_fraction=0.2, seed=1,
                fill_missing=None):
    """Convert a UCR/UEA ``PROBLEM_TRAIN.ts`` / ``PROBLEM_TEST.ts`` pair.

    Args:
        source: the folder holding the pair, or the ``_TRAIN.ts`` file itself.
        output: the HDF5 file to create.
        progress: optional callable ``progress(done, total, what)``.
        overwrite: replace an existing ``output``.
        problem: the problem name where the folder holds several pairs.
        normalization: ``'standardize'`` (per dimension, training statistics over valid
            time steps) or ``'none'``.
        validation_fraction: share of each class of the TRAIN file held out for
            validation (0 <= fraction < 1; 0 leaves the validation split empty).
        seed: seed of the validation choice.
        fill_missing: value to put where the file has ``?``; None makes missing
            values an error.

    Returns:
        pathlib.Path of the written file.

    Raises:
        DataError: missing files, bad arguments, missing values without
            ``fill_missing``, files that disagree, or an existing output.
        FileFormatError: a malformed ``.ts`` file (see ``parse_ts``).
    """
    if not 0 <= validation_fraction < 1:
        raise DataError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
    if normalization not in ('standardize', 'none'):
        raise DataError(f"normalization must be 'standardize' or 'none', got {normalization!r}")
    train_path, test_path, problem = _find_pair(source, problem)
    output = _writer.check_output(output, overwrite)
    _writer.report(progress, 0, 4, f'reading {train_path.name}')
    train = parse_ts(train_path)
    _writer.report(progress, 1, 4, f'reading {test_path.name}')
    test = parse_ts(test_path)
    if test.label_names != train.label_names:
        raise DataError(f"{test_path}: class labels {test.label_names} differ from "
                        f"{train_path.name}'s {train.label_names}")
    if test.dimensions != train.dimensions:
        raise DataError(f"{test_path}: {test.dimensions} dimensions, {train_path.name} has "
                        f"{train.dimensions}")
    for parsed in (train, test):
        for index, series in enumerate(parsed.series):
            if np.isnan(series).any():
                if fill_missing is None:
                    raise DataError(f"{parsed.path}: case {index + 1} has missing values "
                                    "('?'); pass fill_missing=VALUE to replace them")
                series[np.isnan(series)] = fill_missing

    _writer.report(progress, 2, 4, 'padding and normalizing')
    held_out = stratified_validation(train.labels, validation_fraction, seed)
    split_cases = {
        'training': ([s for s, out in zip(train.series, held_out) if not out],
                     train.labels[~held_out]),
        'validation': ([s for s, out in zip(train.series, held_out) if out],
                       train.labels[held_out]),
        'test': (test.series, test.labels),
    }
    length = max(len(series) for series in train.series + test.series)
    arrays = {}
    for split, (series_list, labels) in split_cases.items():
        if series_list:
            values, targets, mask = _pad(series_list, labels, length)
        else:
            values = np.zeros((length, 0, train.dimensions), dtype=np.float32)
            targets = np.zeros((length, 0, 1), dtype=np.int32)
            mask = np.zeros((length, 0, 1), dtype=np.float32)
        arrays[split] = {'default': values, 'targets': targets, 'mask': mask}

    attributes = {
        'source': f'UCR/UEA time series classification archive, problem {problem} '
                  f'({train_path.name}, {test_path.name}), '
                  'https://www.timeseriesclassification.com',
        'license': 'that of the archive entry; cite the problem\'s authors (see description)',
        'description': '\n'.join(train.comments) or f'UCR/UEA problem {problem}',
        'label_names': train.label_names,
        'problem': problem,
        'max_length': length,
        'validation_fraction': float(validation_fraction),
        'validation_seed': int(seed),
        'normalization': normalization,
        'converter': 'brainstorm.datasets.ucr',
    }
    if normalization == 'standardize':
        training_values = np.concatenate(split_cases['training'][0])
        mean = training_values.mean(axis=0)
        std = training_values.std(axis=0)
        std[std == 0] = 1.0
        for split_arrays in arrays.values():
            values, mask = split_arrays['default'], split_arrays['mask']
            values -= mean.astype(np.float32)
            values /= std.astype(np.float32)
            values *= mask  # padding stays exactly zero
        attributes.update({'mean': mean.astype(np.float32), 'std': std.astype(np.float32),
                           'normalization_description':
                               'per dimension: training mean subtracted, divided by the '
                               'training standard deviation (valid time steps only)'})
    else:
        attributes['normalization_description'] = 'values as in the .ts files'

    _writer.report(progress, 3, 4, f'writing {output.name}')
    with _writer.dataset_file(output, attributes, overwrite) as h5file:
        for split, split_arrays in arrays.items():
            _writer.write_split(h5file, 'normalized_split', split, split_arrays)
    _writer.report(progress, 4, 4, 'done')
    return output
