/*
 * The elementwise part of one LSTM step (tanh units, peepholes), fused into one pass
 * over the (B, N) values of a step: NumpyHandler.lstm_step_forward and
 * lstm_step_backward call these for float32, C-contiguous arrays.
 * The formulas are those of brainstorm/layers/lstm_layer.py; the composite ops in
 * Handler compute the same with primitives, in the same order of operations.
 *
 * Why C: numpy runs the ~16 elementwise ops of a step as separate passes, each a
 * Python call and a trip through memory; here each value is loaded once, and the
 * loops are vectorized with glibc's vector math library (libmvec: expf and tanhf
 * for SSE4, AVX2 and AVX-512), chosen at load time for the processor by
 * target_clones. The module takes the arrays through the buffer protocol
 * (_kernel_common.h; with ctypes, fetching the 20 pointers of a backward step took
 * longer than the step's arithmetic) and releases the GIL while it computes. See
 * bench/README.md for the figures.
 *
 * Built by setup.py as an optional extension; -fno-math-errno lets the loops call the vector functions, -ffp-contract=off keeps
 * every product and sum rounded as numpy rounds it (no fused multiply-add), so only
 * expf and tanhf differ from numpy's, by an ulp or two.
 */

#include "_kernel_common.h"
#include <stddef.h>

#if defined(__x86_64__) && defined(__GNUC__) && __GNUC__ >= 12
/* glibc declares these SIMD-callable only under -ffast-math; the vector variants
   exist regardless (libmvec, glibc >= 2.22 for expf, 2.35 for tanhf) */
__attribute__((simd("notinbranch"))) float expf(float);
__attribute__((simd("notinbranch"))) float tanhf(float);
#else
#include <math.h>
#endif

static inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* One forward step: the gates hold their input projections (x W + b) and are
 * overwritten with their activations.
 *
 * recurrent: (B, 4N) y[t-1] @ [Rz Ri Rf Ro], the four gates' columns side by side
 * peep_i, peep_f, peep_o: (N,)
 * previous_cell: (B, N) Ca[t-1]
 * z, i, f, o: (B, N) in: pre-activations without the recurrent term; out: Zb Ib Fb Ob
 * cell, cell_output, out: (B, N) Ca[t], Cb[t] = tanh(Ca[t]), y[t]
 */
PER_PROCESSOR
static void step_forward_tanh(ptrdiff_t batch, ptrdiff_t size,
                            const float *restrict recurrent, const float *restrict peep_i,
                            const float *restrict peep_f, const float *restrict peep_o,
                            const float *restrict previous_cell, float *restrict z,
                            float *restrict i, float *restrict f, float *restrict o,
                            float *restrict cell, float *restrict cell_output,
                            float *restrict out)
{
    for (ptrdiff_t b = 0; b < batch; ++b) {
        const float *restrict rz = recurrent + b * 4 * size;
        const float *restrict ri = rz + size, *restrict rf = ri + size, *restrict ro = rf + size;
        ptrdiff_t row = b * size;
        #pragma omp simd
        for (ptrdiff_t j = row; j < row + size; ++j) {
            ptrdiff_t k = j - row;
            float c0 = previous_cell[j];
            float zb = tanhf(z[j] + rz[k]);
            float ib = sigmoid((i[j] + ri[k]) + c0 * peep_i[k]);
            float fb = sigmoid((f[j] + rf[k]) + c0 * peep_f[k]);
            float ca = zb * ib + fb * c0;
            float ob = sigmoid((o[j] + ro[k]) + ca * peep_o[k]);
            float cb = tanhf(ca);
            z[j] = zb; i[j] = ib; f[j] = fb; o[j] = ob;
            cell[j] = ca; cell_output[j] = cb; out[j] = ob * cb;
        }
    }
}

/* One backward step: the deltas of the pre-activations of step t from the output
 * deltas of step t (with the recurrent deltas already added) and the deltas of step
 * t + 1 (the following step: zeros after the last).
 *
 * dy: (B, N); zb ib fb ob cb: (B, N) forward internals of step t;
 * previous_cell: Ca[t-1]; next_dca, next_fb, next_dia, next_dfa: (B, N) of step t + 1
 * dza dia dfa doa dca: (B, N) written; gate_deltas: (B, 4N) written, [dza dia dfa doa]
 */
PER_PROCESSOR
static void step_backward_tanh(ptrdiff_t batch, ptrdiff_t size,
                             const float *restrict dy, const float *restrict zb,
                             const float *restrict ib, const float *restrict fb,
                             const float *restrict ob, const float *restrict cb,
                             const float *restrict previous_cell,
                             const float *restrict next_dca, const float *restrict next_fb,
                             const float *restrict next_dia, const float *restrict next_dfa,
                             const float *restrict peep_i, const float *restrict peep_f,
                             const float *restrict peep_o, float *restrict dza,
                             float *restrict dia, float *restrict dfa, float *restrict doa,
                             float *restrict dca, float *restrict gate_deltas)
{
    for (ptrdiff_t b = 0; b < batch; ++b) {
        float *restrict gz = gate_deltas + b * 4 * size;
        float *restrict gi = gz + size, *restrict gf = gi + size, *restrict go = gf + size;
        ptrdiff_t row = b * size;
        #pragma omp simd
        for (ptrdiff_t j = row; j < row + size; ++j) {
            ptrdiff_t k = j - row;
            float o_slope = (1.0f - ob[j]) * ob[j];
            float d_o = dy[j] * cb[j] * o_slope;
            float cb_slope = 1.0f - cb[j] * cb[j];
            float d_c = dy[j] * ob[j] * cb_slope;
            d_c = d_c + d_o * peep_o[k];
            d_c = d_c + next_dca[j] * next_fb[j];
            d_c = d_c + next_dia[j] * peep_i[k];
            d_c = d_c + next_dfa[j] * peep_f[k];
            float z_slope = 1.0f - zb[j] * zb[j];
            float d_z = d_c * ib[j] * z_slope;
            float i_slope = (1.0f - ib[j]) * ib[j];
            float d_i = d_c * zb[j] * i_slope;
            float f_slope = (1.0f - fb[j]) * fb[j];
            float d_f = d_c * previous_cell[j] * f_slope;
            doa[j] = d_o; dca[j] = d_c; dza[j] = d_z; dia[j] = d_i; dfa[j] = d_f;
            gz[k] = d_z; gi[k] = d_i; gf[k] = d_f; go[k] = d_o;
        }
    }
}

/* ---- the Python side -------------------------------------------------------------- */

/* An array's length in floats: per_row 1 means batch * size * wide, 0 means size
 * (the peepholes); written: the kernel writes it. */
typedef struct { int per_row; int wide; int written; } ArraySpec;

#define MAX_ARRAYS 20

/* (batch, size, *arrays) -> True, or False with nothing computed where an array does
 * not fit (see _kernel_common.h). `step` gets the arrays' data pointers in order. */
static PyObject *run_step(PyObject *const *args, Py_ssize_t nargs, const ArraySpec *specs,
                          Py_ssize_t count, void (*step)(Py_ssize_t, Py_ssize_t, float **))
{
    Py_ssize_t sizes[2], lengths[MAX_ARRAYS];
    int written[MAX_ARRAYS];
    Py_buffer views[MAX_ARRAYS];
    float *data[MAX_ARRAYS];
    if (!read_sizes(args, nargs, 2, count, sizes))
        return NULL;
    for (Py_ssize_t k = 0; k < count; ++k) {
        lengths[k] = specs[k].per_row ? sizes[0] * sizes[1] * specs[k].wide : sizes[1];
        written[k] = specs[k].written;
    }
    if (!acquire_buffers(args + 2, lengths, written, count, 'f', 4, views))
        Py_RETURN_FALSE;
    for (Py_ssize_t k = 0; k < count; ++k)
        data[k] = (float *)views[k].buf;
    Py_BEGIN_ALLOW_THREADS
    step(sizes[0], sizes[1], data);
    Py_END_ALLOW_THREADS
    release_buffers(views, count);
    Py_RETURN_TRUE;
}

static const ArraySpec FORWARD[12] = {
    {1, 4, 0},                          /* recurrent */
    {0, 1, 0}, {0, 1, 0}, {0, 1, 0},    /* peep_i, peep_f, peep_o */
    {1, 1, 0},                          /* previous_cell */
    {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1},  /* z, i, f, o */
    {1, 1, 1}, {1, 1, 1}, {1, 1, 1},    /* cell, cell_output, out */
};

static void forward(Py_ssize_t batch, Py_ssize_t size, float **d)
{
    step_forward_tanh(batch, size, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8],
                      d[9], d[10], d[11]);
}

static PyObject *lstm_step_forward_tanh(PyObject *module, PyObject *const *args,
                                        Py_ssize_t nargs)
{
    return run_step(args, nargs, FORWARD, 12, forward);
}

static const ArraySpec BACKWARD[20] = {
    {1, 1, 0},                                      /* deltas */
    {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0},  /* z, i, f, o, cell_output */
    {1, 1, 0},                                      /* previous_cell */
    {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0},     /* next_cell_deltas ... next_f_deltas */
    {0, 1, 0}, {0, 1, 0}, {0, 1, 0},                /* peep_i, peep_f, peep_o */
    {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1},  /* z_deltas ... cell_deltas */
    {1, 4, 1},                                      /* gate_deltas */
};

static void backward(Py_ssize_t batch, Py_ssize_t size, float **d)
{
    step_backward_tanh(batch, size, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8],
                       d[9], d[10], d[11], d[12], d[13], d[14], d[15], d[16], d[17], d[18],
                       d[19]);
}

static PyObject *lstm_step_backward_tanh(PyObject *module, PyObject *const *args,
                                         Py_ssize_t nargs)
{
    return run_step(args, nargs, BACKWARD, 20, backward);
}

static PyMethodDef METHODS[] = {
    {"lstm_step_forward_tanh", (PyCFunction)(void (*)(void))lstm_step_forward_tanh,
     METH_FASTCALL,
     "lstm_step_forward_tanh(batch, size, recurrent, peep_i, peep_f, peep_o, previous_cell, "
     "z, i, f, o, cell, cell_output, out) -> True, or False where an array is not a "
     "C-contiguous float32 buffer of its size (nothing computed)"},
    {"lstm_step_backward_tanh", (PyCFunction)(void (*)(void))lstm_step_backward_tanh,
     METH_FASTCALL,
     "lstm_step_backward_tanh(batch, size, deltas, z, i, f, o, cell_output, previous_cell, "
     "next_cell_deltas, next_f, next_i_deltas, next_f_deltas, peep_i, peep_f, peep_o, "
     "z_deltas, i_deltas, f_deltas, o_deltas, cell_deltas, gate_deltas) -> True, or False "
     "as lstm_step_forward_tanh"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_lstm_kernels_c",
    .m_doc = "Fused LSTM steps for NumpyHandler (float32, tanh); see _compiled_kernels.py.",
    .m_size = -1,
    .m_methods = METHODS,
};

PyMODINIT_FUNC PyInit__lstm_kernels_c(void)
{
    return PyModule_Create(&MODULE);
}
