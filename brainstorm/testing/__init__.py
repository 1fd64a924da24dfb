"""The public test kit: check a layer's gradients the way brainstorm's own tests do.

Example:
    >>> from types import SimpleNamespace
    >>> import numpy as np
    >>> from brainstorm.handlers import NumpyHandler
    >>> from brainstorm.testing import assert_layer_gradients
    >>> case = SimpleNamespace(layer_type='MyLayer', kwargs={'size': 3},
    ...                        in_shapes={'default': (4,)})
    >>> assert_layer_gradients(case, NumpyHandler(np.float64))
"""

from brainstorm.testing.gradient_check import assert_layer_gradients, check_layer_gradients
from brainstorm.testing.layer_harness import LAYER_NAME, LayerHarness, build_architecture

__all__ = ['assert_layer_gradients', 'check_layer_gradients', 'LayerHarness',
           'build_architecture', 'LAYER_NAME']
