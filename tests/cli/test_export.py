"""bstorm export: ONNX models of saved networks, and --check against brainstorm."""

import re
import sys

import numpy as np
import pytest

pytest.importorskip('onnxruntime', reason="needs the [onnx] extra: pip install '.[onnx]'")


@pytest.fixture
def run_folder(tiny_run):
    return tiny_run


def _errors(stdout):
    return [float(value) for value in re.findall(r'largest relative error (\S+) over', stdout)]


def test_export_and_check_on_the_digits(bstorm, run_folder, tmp_path):
    import onnxruntime
    output = tmp_path / 'digits.onnx'
    result = bstorm('export', run_folder, '-o', output, '--check', 'builtin:digits',
                    '--split', 'test', '-b', 64)
    assert result.exit_code == 0, result.stderr
    assert 'over 250 samples' in result.stdout
    (error,) = _errors(result.stdout)
    assert error <= 1e-5
    session = onnxruntime.InferenceSession(str(output), providers=['CPUExecutionProvider'])
    (probabilities,) = session.run(None, {'default': np.zeros((1, 2, 64), np.float32)})
    assert probabilities.shape == (1, 2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1, rtol=1e-5)


def test_check_an_image_network_on_npy_data(bstorm, tmp_path):
    from brainstorm.initializers import Gaussian
    from brainstorm.tools import create_net_from_spec
    network = create_net_from_spec('classification', (8, 8, 1), 10, 'C4:3p1 P2s2 B F8')
    network.initialize(Gaussian(0.5), seed=3)
    network.save_as_hdf5(str(tmp_path / 'cnn.h5'))
    np.save(tmp_path / 'images.npy', np.random.RandomState(0).rand(30, 8, 8, 1))
    result = bstorm('export', tmp_path / 'cnn.h5', '-o', tmp_path / 'cnn.onnx', '--check',
                    tmp_path / 'images.npy', '-b', 7)
    assert result.exit_code == 0, result.stderr
    assert max(_errors(result.stdout)) <= 1e-5


def test_a_layer_that_cannot_be_exported_is_one_error(bstorm, tmp_path):
    from brainstorm.initializers import Gaussian
    from brainstorm.structure.network import Network
    from brainstorm.layers import Clockwork, Input
    network = Network.from_layer(Input({'default': ('T', 'B', 3)}) >>
                                 Clockwork(4, name='Clock'))
    network.initialize(Gaussian(0.1), seed=1)
    network.output_name = 'Clock.outputs.default'
    network.save_as_hdf5(str(tmp_path / 'clock.h5'))
    result = bstorm('export', tmp_path / 'clock.h5', '-o', tmp_path / 'clock.onnx')
    assert result.exit_code == 2
    assert len(result.error_lines) == 1
    assert "layer 'Clock' (Clockwork) cannot be exported" in result.stderr
    assert not (tmp_path / 'clock.onnx').exists()


def test_without_onnx_the_extra_is_named(bstorm, run_folder, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnx', None)
    result = bstorm('export', run_folder, '-o', tmp_path / 'm.onnx')
    assert result.exit_code == 2
    assert "pip install '.[onnx]'" in result.stderr
