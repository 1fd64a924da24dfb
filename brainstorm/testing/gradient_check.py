"""Finite-difference checks of a layer's input deltas and parameter gradients.

For a :class:`~brainstorm.testing.layer_harness.LayerHarness` with objective J,
the backward pass gives dJ/dx for every checked input and parameter x. Each is
compared with central differences (J(x + eps e) - J(x - eps e)) / (2 eps):

* per element (e = unit vectors) when x has at most ``max_elements`` entries;
* otherwise along ``directions`` random directions e (as Chainer's
  ``check_backward`` does), comparing with <dJ/dx, e>.

Only meaningful in float64: use ``NumpyHandler(np.float64)`` or a
``DebugHandler`` around it.

Example:
    >>> case = SimpleNamespace(layer_type='FullyConnected', kwargs={'size': 3},
    ...                        in_shapes={'default': (4,)})
    >>> assert_layer_gradients(case, NumpyHandler(np.float64))
"""

import numpy as np

from brainstorm.errors import ValidationError
from brainstorm.testing.layer_harness import LayerHarness


def _close(analytic, numeric, tolerance):
    return abs(analytic - numeric) <= tolerance * max(1.0, abs(analytic), abs(numeric))


def _central_difference(harness, view, flat_direction, epsilon):
    """(J(x + eps d) - J(x - eps d)) / (2 eps), x being ``view``; restores x."""
    handler = harness.handler
    original = handler.get_numpy_copy(view).astype(np.float64)
    direction = flat_direction.reshape(original.shape)
    values = []
    for sign in (1.0, -1.0):
        handler.set_from_numpy(view, (original + sign * epsilon * direction)
                               .astype(handler.dtype))
        harness.forward()
        values.append(harness.objective())
    handler.set_from_numpy(view, original.astype(handler.dtype))
    return (values[0] - values[1]) / (2.0 * epsilon)


def _compare(harness, what, view, analytic, epsilon, tolerance, max_elements, directions,
             rnd):
    """Mismatch messages for one buffer (an empty list when all agree)."""
    label = f"layer {harness.case.id!r} ({harness.case.layer_type}), {what}"
    flat = analytic.reshape(-1)
    failures = []
    if flat.size <= max_elements:
        for position in range(flat.size):
            unit = np.zeros(flat.size)
            unit[position] = 1.0
            numeric = _central_difference(harness, view, unit, epsilon)
            if not _close(flat[position], numeric, tolerance):
                index = np.unravel_index(position, analytic.shape)
                failures.append(f"{label}, index {tuple(int(i) for i in index)}: backward "
                                f"pass gives {flat[position]:.10g}, finite differences "
                                f"{numeric:.10g}")
        return failures
    for number in range(directions):
        direction = rnd.standard_normal(flat.size)
        direction /= np.linalg.norm(direction)
        numeric = _central_difference(harness, view, direction, epsilon)
        expected = float(flat @ direction)
        if not _close(expected, numeric, tolerance):
            worst = np.unravel_index(int(np.argmax(np.abs(flat * direction))), analytic.shape)
            failures.append(f"{label}, random direction {number} ({flat.size} elements, "
                            f"largest term at index {tuple(int(i) for i in worst)}): "
                            f"backward pass gives {expected:.10g}, finite differences "
                            f"{numeric:.10g}")
    return failures


def check_layer_gradients(case, handler, seed=0, epsilon=1e-6, tolerance=None,
                          max_elements=40, directions=3):
    """Compare a layer's input deltas and parameter gradients with finite differences.

    Args:
        case: a LayerCase-like object (see :mod:`brainstorm.testing.layer_harness`);
            its ``tolerance`` attribute (default 1e-5) is used unless given here.
        handler (Handler): a float64 handler.
        seed (int): seeds all random data.
        epsilon (float): step of the central differences.
        tolerance (Optional[float]): relative tolerance, absolute below 1.
        max_elements (int): buffers up to this size are checked element by element,
            larger ones along random directions.
        directions (int): number of random directions for larger buffers.

    Returns:
        list[str]: one message per mismatch, naming layer, buffer, index (or
        direction) and both values; empty when everything agrees.

    Raises:
        ValidationError: if the handler does not compute in float64.
    """
    if np.dtype(handler.dtype) != np.float64:
        raise ValidationError(f"gradient checks need a float64 handler, got {handler!r}")
    if tolerance is None:
        tolerance = getattr(case, 'tolerance', 1e-5)
    harness = LayerHarness(case, handler, seed=seed)
    rnd = np.random.RandomState(seed + 1)
    harness.forward()
    harness.backward()
    analytic = {}
    for name in harness.checked_inputs():
        analytic[('input', name)] = handler.get_numpy_copy(harness.input_delta_view(name))
    for name in harness.checked_parameters():
        analytic[('parameter', name)] = handler.get_numpy_copy(harness.gradient_view(name))
    failures = []
    for (kind, name), values in analytic.items():
        if kind == 'input':
            what, view = f"input deltas of {name!r}", harness.input_view(name)
        else:
            what, view = f"gradient of parameter {name!r}", harness.parameter_view(name)
        failures += _compare(harness, what, view, values.astype(np.float64), epsilon,
                             tolerance, max_elements, directions, rnd)
    return failures


def assert_layer_gradients(case, handler, **options):
    """Like :func:`check_layer_gradients`, but raise AssertionError listing the mismatches."""
    failures = check_layer_gradients(case, handler, **options)
    if failures:
        shown = failures[:10]
        more = f"\n... and {len(failures) - 10} more" if len(failures) > 10 else ""
        raise AssertionError("gradient check failed:\n" + "\n".join(shown) + more)
