"""A small builder of ONNX graphs: unique names, float32 constants, nodes, subgraphs.

Used by the layer converters in :mod:`brainstorm.export._onnx_layers`; imports onnx,
so it is imported only when exporting.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class GraphBuilder:
    """Collects the nodes and initializers of one ONNX graph.

    Args:
        prefix (str): prepended to generated names (subgraphs get their own, so a
            body's names never shadow the outer graph's).
    """

    def __init__(self, prefix=''):
        self.prefix = prefix
        self.nodes = []
        self.initializers = []
        self._count = 0

    def name(self, hint):
        """A fresh tensor name based on ``hint``."""
        self._count += 1
        return f"{self.prefix}{hint}_{self._count}"

    def constant(self, hint, value, dtype=np.float32):
        """An initializer holding ``value`` (float32 unless ``dtype``); returns its name."""
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def int64(self, hint, values):
        return self.constant(hint, np.asarray(values, dtype=np.int64), dtype=np.int64)

    def node(self, op_type, inputs, hint=None, outputs=1, **attributes):
        """Add a node; return its output name (or the list of ``outputs`` names)."""
        if isinstance(outputs, int):
            names = [self.name(hint or op_type) for _ in range(outputs)]
        else:
            names = list(outputs)
        self.nodes.append(helper.make_node(op_type, list(inputs), names,
                                           name=self.name(f"{op_type}_node"), **attributes))
        return names[0] if len(names) == 1 else names

    def activation(self, name, x):
        """The node of brainstorm activation ``name`` ('linear', 'rel', ...) applied to x."""
        if name == 'linear':
            return x
        if name == 'el':  # y = x for x > 0, exp(x) - 1 otherwise: Elu with alpha 1
            return self.node('Elu', [x], alpha=1.0)
        op_type = {'rel': 'Relu', 'sigmoid': 'Sigmoid', 'tanh': 'Tanh'}[name]
        return self.node(op_type, [x])

    def time_batch_shape(self, like, feature_shape):
        """A shape tensor ``(T, B) + feature_shape``, T and B read from tensor ``like``."""
        time_batch = self.node('Shape', [like], start=0, end=2)
        features = self.int64('features', list(feature_shape))
        return self.node('Concat', [time_batch, features], axis=0)


def value_info(name, shape):
    """A float32 tensor type with named dimensions ('T', 'B') and fixed feature sizes."""
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def graph(builder, name, inputs, outputs):
    return helper.make_graph(builder.nodes, name, inputs, outputs,
                             initializer=builder.initializers)


__all__ = ['GraphBuilder', 'value_info', 'graph', 'onnx']
