"""The part of pycuda that PyCudaHandler uses, emulated on the CPU.

"Device" memory is host memory: a device pointer is the address of a numpy
buffer, so the handler's raw pointers, views and memcpys work unchanged. Each
allocation starts filled with NaN bytes (as fresh GPU memory holds garbage, a
kernel that reads before it writes shows up) and sits between guard zones that
are checked after every launch and copy, so a kernel or gemm writing past an
array fails the test that made it.

``GPUArray`` follows pycuda 2026.1's own ``gpuarray.GPUArray`` for everything
the handler and the engine use (constructor, ``__getitem__`` views, ``reshape``
of contiguous arrays only, ``transpose``/``T``, ``flags``, ``ptr``), so a view pycuda
would reject or lay out differently does so here too.

``SourceModule`` compiles the unchanged CUDA source with g++ behind
``kernel_runtime.h``; ``prepared_call`` checks the launch the way the driver
and pycuda's argument packing would (block and grid limits, argument count and
types, integer ranges, pointers into live allocations) and runs the grid on the
CPU.
"""

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
import weakref
from functools import reduce

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

#: bytes of guard zone before and after every allocation
GUARD_BYTES = 1024
#: the guard zones' byte value
GUARD_VALUE = 0xA5
#: fresh allocations hold this byte everywhere: NaN in float32 and float64
FRESH_VALUE = 0xFF
#: cudaMalloc's alignment
ALIGNMENT = 256


class EmulatorError(RuntimeError):
    """A launch or copy that would fail or corrupt memory on a real GPU."""


# --------------------------------------------------------------------------- building

def _build_folder():
    folder = os.path.join(tempfile.gettempdir(), f'brainstorm-cuda-emulator-{os.getuid()}')
    os.makedirs(folder, mode=0o700, exist_ok=True)
    # the libraries in it get loaded: nobody else may be able to put one there
    info = os.stat(folder)
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise EmulatorError(f"{folder} is not private to this user (owner or permissions); "
                            f"remove it and run again")
    return folder


def compile_shared_library(source, suffix, compiler, flags):
    """Compile ``source`` into a shared library (cached by content) and return its path.

    Raises:
        EmulatorError: with the compiler's output when it fails.
    """
    key = hashlib.sha256('\0'.join([source, compiler, *flags]).encode()).hexdigest()[:24]
    folder = _build_folder()
    library = os.path.join(folder, f'{key}.so')
    if os.path.exists(library):
        return library
    source_path = os.path.join(folder, f'{key}.{os.getpid()}.{suffix}')
    with open(source_path, 'w') as file:
        file.write(source)
    partial = f'{library}.{os.getpid()}.partial'
    result = subprocess.run([compiler, *flags, '-shared', '-fPIC', '-o', partial, source_path],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:  # the source stays, for reading the errors against
        raise EmulatorError(f"{compiler} failed on {source_path}:\n{result.stderr[-4000:]}")
    os.replace(partial, library)  # atomic: a concurrent build never sees half a library
    os.remove(source_path)
    return library


def unavailable_reason():
    """None where the emulator can run here, else why not (one line)."""
    for compiler in ('g++', 'gcc'):
        if shutil.which(compiler) is None:
            return f"the CUDA emulator needs {compiler} on PATH"
    if not sys.platform.startswith('linux'):
        return "the CUDA emulator needs Linux (ucontext fibers)"
    return None


# ----------------------------------------------------------------------------- memory

_ALLOCATIONS = weakref.WeakValueDictionary()  # start address -> DeviceAllocation


class DeviceAllocation:
    """``driver.mem_alloc``'s result: ``int()`` of it is the device (here: host) address."""

    def __init__(self, nbytes):
        if nbytes <= 0:
            raise EmulatorError(f"mem_alloc of {nbytes} bytes")
        self.nbytes = int(nbytes)
        self._buffer = np.full(self.nbytes + 2 * GUARD_BYTES + ALIGNMENT, GUARD_VALUE,
                               dtype=np.uint8)
        base = self._buffer.ctypes.data
        start = -(-(base + GUARD_BYTES) // ALIGNMENT) * ALIGNMENT
        self._offset = start - base
        self.pointer = start
        self._user()[...] = FRESH_VALUE
        _ALLOCATIONS[start] = self

    def _user(self):
        return self._buffer[self._offset:self._offset + self.nbytes]

    def __int__(self):
        return self.pointer

    __index__ = __int__

    def contains(self, pointer, nbytes=0):
        return self.pointer <= pointer and pointer + nbytes <= self.pointer + self.nbytes

    def guards_intact(self):
        before = self._buffer[:self._offset]
        after = self._buffer[self._offset + self.nbytes:]
        return bool((before == GUARD_VALUE).all() and (after == GUARD_VALUE).all())

    def free(self):
        _ALLOCATIONS.pop(self.pointer, None)


def check_guards(what):
    """Raise EmulatorError when any live allocation's guard zones were written."""
    for allocation in list(_ALLOCATIONS.values()):
        if not allocation.guards_intact():
            raise EmulatorError(f"{what} wrote outside the allocation of {allocation.nbytes} "
                                f"bytes at {allocation.pointer:#x}")


def find_allocation(pointer, nbytes=0):
    """The live allocation holding ``[pointer, pointer + nbytes)``, or None."""
    for allocation in list(_ALLOCATIONS.values()):
        if allocation.contains(pointer, nbytes):
            return allocation
    return None


def host_view(pointer, nbytes):
    """A writable uint8 numpy view of ``nbytes`` of emulated device memory."""
    if nbytes == 0:
        return np.empty(0, dtype=np.uint8)
    return np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(pointer))


def _checked_range(pointer, nbytes, what):
    pointer = int(pointer)
    if nbytes and find_allocation(pointer, nbytes) is None:
        raise EmulatorError(f"{what}: {nbytes} bytes at {pointer:#x} are not inside one "
                            f"live allocation")
    return pointer


# ----------------------------------------------------------------------------- driver

def mem_alloc(nbytes):
    """A fresh allocation of ``nbytes`` (NaN bytes inside, guard zones around)."""
    return DeviceAllocation(nbytes)


def memcpy_htod(destination, source):
    """Copy a host array into device memory at ``destination``."""
    if not source.flags.c_contiguous:  # pycuda's buffer interface refuses it too
        raise EmulatorError("memcpy_htod needs a contiguous host array")
    pointer = _checked_range(destination, source.nbytes, 'memcpy_htod')
    host_view(pointer, source.nbytes)[...] = source.reshape(-1).view(np.uint8)
    check_guards('memcpy_htod')


def memcpy_dtoh(destination, source):
    """Copy device memory at ``source`` into the contiguous host array ``destination``."""
    if not destination.flags.c_contiguous:
        raise EmulatorError("memcpy_dtoh needs a contiguous host array")
    pointer = _checked_range(source, destination.nbytes, 'memcpy_dtoh')
    check_guards('before memcpy_dtoh')
    destination.reshape(-1).view(np.uint8)[...] = host_view(pointer, destination.nbytes)


def pagelocked_empty(shape, dtype, order='C', mem_flags=0):
    """pycuda's page-locked host array; here a plain one, counted in ``PAGELOCKED_COUNT``."""
    global PAGELOCKED_COUNT
    PAGELOCKED_COUNT += 1
    return np.empty(shape, dtype=dtype, order=order)


#: how many arrays ``pagelocked_empty`` made (a test checks that transfers reuse theirs)
PAGELOCKED_COUNT = 0


def _make_driver():
    driver = types.ModuleType('pycuda.driver')

    class Context:
        def __init__(self):
            self.depth = 0

        def push(self):
            self.depth += 1

        def pop(self):
            if self.depth == 0:
                raise EmulatorError("context pop without push")
            self.depth -= 1

        def synchronize(self):
            pass  # every emulated launch has finished when it returns

        def get_device(self):
            return Device(0)

    class Device:
        _context = Context()

        def __init__(self, index):
            if index != 0:
                raise EmulatorError(f"invalid device ordinal {index}")

        @staticmethod
        def count():
            return 1

        def name(self):
            return 'brainstorm CPU CUDA emulator'

        def retain_primary_context(self):
            return Device._context

    driver.init = lambda flags=0: None
    driver.Device = Device
    driver.Context = Context
    driver.mem_alloc = mem_alloc
    driver.memcpy_htod = memcpy_htod
    driver.memcpy_dtoh = memcpy_dtoh
    driver.pagelocked_empty = pagelocked_empty
    driver.DeviceAllocation = DeviceAllocation
    driver.LaunchError = EmulatorError
    return driver


# --------------------------------------------------------------------------- GPUArray

def _c_contiguous_strides(itemsize, shape):
    strides, step = [], itemsize
    for size in reversed(shape):
        strides.append(step)
        step *= max(1, size)
    return tuple(reversed(strides))


def _f_contiguous_strides(itemsize, shape):
    strides, step = [], itemsize
    for size in shape:
        strides.append(step)
        step *= max(1, size)
    return tuple(strides)


def _equal_strides(first, second, shape):
    if first == second:
        return True
    return len(first) == len(second) == len(shape) and all(
        size == 1 or a == b for size, a, b in zip(shape, first, second))


class _ArrayFlags:
    def __init__(self, array):
        empty = array.size == 0
        self.c_contiguous = empty or _equal_strides(
            array.strides, _c_contiguous_strides(array.dtype.itemsize, array.shape), array.shape)
        self.f_contiguous = empty or _equal_strides(
            array.strides, _f_contiguous_strides(array.dtype.itemsize, array.shape), array.shape)
        self.forc = self.c_contiguous or self.f_contiguous


def _make_gpuarray_class(mem_alloc):

    class GPUArray:
        """pycuda's GPUArray as far as brainstorm uses it (see the module docstring)."""

        def __init__(self, shape, dtype, allocator=mem_alloc, base=None, gpudata=None,
                     strides=None, order='C'):
            dtype = np.dtype(dtype)
            if isinstance(shape, (int, np.integer)):
                shape = (shape,)
            shape = tuple(int(size) for size in shape)
            size = reduce(lambda a, b: a * b, shape, 1)
            if strides is None:
                if order == 'C':
                    strides = _c_contiguous_strides(dtype.itemsize, shape)
                elif order == 'F':
                    strides = _f_contiguous_strides(dtype.itemsize, shape)
                else:
                    raise ValueError(f"invalid order: {order}")
            self.shape = shape
            self.dtype = dtype
            self.strides = tuple(int(stride) for stride in strides)
            self.mem_size = self.size = size
            self.nbytes = dtype.itemsize * size
            self.itemsize = dtype.itemsize
            self.allocator = allocator
            if gpudata is None:
                self.gpudata = allocator(size * dtype.itemsize) if size else None
                assert base is None
            else:
                self.gpudata = gpudata
            self.base = base

        @property
        def ndim(self):
            return len(self.shape)

        @property
        def ptr(self):
            return self.gpudata.__int__()

        @property
        def flags(self):
            return _ArrayFlags(self)

        @property
        def __cuda_array_interface__(self):
            # what pycuda's GPUArray exports (version 3, no stream): a CUDA-aware MPI
            # reads device memory through it; the emulator's device memory is host memory
            return {'shape': self.shape, 'strides': self.strides, 'typestr': self.dtype.str,
                    'data': (int(self.gpudata) if self.gpudata is not None else 0, False),
                    'stream': None, 'version': 3}

        def __len__(self):
            if not self.shape:
                raise TypeError("len() of unsized object")
            return self.shape[0]

        def reshape(self, *shape, order='C'):
            if not self.flags.forc:
                raise RuntimeError("only contiguous arrays may be used as arguments to "
                                   "this operation")
            if isinstance(shape[0], (tuple, list)):
                shape = tuple(shape[0])
            same_contiguity = ((order == 'C' and self.flags.c_contiguous)
                               or (order == 'F' and self.flags.f_contiguous))
            if shape == self.shape and same_contiguity:
                return self
            if -1 in shape:
                shape = list(shape)
                index = shape.index(-1)
                known = -reduce(lambda a, b: a * b, shape, 1)
                shape[index] = self.size // known
                if -1 in shape[index:]:
                    raise ValueError("can only specify one unknown dimension")
                shape = tuple(shape)
            if reduce(lambda a, b: a * b, shape, 1) != self.size:
                raise ValueError("total size of new array must be unchanged")
            return GPUArray(shape=shape, dtype=self.dtype, allocator=self.allocator, base=self,
                            gpudata=int(self.gpudata), order=order)

        def ravel(self):
            return self.reshape(self.size)

        def transpose(self, axes=None):
            if axes is None:
                axes = range(self.ndim - 1, -1, -1)
            axes = list(axes)
            if len(axes) != len(self.shape):
                raise ValueError("axes don't match array")
            return GPUArray(shape=tuple(self.shape[axis] for axis in axes), dtype=self.dtype,
                            allocator=self.allocator,
                            base=self if self.base is None else self.base,
                            gpudata=self.gpudata,
                            strides=tuple(self.strides[axis] for axis in axes))

        @property
        def T(self):  # noqa: N802 (pycuda's name)
            return self.transpose()

        def __getitem__(self, index):
            if not isinstance(index, tuple):
                index = (index,)
            new_shape, new_strides, new_offset = [], [], 0
            seen_ellipsis = False
            index_axis = array_axis = 0
            while index_axis < len(index):
                entry = index[index_axis]
                if array_axis > len(self.shape):
                    raise IndexError("too many axes in index")
                if isinstance(entry, slice):
                    start, stop, step = entry.indices(self.shape[array_axis])
                    stride = self.strides[array_axis]
                    new_shape.append((abs(stop - start) - 1) // abs(step) + 1)
                    new_strides.append(step * stride)
                    new_offset += stride * start
                    index_axis += 1
                    array_axis += 1
                elif isinstance(entry, (int, np.integer)):
                    size = self.shape[array_axis]
                    if entry < 0:
                        entry += size
                    if not 0 <= entry < size:
                        raise IndexError(f"subindex in axis {index_axis} out of range")
                    new_offset += self.strides[array_axis] * entry
                    index_axis += 1
                    array_axis += 1
                elif entry is Ellipsis:
                    index_axis += 1
                    new_array_axis = len(self.shape) - (len(index) - index_axis)
                    if new_array_axis < array_axis:
                        raise IndexError("invalid use of ellipsis in index")
                    while array_axis < new_array_axis:
                        new_shape.append(self.shape[array_axis])
                        new_strides.append(self.strides[array_axis])
                        array_axis += 1
                    if seen_ellipsis:
                        raise IndexError("more than one ellipsis not allowed in index")
                    seen_ellipsis = True
                elif entry is None:
                    new_shape.append(1)
                    new_strides.append(0)
                    index_axis += 1
                else:
                    raise IndexError(f"invalid subindex in axis {index_axis}")
            while array_axis < len(self.shape):
                new_shape.append(self.shape[array_axis])
                new_strides.append(self.strides[array_axis])
                array_axis += 1
            return GPUArray(shape=tuple(new_shape), dtype=self.dtype, allocator=self.allocator,
                            base=self, gpudata=int(self.gpudata) + new_offset,
                            strides=tuple(new_strides))

        def get(self):
            """A host copy (contiguous arrays only, which is all brainstorm's tests ask)."""
            if not self.flags.c_contiguous:
                raise EmulatorError("get() of a non-contiguous GPUArray")
            result = np.empty(self.shape, self.dtype)
            if self.size:
                memcpy_dtoh(result, int(self.gpudata))
            return result

        def __repr__(self):
            return f"GPUArray(shape={self.shape}, dtype={self.dtype}, strides={self.strides})"

    return GPUArray


# ---------------------------------------------------------------------------- kernels

_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)')

_EMULATOR_FLAGS = ('-O0', '-U_FORTIFY_SOURCE', '-std=c++17', '-w')

#: numpy scalar type -> (ctypes type, kind) for prepare()'s argument types
_ARGUMENT_TYPES = {
    np.dtype(np.uintp): (ctypes.c_void_p, 'pointer'),
    np.dtype(np.int32): (ctypes.c_int, 'int'),
    np.dtype(np.uint32): (ctypes.c_uint, 'unsigned int'),
    np.dtype(np.float32): (ctypes.c_float, 'float'),
    np.dtype(np.float64): (ctypes.c_double, 'double'),
}


def _parameter_kind(declaration, real):
    """'pointer', 'int', 'unsigned int', 'float' or 'double' of a C parameter declaration."""
    if '*' in declaration:
        return 'pointer'
    words = declaration.replace('const', ' ').split()[:-1]
    c_type = ' '.join(words)
    return real if c_type == 'real' else c_type


def _wrapper(name, parameters, synchronizes):
    declarations = [parameter.strip() for parameter in parameters.split(',') if parameter.strip()]
    names = [re.findall(r'\w+', declaration)[-1] for declaration in declarations]
    signature = ', '.join(['unsigned int grid_x, unsigned int grid_y, unsigned int grid_z, '
                           'unsigned int block_x, unsigned int block_y, unsigned int block_z']
                          + declarations)
    return (f'extern "C" int emulator_launch_{name}({signature})\n{{\n'
            f'    return emulator::launch(dim3{{grid_x, grid_y, grid_z}}, '
            f'dim3{{block_x, block_y, block_z}}, {str(synchronizes).lower()}, '
            f'[&]() {{ {name}({", ".join(names)}); }});\n}}\n'), declarations


_LIBRARIES = []  # every kernel library loaded, for set_reverse_order
_reverse_order = False


def set_reverse_order(reverse):
    """Run blocks and threads last first (True) or first first (False), in every module.

    A kernel whose result depends on the order in which its threads run gives a
    different result in reverse order.
    """
    global _reverse_order
    _reverse_order = bool(reverse)
    for library in _LIBRARIES:
        library.emulator_set_reverse_order(int(reverse))


class _Function:
    def __init__(self, module, name, declarations, synchronizes):
        self.module = module
        self.name = name
        self.declarations = declarations
        self.synchronizes = synchronizes
        self._launch = getattr(module.library, f'emulator_launch_{name}')
        self._launch.restype = ctypes.c_int
        self.argument_kinds = None

    def prepare(self, argument_types):
        kinds, ctypes_types = [], []
        for argument_type in argument_types:
            try:
                ctypes_type, kind = _ARGUMENT_TYPES[np.dtype(argument_type)]
            except KeyError:
                raise EmulatorError(f"{self.name}: unsupported argument type "
                                    f"{argument_type!r}") from None
            kinds.append(kind)
            ctypes_types.append(ctypes_type)
        declared = [_parameter_kind(declaration, self.module.real)
                    for declaration in self.declarations]
        if kinds != declared:
            raise EmulatorError(f"{self.name}: prepared with {kinds}, but the kernel takes "
                                f"{declared}")
        self._launch.argtypes = [ctypes.c_uint] * 6 + ctypes_types
        self.argument_kinds = kinds
        return self

    def prepared_call(self, grid, block, *arguments):
        if self.argument_kinds is None:
            raise EmulatorError(f"{self.name}: prepared_call before prepare")
        if not isinstance(block, tuple) or not isinstance(grid, tuple):
            # pycuda takes a block that is not a tuple for the first kernel argument
            raise EmulatorError(f"{self.name}: grid and block must be tuples, got "
                                f"{grid!r} and {block!r}")
        grid = tuple(int(size) for size in grid) + (1,) * (3 - len(grid))
        block = tuple(int(size) for size in block) + (1,) * (3 - len(block))
        if not (1 <= grid[0] < 2 ** 31 and 1 <= grid[1] <= 65535 and 1 <= grid[2] <= 65535):
            raise EmulatorError(f"{self.name}: invalid grid {grid}")
        if not (min(block) >= 1 and block[0] <= 1024 and block[1] <= 1024 and block[2] <= 64
                and block[0] * block[1] * block[2] <= 1024):
            raise EmulatorError(f"{self.name}: invalid block {block}")
        if len(arguments) != len(self.argument_kinds):
            raise EmulatorError(f"{self.name}: {len(arguments)} arguments for "
                                f"{len(self.argument_kinds)} parameters")
        values = [self._checked(index, kind, value)
                  for index, (kind, value) in enumerate(zip(self.argument_kinds, arguments))]
        status = self._launch(*grid, *block, *values)
        if status != 0:
            reason = {1: "__syncthreads() reached by only some threads of a block",
                      2: "__syncthreads() in a kernel launched without fibers",
                      3: "out of memory for fiber stacks"}.get(status, f"status {status}")
            raise EmulatorError(f"kernel {self.name}: {reason}")
        check_guards(f"kernel {self.name}")

    def _checked(self, index, kind, value):
        where = f"{self.name} argument {index}"
        if kind in ('float', 'double'):
            if not isinstance(value, (int, float, np.integer, np.floating)):
                raise EmulatorError(f"{where}: {value!r} is not a number")
            return float(value)
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise EmulatorError(f"{where}: {value!r} is not an integer")
        value = int(value)
        if kind == 'int' and not -2 ** 31 <= value < 2 ** 31:
            raise EmulatorError(f"{where}: {value} does not fit a 32-bit int")
        if kind == 'unsigned int' and not 0 <= value < 2 ** 32:
            raise EmulatorError(f"{where}: {value} does not fit a 32-bit unsigned int")
        if kind == 'pointer' and value != 0 and find_allocation(value) is None:
            raise EmulatorError(f"{where}: {value:#x} points into no live allocation")
        return value


def _make_compiler():
    compiler = types.ModuleType('pycuda.compiler')

    class SourceModule:
        """Compiles a CUDA module's source with g++ behind ``kernel_runtime.h``."""

        def __init__(self, source, no_extern_c=False, options=None, **unused):
            if not no_extern_c:
                source = f'extern "C" {{\n{source}\n}}\n'
            real = re.search(r'typedef\s+(float|double)\s+real\s*;', source)
            self.real = real.group(1) if real else 'float'
            matches = list(_KERNEL.finditer(source))
            wrappers, self._kernels = [], {}
            for number, match in enumerate(matches):
                end = matches[number + 1].start() if number + 1 < len(matches) else len(source)
                synchronizes = '__syncthreads' in source[match.end():end]
                text, declarations = _wrapper(match.group(1), match.group(2), synchronizes)
                wrappers.append(text)
                self._kernels[match.group(1)] = (declarations, synchronizes)
            header = os.path.join(HERE, 'kernel_runtime.h')
            with open(header) as file:
                runtime = file.read()
            full = '\n'.join([runtime, '#line 1 "module.cu"', source, *wrappers])
            path = compile_shared_library(full, 'cpp', 'g++', list(_EMULATOR_FLAGS))
            self.library = ctypes.CDLL(path)
            self.library.emulator_set_reverse_order(int(_reverse_order))
            _LIBRARIES.append(self.library)
            self._functions = {}

        def get_function(self, name):
            if name not in self._kernels:
                raise EmulatorError(f"cuModuleGetFunction failed: named symbol not found "
                                    f"({name})")
            if name not in self._functions:
                declarations, synchronizes = self._kernels[name]
                self._functions[name] = _Function(self, name, declarations, synchronizes)
            return self._functions[name]

    compiler.SourceModule = SourceModule
    return compiler


# ---------------------------------------------------------------------------- modules

def build_modules():
    """The emulated modules by name: ``pycuda`` and its ``driver``, ``compiler``, ``gpuarray``,
    ``tools``."""
    package = types.ModuleType('pycuda')
    package.__path__ = []
    package.VERSION_TEXT = 'brainstorm CPU emulation of pycuda 2026.1'
    driver = _make_driver()
    compiler = _make_compiler()
    gpuarray = types.ModuleType('pycuda.gpuarray')
    gpuarray.GPUArray = _make_gpuarray_class(driver.mem_alloc)
    tools = types.ModuleType('pycuda.tools')
    tools.clear_context_caches = lambda: None
    package.driver, package.compiler, package.gpuarray, package.tools = (
        driver, compiler, gpuarray, tools)
    return {'pycuda': package, 'pycuda.driver': driver, 'pycuda.compiler': compiler,
            'pycuda.gpuarray': gpuarray, 'pycuda.tools': tools}


def build_cublas():
    """Path of the CPU cuBLAS library built from ``cublas.c``."""
    with open(os.path.join(HERE, 'cublas.c')) as file:
        source = file.read()
    return compile_shared_library(source, 'c', 'gcc', ['-O2', '-std=c99'])
