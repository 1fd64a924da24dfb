"""ONNX export: every exportable layer and the three example networks, run in onnxruntime,
against brainstorm's forward pass (float32, relative error <= 1e-5)."""

import subprocess
import sys

import numpy as np
import pytest

from brainstorm.errors import ExportError
from brainstorm.handlers import NumpyHandler
from brainstorm.testing.layer_harness import LayerHarness
from tests.layers.cases import ALL_CASES

pytest.importorskip('onnx', reason="needs the [onnx] extra: pip install '.[onnx]'")
pytest.importorskip('onnxruntime', reason="needs the [onnx] extra: pip install '.[onnx]'")

from brainstorm.export._onnx_layers import CONVERTERS, LOSS_OUTPUTS, NOT_EXPORTABLE  # noqa: E402
from brainstorm.export.onnx import compare_with_onnxruntime, export_onnx  # noqa: E402

TOLERANCE = 1e-5
EXPORTABLE_CASES = [case for case in ALL_CASES if case.layer_type in CONVERTERS]


def _outputs(layer):
    return [f"Tested.outputs.{name}" for name in layer.out_shapes
            if name not in LOSS_OUTPUTS.get(layer.layer_type, ())]


def _random_data(network, time_steps, batch_size, seed):
    rnd = np.random.RandomState(seed)
    return {name: rnd.standard_normal((time_steps, batch_size) + structure.feature_shape)
            for name, structure in network.layers['Input'].out_shapes.items()}


@pytest.mark.parametrize('case', EXPORTABLE_CASES, ids=[case.id for case in EXPORTABLE_CASES])
def test_every_exportable_layer_matches_brainstorm(case):
    harness = LayerHarness(case, NumpyHandler(np.float32))
    model = export_onnx(harness.net, buffer_names=_outputs(harness.layer))
    errors = compare_with_onnxruntime(harness.net, model, harness.data)
    assert errors and max(errors.values()) <= TOLERANCE, errors
    # T and B are free dimensions of the model
    errors = compare_with_onnxruntime(harness.net, model, _random_data(harness.net, 5, 3, 1))
    assert max(errors.values()) <= TOLERANCE, errors


def test_every_layer_type_is_exportable_or_says_why_not():
    from brainstorm.layers.base_layer import registered_layer_types
    # other tests register their own layer types (a user's class); only brainstorm's count
    built_in = {name for name, implementation in registered_layer_types().items()
                if implementation.__module__.startswith('brainstorm.')}
    assert set(CONVERTERS) | set(NOT_EXPORTABLE) == built_in
    assert not set(CONVERTERS) & set(NOT_EXPORTABLE)


def test_a_layer_that_cannot_be_exported_is_named():
    (case,) = [case for case in ALL_CASES if case.layer_type == 'Clockwork'][:1]
    harness = LayerHarness(case, NumpyHandler(np.float32))
    with pytest.raises(ExportError, match=r"layer 'Tested' \(Clockwork\) cannot be exported"):
        export_onnx(harness.net, buffer_names=['Tested.outputs.default'])


def test_a_loss_output_is_refused():
    (case,) = [case for case in ALL_CASES if case.layer_type == 'SoftmaxCE'][:1]
    harness = LayerHarness(case, NumpyHandler(np.float32))
    with pytest.raises(ExportError, match='is a loss'):
        export_onnx(harness.net, buffer_names=['Tested.outputs.loss'])


def _example_network(name, overrides=()):
    from bstorm_cli.experiment import build
    from bstorm_cli.experiment.document import load_experiment
    from brainstorm.randomness import global_rnd
    from tests.cli.conftest import ROOT
    experiment = load_experiment(ROOT / 'configs' / f"{name}.yaml", list(overrides), None)
    global_rnd.set_seed(1)
    network = build.build_network(experiment, None)
    build.initialize_network(experiment, network)
    return network


@pytest.mark.parametrize('name, overrides, time_steps', [
    ('mnist_pi', (), 1),
    ('cifar10_cnn', (), 1),
    ('hutter_lstm', ('network.in_shape=[205]', 'network.out_shape=205'), 4),
])
def test_example_networks_match_brainstorm(name, overrides, time_steps, tmp_path):
    network = _example_network(name, overrides)
    # the configs' tiny initial weights make the outputs nearly uniform; larger ones
    # make the comparison sensitive to every layer
    parameters = network.get('parameters')
    rescaled = parameters * (0.5 / max(np.std(parameters), 1e-12))
    network.handler.set_from_numpy(network.buffer.parameters,
                                   rescaled.astype(network.handler.dtype))
    model = export_onnx(network, tmp_path / 'model.onnx')
    assert (tmp_path / 'model.onnx').stat().st_size > parameters.nbytes * 0.9
    data = _random_data(network, time_steps, 3, 0)
    if name == 'hutter_lstm':  # one-hot bytes, as its OneHot iterator makes them
        data['default'] = np.eye(205)[np.random.RandomState(0).randint(205, size=(4, 3))]
    errors = compare_with_onnxruntime(network, str(tmp_path / 'model.onnx'), data)
    assert list(errors) == [network.output_name]
    assert errors[network.output_name] <= TOLERANCE, errors
    assert [item.name for item in model.graph.input] == ['default']


def test_importing_brainstorm_imports_no_onnx():
    code = ("import sys, brainstorm, brainstorm.tools, brainstorm.export; "
            "import bstorm_cli.main; assert 'onnx' not in sys.modules, 'onnx imported'; "
            "assert 'onnxruntime' not in sys.modules")
    subprocess.run([sys.executable, '-c', code], check=True)


def test_missing_onnx_says_which_extra(monkeypatch):
    (case,) = [case for case in ALL_CASES if case.layer_type == 'NoOp'][:1]
    harness = LayerHarness(case, NumpyHandler(np.float32))
    monkeypatch.setitem(sys.modules, 'onnx', None)
    with pytest.raises(ExportError, match=r"pip install '\.\[onnx\]'"):
        export_onnx(harness.net, buffer_names=['Tested.outputs.default'])
