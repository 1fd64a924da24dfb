"""Layer factories (``FullyConnected(100)``, ``Lstm(50)``, ...), one module each.

Every ``<name>_layer.py`` module in this package defines a factory (listed in
its ``__all__``) and a ``<Name>LayerImpl`` class. They are found and re-exported
here, so adding a layer means adding one file. ``HELPERS`` lists the names that
build several layers at once (``Bidirectional``) rather than one.
"""

import importlib
import pkgutil

__all__ = []


def _import_layer_modules():
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module_info.name.endswith('_layer') or module_info.name == 'base_layer':
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for name in getattr(module, '__all__', ()):
            globals()[name] = getattr(module, name)
            __all__.append(name)


_import_layer_modules()

# helpers that build several layers (not factories of one layer type)
from brainstorm.layers.bidirectional import Bidirectional  # noqa: E402

HELPERS = ('Bidirectional',)
__all__.extend(HELPERS)
