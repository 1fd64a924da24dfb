"""The schemas agree with the engine: every component class has a schema, every schema a
class, and each schema's arguments, required arguments and defaults are the constructor's."""

import inspect
import json

import pytest
from jsonschema import Draft202012Validator

from bstorm_cli.experiment import components, schemas


def _definitions(kind):
    return schemas.load_schema(kind).get('$defs', {})


def _component_cases():
    return [(kind, name) for kind in components.KINDS
            for name in sorted(set(components.component_classes(kind)) | set(_definitions(kind)))]


@pytest.mark.parametrize('name', schemas.schema_names())
def test_every_schema_is_a_valid_draft_2020_12_schema(name):
    schema = schemas.load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema['$schema'] == 'https://json-schema.org/draft/2020-12/schema'


def test_there_is_one_schema_per_kind_and_the_experiment_schema():
    assert set(schemas.schema_names()) == {'experiment', *components.KINDS}


@pytest.mark.parametrize('kind', components.KINDS)
def test_every_class_has_a_schema_and_every_schema_a_class(kind):
    classes = set(components.component_classes(kind))
    defined = set(_definitions(kind))
    assert classes - defined == set(), (
        f"{kind} classes without a schema; run `python -m bstorm_cli.experiment."
        f"schema_skeleton {kind}` and refine the result")
    assert defined - classes == set(), f"{kind} schemas without a class"


@pytest.mark.parametrize('kind', components.KINDS)
def test_type_is_chosen_by_an_if_then_chain_over_all_definitions(kind):
    schema = schemas.load_schema(kind)
    names = sorted(schema['$defs'])
    type_schema = schema['properties']['type']
    if kind != 'handler':  # the other kinds also take MODULE:NAME (user_components.py)
        assert type_schema['then'] == {'$ref': 'experiment.schema.json#/$defs/import_path'}
        type_schema = type_schema['else']
    assert type_schema['enum'] == names
    chain = [(part['if']['properties']['type']['const'], part['then']['$ref'])
             for part in schema.get('allOf', [])]
    assert chain == [(name, f"#/$defs/{name}") for name in names]
    assert 'oneOf' not in json.dumps(schema) and 'anyOf' not in json.dumps(schema)


@pytest.mark.parametrize('kind, name', _component_cases(),
                         ids=[f"{kind}-{name}" for kind, name in _component_cases()])
def test_schema_arguments_and_defaults_equal_the_constructor(kind, name):
    if name not in components.component_classes(kind) or name not in _definitions(kind):
        pytest.skip('covered by test_every_class_has_a_schema_and_every_schema_a_class')
    definition = _definitions(kind)[name]
    parameters = components.constructor_parameters(kind, name)
    properties = {key: value for key, value in definition['properties'].items()
                  if key not in components.STRUCTURAL_KEYS.get(kind, {'type'})}
    properties.pop('type', None)
    expected_keys = {components.file_key(parameter.name) for parameter in parameters}
    assert set(properties) == expected_keys
    required = {components.file_key(parameter.name) for parameter in parameters
                if parameter.default is inspect.Parameter.empty}
    assert set(definition['required']) == required | {'type'}
    for parameter in parameters:
        key = components.file_key(parameter.name)
        if parameter.default is inspect.Parameter.empty:
            assert 'default' not in properties[key], key
        else:
            assert properties[key]['default'] == components.default_as_json(
                parameter.default), key
    assert definition['additionalProperties'] is False
    assert definition['properties']['type'] == {'const': name}


@pytest.mark.parametrize('kind, name', _component_cases(),
                         ids=[f"{kind}-{name}" for kind, name in _component_cases()])
def test_schema_defaults_pass_their_own_schema(kind, name):
    definition = _definitions(kind).get(name)
    if definition is None:
        pytest.skip('no schema')
    for key, schema in definition['properties'].items():
        if 'default' in schema and '$ref' not in schema:
            validator = Draft202012Validator(schema)
            assert validator.is_valid(schema['default']), (key, schema['default'])


def test_unknown_type_names_the_kind_and_suggests_the_closest():
    from bstorm_cli.experiment.yaml_loader import load_yaml
    data, index = load_yaml("type: FullyConected\nsize: 3\n", 'layer.yaml')
    problems = schemas.validate_document(data, index, 'layer')
    assert [problem.lines() for problem in problems] == [[
        "error: layer.yaml:1:7: type: unknown layer type 'FullyConected'",
        "hint: did you mean 'FullyConnected'?"]]


def test_defaults_are_filled_into_nested_components():
    from bstorm_cli.experiment.yaml_loader import load_yaml
    data, _ = load_yaml("type: DebugHandler\nhandler: {type: NumpyHandler}\n")
    assert schemas.fill_defaults(data, 'handler') == {
        'type': 'DebugHandler', 'handler': {'type': 'NumpyHandler', 'dtype': 'float32',
                                            'seed': None}}


def test_schemas_ship_inside_the_package():
    """bstorm_cli/schemas links to the top-level schemas/ folder, so both `pip install .`
    (which copies the files into the wheel) and `pip install -e .` find them."""
    import pathlib

    import bstorm_cli
    package_folder = pathlib.Path(bstorm_cli.__file__).resolve().parent
    link = pathlib.Path(bstorm_cli.__file__).parent / 'schemas'
    assert link.is_dir()
    assert schemas.SCHEMA_FOLDER == package_folder / 'schemas'
    root = package_folder.parent / 'schemas'
    if root.is_dir():  # a source checkout: the link points at the top-level folder
        assert sorted(p.name for p in root.glob('*.json')) == sorted(
            p.name for p in link.glob('*.json'))
    assert len(list(link.glob('*.schema.json'))) == len(components.KINDS) + 1
