/*
 * What the compiled kernel modules (_lstm_kernels.c, _pool_kernels.c, _conv_kernels.c)
 * share: one copy of a function per instruction set (PER_PROCESSOR), the geometry of
 * a window over NHWC images, and the Python side: their functions take a few sizes
 * and then arrays, which they read through the buffer protocol (a tenth of a
 * microsecond per array, against a microsecond for ctypes' array.ctypes.data).
 *
 * A kernel computes only on C-contiguous buffers of the element type and length it
 * needs; for anything else acquire_buffers fails without an error and the kernel
 * returns False, so that NumpyHandler computes the op with numpy, which accepts
 * every layout and reports wrong shapes itself. A kernel never reads or writes
 * past a buffer it was given.
 */

#ifndef BRAINSTORM_KERNEL_COMMON_H
#define BRAINSTORM_KERNEL_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if defined(__x86_64__) && defined(__GNUC__) && __GNUC__ >= 12
/* one copy of the function per instruction set, picked when the module is loaded */
#define PER_PROCESSOR __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", \
                                                   "default")))
#else
#define PER_PROCESSOR
#endif

/* Acquire arrays[k] as C-contiguous buffers of lengths[k] elements of the struct
 * format code `format` ('f': float32, 'd': float64), writable where written[k].
 * An array that is None is skipped where lengths[k] < 0 (an optional argument): its
 * view's buf is then NULL. Returns 1 when every array fits; else 0 with nothing held
 * and no error set. */
static int acquire_buffers(PyObject *const *arrays, const Py_ssize_t *lengths,
                           const int *written, Py_ssize_t count, char format,
                           Py_ssize_t itemsize, Py_buffer *views)
{
    for (Py_ssize_t k = 0; k < count; ++k) {
        views[k].obj = NULL;
        views[k].buf = NULL;
        if (lengths[k] < 0 && arrays[k] == Py_None)
            continue;
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (written[k] ? PyBUF_WRITABLE : 0);
        int fits = PyObject_GetBuffer(arrays[k], &views[k], flags) == 0;
        if (fits) {
            const char *code = views[k].format ? views[k].format : "B";
            if (code[0] == '<' || code[0] == '=' || code[0] == '@')
                ++code;
            Py_ssize_t length = lengths[k] < 0 ? -lengths[k] : lengths[k];
            fits = views[k].itemsize == itemsize && code[0] == format && code[1] == '\0'
                   && views[k].len == length * itemsize;
            if (!fits)
                PyBuffer_Release(&views[k]);
        }
        if (!fits) {
            PyErr_Clear();
            for (Py_ssize_t held = 0; held < k; ++held)
                if (views[held].obj != NULL)
                    PyBuffer_Release(&views[held]);
            return 0;
        }
    }
    return 1;
}

static void release_buffers(Py_buffer *views, Py_ssize_t count)
{
    for (Py_ssize_t k = 0; k < count; ++k)
        if (views[k].obj != NULL)
            PyBuffer_Release(&views[k]);
}

/* The element type of an array: 'f' (float32) or 'd' (float64), with its itemsize;
 * 0 for anything else (no error set: the kernel declines). */
static inline char element_format(PyObject *array, Py_ssize_t *itemsize)
{
    Py_buffer view;
    char format = 0;
    if (PyObject_GetBuffer(array, &view, PyBUF_FORMAT | PyBUF_ND) != 0) {
        PyErr_Clear();
        return 0;
    }
    const char *code = view.format ? view.format : "B";
    if (code[0] == '<' || code[0] == '=' || code[0] == '@')
        ++code;
    if ((code[0] == 'f' || code[0] == 'd') && code[1] == '\0') {
        format = code[0];
        *itemsize = view.itemsize;
    }
    PyBuffer_Release(&view);
    return format;
}

/* args = `count` non-negative sizes, then `arrays` arrays: read the sizes into
 * sizes[]. Returns 1, or 0 with a TypeError or ValueError set. */
static int read_sizes(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t count,
                      Py_ssize_t arrays, Py_ssize_t *sizes)
{
    if (nargs != count + arrays) {
        PyErr_Format(PyExc_TypeError, "expected %zd sizes and %zd arrays, got %zd "
                     "arguments", count, arrays, nargs);
        return 0;
    }
    for (Py_ssize_t k = 0; k < count; ++k) {
        sizes[k] = PyLong_AsSsize_t(args[k]);
        if (sizes[k] == -1 && PyErr_Occurred())
            return 0;
        if (sizes[k] < 0) {
            PyErr_SetString(PyExc_ValueError, "sizes must not be negative");
            return 0;
        }
    }
    return 1;
}

/* A window (a convolution's kernel, a pooling window) over NHWC images, as the
 * kernel functions take it: 11 sizes before their arrays. */
typedef struct {
    Py_ssize_t n, height, width, channels, out_height, out_width;
    Py_ssize_t window_height, window_width, stride_rows, stride_columns, padding;
} ImageGeometry;

#define IMAGE_GEOMETRY_SIZES 11

/* Read the geometry, then `arrays` arrays must follow. Returns 1, or 0 with a
 * TypeError or ValueError set (negative sizes; a window or stride below 1). */
static inline int read_image_geometry(PyObject *const *args, Py_ssize_t nargs,
                                      Py_ssize_t arrays, ImageGeometry *g)
{
    Py_ssize_t s[IMAGE_GEOMETRY_SIZES];
    if (!read_sizes(args, nargs, IMAGE_GEOMETRY_SIZES, arrays, s))
        return 0;
    *g = (ImageGeometry){s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10]};
    if (g->window_height < 1 || g->window_width < 1 || g->stride_rows < 1
            || g->stride_columns < 1) {
        PyErr_SetString(PyExc_ValueError, "window and stride must be positive");
        return 0;
    }
    return 1;
}

#endif
