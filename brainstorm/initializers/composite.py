"""Initializers built from other initializers: LSTM gate blocks and sparse connectivity."""

import math

import numpy as np

from brainstorm.errors import InitializationError
from brainstorm.initializers.base import (Initializer, _check_connections, _inputs_by_units,
                                          _normalize_shape, _shape_error,
                                          evaluate_initializer)


class LstmOptInit(Initializer):
    """Initialize the four concatenated gate blocks of an LSTM weight separately.

    Layout: the last axis (the units axis of ``(in_size, 4*size)`` weights and
    of ``(4*size,)`` biases) holds the blocks in the order Z (input block),
    I (input gate), F (forget gate), O (output gate), ``size`` entries each.

    Args:
        input_block: number, array-like or Initializer for block Z. Defaults to 4.0.
        input_gate: the same for I. Defaults to 3.0.
        forget_gate: the same for F. Defaults to 2.0.
        output_gate: the same for O. Defaults to 1.0.
    """

    def __init__(self, input_block=4.0, input_gate=3.0, forget_gate=2.0, output_gate=1.0):
        super().__init__()
        self.input_block = input_block
        self.input_gate = input_gate
        self.forget_gate = forget_gate
        self.output_gate = output_gate

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        if len(shape) < 1 or shape[-1] % 4 != 0 or shape[-1] == 0:
            raise _shape_error(self, shape,
                               "a last axis of 4 * size entries (blocks Z, I, F, O)")
        size = shape[-1] // 4
        block_shape = shape[:-1] + (size,)
        result = np.empty(shape)
        blocks = (self.input_block, self.input_gate, self.forget_gate, self.output_gate)
        for index, block in enumerate(blocks):
            # Draw a seed per block whatever the block is, so results only depend on rnd.
            seed = self.rnd.generate_seed()
            result[..., index * size:(index + 1) * size] = evaluate_initializer(
                block, block_shape, seed=seed)
        return result


class _SparseMixin:
    """Shared code of SparseInputs and SparseOutputs.

    Not an Initializer itself, so that it is not registered as a Describable type.
    """

    def __init__(self, sub_initializer, connections=15):
        super().__init__()
        self.sub_initializer = sub_initializer
        self.connections = connections
        _check_connections(self)

    def _mask(self, fan_in, num_units):
        """Return a boolean ``(fan_in, num_units)`` matrix of the kept connections."""
        raise NotImplementedError

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        _check_connections(self)
        if len(shape) < 2 or math.prod(shape) == 0:
            raise _shape_error(self, shape, "a non-empty weight with at least 2 axes "
                                            "(in_size, size) or (num_filters, kh, kw, in)")
        seed = self.rnd.generate_seed()
        values = np.ascontiguousarray(
            evaluate_initializer(self.sub_initializer, shape, seed=seed))
        matrix = _inputs_by_units(values)
        matrix *= self._mask(*matrix.shape)
        return values


def _random_subsets(rnd, num_candidates, num_sets, size):
    """Return ``(size, num_sets)`` indices: for each set, ``size`` distinct values
    out of ``range(num_candidates)``, uniformly at random."""
    return rnd.random_sample((num_candidates, num_sets)).argsort(axis=0)[:size]


class SparseInputs(_SparseMixin, Initializer):
    """Every unit keeps ``connections`` randomly chosen incoming weights; the rest are 0.

    The kept weights take the values of ``sub_initializer`` (evaluated on the
    full shape). Units are the columns of ``(in_size, size)`` weights and the
    filters of convolution weights.

    Args:
        sub_initializer: number, array-like or Initializer for the kept weights.
        connections (int): incoming connections per unit; at most the fan-in.
            Defaults to 15.

    Example:
        >>> net.initialize(FullyConnected=SparseInputs(Gaussian(), connections=10))
    """

    def _mask(self, fan_in, num_units):
        if self.connections > fan_in:
            raise InitializationError(
                f"SparseInputs: {self.connections} connections per unit, but the "
                f"weight has only {fan_in} inputs")
        mask = np.zeros((fan_in, num_units))
        chosen = _random_subsets(self.rnd, fan_in, num_units, self.connections)
        mask[chosen, np.arange(num_units)] = 1.0
        return mask


class SparseOutputs(_SparseMixin, Initializer):
    """Every input feeds ``connections`` randomly chosen units; the other weights are 0.

    The kept weights take the values of ``sub_initializer`` (evaluated on the
    full shape). Inputs are the rows of ``(in_size, size)`` weights.

    Args:
        sub_initializer: number, array-like or Initializer for the kept weights.
        connections (int): outgoing connections per input; at most the number
            of units. Defaults to 15.
    """

    def _mask(self, fan_in, num_units):
        if self.connections > num_units:
            raise InitializationError(
                f"SparseOutputs: {self.connections} connections per input, but the "
                f"weight has only {num_units} units")
        mask = np.zeros((fan_in, num_units))
        chosen = _random_subsets(self.rnd, num_units, fan_in, self.connections)
        mask[np.arange(fan_in), chosen] = 1.0
        return mask
