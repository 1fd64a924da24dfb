/*
 * im2col for NHWC image chunks with zero padding, in one pass (the column matrices of
 * NumpyHandler's convolutions, _conv_numpy.py; float32 and float64, C-contiguous).
 *
 * Row (n, y, x) of the columns holds the patch under output pixel (y, x) in (i, j, c)
 * order, matching weights.reshape(F, -1): for each kernel row i, the kw * C values of
 * image row y * sh + i - padding from column x * sw - padding on are one contiguous
 * run of the image (where the patch lies inside it) and are copied as one; positions
 * in the padding are zeros.
 *
 * Why C: numpy's copy of the strided window view runs its innermost loop over the C
 * channels (3 for an RGB image), after a padded copy of the chunk; here each run is
 * one memcpy and the padding is never materialised. See bench/README.md.
 */

#include "_kernel_common.h"
#include <string.h>

static void im2col(const ImageGeometry *g, const char *images, char *columns, Py_ssize_t itemsize)
{
    const Py_ssize_t pixel = g->channels * itemsize;       /* bytes of one image pixel */
    const Py_ssize_t run = g->window_width * pixel;         /* bytes of one kernel row */
    for (Py_ssize_t image = 0; image < g->n; ++image) {
        const char *first_row = images + image * g->height * g->width * pixel;
        for (Py_ssize_t y = 0; y < g->out_height; ++y) {
            for (Py_ssize_t x = 0; x < g->out_width; ++x) {
                Py_ssize_t left = x * g->stride_columns - g->padding;
                /* the part of a kernel row inside the image: columns first..last-1 */
                Py_ssize_t first = left < 0 ? -left : 0;
                Py_ssize_t last = g->width - left < g->window_width ? g->width - left
                                                                   : g->window_width;
                for (Py_ssize_t i = 0; i < g->window_height; ++i, columns += run) {
                    Py_ssize_t row = y * g->stride_rows - g->padding + i;
                    if (row < 0 || row >= g->height || first >= last) {
                        memset(columns, 0, run);
                        continue;
                    }
                    if (first > 0)
                        memset(columns, 0, first * pixel);
                    memcpy(columns + first * pixel,
                           first_row + (row * g->width + left + first) * pixel,
                           (last - first) * pixel);
                    if (last < g->window_width)
                        memset(columns + last * pixel, 0, (g->window_width - last) * pixel);
                }
            }
        }
    }
}

/* ---- the Python side -------------------------------------------------------------- */

/* im2col(n, height, width, channels, out_height, out_width, kernel_height, kernel_width,
 *        stride_rows, stride_columns, padding, images, columns) */
static PyObject *im2col_nhwc(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    ImageGeometry g;
    Py_buffer views[2];
    if (!read_image_geometry(args, nargs, 2, &g))
        return NULL;
    Py_ssize_t lengths[2] = {
        g.n * g.height * g.width * g.channels,
        g.n * g.out_height * g.out_width * g.window_height * g.window_width * g.channels};
    int written[2] = {0, 1};
    /* rows and columns outside the image are zeros, whatever the geometry: nothing
       is read outside the images */
    Py_ssize_t itemsize;
    char format = element_format(args[IMAGE_GEOMETRY_SIZES], &itemsize);
    if (!format || !acquire_buffers(args + IMAGE_GEOMETRY_SIZES, lengths, written, 2, format,
                                    itemsize, views))
        Py_RETURN_FALSE;
    Py_BEGIN_ALLOW_THREADS
    im2col(&g, views[0].buf, views[1].buf, views[0].itemsize);
    Py_END_ALLOW_THREADS
    release_buffers(views, 2);
    Py_RETURN_TRUE;
}

static PyMethodDef METHODS[] = {
    {"im2col_nhwc", (PyCFunction)(void (*)(void))im2col_nhwc, METH_FASTCALL,
     "im2col_nhwc(n, height, width, channels, out_height, out_width, kernel_height, "
     "kernel_width, stride_rows, stride_columns, padding, images, columns) -> True, or "
     "False (nothing written) where images (n, H, W, C) and columns (n*out_h*out_w, "
     "kh*kw*C) are not C-contiguous float32 or float64 buffers of one type and these "
     "sizes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_conv_kernels_c",
    .m_doc = "im2col of NHWC images for NumpyHandler's convolutions; see _compiled_kernels.py.",
    .m_size = -1,
    .m_methods = METHODS,
};

PyMODINIT_FUNC PyInit__conv_kernels_c(void)
{
    return PyModule_Create(&MODULE);
}
