"""Converter options in `data prepare NAME --help`, converter errors in CLI terms, parameter
counts in draw-net, extract's help example, evaluate on a run directory, split typos."""

import json
import pathlib
import re

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / 'configs' / 'quickstart.yaml'


def test_prepare_help_lists_the_converters_options(bstorm):
    result = bstorm('data', 'prepare', 'mnist', '--help')
    assert result.exit_code == 0
    assert 'The mnist converter:' in result.stdout
    for option in ('flatten=true', 'normalization=scale', 'validation_size=10000',
                   'verify_checksums=true'):
        assert f"    {option}  " in result.stdout
    assert '--source  folder holding train-images-idx3-ubyte' in result.stdout
    assert 'It has no options.' in bstorm('data', 'prepare', 'digits', '--help').stdout
    assert 'The mnist converter' not in bstorm('data', 'prepare', '--help').stdout


def test_converter_errors_name_the_cli_flags(bstorm, tmp_path):
    from brainstorm.datasets import prepare_fashion_mnist
    from bstorm_cli.converter_options import cli_terms
    (tmp_path / 'digits.csv').write_text('\n'.join(
        ','.join(['1'] * 64 + [str(index % 10)]) for index in range(1797)) + '\n')
    output = tmp_path / 'digits.h5'
    arguments = ('data', 'prepare', 'digits', '--source', tmp_path / 'digits.csv', '-o', output)
    assert bstorm(*arguments).exit_code == 0
    again = bstorm(*arguments)
    assert again.exit_code == 2
    assert 'pass --overwrite' in again.stderr and 'overwrite=True' not in again.stderr
    assert cli_terms("x.gz: md5 1 differs from the published 2; re-packed copies can be "
                     "converted with verify_checksums=False)", prepare_fashion_mnist) == \
        ("x.gz: md5 1 differs from the published 2; re-packed copies can be converted with "
         "--option verify_checksums=false)")


def test_draw_net_boxes_show_parameter_counts(bstorm, tmp_path):
    from bstorm_cli.commands._common import load_any_network
    result = bstorm('draw-net', QUICKSTART, '-o', tmp_path / 'net.dot')
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / 'net.dot').read_text()
    network, _ = load_any_network(QUICKSTART)
    for name, layer in network.layers.items():
        count = sum(int(np.prod(structure.feature_shape))
                    for structure in layer.parameter_shapes.values())
        label = re.search(rf'"{name}" \[label="([^"]*)"\]', text).group(1)
        assert (f"{count:,} parameters" in label) == (count > 0), label
    assert '6,500 parameters' in text


def test_extract_help_names_buffers_the_quickstart_network_has(bstorm):
    from bstorm_cli.commands._common import load_any_network
    from bstorm_cli.experiment import checks
    help_text = bstorm('extract', '--help').stdout
    buffers = re.findall(r'--buffer (\S+)', help_text.split('Example')[1])
    assert len(buffers) == 2
    network, _ = load_any_network(QUICKSTART)
    for path in buffers:
        assert checks.buffer_exists(network, path), path


def test_evaluate_a_run_directory_uses_its_best_network(bstorm, tmp_path):
    result = bstorm('train', QUICKSTART, '--out', tmp_path, '--quiet', '--set',
                    'trainer.hooks[1].max_epochs=1')
    assert result.exit_code == 0, result.stderr
    (run,) = tmp_path.iterdir()
    by_folder = bstorm('evaluate', run, 'builtin:digits', '--json')
    by_file = bstorm('evaluate', run / 'best.h5', 'builtin:digits', '--json')
    assert by_folder.exit_code == 0, by_folder.stderr
    assert json.loads(by_folder.stdout)['results'] == json.loads(by_file.stdout)['results']
    not_a_run = bstorm('evaluate', tmp_path, 'builtin:digits')
    assert not_a_run.exit_code == 2
    assert 'not a run directory' in not_a_run.stderr and str(run) in not_a_run.stderr
    typo = bstorm('evaluate', run, 'builtin:digits', '--split', 'tset', '--group',
                  'normalized_split')
    assert typo.exit_code == 2
    assert ("no split 'tset' in the file under 'normalized_split' (splits: "
            "normalized_split/test, normalized_split/training, normalized_split/validation)"
            in typo.stderr)
    assert "did you mean 'test'?" in typo.stderr
