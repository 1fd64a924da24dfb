"""--set key.path=value: same YAML parsing, same error quality, located at the argument."""

import pathlib

import pytest

from bstorm_cli.errors import BadInputError
from bstorm_cli.experiment.overrides import apply_overrides, parse_path

EXPERIMENTS = pathlib.Path(__file__).resolve().parent / 'experiments'
TINY = EXPERIMENTS / 'valid' / 'tiny.yaml'


@pytest.mark.parametrize('text, path', [
    ('seed', ('seed',)),
    ('trainer.stepper.learning_rate', ('trainer', 'stepper', 'learning_rate')),
    ('trainer.hooks[1].max_epochs', ('trainer', 'hooks', 1, 'max_epochs')),
    ('trainer.hooks.1.max_epochs', ('trainer', 'hooks', 1, 'max_epochs')),
    ('initializers.Conv*.W', ('initializers', 'Conv*', 'W')),
])
def test_paths(text, path):
    assert parse_path(text, 'x') == path


@pytest.mark.parametrize('argument, value', [
    ('a=1e-3', 0.001), ('a=yes', 'yes'), ('a=[1, 2]', [1, 2]), ('a={type: Adam}',
                                                                 {'type': 'Adam'}),
    ('a=017', 17), ('a=', None), ('a=true', True), ("a='1e-3'", '1e-3'),
])
def test_values_are_read_as_experiment_yaml(argument, value):
    document = {}
    apply_overrides(document, [argument])
    assert document == {'a': value}


def test_overrides_change_lists_and_nested_mappings():
    document = {'trainer': {'hooks': [{'type': 'A'}, {'type': 'B', 'max_epochs': 3}]}}
    apply_overrides(document, ['trainer.hooks[1].max_epochs=5', 'trainer.new.key=1'])
    assert document == {'trainer': {'hooks': [{'type': 'A'}, {'type': 'B', 'max_epochs': 5}],
                                    'new': {'key': 1}}}


@pytest.mark.parametrize('argument, message', [
    ('seed', "expected KEY.PATH=VALUE, got 'seed'"),
    ('.seed=1', 'invalid key path'),
    ('trainer.hooks[7].max_epochs=1', 'index 7 is out of range: trainer.hooks has 2 items'),
    ('seed.x=1', "seed is the number 3, so it has no key 'x'"),
    ('trainer.hooks.type=1', "trainer.hooks is a list; expected an index like [0], got 'type'"),
    ('seed=[1, 2', 'invalid YAML'),
])
def test_malformed_overrides(bstorm, argument, message):
    result = bstorm('validate', TINY, '--set', argument)
    assert result.exit_code == 2
    assert result.error_lines[0].startswith(f"error: --set {argument}")
    assert message in result.stderr


@pytest.mark.parametrize('argument, message, hint', [
    ('trainer.stepper.learning_rat=0.1',
     "error: --set trainer.stepper.learning_rat=0.1: trainer.stepper.learning_rat: unknown key "
     "'learning_rat' for MomentumStepper", "hint: did you mean 'learning_rate'?"),
    ("trainer.stepper.learning_rate='1e-3'",
     "trainer.stepper.learning_rate: expected a number, got the string '1e-3'",
     'hint: write the number without quotes: 1e-3'),
    ('trainer.stepper={type: Adam}', "trainer.stepper.type: unknown stepper type 'Adam'",
     "hint: did you mean 'AdamStepper'?"),
    ('seeed=4', "seeed: unknown key 'seeed' for bstorm experiment", "did you mean 'seed'?"),
    ('data.iterators.training.chain[0].shuffle=no',
     "shuffle: expected true or false, got the string 'no'", 'write true or false'),
    ('trainer.hooks[0].iter_name=valid', "unknown iterator 'valid'",
     "did you mean 'validation'?"),
])
def test_overrides_are_validated_like_the_file(bstorm, argument, message, hint):
    result = bstorm('validate', TINY, '--set', argument)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert hint in result.stderr
    assert f"--set {argument}" in result.error_lines[0]


def test_a_good_override_passes(bstorm):
    result = bstorm('validate', TINY, '--set', 'trainer.stepper={type: AdamStepper}',
                    '--set', 'trainer.hooks[1].max_epochs=1')
    assert result.exit_code == 0, result.stderr


def test_all_problems_at_once_sorted_and_limited(bstorm, tmp_path):
    lines = ['data:', '  file: builtin:digits', '  iterators:', '    training:',
             '      chain: [{type: Minibatches}]', 'network: {spec: F4}', 'trainer:',
             '  stepper: {type: SgdStepper}', '  hooks:']
    lines += [f"    - {{type: StopAfterEpoch, max_epoch: {n}}}" for n in range(25)]
    path = tmp_path / 'many.yaml'
    path.write_text('\n'.join(lines) + '\n')
    result = bstorm('validate', path)
    assert result.exit_code == 2
    errors = [line for line in result.error_lines if 'more problem' not in line]
    assert len(errors) == 20  # each hook: a missing max_epochs and an unknown max_epoch
    positions = [tuple(int(part) for part in line[len(f"error: {path}:"):].split(':')[:2])
                 for line in errors]
    assert positions == sorted(positions)
    assert result.error_lines[-1] == 'error: 30 more problems; use --verbose to see all'
    verbose = bstorm('validate', path, '--verbose')
    assert len([line for line in verbose.error_lines if 'unknown key' in line]) == 25


def test_apply_overrides_raises_bad_input_errors():
    with pytest.raises(BadInputError):
        apply_overrides({'a': 1}, ['a.b=2'])


def test_errors_about_an_option_name_the_option_not_a_set():
    from bstorm_cli.experiment.document import load_experiment
    from bstorm_cli.experiment.overrides import OptionOverride
    with pytest.raises(BadInputError) as caught:
        load_experiment(TINY, [OptionOverride('handler={type: NoSuchHandler}',
                                              '--handler gpu')])
    assert str(caught.value.location).startswith('--handler gpu')
    assert '--set' not in str(caught.value.location)
