"""``needs_emulator``: skip a test, saying why, where the CUDA emulator cannot run.

A module of its own so that ``python -m tests.cuda_emulator`` does not need pytest.
"""

import pytest

from tests.cuda_emulator import UNAVAILABLE_REASON

needs_emulator = pytest.mark.skipif(UNAVAILABLE_REASON is not None,
                                    reason=str(UNAVAILABLE_REASON))
