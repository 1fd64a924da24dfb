"""BatchNorm: y = gamma * (x - m) / s + beta, per feature of the last axis.

The last axis holds the features (the channels of an NHWC image); every other
axis counts as samples, so with N = T * B * (product of the other feature axes):

    training pass:  m = mean of x over the N samples,
                    s = sqrt(variance of x over the N samples + epsilon)  (1/N variance)
                    mu    <- decay * mu    + (1 - decay) * m
                    sigma <- decay * sigma + (1 - decay) * s
    other passes:   m = mu, s = sigma   (nothing is updated)

So ``sigma`` is a running *standard deviation* with epsilon already inside the
square root; inference divides by it as it is. Unless a layer pattern of
``net.initialize`` names them, gamma and sigma start at 1 and beta and mu at 0
(the layer's ``parameter_defaults``); mu and sigma get no gradients.

The backward pass differentiates the pass that ran last: after a training pass
the batch statistics depend on x,

    dx = gamma / s * (dy - mean(dy) - x_hat * mean(dy * x_hat)),   x_hat = (x - m) / s,

after another pass dx = gamma / s * dy; always dgamma = sum(dy * x_hat) and
dbeta = sum(dy) over the samples.

Buffers:
    inputs.default       ('T', 'B', ..., C)   any feature shape; C = last axis
    outputs.default      ('T', 'B', ..., C)   the input's shape
    parameters.gamma     (C,)                 scale
    parameters.beta      (C,)                 offset
    parameters.mu        (C,)                 running mean (no gradient)
    parameters.sigma     (C,)                 running standard deviation (no gradient)
    internals.mean       (C,)                 m of the last forward pass
    internals.std        (C,)                 s of the last forward pass
    internals.x_hat      ('T', 'B', ..., C)   (x - m) / s
    internals.dx_hat     ('T', 'B', ..., C)   transient: delta scratch
    internals.delta_sum  (C,)                 transient: sum(dy)
    internals.scaled_sum (C,)                 transient: sum(dy * x_hat)
    internals.scale      (C,)                 transient: gamma / s
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['BatchNorm']


def BatchNorm(name=None, decay=0.9, epsilon=1e-5):
    """Create a batch normalisation layer (Ioffe & Szegedy, 2015).

    Args:
        name (Optional[str]): the layer name.
        decay (float): weight of the old running statistics in each update, in [0, 1].
        epsilon (float): added to the batch variance before the square root, > 0.

    Example:
        >>> conv >> BatchNorm(name='BN1') >> Elementwise('rel') >> out
    """
    return ConstructionWrapper.create('BatchNorm', name=name, decay=decay, epsilon=epsilon)


def _rows(array, features):
    """View (T, B, ..., C) as the (samples, C) matrix."""
    return array.reshape((array.size // features, features))


class BatchNormLayerImpl(Layer):
    expected_inputs = {'default': StructureTemplate('T', 'B', 'F', '...')}
    expected_kwargs = {'decay', 'epsilon'}
    computes_no_gradients_for = ('mu', 'sigma')
    # the identity transform: a random scale or running std would be meaningless
    parameter_defaults = {'gamma': 1.0, 'beta': 0.0, 'mu': 0.0, 'sigma': 1.0}

    def setup(self, kwargs, in_shapes):
        self.decay = float(self.get_kwarg(kwargs, 'decay', 0.9, (int, float)))
        self.epsilon = float(self.get_kwarg(kwargs, 'epsilon', 1e-5, (int, float)))
        if not 0.0 <= self.decay <= 1.0:
            raise LayerValidationError(f"{self._label()}: decay must be in [0, 1], got "
                                       f"{self.decay!r}")
        if not self.epsilon > 0.0:
            raise LayerValidationError(f"{self._label()}: epsilon must be > 0, got "
                                       f"{self.epsilon!r}")
        shape = in_shapes['default'].shape
        self.features = shape[-1]
        # which statistics the last forward pass used; the backward pass follows it
        self.used_batch_statistics = True
        feature = BufferStructure(self.features)
        outputs = OrderedDict(default=BufferStructure(*shape))
        parameters = OrderedDict(gamma=feature, beta=feature, mu=feature, sigma=feature)
        backward_feature = BufferStructure(self.features, is_transient=True)
        internals = OrderedDict(mean=feature, std=feature, x_hat=BufferStructure(*shape),
                                dx_hat=BufferStructure(*shape, is_transient=True),
                                delta_sum=backward_feature, scaled_sum=backward_feature,
                                scale=backward_feature)
        return outputs, parameters, internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        features = self.features
        parameters, internals = buffers.parameters, buffers.internals
        inputs = _rows(buffers.inputs.default, features)
        outputs = _rows(buffers.outputs.default, features)
        x_hat = _rows(internals.x_hat, features)
        mean, std = internals.mean, internals.std
        if training_pass:
            samples = inputs.shape[0]
            handler.sum_t(inputs, 0, mean)
            handler.mult_st(1.0 / samples, mean, mean)
            handler.subtract_mv(inputs, mean.reshape((1, features)), x_hat)
            handler.mult_tt(x_hat, x_hat, outputs)  # outputs hold the squares for a moment
            handler.sum_t(outputs, 0, std)
            handler.mult_st(1.0 / samples, std, std)
            handler.add_st(self.epsilon, std, std)
            handler.sqrt_t(std, std)
            for running, batch in ((parameters.mu, mean), (parameters.sigma, std)):
                handler.mult_st(self.decay, running, running)
                handler.mult_add_st(1.0 - self.decay, batch, running)
        else:
            handler.copy_to(parameters.mu, mean)
            handler.copy_to(parameters.sigma, std)
            handler.subtract_mv(inputs, mean.reshape((1, features)), x_hat)
        self.used_batch_statistics = bool(training_pass)
        handler.divide_mv(x_hat, std.reshape((1, features)), x_hat)
        handler.mult_mv(x_hat, parameters.gamma.reshape((1, features)), outputs)
        handler.add_mv(outputs, parameters.beta.reshape((1, features)), outputs)

    def backward_pass(self, buffers):
        handler = self.handler
        features = self.features
        internals = buffers.internals
        x_hat = _rows(internals.x_hat, features)
        output_deltas = _rows(buffers.output_deltas.default, features)
        input_deltas = _rows(buffers.input_deltas.default, features)
        dx_hat = _rows(internals.dx_hat, features)
        delta_sum, scaled_sum, scale = internals.delta_sum, internals.scaled_sum, \
            internals.scale
        handler.sum_t(output_deltas, 0, delta_sum)
        handler.mult_tt(output_deltas, x_hat, dx_hat)
        handler.sum_t(dx_hat, 0, scaled_sum)
        handler.add_tt(buffers.gradients.gamma, scaled_sum, buffers.gradients.gamma)
        handler.add_tt(buffers.gradients.beta, delta_sum, buffers.gradients.beta)
        if 'default' in self.skipped_input_deltas:
            return
        handler.divide_tt(buffers.parameters.gamma, internals.std, scale)
        if self.used_batch_statistics:
            samples = output_deltas.shape[0]
            handler.mult_st(1.0 / samples, delta_sum, delta_sum)
            handler.mult_st(1.0 / samples, scaled_sum, scaled_sum)
            handler.mult_mv(x_hat, scaled_sum.reshape((1, features)), dx_hat)
            handler.subtract_tt(output_deltas, dx_hat, dx_hat)
            handler.subtract_mv(dx_hat, delta_sum.reshape((1, features)), dx_hat)
            handler.mult_mv(dx_hat, scale.reshape((1, features)), dx_hat)
        else:
            handler.mult_mv(output_deltas, scale.reshape((1, features)), dx_hat)
        handler.add_tt(input_deltas, dx_hat, input_deltas)
