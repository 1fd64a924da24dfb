"""Max- and average pooling on NHWC image batches in numpy (NumpyHandler's pool ops).

Layouts and the ``scratch`` convention are those of :mod:`brainstorm.handlers._conv_numpy`
(shared helpers in ``_image_numpy``); ``scratch`` also takes a dtype here
(``scratch(key, shape, dtype=None)``, for bool masks and small integer codes). Each
op works on chunks of images (``POOL_CHUNK_BYTES`` of outputs) and loops only over
chunks and window offsets (e.g. 9 for a 3x3 window), never over images, pixels or
channels.

Conventions chosen here:

* ``argmax`` of max-pooling holds, per output element, the flat offset of the chosen
  element *within its window*, ``i * window_width + j`` (stored as a float of the
  handler's dtype). Ties pick the first offset in that row-major order.
* Average pooling does *not* count padding (brainstorm 0.5's rule): every output is
  its window's sum divided by the number of window positions inside the image; a
  window entirely in the padding gives 0.
* A max-pooling window entirely in the padding outputs 0 (brainstorm 0.5), with
  argmax 0, a padded position, so no delta flows back from it.
* Forward ops overwrite ``outputs`` (and ``argmax``, unless it is None: then the
  argmax pass is skipped); backward ops add into ``in_deltas``.
"""

import functools

import numpy as np

from brainstorm.handlers._image_numpy import (
    _bordered_scratch, _check_shape, _chunks, _image_geometry, _rows)

__all__ = [
    'maxpool2d_forward_batch',
    'maxpool2d_backward_batch',
    'avgpool2d_forward_batch',
    'avgpool2d_backward_batch',
]


#: Target size in bytes of one chunk's pooled outputs: the passes over a chunk's
#: window views then hit cache (3x3/2 max-pooling of the cifar10 network's first
#: layer: forward 10.5 -> 6.3 ms, backward 8.6 -> 6.8 ms, one thread, chunks of
#: ~20-40 images against the whole batch at once).
POOL_CHUNK_BYTES = 2 ** 20


def _offset_view(image, i, j, out_height, out_width, stride):
    """The (N, out_h, out_w, C) view of ``image`` seen by kernel offset (i, j)."""
    return image[:,
                 i:i + stride[0] * (out_height - 1) + 1:stride[0],
                 j:j + stride[1] * (out_width - 1) + 1:stride[1]]


def _check_pool(op_name, inputs, window, outputs, padding, stride):
    """Check shapes; return (chunk, out_height, out_width), chunk in images."""
    n, height, width, channels, out_height, out_width = _image_geometry(
        op_name, inputs, window, padding, stride)
    _check_shape(op_name, 'outputs', outputs, (n, out_height, out_width, channels))
    image_bytes = out_height * out_width * channels * outputs.itemsize
    chunk = max(1, min(n, POOL_CHUNK_BYTES // max(1, image_bytes)))
    return chunk, out_height, out_width


class _Sources:
    """Chunks of the pooling input: ``inputs`` itself when unpadded, else copies into a
    chunk-sized scratch whose ``fill_value`` border is set once per call."""

    def __init__(self, inputs, padding, fill_value, chunk, scratch, key):
        _, height, width, channels = inputs.shape
        self.inputs, self.padding = inputs, padding
        if padding > 0:
            self.padded = _bordered_scratch(
                scratch, key, (chunk, height + 2 * padding, width + 2 * padding, channels),
                padding, padding, height, width, fill_value)

    def __call__(self, start, stop):
        if self.padding == 0:
            return self.inputs[start:stop]
        _, height, width, _ = self.inputs.shape
        padding = self.padding
        source = _rows(self.padded, stop - start)
        np.copyto(source[:, padding:padding + height, padding:padding + width],
                  self.inputs[start:stop])
        return source


class _DeltaTargets:
    """Where pooling backward adds a chunk: ``in_deltas[start:stop]`` itself, or (with
    padding) a zeroed padded scratch chunk whose interior :meth:`finish` adds into it."""

    def __init__(self, in_deltas, padding, chunk, scratch, key):
        _, height, width, channels = in_deltas.shape
        self.in_deltas, self.padding = in_deltas, padding
        if padding > 0:
            self.padded = scratch(key, (chunk, height + 2 * padding, width + 2 * padding,
                                        channels))

    def __call__(self, start, stop):
        if self.padding == 0:
            return self.in_deltas[start:stop]
        target = _rows(self.padded, stop - start)
        target.fill(0.0)
        return target

    def finish(self, start, stop, target):
        if self.padding == 0:
            return
        _, height, width, _ = self.in_deltas.shape
        padding, chunk_deltas = self.padding, self.in_deltas[start:stop]
        np.add(chunk_deltas, target[:, padding:padding + height, padding:padding + width],
               out=chunk_deltas)


def _kernel_geometry(inputs, window, padding, stride, out_height, out_width):
    """The 11 sizes a ``_pool_kernels_c`` function takes before its arrays."""
    return (*inputs.shape, out_height, out_width, *window, *stride, padding)


def maxpool2d_forward_batch(inputs, window, outputs, padding, stride, argmax, *, scratch,
                            kernels=None):
    """Max-pooling of NHWC images; overwrites outputs and argmax (unless None).

    The input is padded with ``-inf``. ``argmax[n, y, x, c]`` receives the offset
    ``i * window[1] + j`` of the chosen element within its window (first maximum
    in row-major window order). With ``argmax=None`` (inference) the argmax pass,
    about half of the work, is skipped: only the outputs are computed.

    Args:
        inputs: (N, H, W, C) images.
        window: (wh, ww) pooling window.
        outputs: (N, out_h, out_w, C), written.
        padding: ``-inf`` rows/columns added on each side.
        stride: (sh, sw) steps between windows.
        argmax: (N, out_h, out_w, C) float array, written; or None: not computed.
        scratch: ``scratch(key, shape, dtype=None)`` provider of reusable arrays.
        kernels: the compiled ``_pool_kernels_c`` module, or None; it computes the
            same in one pass where the arrays are C-contiguous (else numpy does).
    """
    op_name = 'maxpool2d_forward_batch'
    chunk, out_height, out_width = _check_pool(op_name, inputs, window, outputs, padding,
                                               stride)
    if argmax is not None:
        _check_shape(op_name, 'argmax', argmax, outputs.shape)
    if kernels is not None and kernels.maxpool2d_forward(
            *_kernel_geometry(inputs, window, padding, stride, out_height, out_width),
            inputs, outputs, argmax):
        return
    sources = _Sources(inputs, padding, -np.inf, chunk, scratch, 'maxpool2d.padded_inputs')
    offsets = [(i, j) for i in range(window[0]) for j in range(window[1])]
    count = len(offsets)
    # argmax without data-dependent branches (masked copies were 3-5 times slower):
    # code offset k as (count - k) where the element equals the maximum, 0 elsewhere;
    # the largest code is the first maximal offset. Small integer codes (uint8 for
    # up to 255 offsets) move a quarter of the bytes of float codes.
    code_dtype = np.min_scalar_type(count)
    chunk_shape = (chunk,) + outputs.shape[1:]
    is_maximum = scratch('maxpool2d.is_maximum', chunk_shape, np.bool_)
    if argmax is not None:
        code = scratch('maxpool2d.offset_code', chunk_shape, code_dtype)
        best_code = scratch('maxpool2d.best_code', chunk_shape, code_dtype)
    for start, stop in _chunks(inputs.shape[0], chunk):
        source = sources(start, stop)
        chunk_outputs, size = outputs[start:stop], stop - start
        np.copyto(chunk_outputs, _offset_view(source, 0, 0, out_height, out_width, stride))
        for i, j in offsets[1:]:
            candidates = _offset_view(source, i, j, out_height, out_width, stride)
            np.maximum(chunk_outputs, candidates, out=chunk_outputs)
        if argmax is not None:
            chunk_best = _rows(best_code, size)
            chunk_best.fill(0)
            for k, (i, j) in enumerate(offsets):
                candidates = _offset_view(source, i, j, out_height, out_width, stride)
                np.equal(candidates, chunk_outputs, out=_rows(is_maximum, size))
                np.multiply(_rows(is_maximum, size), code_dtype.type(count - k),
                            out=_rows(code, size))
                np.maximum(chunk_best, _rows(code, size), out=chunk_best)
            np.subtract(count, chunk_best, out=argmax[start:stop], casting='unsafe')
        if padding >= min(window):     # only then can a window lie entirely in padding
            np.equal(chunk_outputs, -np.inf, out=_rows(is_maximum, size))
            np.copyto(chunk_outputs, 0.0, where=_rows(is_maximum, size))


def maxpool2d_backward_batch(inputs, window, outputs, padding, stride, argmax,
                             in_deltas, out_deltas, *, scratch, kernels=None):
    """Gradient of :func:`maxpool2d_forward_batch`; adds into in_deltas.

    Each output delta goes to the input element its ``argmax`` names; overlapping
    windows accumulate.

    Args:
        inputs: (N, H, W, C) images of the forward pass (only their shape is used).
        window: (wh, ww) pooling window.
        outputs: (N, out_h, out_w, C) forward outputs (only their shape is used).
        padding: padding of the forward pass.
        stride: (sh, sw) of the forward pass.
        argmax: (N, out_h, out_w, C) window offsets written by the forward pass.
        in_deltas: (N, H, W, C), incremented.
        out_deltas: (N, out_h, out_w, C) deltas of the outputs.
        scratch: ``scratch(key, shape, dtype=None)`` provider of reusable arrays.
        kernels: as in :func:`maxpool2d_forward_batch`.
    """
    op_name = 'maxpool2d_backward_batch'
    chunk, out_height, out_width = _check_pool(op_name, inputs, window, outputs, padding,
                                               stride)
    _check_shape(op_name, 'argmax', argmax, outputs.shape)
    _check_shape(op_name, 'in_deltas', in_deltas, inputs.shape)
    _check_shape(op_name, 'out_deltas', out_deltas, outputs.shape)
    if kernels is not None and kernels.maxpool2d_backward(
            *_kernel_geometry(inputs, window, padding, stride, out_height, out_width),
            argmax, in_deltas, out_deltas):
        return
    targets = _DeltaTargets(in_deltas, padding, chunk, scratch, 'maxpool2d.padded_deltas')
    routed = scratch('maxpool2d.routed_deltas', (chunk,) + outputs.shape[1:])
    for start, stop in _chunks(inputs.shape[0], chunk):
        target, chunk_routed = targets(start, stop), _rows(routed, stop - start)
        chunk_argmax, chunk_deltas = argmax[start:stop], out_deltas[start:stop]
        for i in range(window[0]):
            for j in range(window[1]):
                # branch-free: (argmax == k) as 0/1 times the deltas, then one add
                np.equal(chunk_argmax, i * window[1] + j, out=chunk_routed)
                np.multiply(chunk_routed, chunk_deltas, out=chunk_routed)
                view = _offset_view(target, i, j, out_height, out_width, stride)
                np.add(view, chunk_routed, out=view)
        targets.finish(start, stop, target)


@functools.lru_cache(maxsize=64)
def _inverse_inside_counts(window, padding, stride, height, width, dtype_name):
    """``(out_h, out_w, 1)``: 1 / the number of window positions inside the image (0 if none).

    Depends only on the geometry, so it is computed once per geometry and dtype and
    kept (read-only): the pooling passes then allocate nothing for it.
    """
    def inside(kernel, stride_size, size):
        starts = np.arange((size + 2 * padding - kernel) // stride_size + 1) * stride_size \
            - padding
        return np.clip(np.minimum(starts + kernel, size) - np.maximum(starts, 0), 0, None)

    counts = np.multiply.outer(inside(window[0], stride[0], height),
                               inside(window[1], stride[1], width)).astype(np.float64)
    scales = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    scales = scales[:, :, None].astype(dtype_name)
    scales.setflags(write=False)
    return scales


def _pool_scales(window, padding, stride, inputs, outputs):
    return _inverse_inside_counts(tuple(int(k) for k in window), int(padding),
                                  tuple(int(k) for k in stride), int(inputs.shape[1]),
                                  int(inputs.shape[2]), outputs.dtype.name)


def avgpool2d_forward_batch(inputs, window, outputs, padding, stride, *, scratch):
    """Average pooling of NHWC images, padding not counted; overwrites outputs.

    Every output is its window's sum divided by the number of window positions
    inside the image (brainstorm 0.5); a window entirely in the padding gives 0.

    Args:
        inputs: (N, H, W, C) images.
        window: (wh, ww) pooling window.
        outputs: (N, out_h, out_w, C), written.
        padding: zero rows/columns added on each side.
        stride: (sh, sw) steps between windows.
        scratch: ``scratch(key, shape, dtype=None)`` provider of reusable arrays.
    """
    op_name = 'avgpool2d_forward_batch'
    chunk, out_height, out_width = _check_pool(op_name, inputs, window, outputs, padding,
                                               stride)
    sources = _Sources(inputs, padding, 0.0, chunk, scratch, 'avgpool2d.padded_inputs')
    scales = _pool_scales(window, padding, stride, inputs, outputs)
    for start, stop in _chunks(inputs.shape[0], chunk):
        source, chunk_outputs = sources(start, stop), outputs[start:stop]
        np.copyto(chunk_outputs, _offset_view(source, 0, 0, out_height, out_width, stride))
        for i in range(window[0]):
            for j in range(window[1]):
                if i == 0 and j == 0:
                    continue
                view = _offset_view(source, i, j, out_height, out_width, stride)
                np.add(chunk_outputs, view, out=chunk_outputs)
        np.multiply(chunk_outputs, scales, out=chunk_outputs)


def avgpool2d_backward_batch(inputs, window, outputs, padding, stride, in_deltas,
                             out_deltas, *, scratch):
    """Gradient of :func:`avgpool2d_forward_batch`; adds into in_deltas.

    Args:
        inputs: (N, H, W, C) images of the forward pass (only their shape is used).
        window: (wh, ww) pooling window.
        outputs: (N, out_h, out_w, C) forward outputs (only their shape is used).
        padding: padding of the forward pass.
        stride: (sh, sw) of the forward pass.
        in_deltas: (N, H, W, C), incremented.
        out_deltas: (N, out_h, out_w, C) deltas of the outputs.
        scratch: ``scratch(key, shape, dtype=None)`` provider of reusable arrays.
    """
    op_name = 'avgpool2d_backward_batch'
    chunk, out_height, out_width = _check_pool(op_name, inputs, window, outputs, padding,
                                               stride)
    _check_shape(op_name, 'in_deltas', in_deltas, inputs.shape)
    _check_shape(op_name, 'out_deltas', out_deltas, outputs.shape)
    targets = _DeltaTargets(in_deltas, padding, chunk, scratch, 'avgpool2d.padded_deltas')
    scaled_deltas = scratch('avgpool2d.scaled_deltas', (chunk,) + outputs.shape[1:])
    scales = _pool_scales(window, padding, stride, inputs, out_deltas)
    for start, stop in _chunks(inputs.shape[0], chunk):
        target, chunk_scaled = targets(start, stop), _rows(scaled_deltas, stop - start)
        np.multiply(out_deltas[start:stop], scales, out=chunk_scaled)
        for i in range(window[0]):
            for j in range(window[1]):
                view = _offset_view(target, i, j, out_height, out_width, stride)
                np.add(view, chunk_scaled, out=view)
        targets.finish(start, stop, target)
