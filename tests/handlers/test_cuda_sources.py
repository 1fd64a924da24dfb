"""Every CUDA source PyCudaHandler compiles is compiled here by ``nvcc --ptx``.

No GPU is needed: nvcc alone (on PATH, as on CI) finds syntax and type errors
in the kernels. The sources are exactly the strings the handler hands to pycuda
(``_cuda_kernels.module_source``), one module per dtype, including every
expanded elementwise template in both index variants. The PTX is then read
back to check that every kernel the handler may launch exists, and that its
parameter list matches the argument codes the handler prepares it with (a
mismatch would pass garbage to the kernel at run time).
"""

import re
import shutil
import subprocess

import pytest

from brainstorm.handlers import _cuda_kernels as kernels

NVCC = shutil.which('nvcc')
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH (the CUDA toolkit "
                                                    "is needed to compile the kernels)")

#: PTX parameter type of each argument code, per dtype.
_PTX_TYPES = {'P': '.u64', 'i': '.u32', 'I': '.u32'}
_REAL_PTX = {'float32': '.f32', 'float64': '.f64'}


@pytest.fixture(scope='module', params=sorted(kernels.C_TYPES))
def compiled(request, tmp_path_factory):
    """(dtype name, PTX text) of the module nvcc compiled for one dtype."""
    dtype_name = request.param
    if NVCC is None:
        pytest.skip("nvcc is not on PATH (the CUDA toolkit is needed to compile the kernels)")
    folder = tmp_path_factory.mktemp(f'cuda_{dtype_name}')
    source = folder / 'kernels.cu'
    source.write_text(kernels.module_source(dtype_name))
    ptx = folder / 'kernels.ptx'
    result = subprocess.run([NVCC, '--ptx', '--Werror', 'all-warnings', '-o', str(ptx),
                             str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (f"nvcc failed on the {dtype_name} kernels:\n"
                                    f"{result.stderr}\n{result.stdout}")
    return dtype_name, ptx.read_text()


def ptx_entries(ptx_text):
    """Kernel name -> list of PTX parameter types, from ``.entry`` declarations."""
    entries = {}
    for match in re.finditer(r'\.entry\s+(\w+)\s*\(([^)]*)\)', ptx_text):
        entries[match.group(1)] = re.findall(r'\.param\s+(\.\w+)', match.group(2))
    return entries


@needs_nvcc
def test_module_compiles_and_declares_every_kernel(compiled):
    dtype_name, ptx_text = compiled
    entries = ptx_entries(ptx_text)
    expected = kernels.kernel_names()
    assert set(entries) == set(expected), (
        f"missing: {sorted(set(expected) - set(entries))}; "
        f"unexpected: {sorted(set(entries) - set(expected))}")


@needs_nvcc
def test_kernel_parameters_match_the_prepared_argument_codes(compiled):
    dtype_name, ptx_text = compiled
    entries = ptx_entries(ptx_text)
    for name, codes in kernels.kernel_names().items():
        wanted = [_REAL_PTX[dtype_name] if code == 'r' else _PTX_TYPES[code] for code in codes]
        # PTX may widen 32-bit ints to .s32/.u32 spellings; compare the width and kind
        got = [ptx_type.replace('.s32', '.u32').replace('.b32', '.u32').replace('.b64', '.u64')
               .replace('.s64', '.u64') for ptx_type in entries[name]]
        assert got == wanted, f"{name} ({dtype_name}): PTX params {entries[name]}, codes {codes}"


def test_every_elementwise_template_expands_in_both_variants():
    # the templates' $names must be exactly the spec's arrays (Template raises on unknown ones)
    for name, spec in kernels.ELEMENTWISE.items():
        used = set(re.findall(r'\$(\w+)', spec.body))
        assert used == set(spec.arrays), f"{name}: body uses {used}, arrays {spec.arrays}"
        assert set(spec.written) <= set(spec.arrays)
        for variant in kernels.ELEMENTWISE_VARIANTS:
            source = kernels.elementwise_kernel(name, variant)
            assert f'void {name}_{variant}(' in source and '$' not in source


def test_module_sources_differ_only_in_the_real_type():
    single, double = kernels.module_source('float32'), kernels.module_source('float64')
    assert 'typedef float real;' in single and 'typedef double real;' in double
    assert single.replace('float32', 'X').replace('typedef float real', 'T') == \
        double.replace('float64', 'X').replace('typedef double real', 'T')


def test_importing_the_kernel_sources_does_not_import_pycuda():
    code = ("import sys, brainstorm.handlers._cuda_kernels, brainstorm.handlers._cublas, "
            "brainstorm.handlers.pycuda_handler; "
            "assert not [m for m in sys.modules if m.startswith('pycuda')], 'pycuda imported'")
    result = subprocess.run([__import__('sys').executable, '-c', code], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
