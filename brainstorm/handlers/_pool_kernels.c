/*
 * Max-pooling of NHWC image batches in one pass (NumpyHandler's maxpool2d ops, float32
 * and float64, C-contiguous arrays). The conventions are _pool_numpy.py's, which
 * computes the same with numpy for every other case:
 *
 * - the input is padded with -inf; a window is scanned in row-major order and a
 *   value replaces the maximum only when it is greater, so ties keep the first
 *   offset; argmax = i * window_width + j of the maximum, a float;
 * - a NaN in a window makes the output NaN and its argmax the window size (an
 *   offset no delta is routed to), as numpy's maximum and equality passes do;
 * - where the padding is at least the window (a window may lie entirely in the
 *   padding), a -inf result becomes 0;
 * - backward: each output delta is added to the input element its argmax names,
 *   if that element is inside the image (per window position, a select over the
 *   channels adds the deltas whose argmax names it and zero for the others).
 *
 * Why C: numpy needs one pass over a chunk per window offset for the maximum and
 * three more per offset for the argmax (9 and 27 passes for 3x3 windows), forward,
 * and three per offset backward; here each output is computed once, the channels
 * (the innermost, contiguous axis) in vector registers. See bench/README.md.
 */

#include "_kernel_common.h"
#include <math.h>
#include <stddef.h>

typedef ImageGeometry Geometry;

#define DEFINE_MAXPOOL(T, SUFFIX)                                                           \
/* the first window position: the image's value there, or -inf in the padding */         \
static inline void start_window_##SUFFIX(T *restrict best, const T *restrict source,        \
                                         Py_ssize_t C)                                      \
{                                                                                           \
    if (source) {                                                                           \
        for (Py_ssize_t c = 0; c < C; ++c)                                                  \
            best[c] = source[c];                                                            \
    } else {                                                                                \
        for (Py_ssize_t c = 0; c < C; ++c)                                                  \
            best[c] = (T)-INFINITY;                                                         \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* a later position: a greater value (or a NaN, which then stays) replaces the maximum */  \
static inline void take_greater_##SUFFIX(T *restrict best, T *restrict where,               \
                                         const T *restrict source, T offset, Py_ssize_t C)  \
{                                                                                           \
    if (where) {                                                                            \
        _Pragma("omp simd")                                                                 \
        for (Py_ssize_t c = 0; c < C; ++c) {                                                \
            T value = source[c], current = best[c];                                         \
            int wins = value > current || value != value;                                  \
            best[c] = wins ? value : current;                                               \
            where[c] = wins ? offset : where[c];                                            \
        }                                                                                   \
    } else {                                                                                \
        _Pragma("omp simd")                                                                 \
        for (Py_ssize_t c = 0; c < C; ++c) {                                                \
            T value = source[c], current = best[c];                                         \
            best[c] = value > current || value != value ? value : current;                  \
        }                                                                                   \
    }                                                                                       \
}                                                                                           \
                                                                                            \
PER_PROCESSOR                                                                               \
static void maxpool_forward_##SUFFIX(const Geometry *g, const T *inputs, T *outputs,        \
                                     T *argmax)                                             \
{                                                                                           \
    const Py_ssize_t C = g->channels, count = g->window_height * g->window_width;           \
    const int zero_empty = g->padding >= g->window_height || g->padding >= g->window_width; \
    for (Py_ssize_t image = 0; image < g->n; ++image) {                                     \
        for (Py_ssize_t y = 0; y < g->out_height; ++y) {                                    \
            for (Py_ssize_t x = 0; x < g->out_width; ++x) {                                 \
                Py_ssize_t at = ((image * g->out_height + y) * g->out_width + x) * C;       \
                T *best = outputs + at;                                                     \
                T *where = argmax ? argmax + at : NULL;                                     \
                Py_ssize_t top = y * g->stride_rows - g->padding;                           \
                Py_ssize_t left = x * g->stride_columns - g->padding;                       \
                for (Py_ssize_t k = 0; k < count; ++k) {                                    \
                    Py_ssize_t row = top + k / g->window_width;                             \
                    Py_ssize_t column = left + k % g->window_width;                         \
                    const T *source = NULL;                                                 \
                    if (row >= 0 && row < g->height && column >= 0 && column < g->width)    \
                        source = inputs + ((image * g->height + row) * g->width + column) * C; \
                    if (k == 0) {                                                           \
                        start_window_##SUFFIX(best, source, C);                             \
                        if (where)                                                          \
                            for (Py_ssize_t c = 0; c < C; ++c)                              \
                                where[c] = 0;                                               \
                    } else if (source) {  /* -inf in the padding never replaces it */       \
                        take_greater_##SUFFIX(best, where, source, (T)k, C);                \
                    }                                                                       \
                }                                                                           \
                if (where) {  /* a NaN output takes no delta: argmax past the window */     \
                    for (Py_ssize_t c = 0; c < C; ++c)                                      \
                        where[c] = best[c] != best[c] ? (T)count : where[c];                \
                }                                                                           \
                if (zero_empty) {                                                           \
                    for (Py_ssize_t c = 0; c < C; ++c)                                      \
                        best[c] = best[c] == (T)-INFINITY ? (T)0 : best[c];                 \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
}                                                                                           \
                                                                                            \
PER_PROCESSOR                                                                               \
static void maxpool_backward_##SUFFIX(const Geometry *g, const T *argmax, T *in_deltas,     \
                                      const T *out_deltas)                                  \
{                                                                                           \
    const Py_ssize_t C = g->channels;                                                       \
    for (Py_ssize_t image = 0; image < g->n; ++image) {                                     \
        for (Py_ssize_t y = 0; y < g->out_height; ++y) {                                    \
            for (Py_ssize_t x = 0; x < g->out_width; ++x) {                                 \
                Py_ssize_t at = ((image * g->out_height + y) * g->out_width + x) * C;       \
                const T *restrict offsets = argmax + at, *restrict deltas = out_deltas + at; \
                Py_ssize_t top = y * g->stride_rows - g->padding;                           \
                Py_ssize_t left = x * g->stride_columns - g->padding;                       \
                /* each window position inside the image takes the deltas of the         \
                   channels whose argmax names it: a select per channel, vectorized;      \
                   an argmax that is no offset (or a padded one) routes nowhere */        \
                for (Py_ssize_t k = 0; k < g->window_height * g->window_width; ++k) {       \
                    Py_ssize_t row = top + k / g->window_width;                             \
                    Py_ssize_t column = left + k % g->window_width;                         \
                    if (row < 0 || row >= g->height || column < 0 || column >= g->width)    \
                        continue;                                                           \
                    T *restrict target =                                                    \
                        in_deltas + ((image * g->height + row) * g->width + column) * C;    \
                    const T offset = (T)k;                                                  \
                    _Pragma("omp simd")                                                     \
                    for (Py_ssize_t c = 0; c < C; ++c)                                      \
                        target[c] += offsets[c] == offset ? deltas[c] : (T)0;               \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
}

DEFINE_MAXPOOL(float, float32)
DEFINE_MAXPOOL(double, float64)

/* ---- the Python side -------------------------------------------------------------- */

/* args: n, height, width, channels, out_height, out_width, window_height,
 * window_width, stride_rows, stride_columns, padding, then the arrays */
static int read_geometry(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t arrays,
                         Geometry *g)
{
    if (!read_image_geometry(args, nargs, arrays, g))
        return 0;
    /* the last window must end inside the padded image: nothing is read past it */
    if ((g->out_height > 0 && (g->out_height - 1) * g->stride_rows + g->window_height
                              > g->height + 2 * g->padding)
            || (g->out_width > 0 && (g->out_width - 1) * g->stride_columns + g->window_width
                                    > g->width + 2 * g->padding)) {
        PyErr_SetString(PyExc_ValueError, "the output is larger than the geometry allows");
        return 0;
    }
    return 1;
}

/* Both functions: the geometry, then three arrays of one float type (forward: inputs,
 * outputs, argmax or None; backward: argmax, in_deltas, out_deltas). */
static PyObject *run_pool(PyObject *const *args, Py_ssize_t nargs, int backward)
{
    Geometry g;
    Py_buffer views[3];
    Py_ssize_t itemsize;
    if (!read_geometry(args, nargs, 3, &g))
        return NULL;
    PyObject *const *arrays = args + IMAGE_GEOMETRY_SIZES;
    Py_ssize_t in_size = g.n * g.height * g.width * g.channels;
    Py_ssize_t out_size = g.n * g.out_height * g.out_width * g.channels;
    /* a negative length marks the optional argmax of the forward pass */
    Py_ssize_t forward_lengths[3] = {in_size, out_size, -out_size};
    Py_ssize_t backward_lengths[3] = {out_size, in_size, out_size};
    int forward_written[3] = {0, 1, 1}, backward_written[3] = {0, 1, 0};
    char format = element_format(arrays[0], &itemsize);
    if (!format || !acquire_buffers(arrays, backward ? backward_lengths : forward_lengths,
                                    backward ? backward_written : forward_written, 3,
                                    format, itemsize, views))
        Py_RETURN_FALSE;
    void *a = views[0].buf, *b = views[1].buf, *c = views[2].buf;
    Py_BEGIN_ALLOW_THREADS
    if (backward && format == 'f')
        maxpool_backward_float32(&g, a, b, c);
    else if (backward)
        maxpool_backward_float64(&g, a, b, c);
    else if (format == 'f')
        maxpool_forward_float32(&g, a, b, c);
    else
        maxpool_forward_float64(&g, a, b, c);
    Py_END_ALLOW_THREADS
    release_buffers(views, 3);
    Py_RETURN_TRUE;
}

static PyObject *maxpool2d_forward(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    return run_pool(args, nargs, 0);
}

static PyObject *maxpool2d_backward(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    return run_pool(args, nargs, 1);
}

static PyMethodDef METHODS[] = {
    {"maxpool2d_forward", (PyCFunction)(void (*)(void))maxpool2d_forward, METH_FASTCALL,
     "maxpool2d_forward(n, height, width, channels, out_height, out_width, window_height, "
     "window_width, stride_rows, stride_columns, padding, inputs, outputs, argmax or None) "
     "-> True, or False (nothing computed) where the arrays are not C-contiguous float32 "
     "or float64 buffers of one type and of these sizes"},
    {"maxpool2d_backward", (PyCFunction)(void (*)(void))maxpool2d_backward, METH_FASTCALL,
     "maxpool2d_backward(the same 11 sizes, argmax, in_deltas, out_deltas) -> True, or "
     "False as maxpool2d_forward; adds into in_deltas"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pool_kernels_c",
    .m_doc = "Max-pooling for NumpyHandler in one pass; see _compiled_kernels.py.",
    .m_size = -1,
    .m_methods = METHODS,
};

PyMODINIT_FUNC PyInit__pool_kernels_c(void)
{
    return PyModule_Create(&MODULE);
}
