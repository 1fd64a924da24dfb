"""A one-layer network for testing a layer: Input -> layer, with random data and deltas.

``LayerHarness(case, handler)`` builds ``Input -> <layer>`` from a case: any
object with the attributes of ``tests/layers/cases.py``'s ``LayerCase``
(``layer_type``, ``kwargs``, ``in_shapes``; optional ``time_steps``,
``batch_size``, ``inits``, ``input_data``, ``context``, ``skip_inputs``,
``training_pass``). The Input layer provides one output per input of the
layer, named like that input, with the case's feature shape.

The harness defines a scalar objective of the layer's outputs,

    J = sum over outputs o of <D_o, y_o>  (+ sum(y_o) for terminal outputs),

with fixed random D_o, so that ``backward()`` (output deltas := D_o, then the
layer's ``backward_pass``) yields dJ/d(input) in the Input layer's output
deltas and dJ/d(parameter) in the layer's gradients. Outputs the layer takes
no deltas from (``takes_no_output_deltas_from``) are left out of J, except
*terminal* ones: those that are not sized by time or batch, such as the loss
of a Loss layer, whose backward pass acts as if their delta were 1.
"""

from collections import OrderedDict
from types import SimpleNamespace

import numpy as np

from brainstorm.errors import ValidationError

#: name of the tested layer in the harness network
LAYER_NAME = 'Tested'

_CASE_DEFAULTS = dict(time_steps=3, batch_size=2, inits={}, input_data={}, context=False,
                      skip_inputs=(), training_pass=True)


def _default_init(shape, rnd):
    return rnd.standard_normal(shape) * 0.5


def _default_data(shape, rnd):
    return rnd.standard_normal(shape)


def _with_defaults(case):
    values = dict(_CASE_DEFAULTS)
    for name in ('layer_type', 'kwargs', 'in_shapes', *_CASE_DEFAULTS):
        if hasattr(case, name):
            values[name] = getattr(case, name)
    missing = [name for name in ('layer_type', 'kwargs', 'in_shapes') if name not in values]
    if missing:
        raise ValidationError(f"layer test case {case!r} lacks attribute {missing[0]!r}")
    values['id'] = getattr(case, 'id', values['layer_type'])
    return SimpleNamespace(**values)


def build_architecture(layer_type, kwargs, in_shapes):
    """The architecture dict (spec 9.3) of ``Input -> layer``.

    Args:
        layer_type (str): registered layer type, e.g. 'FullyConnected'.
        kwargs (dict): the layer's kwargs.
        in_shapes (dict[str, tuple]): input name -> feature shape (no T, B).

    Returns:
        dict: the architecture; the layer is named :data:`LAYER_NAME`
        ('Input' when testing the Input layer itself, with ``kwargs`` as its own).
    """
    if layer_type == 'Input':
        return {'Input': dict({'@type': 'Input', '@outgoing_connections': {}}, **kwargs)}
    connections = {name: [f"{LAYER_NAME}.{name}"] for name in in_shapes}
    return {
        'Input': {'@type': 'Input', 'out_shapes': {name: list(shape) for name, shape
                                                   in in_shapes.items()},
                  '@outgoing_connections': connections},
        LAYER_NAME: dict({'@type': layer_type, '@outgoing_connections': {}}, **kwargs),
    }


class LayerHarness:
    """Runs one layer in a network of its own, with reproducible random everything.

    Args:
        case: a LayerCase-like object (see module docstring).
        handler (Handler): the handler to run on.
        seed (int): seeds data, parameters, context, output deltas and the
            handler's random state (reset before every forward pass, so that
            e.g. dropout draws the same mask each time).

    Attributes:
        net (Network): ``Input -> layer``.
        layer (Layer): the tested layer implementation.
        layer_name (str): its name in ``net``.
        data (dict[str, numpy.ndarray]): the inputs, (T, B, *feature shape).
        context (Optional[dict]): the context given to every forward pass.
        output_deltas (dict[str, numpy.ndarray]): D_o of every output in J.
        terminal_outputs (tuple[str]): outputs entering J with weight 1.
    """

    def __init__(self, case, handler, seed=0):
        from brainstorm.structure.network import Network
        self.case = _with_defaults(case)
        self.handler = handler
        self.seed = seed
        rnd = np.random.RandomState(seed)
        self.net = Network.from_architecture(build_architecture(
            self.case.layer_type, self.case.kwargs, self.case.in_shapes))
        self.net.set_handler(handler)
        self.layer_name = 'Input' if self.case.layer_type == 'Input' else LAYER_NAME
        self.layer = self.net.layers[self.layer_name]
        self.time_steps, self.batch_size = self.case.time_steps, self.case.batch_size
        self.data = OrderedDict()
        for name, structure in self.net.layers['Input'].out_shapes.items():
            shape = structure.get_shape(self.time_steps, self.batch_size)
            make = self.case.input_data.get(name, _default_data)
            self.data[name] = np.asarray(make(shape, rnd), dtype=np.float64)
        self.net.provide_external_data(self.data)
        for name, structure in self.layer.parameter_shapes.items():
            view = self.net.buffer[self.layer_name].parameters[name]
            make = self.case.inits.get(name, _default_init)
            values = np.asarray(make(tuple(view.shape), rnd), dtype=np.float64)
            handler.set_from_numpy(view, values.astype(handler.dtype))
        self.context = self._random_context(rnd) if self.case.context else None
        self.terminal_outputs = tuple(
            name for name in self.layer.takes_no_output_deltas_from
            if self.layer.out_shapes[name].buffer_type == 0)
        self.output_deltas = OrderedDict()
        for name, structure in self.layer.out_shapes.items():
            if name in self.layer.takes_no_output_deltas_from:
                continue
            shape = structure.get_shape(self.time_steps, self.batch_size)
            if structure.context_size:
                shape = (self.time_steps,) + shape[1:]
            self.output_deltas[name] = rnd.standard_normal(shape)

    def _random_context(self, rnd):
        context = OrderedDict()
        for layer_name, field, name, array in self.net.buffer_manager.slots_with_context():
            shape = (array.shape[0] - self.time_steps,) + tuple(array.shape[1:])
            context.setdefault(layer_name, OrderedDict())[f"{field}.{name}"] = \
                rnd.standard_normal(shape)
        return context

    # ---- running ------------------------------------------------------------------------
    def forward(self):
        """Run the network forward (same handler seed, same context every time)."""
        self.handler.set_seed(self.seed)
        self.net.forward_pass(training_pass=self.case.training_pass, context=self.context)

    def output(self, name):
        """A float64 numpy copy of the layer's output ``name``, time steps only."""
        array = self.handler.get_numpy_copy(self.net.buffer[self.layer_name].outputs[name])
        if self.layer.out_shapes[name].context_size:
            array = array[:self.time_steps]
        return array.astype(np.float64)

    def objective(self):
        """J of the current outputs (see module docstring), as a Python float."""
        total = 0.0
        for name, deltas in self.output_deltas.items():
            total += float(np.sum(deltas * self.output(name)))
        for name in self.terminal_outputs:
            total += float(np.sum(self.output(name)))
        return total

    def backward(self):
        """Clear all backward buffers, set the output deltas to D_o, run the layer backward."""
        self.net.buffer_manager.clear_backward_buffers()
        self.set_output_deltas()
        self.layer.backward_pass(self.net.buffer[self.layer_name])

    def set_output_deltas(self):
        """Copy D_o into the layer's output deltas (time steps only; context slots untouched)."""
        handler = self.handler
        views = self.net.buffer[self.layer_name].output_deltas
        for name, deltas in self.output_deltas.items():
            view = views[name][:self.time_steps] if self.layer.out_shapes[name].context_size \
                else views[name]
            handler.set_from_numpy(view, deltas.astype(handler.dtype))

    # ---- what is checked ----------------------------------------------------------------
    def checked_inputs(self):
        """Names of the inputs whose deltas are checked."""
        if self.layer_name == 'Input':
            return []
        skipped = set(self.layer.computes_no_input_deltas_for) | set(self.case.skip_inputs)
        return [name for name in self.layer.in_shapes if name not in skipped]

    def checked_parameters(self):
        """Names of the parameters whose gradients are checked."""
        return [name for name in self.layer.parameter_shapes
                if name not in self.layer.computes_no_gradients_for]

    def input_view(self, name):
        """The live array holding input ``name`` (an output of the Input layer)."""
        return self.net.buffer.Input.outputs[name]

    def input_delta_view(self, name):
        """The live array the layer adds the deltas of input ``name`` into."""
        return self.net.buffer.Input.output_deltas[name]

    def parameter_view(self, name):
        return self.net.buffer[self.layer_name].parameters[name]

    def gradient_view(self, name):
        return self.net.buffer[self.layer_name].gradients[name]
