"""bstorm predict: inputs without targets in, predictions with provenance out."""

import csv
import hashlib
import pathlib
import shutil
import tracemalloc

import h5py
import numpy as np
import pytest

from tests.cli.conftest import run_subprocess


@pytest.fixture
def run_folder(tiny_run):
    return tiny_run


@pytest.fixture(scope='module')
def test_split():
    from brainstorm.datasets.digits import digits_path
    with h5py.File(digits_path(), 'r') as f:
        return f['normalized_split/test/default'][()]


def _reference(network_file, data):
    """Probabilities of one forward pass over all of ``data`` (1, N, 64)."""
    from brainstorm.structure.network import Network
    network = Network.from_hdf5(network_file)
    network.provide_external_data({'default': data,
                                   'targets': np.zeros(data.shape[:2] + (1,))})
    network.forward_pass()
    return network.get('Output.outputs.probabilities')


def test_run_directory_to_csv_classes_with_provenance(bstorm, run_folder, test_split, tmp_path):
    output = tmp_path / 'classes.csv'
    result = bstorm('predict', run_folder, 'builtin:digits', '--split', 'test', '-o', output,
                    '--classes', '-b', 64)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(line for line in output.read_text().splitlines()
                               if not line.startswith('#')))
    reference = _reference(run_folder / 'best.h5', test_split)[0]
    assert list(rows[0]) == ['class', 'probability']
    assert [int(row['class']) for row in rows] == reference.argmax(axis=1).tolist()
    np.testing.assert_allclose([float(row['probability']) for row in rows],
                               reference.max(axis=1), rtol=1e-5)
    header = dict(line[2:].split(': ', 1) for line in output.read_text().splitlines()
                  if line.startswith('# '))
    assert header['network_file'] == str((run_folder / 'best.h5').resolve())
    assert header['network_sha256'] == hashlib.sha256(
        (run_folder / 'best.h5').read_bytes()).hexdigest()
    assert header['data_split'] == 'normalized_split/test'
    assert header['bstorm_version'] and header['created']


@pytest.mark.parametrize('suffix', ['npy', 'npz', 'csv', 'images-npy'])
def test_numpy_and_csv_inputs_give_the_hdf5_predictions(bstorm, run_folder, test_split,
                                                        tmp_path, suffix):
    samples = test_split[0]
    if suffix == 'npy':
        source = tmp_path / 'x.npy'
        np.save(source, samples)
    elif suffix == 'images-npy':  # (N, 8, 8): flat rows are reshaped to the input's 64
        source = tmp_path / 'x.npy'
        np.save(source, samples.reshape(-1, 8, 8)[:, :, :, None].reshape(-1, 64))
    elif suffix == 'npz':
        source = tmp_path / 'x.npz'
        np.savez(source, default=test_split)
    else:
        source = tmp_path / 'x.csv'
        header = ','.join(f"pixel{index}" for index in range(64))
        np.savetxt(source, samples, delimiter=',', header=header, comments='', fmt='%.8g')
    output = tmp_path / 'out.h5'
    result = bstorm('predict', run_folder / 'last.h5', source, '-o', output, '-b', 33)
    assert result.exit_code == 0, result.stderr
    with h5py.File(output, 'r') as f:
        predictions = f['predictions'][()]
        assert f.attrs['data_file'] == str(source.resolve())
        assert f.attrs['network_sha256'] == hashlib.sha256(
            (run_folder / 'last.h5').read_bytes()).hexdigest()
    np.testing.assert_allclose(predictions, _reference(run_folder / 'last.h5', test_split),
                               rtol=1e-5)


def test_hdf5_top_k_and_npy_output(bstorm, run_folder, test_split, tmp_path):
    result = bstorm('predict', run_folder, 'builtin:digits', '--split', 'test', '-o',
                    tmp_path / 'top.h5', '--classes', '--top-k', '3')
    assert result.exit_code == 0, result.stderr
    reference = _reference(run_folder / 'best.h5', test_split)
    with h5py.File(tmp_path / 'top.h5', 'r') as f:
        assert f['classes'].shape == (1, 250, 3)
        assert f['classes'][0, :, 0].tolist() == reference[0].argmax(axis=1).tolist()
        np.testing.assert_allclose(f['class_probabilities'][0],
                                   -np.sort(-reference[0], axis=1)[:, :3], rtol=1e-5)
    result = bstorm('predict', run_folder, 'builtin:digits', '--split', 'test', '-o',
                    tmp_path / 'classes.npy', '--classes')
    assert result.exit_code == 0, result.stderr
    assert np.load(tmp_path / 'classes.npy')[0, :, 0].tolist() == \
        reference[0].argmax(axis=1).tolist()
    assert 'network_sha256' in (tmp_path / 'classes.npy.json').read_text()


def test_shape_mismatch_names_both_shapes_and_writes_nothing(bstorm, run_folder, tmp_path):
    source = tmp_path / 'x.npy'
    np.save(source, np.zeros((5, 63), dtype=np.float32))
    result = bstorm('predict', run_folder, source, '-o', tmp_path / 'out.csv')
    assert result.exit_code == 2
    assert len(result.error_lines) == 1
    assert '(5, 63)' in result.stderr and '(64,)' in result.stderr
    assert list(tmp_path.iterdir()) == [source]


def test_existing_output_is_kept_without_force(bstorm, run_folder, tmp_path):
    output = tmp_path / 'out.csv'
    output.write_text('mine')
    result = bstorm('predict', run_folder, 'builtin:digits', '--split', 'test', '-o', output)
    assert result.exit_code == 2 and 'exists' in result.stderr
    assert output.read_text() == 'mine'


def test_masked_sequences(bstorm, tmp_path):
    from brainstorm.initializers import Gaussian
    from brainstorm.tools import create_net_from_spec
    network = create_net_from_spec('classification', (3,), 4, 'L5', mask_name='mask')
    network.initialize(Gaussian(0.3), seed=2)
    network.save_as_hdf5(str(tmp_path / 'lstm.h5'))
    data = np.random.RandomState(0).randn(6, 5, 3).astype(np.float32)
    mask = np.ones((6, 5, 1), dtype=np.float32)
    mask[4:, 2] = 0
    with h5py.File(tmp_path / 'seq.h5', 'w') as f:
        f['default'], f['mask'] = data, mask
    assert bstorm('predict', tmp_path / 'lstm.h5', tmp_path / 'seq.h5', '-o',
                  tmp_path / 'p.h5').exit_code == 0
    with h5py.File(tmp_path / 'p.h5', 'r') as f:
        predictions = f['predictions'][()]
    assert predictions.shape == (6, 5, 4)
    assert np.isnan(predictions[4:, 2]).all() and not np.isnan(predictions[:4]).any()
    result = bstorm('predict', tmp_path / 'lstm.h5', tmp_path / 'seq.h5', '-o',
                    tmp_path / 'p.csv', '--classes')
    assert result.exit_code == 0, result.stderr
    rows = [line for line in (tmp_path / 'p.csv').read_text().splitlines()
            if not line.startswith('#')]
    assert rows[0] == 'sequence,step,class,probability'
    assert len(rows) - 1 == 6 * 5 - 2          # the two padded steps are left out


def test_memory_stays_bounded_by_the_batch(run_folder, tmp_path):
    from bstorm_cli.prediction import PredictionRequest, predict_to_file
    source = tmp_path / 'big.npy'
    big = np.lib.format.open_memmap(source, mode='w+', dtype=np.float32, shape=(40000, 64))
    big[:] = 0.5
    del big  # 10 MB on disk, read through a memory map
    tracemalloc.start()
    try:
        predict_to_file(PredictionRequest(str(run_folder), str(source),
                                          str(tmp_path / 'out.npy'), batch_size=200))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.load(tmp_path / 'out.npy', mmap_mode='r').shape == (1, 40000, 10)
    assert peak < 4_000_000, f"peak {peak} bytes for 10 MB of data in batches of 200"


def test_readme_quick_start_line_works(run_folder, tmp_path):
    readme = (pathlib.Path(__file__).resolve().parents[2] / 'README.md').read_text()
    (line,) = [line for line in readme.splitlines() if line.startswith('bstorm predict ')]
    arguments = line.split()[1:]
    assert arguments[:2] == ['predict', 'latest']  # the newest run under runs/
    shutil.copytree(run_folder, tmp_path / 'runs' / run_folder.name)
    result = run_subprocess(*arguments, cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    output = tmp_path / arguments[arguments.index('-o') + 1]
    assert len([line for line in output.read_text().splitlines()
                if not line.startswith('#')]) == 251


def test_extract_records_the_same_provenance(bstorm, run_folder, tmp_path):
    output = tmp_path / 'features.h5'
    result = bstorm('extract', run_folder / 'best.h5', 'builtin:digits', '--buffer',
                    'Output.outputs.probabilities', '-o', output)
    assert result.exit_code == 0, result.stderr
    with h5py.File(output, 'r') as f:
        assert f.attrs['network_sha256'] == hashlib.sha256(
            (run_folder / 'best.h5').read_bytes()).hexdigest()
        assert f.attrs['data_file'] == 'builtin:digits'
        assert f.attrs['data_split'] == 'normalized_split/test'
        assert f.attrs['buffer'] == 'Output.outputs.probabilities'
