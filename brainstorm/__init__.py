"""brainstorm: fast, flexible and fun neural networks.

The names of the spec's top level: ``bs.Network``, ``bs.Trainer``,
``bs.global_rnd``, the initializers (``bs.Gaussian``), the data iterators
(``bs.Minibatches``) and the sub-packages ``bs.layers``, ``bs.tools``,
``bs.hooks``, ``bs.training``, ``bs.scorers``, ``bs.handlers``, ... .
Sub-packages are imported on first use, so ``import brainstorm`` stays quick
and never touches a GPU.
"""

import importlib

from brainstorm.describable import create_from_description, get_description
from brainstorm.randomness import global_rnd
from brainstorm.structure import Network, generate_architecture
from brainstorm.initializers import *  # noqa: F401,F403  (spec: bs.Gaussian, ...)
from brainstorm.initializers import __all__ as _initializer_names
from brainstorm.data_iterators import *  # noqa: F401,F403  (spec: bs.Minibatches, ...)
from brainstorm.data_iterators import __all__ as _iterator_names

__version__ = '0.5.1'

_SUBMODULES = ('data_iterators', 'describable', 'handlers', 'hooks', 'initializers', 'layers',
               'randomness', 'scorers', 'structure', 'tools', 'training', 'utils',
               'value_modifiers', 'errors', 'testing', 'datasets', 'optional')
_LAZY_NAMES = {'Trainer': ('brainstorm.training.trainer', 'Trainer')}

__all__ = (['Network', 'Trainer', 'global_rnd', 'generate_architecture', 'get_description',
            'create_from_description'] + list(_initializer_names) + list(_iterator_names) +
           list(_SUBMODULES))


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"brainstorm.{name}")
    if name in _LAZY_NAMES:
        module_name, attribute = _LAZY_NAMES[name]
        return getattr(importlib.import_module(module_name), attribute)
    raise AttributeError(f"module 'brainstorm' has no attribute {name!r}")
