"""The skip mark of tests that need one of NumpyHandler's compiled kernel sets."""

import pytest

from brainstorm.handlers import _compiled_kernels


def needs_compiled(kernels):
    """Skip unless the kernel set (a key of _compiled_kernels.MODULES) was built here."""
    reason = _compiled_kernels.unavailable_reason(kernels)
    return pytest.mark.skipif(
        reason is not None,
        reason=f"{reason} (the C compiler installs with the system's build tools, e.g. "
               f"Debian's build-essential)")
