"""Small networks, data and a fake quadratic 'network' shared by the training and hook tests."""

import numpy as np

import brainstorm as bs
from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.layers import FullyConnected

XOR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64).reshape(1, 4, 2)
XOR_TARGETS = np.array([0, 1, 1, 0], dtype=np.float64).reshape(1, 4, 1)


def xor_net(seed=3, handler=None):
    """Input(2) -> FullyConnected(8, tanh) -> FullyConnected(2, linear) -> SoftmaxCE -> Loss."""
    inp, out = bs.tools.get_in_out_layers('classification', 2, 2)
    inp >> FullyConnected(8, activation='tanh', name='Hidden') >> out
    net = bs.Network.from_layer(out)
    net.set_handler(handler if handler is not None else NumpyHandler(np.float64))
    net.initialize(bs.Gaussian(0.5), seed=seed)
    return net


def regression_net(seed=1, in_size=3, out_size=2):
    """Input -> FullyConnected(linear) -> SquaredError -> Loss (float64)."""
    inp, out = bs.tools.get_in_out_layers('regression', in_size, out_size)
    inp >> FullyConnected(4, activation='tanh', name='Hidden') >> out
    net = bs.Network.from_layer(out)
    net.set_handler(NumpyHandler(np.float64))
    net.initialize(bs.Gaussian(0.3), seed=seed)
    return net


def regression_data(nr_samples=24, in_size=3, out_size=2, seed=0):
    rnd = np.random.RandomState(seed)
    inputs = rnd.randn(1, nr_samples, in_size)
    targets = np.tanh(inputs @ rnd.randn(in_size, out_size))
    return inputs, targets


class _Buffers:
    def __init__(self, parameters, gradients):
        self.parameters = parameters
        self.gradients = gradients


class QuadraticNet:
    """Stands in for a Network: loss ``0.5 * sum(curvature * (P - optimum)**2)``.

    ``backward_pass`` writes the gradient ``curvature * (P - optimum)``; or, with
    ``gradient_sequence``, the next of a fixed list of gradients (for comparing
    update rules with a reference).
    """

    def __init__(self, size=6, seed=0, debug=False, gradient_sequence=None):
        rnd = np.random.RandomState(seed)
        base = NumpyHandler(np.float64)
        self.handler = DebugHandler(base) if debug else base
        self.curvature = rnd.uniform(0.5, 2.0, size)
        self.optimum = rnd.randn(size)
        self.start_values = rnd.randn(size)
        self.buffer = _Buffers(self.handler.create_from_numpy(self.start_values.copy()),
                               self.handler.zeros((size,)))
        self.gradient_sequence = gradient_sequence
        self.forward_passes = []
        self.weight_modifier_calls = 0

    def parameters(self):
        return self.handler.get_numpy_copy(self.buffer.parameters)

    def loss(self):
        difference = self.parameters() - self.optimum
        return 0.5 * float(np.sum(self.curvature * difference ** 2))

    def forward_pass(self, training_pass=False, context=None):
        self.forward_passes.append(training_pass)

    def backward_pass(self):
        if self.gradient_sequence is not None:
            gradient = self.gradient_sequence[len(self.forward_passes) - 1]
        else:
            gradient = self.curvature * (self.parameters() - self.optimum)
        self.handler.set_from_numpy(self.buffer.gradients, gradient)

    def apply_weight_modifiers(self):
        self.weight_modifier_calls += 1
