"""The layer registry against the test cases and the public factories."""

import inspect

import pytest

import brainstorm.layers
from brainstorm.layers.base_layer import registered_layer_types
from brainstorm.structure.construction import ConstructionWrapper
from tests.layers.cases import ALL_CASES

#: minimal arguments for factories whose parameters have no defaults
REQUIRED_ARGUMENTS = {'size': 3, 'factor': 1.0, 'out_shapes': {'default': (2,)},
                      'num_filters': 2, 'kernel_size': (2, 2)}


def test_every_registered_layer_type_has_a_case():
    tested = {case.layer_type for case in ALL_CASES}
    untested = sorted(set(registered_layer_types()) - tested)
    assert not untested, f"layer types without a LayerCase: {untested}"


def test_every_case_names_a_registered_layer_type():
    unknown = sorted({case.layer_type for case in ALL_CASES} - set(registered_layer_types()))
    assert not unknown, f"LayerCases of unknown layer types: {unknown}"


FACTORIES = [name for name in brainstorm.layers.__all__ if name not in brainstorm.layers.HELPERS]


@pytest.mark.parametrize('factory_name', FACTORIES)
def test_every_factory_creates_a_registered_layer_type(factory_name):
    factory = getattr(brainstorm.layers, factory_name)
    arguments = {}
    for name, parameter in inspect.signature(factory).parameters.items():
        if parameter.default is inspect.Parameter.empty:
            assert name in REQUIRED_ARGUMENTS, \
                f"{factory_name}: add a value for required argument {name!r} to this test"
            arguments[name] = REQUIRED_ARGUMENTS[name]
    wrapper = factory(**arguments)
    assert isinstance(wrapper, ConstructionWrapper)
    assert wrapper.layer_type in registered_layer_types()


def test_factory_kwargs_are_accepted_by_their_layer():
    # a factory argument the implementation does not expect would fail at network build time
    for factory_name in FACTORIES:
        factory = getattr(brainstorm.layers, factory_name)
        layer_class = registered_layer_types()[factory(**{
            name: REQUIRED_ARGUMENTS[name]
            for name, parameter in inspect.signature(factory).parameters.items()
            if parameter.default is inspect.Parameter.empty}).layer_type]
        accepted = set(layer_class.expected_kwargs) | {'name'}
        extra = set(inspect.signature(factory).parameters) - accepted
        assert not extra, f"{factory_name} takes {sorted(extra)}, which " \
                          f"{layer_class.__name__} does not accept"
