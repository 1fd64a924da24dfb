"""CUDA C sources of PyCudaHandler's kernels, as data (nothing here imports pycuda).

All kernels of one dtype live in one module, produced by :func:`module_source`
(``float`` or ``double``). PyCudaHandler compiles that module once per process
and dtype, on first use; ``tests/handlers/test_cuda_sources.py`` compiles the very
same strings with ``nvcc --ptx``, so a syntax or type error in a kernel fails
the tests even on a machine without a GPU.

Kernel families:

* elementwise kernels, generated from the expression templates in
  :data:`ELEMENTWISE` in two variants: ``<name>_contiguous`` (every array is
  C-contiguous with the logical shape, element i is at offset i) and
  ``<name>_strided`` (each array has its own strides, in elements, over up to
  :data:`MAX_DIMS` collapsed dimensions; a stride of 0 broadcasts, which is
  how the ``*_mv`` ops and ``broadcast_t`` are done);
* reductions (sum, count of non-finite values) over up to two strided axes;
* row softmax, one-hot rows, picking one element per row;
* im2col / col2im (added, gathered: no atomics) and max/avg pooling on NHWC
  images, forward and backward (backward adds into the deltas);
* counter-based random numbers (Philox4x32-10): the value of element ``i`` is
  a function of ``(i, key)`` only, and the key is drawn from the handler's
  ``rnd`` for every call, so a seed fixes every random array.

Launch conventions (used by PyCudaHandler): elementwise, reduction and image
kernels loop grid-stride over their index space, so any grid size is correct;
:data:`BLOCK_SIZE` threads per block. The reductions and the softmax use
shared memory sized by the block and expect exactly the block shapes given
with them.
"""

from dataclasses import dataclass
from string import Template

#: Threads per block of the one-dimensional kernels.
BLOCK_SIZE = 256

#: The most strided dimensions an elementwise kernel indexes (after collapsing).
MAX_DIMS = 4

#: numpy dtype name -> the C type of the kernels.
C_TYPES = {'float32': 'float', 'float64': 'double'}

#: Block shape of ``reduce_*_lanes`` (x: outputs side by side, y: partial sums).
LANES_BLOCK = (32, 8, 1)

#: Threads per block of ``reduce_*_rows`` and ``softmax_rows`` (one block per row).
ROW_BLOCK = 256


@dataclass(frozen=True)
class ElementwiseSpec:
    """One elementwise kernel as an expression template.

    Attributes:
        arrays: names of the array arguments in call order; the written ones
            are listed in ``written`` too.
        written: names of the arrays the kernel writes.
        scalars: ``(name, C type)`` of the scalar arguments after the arrays;
            C type ``'real'`` means the handler's dtype.
        body: C statements (a :class:`string.Template`); ``$name`` stands for
            the element of array ``name``, ``i`` for the logical (row-major)
            element index.
    """

    arrays: tuple
    written: tuple
    scalars: tuple
    body: str


def _unary(body):
    return ElementwiseSpec(('a', 'out'), ('out',), (), body)


def _binary(body):
    return ElementwiseSpec(('a', 'b', 'out'), ('out',), (), body)


def _scalar(body):
    return ElementwiseSpec(('a', 'out'), ('out',), (('s', 'real'),), body)


def _derivative(body):
    return ElementwiseSpec(('y', 'dy', 'dx'), ('dx',), (), body)


#: Kernel name -> its expression template.
ELEMENTWISE = {
    'copy': _unary("$out = $a;"),
    'copy_if': ElementwiseSpec(('a', 'cond', 'out'), ('out',), (),
                               "if ($cond != (real)0) $out = $a;"),
    'fill': ElementwiseSpec(('out',), ('out',), (('s', 'real'),), "$out = s;"),
    'fill_if': ElementwiseSpec(('cond', 'out'), ('out',), (('s', 'real'),),
                               "if ($cond != (real)0) $out = s;"),
    'add_into_if': ElementwiseSpec(('a', 'cond', 'out'), ('out',), (),
                                   "if ($cond != (real)0) $out += $a;"),
    'abs': _unary("$out = fabs($a);"),
    'add_scalar': _scalar("$out = $a + s;"),
    'mult_scalar': _scalar("$out = $a * s;"),
    'mult_add_scalar': _scalar("$out += $a * s;"),
    'add': _binary("$out = $a + $b;"),
    'subtract': _binary("$out = $a - $b;"),
    'mult': _binary("$out = $a * $b;"),
    'mult_add': _binary("$out += $a * $b;"),
    'divide': _binary("$out = $a / $b;"),
    'add_accumulate': _unary("$out += $a;"),
    'modulo': _binary("$out = python_remainder($a, $b);"),
    'sqrt': _unary("$out = sqrt($a);"),
    'log': _unary("$out = log($a);"),
    'exp': _unary("$out = exp($a);"),
    'sign': _unary("{ const real x = $a; $out = (real)((x > (real)0) - (x < (real)0)); }"),
    'clip': ElementwiseSpec(('a', 'out'), ('out',), (('low', 'real'), ('high', 'real')),
                            "$out = fmin(fmax($a, low), high);"),
    'sigmoid': _unary("$out = stable_sigmoid($a);"),
    'tanh': _unary("$out = tanh($a);"),
    'rel': _unary("{ const real x = $a; $out = x > (real)0 ? x : (real)0; }"),
    'el': _unary("{ const real x = $a; $out = x > (real)0 ? x : expm1(x); }"),
    'sigmoid_deriv': _derivative("{ const real y = $y; $dx = $dy * (y * ((real)1 - y)); }"),
    'tanh_deriv': _derivative("{ const real y = $y; $dx = $dy * ((real)1 - y * y); }"),
    'rel_deriv': _derivative("$dx = $dy * ($y > (real)0 ? (real)1 : (real)0);"),
    'el_deriv': _derivative("{ const real y = $y; "
                            "$dx = $dy * (y > (real)0 ? (real)1 : y + (real)1); }"),
    'gaussian': ElementwiseSpec(
        ('out',), ('out',),
        (('mean', 'real'), ('std', 'real'), ('key0', 'unsigned int'), ('key1', 'unsigned int')),
        "{ const uint4 bits = philox4x32_10(make_uint4((unsigned int)i, 0u, 0u, 0u), "
        "make_uint2(key0, key1)); "
        "$out = (real)((double)mean + (double)std * gaussian_from_bits(bits)); }"),
    'probability_mask': ElementwiseSpec(
        ('out',), ('out',),
        (('probability', 'real'), ('key0', 'unsigned int'), ('key1', 'unsigned int')),
        "{ const uint4 bits = philox4x32_10(make_uint4((unsigned int)i, 0u, 0u, 0u), "
        "make_uint2(key0, key1)); "
        "$out = uniform_from_bits(bits.x, bits.y) < (double)probability "
        "? (real)1 : (real)0; }"),
}

#: The two index variants of every elementwise kernel.
ELEMENTWISE_VARIANTS = ('contiguous', 'strided')

_HELPERS = r"""
// Python's a % b: the result has the sign of b.
__device__ __forceinline__ real python_remainder(real a, real b)
{
    real r = fmod(a, b);
    if (r != (real)0 && ((r < (real)0) != (b < (real)0))) r += b;
    return r;
}

// 1 / (1 + exp(-x)) without overflow: exp only ever sees a non-positive argument.
__device__ __forceinline__ real stable_sigmoid(real x)
{
    if (x >= (real)0) return (real)1 / ((real)1 + exp(-x));
    const real e = exp(x);
    return e / ((real)1 + e);
}

__device__ __forceinline__ bool is_finite_value(real x)
{
    return isfinite(x);
}

// Philox4x32-10 (Salmon et al. 2011): a counter-based generator; the output is a
// function of (counter, key) only.
__device__ __forceinline__ uint4 philox4x32_10(uint4 counter, uint2 key)
{
    for (int round = 0; round < 10; ++round) {
        const unsigned int high0 = __umulhi(0xD2511F53u, counter.x);
        const unsigned int low0 = 0xD2511F53u * counter.x;
        const unsigned int high1 = __umulhi(0xCD9E8D57u, counter.z);
        const unsigned int low1 = 0xCD9E8D57u * counter.z;
        counter = make_uint4(high1 ^ counter.y ^ key.x, low1,
                             high0 ^ counter.w ^ key.y, low0);
        key.x += 0x9E3779B9u;
        key.y += 0xBB67AE85u;
    }
    return counter;
}

// A double in [0, 1) with 53 random bits.
__device__ __forceinline__ double uniform_from_bits(unsigned int high, unsigned int low)
{
    const unsigned long long bits =
        ((unsigned long long)(high >> 5) << 26) | (unsigned long long)(low >> 6);
    return (double)bits * (1.0 / 9007199254740992.0);
}

// A standard normal sample by Box-Muller from four random words.
__device__ __forceinline__ double gaussian_from_bits(uint4 bits)
{
    const double u1 = 1.0 - uniform_from_bits(bits.x, bits.y);  // (0, 1]: log is finite
    const double u2 = uniform_from_bits(bits.z, bits.w);
    return sqrt(-2.0 * log(u1)) * cospi(2.0 * u2);
}
"""


def _parameters(spec, variant):
    """The C parameter list of an elementwise kernel."""
    parameters = ['const int n']
    if variant == 'strided':
        parameters += [f'const int size{d}' for d in range(1, MAX_DIMS)]
    for name in spec.arrays:
        qualifier = '' if name in spec.written else 'const '
        parameters.append(f'{qualifier}real* {name}_data')
        if variant == 'strided':
            parameters += [f'const int {name}_stride{d}' for d in range(MAX_DIMS)]
    for name, c_type in spec.scalars:
        parameters.append(f'const {c_type} {name}')
    return parameters


def elementwise_kernel(name, variant):
    """Return the C source of one elementwise kernel (without the module prelude).

    Args:
        name (str): a key of :data:`ELEMENTWISE`.
        variant (str): ``'contiguous'`` or ``'strided'``.

    Returns:
        str: the ``extern "C" __global__`` function ``<name>_<variant>``.
    """
    spec = ELEMENTWISE[name]
    lines = [f'extern "C" __global__ void {name}_{variant}(' + ', '.join(_parameters(spec, variant))
             + ')', '{',
             '    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n;'
             ' i += blockDim.x * gridDim.x) {']
    if variant == 'strided':
        # the logical row-major index split over the collapsed dimensions
        lines.append('        int rest = i;')
        for d in range(MAX_DIMS - 1, 0, -1):
            lines.append(f'        const int index{d} = rest % size{d}; rest /= size{d};')
        lines.append('        const int index0 = rest;')
        for array in spec.arrays:
            terms = ' + '.join(f'index{d} * {array}_stride{d}' for d in range(MAX_DIMS))
            lines.append(f'        const int {array}_at = {terms};')
        elements = {array: f'{array}_data[{array}_at]' for array in spec.arrays}
    else:
        elements = {array: f'{array}_data[i]' for array in spec.arrays}
    lines.append('        ' + Template(spec.body).substitute(elements))
    lines += ['    }', '}']
    return '\n'.join(lines)


def _reduction_kernels(name, map_expression):
    """Two reductions of ``map(a)`` over up to two strided axes per output.

    Output ``o`` sums ``map(a[o * outer + (k / inner_cols) * row + (k % inner_cols) * col])``
    over ``k < count``; ``accumulate`` adds the sum into ``out[o * out_stride]``
    instead of overwriting it. ``_lanes`` puts 32 outputs side by side (for
    column sums of row-major data); ``_rows`` gives each output a whole block.
    Sums are kept in double.
    """
    parameters = ('const int outputs, const int count, const int inner_cols, '
                  'const real* a, const int outer, const int row, const int col, '
                  'real* out, const int out_stride, const int accumulate')
    read = "a[base + (k / inner_cols) * row + (k % inner_cols) * col]"
    element = f'({map_expression.format(x=read)})'
    lanes_x, lanes_y, _ = LANES_BLOCK
    return f"""
extern "C" __global__ void {name}_lanes({parameters})
{{
    __shared__ double partial[{lanes_y}][{lanes_x}];
    for (int first = blockIdx.x * {lanes_x}; first < outputs; first += gridDim.x * {lanes_x}) {{
        const int o = first + threadIdx.x;
        double total = 0.0;
        if (o < outputs) {{
            const long long base = (long long)o * outer;
            for (int k = threadIdx.y; k < count; k += {lanes_y}) total += {element};
        }}
        partial[threadIdx.y][threadIdx.x] = total;
        __syncthreads();
        if (threadIdx.y == 0 && o < outputs) {{
            double sum = 0.0;
            for (int y = 0; y < {lanes_y}; ++y) sum += partial[y][threadIdx.x];
            real* target = out + (long long)o * out_stride;
            *target = accumulate ? *target + (real)sum : (real)sum;
        }}
        __syncthreads();
    }}
}}

extern "C" __global__ void {name}_rows({parameters})
{{
    __shared__ double partial[{ROW_BLOCK}];
    for (int o = blockIdx.x; o < outputs; o += gridDim.x) {{
        const long long base = (long long)o * outer;
        double total = 0.0;
        for (int k = threadIdx.x; k < count; k += {ROW_BLOCK}) total += {element};
        partial[threadIdx.x] = total;
        __syncthreads();
        for (int half = {ROW_BLOCK} / 2; half > 0; half /= 2) {{
            if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
            __syncthreads();
        }}
        if (threadIdx.x == 0) {{
            real* target = out + (long long)o * out_stride;
            *target = accumulate ? *target + (real)partial[0] : (real)partial[0];
        }}
        __syncthreads();
    }}
}}
"""


#: Reduction name -> C expression of the mapped element ``{x}``.
REDUCTIONS = {
    'reduce_sum': '(double){x}',
    'count_nonfinite': 'is_finite_value({x}) ? 0.0 : 1.0',
}

_MATRIX_KERNELS = f"""
// Softmax over each row, one block per row; out may be m (every element is read
// by the thread that later writes it).
extern "C" __global__ void softmax_rows(const int rows, const int cols,
    const real* m, const int m_row, const int m_col, real* out, const int out_row,
    const int out_col)
{{
    __shared__ real shared[{ROW_BLOCK}];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {{
        const real* source = m + (long long)r * m_row;
        real* target = out + (long long)r * out_row;
        real largest = -INFINITY;
        for (int c = threadIdx.x; c < cols; c += {ROW_BLOCK})
            largest = fmax(largest, source[c * m_col]);
        shared[threadIdx.x] = largest;
        __syncthreads();
        for (int half = {ROW_BLOCK} / 2; half > 0; half /= 2) {{
            if (threadIdx.x < half)
                shared[threadIdx.x] = fmax(shared[threadIdx.x], shared[threadIdx.x + half]);
            __syncthreads();
        }}
        largest = shared[0];
        __syncthreads();
        real total = 0;
        for (int c = threadIdx.x; c < cols; c += {ROW_BLOCK})
            total += exp(source[c * m_col] - largest);
        shared[threadIdx.x] = total;
        __syncthreads();
        for (int half = {ROW_BLOCK} / 2; half > 0; half /= 2) {{
            if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
            __syncthreads();
        }}
        total = shared[0];
        __syncthreads();
        for (int c = threadIdx.x; c < cols; c += {ROW_BLOCK})
            target[c * out_col] = exp(source[c * m_col] - largest) / total;
    }}
}}

// out[r, c] = (c == v[r]) for an (M, 1) column v of class indices.
extern "C" __global__ void binarize_rows(const int rows, const int cols,
    const real* v, const int v_row, real* out, const int out_row, const int out_col)
{{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < rows * cols;
         i += blockDim.x * gridDim.x) {{
        const int r = i / cols, c = i % cols;
        out[(long long)r * out_row + (long long)c * out_col] =
            v[(long long)r * v_row] == (real)c ? (real)1 : (real)0;
    }}
}}

// out[r, 0] = m[r, v[r, 0]].
extern "C" __global__ void index_rows(const int rows, const real* m, const int m_row,
    const int m_col, const real* v, const int v_row, real* out, const int out_row)
{{
    for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += blockDim.x * gridDim.x)
        out[(long long)r * out_row] =
            m[(long long)r * m_row + (long long)(int)v[(long long)r * v_row] * m_col];
}}
"""

_IMAGE_PARAMETERS = ('const int batch, const int height, const int width, const int channels, '
                     'const int out_height, const int out_width, const int kernel_height, '
                     'const int kernel_width, const int padding, const int stride_rows, '
                     'const int stride_cols')

_IMAGE_KERNELS = f"""
// columns[(n, oh, ow), (i, j, c)] = padded input[n, oh * sh + i, ow * sw + j, c]
extern "C" __global__ void im2col({_IMAGE_PARAMETERS}, const real* inputs, real* columns)
{{
    const long long total = (long long)batch * out_height * out_width * kernel_height
                            * kernel_width * channels;
    for (long long index = blockIdx.x * (long long)blockDim.x + threadIdx.x; index < total;
         index += (long long)blockDim.x * gridDim.x) {{
        long long rest = index;
        const int c = rest % channels; rest /= channels;
        const int j = rest % kernel_width; rest /= kernel_width;
        const int i = rest % kernel_height; rest /= kernel_height;
        const int ow = rest % out_width; rest /= out_width;
        const int oh = rest % out_height;
        const int n = rest / out_height;
        const int h = oh * stride_rows - padding + i;
        const int w = ow * stride_cols - padding + j;
        columns[index] = (h >= 0 && h < height && w >= 0 && w < width)
            ? inputs[(((long long)n * height + h) * width + w) * channels + c] : (real)0;
    }}
}}

// in_deltas[n, h, w, c] += sum of the column deltas of every window position that
// reads (h, w); gathered per input element, so no two threads write one element.
extern "C" __global__ void col2im_add({_IMAGE_PARAMETERS}, const real* column_deltas,
    real* in_deltas)
{{
    const long long total = (long long)batch * height * width * channels;
    const int row_length = kernel_height * kernel_width * channels;
    for (long long index = blockIdx.x * (long long)blockDim.x + threadIdx.x; index < total;
         index += (long long)blockDim.x * gridDim.x) {{
        long long rest = index;
        const int c = rest % channels; rest /= channels;
        const int w = rest % width; rest /= width;
        const int h = rest % height;
        const int n = rest / height;
        real sum = 0;
        for (int i = 0; i < kernel_height; ++i) {{
            const int hp = h + padding - i;
            if (hp < 0 || hp % stride_rows != 0 || hp / stride_rows >= out_height) continue;
            const int oh = hp / stride_rows;
            for (int j = 0; j < kernel_width; ++j) {{
                const int wp = w + padding - j;
                if (wp < 0 || wp % stride_cols != 0 || wp / stride_cols >= out_width) continue;
                const int ow = wp / stride_cols;
                const long long row = ((long long)n * out_height + oh) * out_width + ow;
                sum += column_deltas[row * row_length + (i * kernel_width + j) * channels + c];
            }}
        }}
        in_deltas[index] += sum;
    }}
}}

// One thread per output; padded cells never win; ties keep the first offset in
// row-major window order; argmax holds i * kernel_width + j. A window entirely in
// the padding outputs 0 (brainstorm 0.5) with argmax 0, a padded cell: no delta.
extern "C" __global__ void maxpool_forward({_IMAGE_PARAMETERS}, const real* inputs,
    real* outputs, real* argmax)
{{
    const long long total = (long long)batch * out_height * out_width * channels;
    for (long long index = blockIdx.x * (long long)blockDim.x + threadIdx.x; index < total;
         index += (long long)blockDim.x * gridDim.x) {{
        long long rest = index;
        const int c = rest % channels; rest /= channels;
        const int ow = rest % out_width; rest /= out_width;
        const int oh = rest % out_height;
        const int n = rest / out_height;
        real best = -INFINITY;
        int best_offset = 0;
        int inside = 0;
        for (int i = 0; i < kernel_height; ++i) {{
            const int h = oh * stride_rows - padding + i;
            if (h < 0 || h >= height) continue;
            for (int j = 0; j < kernel_width; ++j) {{
                const int w = ow * stride_cols - padding + j;
                if (w < 0 || w >= width) continue;
                inside = 1;
                const real value = inputs[(((long long)n * height + h) * width + w) * channels + c];
                if (value > best) {{ best = value; best_offset = i * kernel_width + j; }}
            }}
        }}
        outputs[index] = inside ? best : (real)0;
        argmax[index] = (real)best_offset;
    }}
}}

// in_deltas[n, h, w, c] += out_deltas of every window whose argmax is (h, w).
extern "C" __global__ void maxpool_backward({_IMAGE_PARAMETERS}, const real* argmax,
    const real* out_deltas, real* in_deltas)
{{
    const long long total = (long long)batch * height * width * channels;
    for (long long index = blockIdx.x * (long long)blockDim.x + threadIdx.x; index < total;
         index += (long long)blockDim.x * gridDim.x) {{
        long long rest = index;
        const int c = rest % channels; rest /= channels;
        const int w = rest % width; rest /= width;
        const int h = rest % height;
        const int n = rest / height;
        real sum = 0;
        for (int i = 0; i < kernel_height; ++i) {{
            const int hp = h + padding - i;
            if (hp < 0 || hp % stride_rows != 0 || hp / stride_rows >= out_height) continue;
            const int oh = hp / stride_rows;
            for (int j = 0; j < kernel_width; ++j) {{
                const int wp = w + padding - j;
                if (wp < 0 || wp % stride_cols != 0 || wp / stride_cols >= out_width) continue;
                const int ow = wp / stride_cols;
                const long long out_index =
                    (((long long)n * out_height + oh) * out_width + ow) * channels + c;
                if (argmax[out_index] == (real)(i * kernel_width + j)) sum += out_deltas[out_index];
            }}
        }}
        in_deltas[index] += sum;
    }}
}}

// The number of window rows (or columns) starting at ``start`` that lie in [0, size).
__device__ int inside_count(int start, int kernel, int size)
{{
    const int first = start < 0 ? 0 : start;
    const int last = start + kernel < size ? start + kernel : size;
    return last > first ? last - first : 0;
}}

// Window sums divided by the number of window positions inside the image (padding
// does not count, as in brainstorm 0.5); a window entirely in the padding gives 0.
extern "C" __global__ void avgpool_forward({_IMAGE_PARAMETERS}, const real* inputs,
    real* outputs)
{{
    const long long total = (long long)batch * out_height * out_width * channels;
    for (long long index = blockIdx.x * (long long)blockDim.x + threadIdx.x; index < total;
         index += (long long)blockDim.x * gridDim.x) {{
        long long rest = index;
        const int c = rest % channels; rest /= channels;
        const int ow = rest % out_width; rest /= out_width;
        const int oh = rest % out_height;
        const int n = rest / out_height;
        real sum = 0;
        for (int i = 0; i < kernel_height; ++i) {{
            const int h = oh * stride_rows - padding + i;
            if (h < 0 || h >= height) continue;
            for (int j = 0; j < kernel_width; ++j) {{
                const int w = ow * stride_cols - padding + j;
                if (w < 0 || w >= width) continue;
                sum += inputs[(((long long)n * height + h) * width + w) * channels + c];
            }}
        }}
        const int count = inside_count(oh * stride_rows - padding, kernel_height, height) *
                          inside_count(ow * stride_cols - padding, kernel_width, width);
        outputs[index] = count > 0 ? sum / (real)count : (real)0;
    }}
}}

// in_deltas[n, h, w, c] += sum over the windows over (h, w) of their out_delta divided
// by their number of positions inside the image.
extern "C" __global__ void avgpool_backward({_IMAGE_PARAMETERS}, const real* out_deltas,
    real* in_deltas)
{{
    const long long total = (long long)batch * height * width * channels;
    for (long long index = blockIdx.x * (long long)blockDim.x + threadIdx.x; index < total;
         index += (long long)blockDim.x * gridDim.x) {{
        long long rest = index;
        const int c = rest % channels; rest /= channels;
        const int w = rest % width; rest /= width;
        const int h = rest % height;
        const int n = rest / height;
        real sum = 0;
        for (int i = 0; i < kernel_height; ++i) {{
            const int hp = h + padding - i;
            if (hp < 0 || hp % stride_rows != 0 || hp / stride_rows >= out_height) continue;
            const int oh = hp / stride_rows;
            for (int j = 0; j < kernel_width; ++j) {{
                const int wp = w + padding - j;
                if (wp < 0 || wp % stride_cols != 0 || wp / stride_cols >= out_width) continue;
                const int ow = wp / stride_cols;
                const int count =
                    inside_count(oh * stride_rows - padding, kernel_height, height) *
                    inside_count(ow * stride_cols - padding, kernel_width, width);
                sum += out_deltas[(((long long)n * out_height + oh) * out_width + ow)
                                  * channels + c] / (real)count;
            }}
        }}
        in_deltas[index] += sum;
    }}
}}
"""

#: Names of the non-elementwise kernels, with the pycuda ``prepare`` argument
#: codes (``P`` pointer, ``i`` int, ``r`` the handler's real type).
OTHER_KERNELS = {
    **{f'{name}_{kind}': 'iiiPiiiPii' for name in REDUCTIONS for kind in ('lanes', 'rows')},
    'softmax_rows': 'iiPiiPii',
    'binarize_rows': 'iiPiPii',
    'index_rows': 'iPiiPiPi',
    'im2col': 'i' * 11 + 'PP',
    'col2im_add': 'i' * 11 + 'PP',
    'maxpool_forward': 'i' * 11 + 'PPP',
    'maxpool_backward': 'i' * 11 + 'PPP',
    'avgpool_forward': 'i' * 11 + 'PP',
    'avgpool_backward': 'i' * 11 + 'PP',
}


def elementwise_argument_codes(name, variant):
    """The ``prepare`` codes (see :data:`OTHER_KERNELS`) of an elementwise kernel."""
    spec = ELEMENTWISE[name]
    codes = 'i'
    if variant == 'strided':
        codes += 'i' * (MAX_DIMS - 1)
    for _ in spec.arrays:
        codes += 'P' + ('i' * MAX_DIMS if variant == 'strided' else '')
    for _, c_type in spec.scalars:
        codes += 'r' if c_type == 'real' else 'I'
    return codes


def kernel_names():
    """Every kernel name of a module, each with its ``prepare`` argument codes.

    Returns:
        dict: kernel name -> argument codes (``P``, ``i``, ``I`` unsigned, ``r`` real).
    """
    names = {f'{name}_{variant}': elementwise_argument_codes(name, variant)
             for name in ELEMENTWISE for variant in ELEMENTWISE_VARIANTS}
    names.update(OTHER_KERNELS)
    return names


def module_source(dtype_name):
    """Return the complete CUDA C++ source of all kernels for one dtype.

    This exact string is what PyCudaHandler compiles (with ``no_extern_c``:
    every kernel declares ``extern "C"`` itself), and what the nvcc test compiles.

    Args:
        dtype_name (str): ``'float32'`` or ``'float64'``.

    Returns:
        str: the module source.
    """
    c_type = C_TYPES[dtype_name]
    parts = [f'// brainstorm PyCudaHandler kernels for {dtype_name}',
             f'typedef {c_type} real;', _HELPERS]
    for name in ELEMENTWISE:
        for variant in ELEMENTWISE_VARIANTS:
            parts.append(elementwise_kernel(name, variant))
    for name, expression in REDUCTIONS.items():
        parts.append(_reduction_kernels(name, expression))
    parts += [_MATRIX_KERNELS, _IMAGE_KERNELS]
    return '\n\n'.join(parts) + '\n'
