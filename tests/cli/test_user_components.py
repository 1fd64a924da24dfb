"""Components of the user's own by import path (``type: MODULE:NAME``, ``imports:``)."""

import os
import pathlib
import re
import sys
import textwrap
import pytest

from tests.cli.conftest import ROOT, run_subprocess

#: the custom layer of docs/custom_components.md, run as the docs show it
LAYER_CODE = re.search(r"```python\n(.*?)```", (ROOT / 'docs' / 'custom_components.md')
                       .read_text(), re.S).group(1)

OTHER_COMPONENTS = textwrap.dedent('''
    """mycomponents.py: one of each other kind, each a small variation of a built-in."""
    import pathlib

    from brainstorm.data_iterators import AddGaussianNoise
    from brainstorm.hooks.base import Hook
    from brainstorm.initializers import Gaussian
    from brainstorm.scorers import Accuracy
    from brainstorm.training.schedules import Exponential
    from brainstorm.training.steppers import MomentumStepper
    from brainstorm.value_modifiers import ClipValues

    pathlib.Path('imported.marker').write_text('imported')


    class CountUpdates(Hook):
        """Logs the number of updates so far, times ``scale``."""

        def __init__(self, scale=1, name=None, timescale='epoch', interval=1):
            super().__init__(name, timescale, interval)
            self.scale = scale

        def __call__(self, epoch_nr, update_nr, net, stepper, logs):
            return {'updates': update_nr * self.scale}


    class MyAccuracy(Accuracy):
        pass


    class SmallGaussian(Gaussian):
        def __init__(self, std=0.05):
            super().__init__(std=std)


    class MyStepper(MomentumStepper):
        pass


    class MyNoise(AddGaussianNoise):
        pass


    class MyClip(ClipValues):
        pass


    class MySchedule(Exponential):
        pass


    class NotAHook:
        def __init__(self, name=None):
            pass
''')

EXPERIMENT = textwrap.dedent('''
    name: custom
    seed: 1
    imports: [mylayers, mycomponents]
    data:
      file: builtin:digits
      group: normalized_split
      iterators:
        training:
          chain:
            - {type: Minibatches, batch_size: 100}
            - {type: 'mycomponents:MyNoise', std_dict: {default: 0.01}}
        validation:
          chain: [{type: Minibatches, batch_size: 250, shuffle: false}]
    network:
      layers:
        Input:
          type: Input
          out_shapes: {default: [T, B, 64], targets: [T, B, 1]}
          outgoing: {default: [Scale], targets: [Output.targets]}
        Scale: {type: 'mylayers:ScaleShift', outgoing: [Hidden]}
        Hidden: {type: FullyConnected, size: 16, outgoing: [Projection]}
        Projection: {type: FullyConnected, size: 10, activation: linear, outgoing: [Output]}
        Output: {type: SoftmaxCE, outgoing: {loss: [Loss]}}
        Loss: {type: Loss}
    initializers:
      default: {type: 'mycomponents:SmallGaussian', std: 0.1}
      Scale: {gamma: 1, beta: 0}
    weight_modifiers:
      Hidden: {W: {type: 'mycomponents:MyClip', low: -2, high: 2}}
    trainer:
      stepper:
        type: 'mycomponents:MyStepper'
        learning_rate: {type: 'mycomponents:MySchedule', initial_value: 0.2, factor: 0.9,
                        minimum: 0.01}
        momentum: 0.9
      hooks:
        - type: MonitorScores
          iter_name: validation
          scorers: [{type: 'mycomponents:MyAccuracy'}]
          name: validation
        - {type: 'mycomponents:CountUpdates', scale: 2, name: counter}
        - {type: StopAfterEpoch, max_epochs: 4}
''')


@pytest.fixture
def project(tmp_path):
    (tmp_path / 'mylayers.py').write_text(LAYER_CODE)
    (tmp_path / 'mycomponents.py').write_text(OTHER_COMPONENTS)
    (tmp_path / 'custom.yaml').write_text(EXPERIMENT)
    return tmp_path


def _env(folder):
    return {'PYTHONPATH': os.pathsep.join([str(folder), str(ROOT),
                                           os.environ.get('PYTHONPATH', '')])}


def _python(code, folder):
    """Run ``code`` in a fresh interpreter (the user's layer stays out of this process's
    layer registry, which other tests compare with their cases)."""
    import subprocess
    completed = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=folder,
                               env=dict(os.environ, **_env(folder)), capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_the_docs_layer_passes_the_gradient_check(project):
    _python("""
        from types import SimpleNamespace
        import numpy as np
        import mylayers
        from brainstorm.handlers import NumpyHandler
        from brainstorm.testing import assert_layer_gradients
        for shape in [(5,), (1,)]:
            case = SimpleNamespace(layer_type='ScaleShift', kwargs={}, in_shapes={'default': shape})
            assert_layer_gradients(case, NumpyHandler(np.float64))
    """, project)


def test_an_experiment_with_components_of_its_own_trains(project):
    from bstorm_cli.experiment import run_dir
    result = run_subprocess('train', project / 'custom.yaml', '--out', project / 'runs',
                            cwd=project, env=_env(project))
    assert result.exit_code == 0, result.stderr
    (run,) = (project / 'runs').iterdir()
    logs = run_dir.read_logs(run / 'logs.h5')
    assert logs['counter.updates'].tolist() == [0, 26, 52, 78, 104]  # 13 updates per epoch, x2
    accuracy = logs['validation.MyAccuracy']
    assert accuracy[-1] > accuracy[0] + 0.2, accuracy                  # it learns
    # a network file never imports: the user imports the modules of its layer and its
    # (described) initializers and modifiers first
    output = _python(f"""
        import mylayers, mycomponents
        from brainstorm.structure.network import Network
        network = Network.from_hdf5({str(run / 'best.h5')!r})
        print(network.layers['Scale'].layer_type, network.get('Scale.parameters.gamma').std())
    """, project)
    layer_type, spread = output.split()
    assert layer_type == 'ScaleShift' and float(spread) > 0            # gamma was trained


@pytest.mark.parametrize('edit, fragment, line', [
    (('imports: [mylayers, mycomponents]', 'imports: [mylayers]'),
     "module 'mycomponents' is not listed in imports:", 12),
    (('scale: 2', 'scal: 2'), "unknown key 'scal' for mycomponents:CountUpdates", 42),
    (("{type: 'mycomponents:CountUpdates', scale: 2, name: counter}",
      "{type: 'mycomponents:NotAHook'}"), 'mycomponents:NotAHook is not a hook', 42),
    (("{type: 'mycomponents:CountUpdates', scale: 2, name: counter}",
      "{type: 'mycomponents:CountUpdate'}"), "module 'mycomponents' has no 'CountUpdate'", 42),
    (("type: 'mylayers:ScaleShift'", "type: 'mylayers:ScaleShift', size: 3"),
     "unknown key 'size' for mylayers:ScaleShift", 21),
    (("type: 'mycomponents:MyStepper'", "type: 'mycomponents:'"),
     "expected a string matching", 33),
    (('imports: [mylayers, mycomponents]', 'imports: [mylayers, mycomponents, nosuchmodule]'),
     "cannot import 'nosuchmodule'", 4),
])
def test_bad_user_components_are_located_errors(project, edit, fragment, line):
    path = project / 'custom.yaml'
    path.write_text(path.read_text().replace(*edit))
    result = run_subprocess('validate', path, cwd=project, env=_env(project))
    assert result.exit_code == 2, result.stderr
    assert 'Traceback' not in result.stderr
    errors = [text for text in result.error_lines if fragment in text]
    assert errors, result.stderr
    assert f"custom.yaml:{line}:" in errors[0]


def test_an_unlisted_module_is_never_imported(project):
    path = project / 'custom.yaml'
    path.write_text(path.read_text().replace('imports: [mylayers, mycomponents]',
                                             'imports: [mylayers]'))
    result = run_subprocess('validate', path, cwd=project, env=_env(project))
    assert result.exit_code == 2
    assert not (project / 'imported.marker').exists()
    assert 'if you trust it, add `imports: [mycomponents]`' in result.stderr


def test_schema_documents_import_paths(bstorm):
    result = bstorm('schema', 'hook')
    assert 'MODULE:NAME' in result.stdout and 'import_path' in result.stdout
    assert 'imports' in bstorm('schema').stdout
    assert pathlib.Path(ROOT / 'docs' / 'custom_components.md').is_file()
