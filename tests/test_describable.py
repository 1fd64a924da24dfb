"""Descriptions of whole networks and of user classes that share a built-in's name."""

import json

import numpy as np
import pytest

import brainstorm as bs
from brainstorm.describable import (create_from_description, get_description, resolve_type,
                                    type_name_of)
from brainstorm.errors import DescriptionError
from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.initializers import Gaussian, Uniform
from brainstorm.layers import FullyConnected, Input, Loss, SoftmaxCE
from brainstorm.scorers import Accuracy as BuiltInAccuracy, Scorer
from brainstorm.value_modifiers import ClipValues, ConstrainL2Norm


def small_net():
    inputs = Input(out_shapes={'default': ('T', 'B', 3), 'targets': ('T', 'B', 1)})
    out = inputs >> FullyConnected(4, name='Hid') >> FullyConnected(2, name='Proj') >> \
        SoftmaxCE(name='Output')
    inputs - 'targets' >> 'targets' - out
    out - 'loss' >> Loss()
    return bs.Network.from_layer(out)


def test_a_whole_network_round_trips_through_its_description():
    net = small_net()
    net.set_handler(DebugHandler(NumpyHandler(np.float64)))
    net.initialize({'Hid': Gaussian(0.5), 'default': Uniform(0.1)}, seed=3)
    net.set_weight_modifiers(Hid=ClipValues(-1, 1))
    net.set_gradient_modifiers(Proj={'W': ConstrainL2Norm(2.0)})
    net.output_name = 'Output.outputs.probabilities'
    description = get_description(net)
    assert description['@type'] == 'Network'
    copy = create_from_description(json.loads(json.dumps(description)))
    assert isinstance(copy, bs.Network) and copy is not net
    assert copy.architecture == net.architecture
    assert type(copy.handler) is DebugHandler and copy.handler.dtype == np.float64
    assert copy.output_name == 'Output.outputs.probabilities'
    assert get_description(copy) == description
    assert type(copy.weight_modifiers['Hid']['W'][0]).__name__ == 'ClipValues'


def test_a_network_description_without_an_architecture_is_a_clear_error():
    with pytest.raises(DescriptionError, match="needs its 'architecture'"):
        create_from_description({'@type': 'Network'})


def test_a_users_class_may_share_the_name_of_a_built_in_one():
    class Accuracy(Scorer):        # a user's own Accuracy, defined in another module
        def __call__(self, true_labels, predicted, mask=None):
            return 0.0

    Accuracy.__module__ = 'my_scorers'
    assert type_name_of(BuiltInAccuracy) == 'Accuracy'
    assert type_name_of(Accuracy) == 'my_scorers.test_a_users_class_may_share_the_name_of_a_' \
                                     'built_in_one.<locals>.Accuracy'
    mine = create_from_description(get_description(Accuracy(name='mine')))
    assert type(mine) is Accuracy and mine.name == 'mine'
    # a plain name is brainstorm's own class
    assert type(create_from_description({'@type': 'Accuracy'})) is BuiltInAccuracy
    assert type(create_from_description(get_description(BuiltInAccuracy()))) is BuiltInAccuracy


def test_a_plain_name_shared_by_user_classes_only_is_an_error_that_names_them():
    first = type('Twice', (Scorer,), {'__module__': 'one'})
    second = type('Twice', (Scorer,), {'__module__': 'two'})
    with pytest.raises(DescriptionError, match=r"'Twice' is ambiguous: it names one.Twice, "
                                               r"two.Twice"):
        resolve_type('Twice')
    assert resolve_type('one.Twice') is first and resolve_type('two.Twice') is second
    with pytest.raises(DescriptionError, match="unknown @type 'three.Twice'"):
        resolve_type('three.Twice')
