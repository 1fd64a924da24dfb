"""UCR/UEA .ts converter: generated variable-length files, malformed files, JapaneseVowels."""

import h5py
import numpy as np
import pytest

from brainstorm.datasets import prepare_ucr
from brainstorm.datasets.ucr import parse_ts, stratified_validation
from brainstorm.errors import DataError, FileFormatError

HEADER = """# A tiny problem written by the test.
# Second comment line.
@problemName Tiny
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
"""
# Two dimensions per case (separated by ':'), then the label; lengths 3, 1, 4, 2, 2, 3.
TRAIN_CASES = ['1,2,3:4,5,6:up', '7:8:down', '1,1,1,1:2,2,2,2:up', '0,5:5,0:down',
               '3,3:1,1:up', '2,4,6:1,3,5:down']
TEST_CASES = ['9,9:9,9:down', '1,2,3,4,5:5,4,3,2,1:up']


def write_problem(folder, train_cases=TRAIN_CASES, test_cases=TEST_CASES, header=HEADER,
                  test_header=None):
    folder.mkdir(exist_ok=True)
    (folder / 'Tiny_TRAIN.ts').write_text(header + '\n'.join(train_cases) + '\n')
    (folder / 'Tiny_TEST.ts').write_text((test_header or header) + '\n'.join(test_cases) + '\n')
    return folder


def _read(path):
    with h5py.File(path, 'r') as h5file:
        return ({split: {name: h5file['normalized_split'][split][name][()]
                         for name in ('default', 'targets', 'mask')}
                 for split in ('training', 'validation', 'test')}, dict(h5file.attrs))


def test_padding_mask_and_labels_without_normalization(tmp_path):
    source = write_problem(tmp_path / 'Tiny')
    output = prepare_ucr(source / 'Tiny_TRAIN.ts', tmp_path / 'out.hdf5', normalization='none',
                         validation_fraction=0.0)
    splits, attributes = _read(output)
    test = splits['test']
    # T is the longest series of both files (5, in TEST).
    assert test['default'].shape == (5, 2, 2) and test['default'].dtype == np.float32
    assert test['mask'].shape == (5, 2, 1) and test['mask'].dtype == np.float32
    assert test['targets'].shape == (5, 2, 1) and test['targets'].dtype == np.int32
    np.testing.assert_array_equal(test['default'][:, 0], [[9, 9], [9, 9], [0, 0], [0, 0], [0, 0]])
    np.testing.assert_array_equal(test['default'][:, 1, 0], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(test['mask'][:, :, 0].T, [[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(test['targets'][:, :, 0].T, [[1] * 5, [0] * 5])
    training = splits['training']
    assert training['mask'].sum(axis=0)[:, 0].tolist() == [3, 1, 4, 2, 2, 3]
    assert splits['validation']['default'].shape == (5, 0, 2)
    assert list(attributes['label_names']) == ['up', 'down']
    assert attributes['description'] == 'A tiny problem written by the test.\nSecond comment line.'
    assert attributes['problem'] == 'Tiny' and attributes['max_length'] == 5


def test_standardize_and_stratified_validation(tmp_path):
    source = write_problem(tmp_path / 'Tiny')
    output = prepare_ucr(source, tmp_path / 'out.hdf5', validation_fraction=0.34, seed=3)
    splits, attributes = _read(output)
    # One of three cases of each class is held out.
    assert sorted(splits['validation']['targets'][0, :, 0].tolist()) == [0, 1]
    assert sorted(splits['training']['targets'][0, :, 0].tolist()) == [0, 0, 1, 1]
    training = splits['training']
    valid = training['mask'][:, :, 0] == 1
    values = training['default'][valid]
    np.testing.assert_allclose(values.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(values.std(axis=0), 1, atol=1e-5)
    for split in splits.values():
        assert not split['default'][split['mask'][:, :, 0] == 0].any()  # padding stays 0
    assert attributes['mean'].shape == (2,) and attributes['normalization'] == 'standardize'


def test_stratified_validation_is_seeded():
    labels = np.array([0] * 10 + [1] * 5)
    first = stratified_validation(labels, 0.2, seed=5)
    assert first.sum() == 3 and first[:10].sum() == 2
    np.testing.assert_array_equal(first, stratified_validation(labels, 0.2, seed=5))


def test_missing_values(tmp_path):
    source = write_problem(tmp_path / 'Tiny', train_cases=TRAIN_CASES + ['1,?:2,3:up'])
    with pytest.raises(DataError, match=r'Tiny_TRAIN.ts: case 7 has missing values'):
        prepare_ucr(source, tmp_path / 'out.hdf5')
    output = prepare_ucr(source, tmp_path / 'out.hdf5', normalization='none', fill_missing=-1.0,
                         validation_fraction=0.0)
    splits, _ = _read(output)
    assert splits['training']['default'][1, 6, 0] == -1.0


@pytest.mark.parametrize('case, text, message', [
    ('no-data', HEADER.replace('@data\n', ''), 'no @data line'),
    ('timestamps', HEADER.replace('@timeStamps false', '@timeStamps true') + TRAIN_CASES[0],
     'time stamps are not supported'),
    ('regression', HEADER.replace('@classLabel true up down', '@classLabel false'),
     'not a classification file'),
    ('unknown-label', HEADER + '1,2:3,4:left', ":11: class label 'left' is not one of"),
    ('not-a-number', HEADER + '1,x:3,4:up', ':11: not a number'),
    ('unequal-dimensions', HEADER + '1,2,3:4,5:up', ':11: the dimensions of one case have '
                                                     'different lengths'),
    ('dimension-count', HEADER + '1,2:up', ':11: 1 dimensions, the header says 2'),
    ('junk', '@problemName Tiny\nhello\n', ':2: expected a header line'),
    ('bad-flag', HEADER.replace('@timeStamps false', '@timeStamps maybe'), '@timestamps must be'),
    ('empty', HEADER, 'no cases after @data'),
])
def test_malformed_files(tmp_path, case, text, message):
    path = tmp_path / 'Bad_TRAIN.ts'
    path.write_text(text)
    with pytest.raises(FileFormatError, match=message):
        parse_ts(path)


@pytest.mark.parametrize('case, message', [
    ('no-test', 'Tiny_TEST.ts: file not found'),
    ('two-problems', 'expected exactly one PROBLEM_TRAIN.ts file, found Other, Tiny'),
    ('labels-differ', "class labels \\['down', 'up'\\] differ"),
    ('bad-fraction', 'validation_fraction must be in'),
])
def test_mismatched_inputs(tmp_path, case, message):
    source = write_problem(tmp_path / 'Tiny', test_header=(
        HEADER.replace('up down', 'down up') if case == 'labels-differ' else None))
    options = {}
    if case == 'no-test':
        (source / 'Tiny_TEST.ts').unlink()
    elif case == 'two-problems':
        (source / 'Other_TRAIN.ts').write_text(HEADER)
    elif case == 'bad-fraction':
        options['validation_fraction'] = 1.0
    with pytest.raises(DataError, match=message):
        prepare_ucr(source, tmp_path / 'out.hdf5', **options)
    assert not (tmp_path / 'out.hdf5').exists()


def _series_lengths(path):
    """Length of each case's first dimension, read straight from the text."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == '@data') + 1
    return [len(line.split(':')[0].split(',')) for line in lines[start:] if line.strip()]


@pytest.mark.realdata
def test_real_japanese_vowels(japanese_vowels_hdf5, japanese_vowels_source):
    splits, attributes = _read(japanese_vowels_hdf5)
    train_lengths = _series_lengths(japanese_vowels_source / 'JapaneseVowels_TRAIN.ts')
    test_lengths = _series_lengths(japanese_vowels_source / 'JapaneseVowels_TEST.ts')
    assert len(train_lengths) == 270 and len(test_lengths) == 370
    assert min(train_lengths + test_lengths) == 7 and max(train_lengths + test_lengths) == 29
    counts = {'training': 216, 'validation': 54, 'test': 370}
    for split, count in counts.items():
        arrays = splits[split]
        assert arrays['default'].shape == (29, count, 12)
        assert arrays['mask'].shape == arrays['targets'].shape == (29, count, 1)
        mask = arrays['mask'][:, :, 0]
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert (np.diff(mask, axis=0) <= 0).all()  # valid steps first, then padding
        assert not arrays['default'][mask == 0].any()
        assert arrays['targets'].min() >= 0 and arrays['targets'].max() <= 8
        assert (arrays['targets'] == arrays['targets'][:1]).all()  # one label per sequence
    # Speakers 1..9 each say 30 training utterances: 24 stay, 6 go to validation.
    assert np.bincount(splits['training']['targets'][0, :, 0]).tolist() == [24] * 9
    assert np.bincount(splits['validation']['targets'][0, :, 0]).tolist() == [6] * 9
    assert sorted(splits['test']['mask'].sum(axis=0)[:, 0].astype(int).tolist()) == \
        sorted(test_lengths)
    assert splits['test']['mask'].sum(axis=0)[:, 0].astype(int).tolist() == test_lengths
    assert sorted(np.concatenate([splits['training']['mask'].sum(axis=0)[:, 0],
                                  splits['validation']['mask'].sum(axis=0)[:, 0]]).astype(int)
                  .tolist()) == sorted(train_lengths)
    assert list(attributes['label_names']) == [str(speaker) for speaker in range(1, 10)]
    assert 'Kudo' in attributes['description']
