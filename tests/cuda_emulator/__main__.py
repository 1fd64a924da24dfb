"""``python -m tests.cuda_emulator MODULE [ARGUMENTS...]``: run a program on the emulated GPU.

Runs ``python -m MODULE ARGUMENTS...`` in this process with every
``PyCudaHandler`` on the CPU emulation of CUDA, so the GPU paths of the CLI
(``bstorm_cli train --handler pycuda``) and of the benchmarks (``bench.gpu``)
run, as users run them, on a machine without a GPU.
"""

import runpy
import sys

from tests.cuda_emulator import every_pycuda_handler_emulated


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: python -m tests.cuda_emulator MODULE [ARGUMENTS...]")
    module = sys.argv[1]
    sys.argv = [module] + sys.argv[2:]
    with every_pycuda_handler_emulated():
        runpy.run_module(module, run_name='__main__', alter_sys=True)


if __name__ == '__main__':
    main()
