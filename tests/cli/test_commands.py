"""Every bstorm command end to end, in a subprocess, as a user runs it."""

import json
import pathlib
import subprocess
import sys

import h5py
import numpy as np
import pytest

from tests.cuda_emulator.marks import needs_emulator

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPERIMENTS = pathlib.Path(__file__).resolve().parent / 'experiments'
TINY = EXPERIMENTS / 'valid' / 'tiny.yaml'
GRAPH = EXPERIMENTS / 'valid' / 'graph.yaml'
COMMANDS = ['train', 'tune', 'runs', 'validate', 'evaluate', 'extract', 'predict', 'export', 'info', 'draw-net',
            'plot', 'schema', 'data', 'data prepare', 'data list', 'generate']


def bstorm(*arguments, cwd=ROOT, env=None):
    completed = subprocess.run([sys.executable, '-m', 'bstorm_cli', *map(str, arguments)],
                               cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    return completed


@pytest.fixture(scope='module')
def trained_run(tmp_path_factory):
    """A finished run of the layer-graph experiment (2 epochs)."""
    folder = tmp_path_factory.mktemp('run')
    result = bstorm('train', GRAPH, '--out', folder / 'runs', cwd=folder)
    assert result.returncode == 0, result.stderr
    runs = list((folder / 'runs').iterdir())
    assert len(runs) == 1
    return runs[0], result


@pytest.mark.parametrize('command', COMMANDS)
def test_every_help_ends_with_an_example(command):
    result = bstorm(*command.split(), '--help')
    assert result.returncode == 0
    tail = result.stdout.strip().splitlines()[-3:]
    assert any(line.strip().startswith('Example') for line in
               result.stdout.strip().splitlines()[-8:]), result.stdout
    assert any('bstorm ' in line for line in tail), result.stdout


def test_train_writes_a_complete_run_directory(trained_run):
    run, result = trained_run
    assert run.name.startswith('graph-')
    for name in ('experiment.yaml', 'command.txt', 'logs.h5', 'last.h5', 'best.h5',
                 'checkpoint.h5', 'status.json'):
        assert (run / name).is_file(), name
    assert not list(run.glob('.*tmp')), 'temporary files left behind'
    status = json.loads((run / 'status.json').read_text())
    assert status['status'] == 'finished' and status['epochs'] == 2
    assert f"run directory: {run}" in result.stdout
    assert 'best validation.Accuracy' in result.stdout
    assert 'epoch' in result.stderr and 'validation.Accuracy' in result.stderr
    import brainstorm.value_modifiers  # noqa: F401  (registers ClipValues for from_hdf5)
    from brainstorm.structure.network import Network
    for name in ('last.h5', 'best.h5'):
        network = Network.from_hdf5(run / name)
        assert network.buffer_manager.parameter_size == 64 * 24 + 24 + 24 * 10 + 10
    with h5py.File(run / 'logs.h5', 'r') as logs:
        assert logs['validation/Accuracy'].shape == (3,)  # before training + 2 epochs
        assert logs['rolling_training/total_loss'].shape == (2,)


def test_resolved_experiment_has_every_default_and_validates_again(trained_run):
    import yaml
    run, _ = trained_run
    resolved = yaml.safe_load((run / 'experiment.yaml').read_text())
    assert resolved['handler'] == {'type': 'NumpyHandler', 'dtype': 'float32', 'seed': None}
    assert resolved['trainer']['stepper']['scale_learning_rate'] is True
    assert resolved['data']['iterators']['training']['chain'][0]['shuffle'] is True
    assert resolved['trainer']['hooks'][2] == {
        'type': 'StopAfterEpoch', 'max_epochs': 2, 'name': None, 'timescale': 'epoch',
        'interval': 1, 'verbose': None}
    result = bstorm('validate', run / 'experiment.yaml')
    assert result.returncode == 0, result.stderr


def test_run_directories_are_never_reused(tmp_path):
    for _ in range(2):
        assert bstorm('train', TINY, '--out', tmp_path, cwd=tmp_path).returncode == 0
    assert len(list(tmp_path.iterdir())) == 2


def test_set_seed_and_handler_options_reach_the_resolved_experiment(tmp_path):
    result = bstorm('train', TINY, '--out', tmp_path, '--seed', 9, '--set',
                    'trainer.hooks[1].max_epochs=1', '--handler', 'numpy', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = next(tmp_path.iterdir()).joinpath('experiment.yaml').read_text()
    assert 'seed: 9' in text and 'max_epochs: 1' in text
    assert '# overrides: --set trainer.hooks[1].max_epochs=1 --seed 9 --handler numpy' in text


@needs_emulator
def test_train_with_the_pycuda_handler_learns_what_numpy_learns(tmp_path):
    """``--handler pycuda`` end to end, on the CPU emulation of CUDA (tests/cuda_emulator)."""
    folders = {}
    for handler, program in (('numpy', ['bstorm_cli']),
                             ('pycuda', ['tests.cuda_emulator', 'bstorm_cli'])):
        out = tmp_path / handler
        command = [sys.executable, '-m', *program, 'train', TINY, '--out', out, '--handler',
                   handler, '--set', 'trainer.hooks[1].max_epochs=1']
        completed = subprocess.run(list(map(str, command)), cwd=ROOT, capture_output=True,
                                   text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr
        folders[handler] = next(out.iterdir())
    import yaml
    resolved = yaml.safe_load((folders['pycuda'] / 'experiment.yaml').read_text())
    assert resolved['handler']['type'] == 'PyCudaHandler'
    numpy_run, gpu_run = (h5py.File(folders[name] / 'last.h5', 'r')['parameters'][()]
                          for name in ('numpy', 'pycuda'))
    np.testing.assert_allclose(gpu_run, numpy_run, rtol=1e-4, atol=1e-5)


def test_same_seed_same_parameters(tmp_path):
    folders = []
    for index in range(2):
        out = tmp_path / str(index)
        assert bstorm('train', TINY, '--out', out, cwd=tmp_path).returncode == 0
        folders.append(next(out.iterdir()))
    arrays = [h5py.File(folder / 'last.h5', 'r')['parameters'][()] for folder in folders]
    np.testing.assert_array_equal(*arrays)


def test_validate_reports_valid(tmp_path):
    result = bstorm('validate', GRAPH, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{GRAPH}: valid (1,810 parameters")


def test_evaluate_table_and_json(trained_run):
    run, _ = trained_run
    table = bstorm('evaluate', run / 'best.h5', 'builtin:digits', '--split', 'test')
    assert table.returncode == 0, table.stderr
    assert 'Accuracy' in table.stdout and 'total_loss' in table.stdout
    result = bstorm('evaluate', run / 'best.h5', 'builtin:digits', '--json', '--scorer',
                    '{type: Accuracy, name: acc}')
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report['split'] == 'normalized_split/test'
    assert 0.0 <= report['results']['acc'] <= 1.0
    assert set(report['results']) == {'total_loss', 'acc'}


def test_evaluate_runs_a_brainstorm_0_5_user_scorer(trained_run, monkeypatch):
    # bstorm evaluate's own evaluation path, given a scorer that defines only __call__
    from brainstorm.scorers import Scorer
    from bstorm_cli.commands import evaluate as evaluate_module

    class CountCorrect(Scorer):
        def __call__(self, true_labels, predicted, mask=None):
            return float((predicted.argmax(axis=1)[:, None] == true_labels).sum())

    run, _ = trained_run
    expected, _ = evaluate_module.evaluate_network(str(run / 'best.h5'), 'builtin:digits',
                                                   'test', None, ['Accuracy'], 64)
    monkeypatch.setattr(evaluate_module, 'scorers_from_arguments',
                        lambda texts, network: [CountCorrect(name='correct')])
    results, where = evaluate_module.evaluate_network(str(run / 'best.h5'), 'builtin:digits',
                                                      'test', None, [], 64)
    assert where == 'normalized_split/test'
    assert results['correct'] == pytest.approx(expected['Accuracy'])


def test_extract_streams_buffers_to_hdf5(trained_run, tmp_path):
    run, _ = trained_run
    output = tmp_path / 'features.h5'
    result = bstorm('extract', run / 'best.h5', 'builtin:digits', '--buffer',
                    'Hidden.outputs.default', '--buffer', 'Output.outputs.probabilities',
                    '-o', output, '--batch-size', 64)
    assert result.returncode == 0, result.stderr
    with h5py.File(output, 'r') as h5file:
        assert h5file['Hidden.outputs.default'].shape == (1, 250, 24)
        probabilities = h5file['Output.outputs.probabilities'][()]
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
    again = bstorm('extract', run / 'best.h5', 'builtin:digits', '--buffer',
                   'Hidden.outputs.default', '-o', output)
    assert again.returncode == 2 and 'exists already' in again.stderr


def test_extract_rejects_unknown_buffer_with_a_hint(trained_run, tmp_path):
    run, _ = trained_run
    result = bstorm('extract', run / 'best.h5', 'builtin:digits', '--buffer',
                    'Hiden.outputs.default', '-o', tmp_path / 'f.h5')
    assert result.returncode == 2
    assert "error: --buffer Hiden.outputs.default: the network has no buffer" in result.stderr
    assert "hint: did you mean 'Hidden.outputs.default'?" in result.stderr
    assert not (tmp_path / 'f.h5').exists()


@pytest.mark.parametrize('path', ['Hidden.output_deltas.default', 'Hidden.gradients.W',
                                  'Hidden.internals.dH'])
def test_extract_rejects_buffers_of_the_backward_pass(trained_run, tmp_path, path):
    # extract runs forward passes only: these would hold zeros or other layers' values
    run, _ = trained_run
    result = bstorm('extract', run / 'best.h5', 'builtin:digits', '--buffer', path,
                    '-o', tmp_path / 'f.h5')
    assert result.returncode == 2
    assert (f"error: --buffer {path}: {path!r} is made by the backward pass, which "
            f"extract does not run") in result.stderr
    assert not (tmp_path / 'f.h5').exists()


@pytest.mark.parametrize('source', ['experiment', 'network'])
def test_info_for_experiments_and_networks(trained_run, source):
    run, _ = trained_run
    target = GRAPH if source == 'experiment' else run / 'best.h5'
    result = bstorm('info', target, '--json', '--batch-size', 10)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info['parameter_count'] == 1810
    assert [layer['name'] for layer in info['layers']] == [
        'Input', 'Hidden', 'Output_projection', 'Output', 'Loss']
    assert info['memory_bytes']['parameters'] == 1810 * 4
    text = bstorm('info', target)
    assert 'Hidden' in text.stdout and '1,810' in text.stdout


@pytest.mark.parametrize('source, overrides', [
    (ROOT / 'configs' / 'quickstart.yaml', ()),
    (ROOT / 'configs' / 'quickstart.yaml', ('network.spec=Fr7 D L4<> F2',)),
    (ROOT / 'configs' / 'quickstart.yaml',
     ('handler.type=NumpyHandler', 'handler.dtype=float64')),
    (GRAPH, ())])
def test_info_of_an_experiment_reports_what_building_its_network_gives(source, overrides):
    # info builds the architecture only; the figures must be those of the real network
    from bstorm_cli.commands._common import network_from_experiment
    from bstorm_cli.experiment.build import build_handler
    from bstorm_cli.experiment.network_info import network_summary
    from bstorm_cli.experiment.network_structure import structure_from_experiment
    structure = structure_from_experiment(source, overrides)
    network, experiment = network_from_experiment(source, overrides)
    network.set_handler(build_handler(experiment.resolved['handler'],
                                      experiment.index.locate))
    assert network_summary(structure, 3, 7) == network_summary(network, 3, 7)


def test_info_of_a_huge_experiment_allocates_nothing():
    # 900 million parameters: 7.2 GB of parameters and gradients if the network were
    # built; info must report them within a 2 GiB address space
    import resource

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024 ** 3, 2 * 1024 ** 3))
    completed = subprocess.run(
        [sys.executable, '-m', 'bstorm_cli', 'info', str(ROOT / 'configs' / 'quickstart.yaml'),
         '--set', 'network.spec=F30000 F30000', '--json'],
        cwd=ROOT, capture_output=True, text=True, timeout=120, preexec_fn=limit_memory)
    assert completed.returncode == 0, completed.stderr
    info = json.loads(completed.stdout)
    assert info['parameter_count'] == 64 * 30000 + 30000 + 30000 * 30000 + 30000 + 30000 * 10 + 10
    assert info['memory_bytes']['parameters'] == info['parameter_count'] * 4


def test_info_of_a_run_directory_describes_its_best_network(trained_run):
    run, _ = trained_run
    from_run = json.loads(bstorm('info', run, '--json').stdout)
    from_file = json.loads(bstorm('info', run / 'best.h5', '--json').stdout)
    assert from_run == from_file and from_run['parameter_count'] == 1810
    refused = bstorm('info', run, '--set', 'seed=1')
    assert refused.returncode == 2
    assert '--set applies to experiment files' in refused.stderr


@pytest.mark.parametrize('spec', ['F5 F9 F3', 'Fr7 L4 F2'])
def test_info_memory_is_what_the_buffer_manager_allocates(spec):
    # transient internals (dH, the loss's dx) share one region: counted once
    from brainstorm.tools import create_net_from_spec
    from bstorm_cli.experiment.network_info import memory_bytes
    net = create_net_from_spec('classification', 6, 3, spec)
    net.buffer_manager.resize(7, 5)
    allocated = sum(memory.nbytes for memory in net.buffer_manager._memory.values())
    assert memory_bytes(net, 7, 5)['total'] == allocated


def test_draw_net_writes_dot(trained_run, tmp_path):
    run, _ = trained_run
    output = tmp_path / 'net.dot'
    result = bstorm('draw-net', run / 'best.h5', '-o', output)
    assert result.returncode == 0, result.stderr
    text = output.read_text()
    assert text.startswith('digraph') and '"Hidden"' in text


def test_draw_net_svg_without_graphviz_says_so(tmp_path):
    import os
    import shutil
    env = dict(os.environ, PATH=str(tmp_path))  # no 'dot' on this PATH
    result = subprocess.run([sys.executable, '-m', 'bstorm_cli', 'draw-net', str(TINY), '-o',
                             str(tmp_path / 'net.svg')], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=300)
    if shutil.which('dot', path=str(tmp_path)):
        pytest.skip('dot found')
    assert result.returncode == 2
    assert "needs Graphviz's 'dot' program" in result.stderr
    assert not (tmp_path / 'net.svg').exists()


def test_plot_csv_and_png(trained_run, tmp_path):
    run, _ = trained_run
    csv = tmp_path / 'curves.csv'
    result = bstorm('plot', run, '-o', csv)
    assert result.returncode == 0, result.stderr
    lines = csv.read_text().splitlines()
    header = lines[0].split(',')
    assert header[:2] == ['epoch', 'update']
    assert 'validation.Accuracy' in header and 'rolling_training.total_loss' in header
    # one row per epoch: validation of epoch N beside the training loss of epoch N,
    # and epoch 0 (before training) has a validation value but no training loss
    rows = [dict(zip(header, line.split(','))) for line in lines[1:]]
    assert [row['epoch'] for row in rows] == ['0', '1', '2']
    assert rows[0]['rolling_training.total_loss'] == '' and rows[0]['validation.Accuracy']
    assert all(row['rolling_training.total_loss'] and row['validation.Accuracy']
               for row in rows[1:])
    png = tmp_path / 'curves.png'
    result = bstorm('plot', run, '-o', png)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert result.returncode == 2
        assert 'plotting needs matplotlib' in result.stderr
        assert "pip install '.[plot]'" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert png.read_bytes()[:4] == b'\x89PNG'


def test_plot_of_a_folder_that_is_no_run(tmp_path):
    result = bstorm('plot', tmp_path)
    assert result.returncode == 2
    assert 'no logs.h5 here' in result.stderr


@pytest.mark.parametrize('kind', ['experiment', 'layer', 'hook', 'stepper'])
def test_schema_prints_json(kind):
    result = bstorm('schema', kind)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema['$schema'] == 'https://json-schema.org/draft/2020-12/schema'


def test_schema_unknown_kind():
    result = bstorm('schema', 'layers')
    assert result.returncode == 2
    assert "no schema named 'layers'" in result.stderr
    assert "did you mean 'layer'?" in result.stderr


def test_data_prepare_digits_from_a_csv(tmp_path):
    rng = np.random.RandomState(0)
    rows = [','.join(map(str, list(rng.randint(0, 17, 64)) + [index % 10]))
            for index in range(1797)]
    (tmp_path / 'digits.csv').write_text('\n'.join(rows) + '\n')
    output = tmp_path / 'digits.hdf5'
    result = bstorm('data', 'prepare', 'digits', '--source', tmp_path / 'digits.csv', '-o',
                    output)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(output)
    with h5py.File(output, 'r') as h5file:
        assert h5file['normalized_split/training/default'].shape == (1, 1297, 64)
    again = bstorm('data', 'prepare', 'digits', '--source', tmp_path / 'digits.csv', '-o',
                   output)
    assert again.returncode == 2 and 'exists already' in again.stderr


def test_data_prepare_unknown_dataset_and_option(tmp_path):
    result = bstorm('data', 'prepare', 'mnst', '--source', tmp_path, '-o', tmp_path / 'x.h5')
    assert result.returncode == 2 and "did you mean 'mnist'?" in result.stderr
    result = bstorm('data', 'prepare', 'text', '--source', tmp_path, '-o', tmp_path / 'x.h5',
                    '--option', 'sequence_lenght=5')
    assert result.returncode == 2 and "did you mean 'sequence_length'?" in result.stderr


def test_data_list_names_every_converter():
    from brainstorm.datasets import DATASETS
    result = bstorm('data', 'list')
    assert result.returncode == 0
    for name in DATASETS:
        assert name in result.stdout


@pytest.mark.parametrize('arguments, fragment', [
    (['evaluate', 'no_such.h5', 'builtin:digits'], 'error: no_such.h5: no such file'),
    (['info', 'README.md.h5'], 'error: README.md.h5: no such file'),
    (['evaluate', 'README.md', 'builtin:digits'], 'error: README.md: '),
    (['train'], 'give an EXPERIMENT.yaml to train, or --resume RUN_DIR'),
    (['train', '--resume', 'no_such_run'], 'error: no_such_run: no such run directory'),
    (['train', 'configs/quickstart.yaml', '--resume', 'x'], '--resume continues a run'),
    (['validate', 'no_such.yaml'], 'error: no_such.yaml: no such file'),
    (['validate', 'configs'], 'error: configs: is a directory'),
    (['nonsense'], "No such command 'nonsense'"),
])
def test_bad_usage_and_files_exit_2_with_one_clear_line(arguments, fragment):
    result = bstorm(*arguments)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert 'Traceback' not in result.stderr


def test_corrupt_network_file_is_one_line(tmp_path):
    bad = tmp_path / 'bad.h5'
    bad.write_bytes(b'\x89HDF\r\n\x1a\n' + b'\0' * 100)
    result = bstorm('evaluate', bad, 'builtin:digits')
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {bad}: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback():
    result = bstorm('--debug', 'evaluate', 'no_such.h5', 'builtin:digits')
    assert result.returncode == 2
    assert 'Traceback' in result.stderr


def test_output_is_plain_text_when_not_a_terminal(trained_run):
    _, result = trained_run
    assert '\x1b[' not in result.stdout and '\x1b[' not in result.stderr
