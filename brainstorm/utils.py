"""Small helpers shared by layers and tools: reshaping time away, dotted paths, the
temporary files that atomic writes rename into place.

The exception classes are importable from here too, where brainstorm 0.5
scripts import them (``from brainstorm.utils import NetworkValidationError``);
they are defined in :mod:`brainstorm.errors`.
"""

import math
import os
import tempfile

from brainstorm.errors import (BrainstormError, DataError, DescriptionError,  # noqa: F401
                               FileFormatError, InitializationError,
                               IteratorValidationError, LayerValidationError,
                               NetworkValidationError, StructureValidationError,
                               TrainingError, ValidationError)


def flatten_time(array):
    """Merge the time and batch axes: (T, B, ...) -> (T*B, ...), as a view.

    Works for any array type with ``reshape`` (numpy, pycuda GPUArray).
    """
    shape = array.shape
    return array.reshape((shape[0] * shape[1],) + tuple(shape[2:]))


def flatten_time_and_features(array):
    """Reshape (T, B, f1, f2, ...) to the matrix (T*B, f1*f2*...), as a view."""
    shape = array.shape
    # math.prod: np.prod costs ~8 us a call, and layers call this several times a pass
    return array.reshape((shape[0] * shape[1], math.prod(shape[2:])))


def flatten_features(array, start_idx=2):
    """Merge all axes from ``start_idx`` on into one: (T, B, f1, f2) -> (T, B, f1*f2)."""
    shape = array.shape
    features = math.prod(shape[start_idx:])
    return array.reshape(tuple(shape[:start_idx]) + (features,))


def product(shape):
    """Number of elements of an array of feature shape ``shape`` (1 for ())."""
    return math.prod(int(entry) for entry in shape)


def get_by_path(tree, path):
    """Look up ``'a.b.c'`` in nested dicts; raises KeyError naming the missing part."""
    node = tree
    walked = []
    for part in path.split('.'):
        walked.append(part)
        try:
            node = node[part]
        except (KeyError, TypeError, IndexError):
            raise KeyError(f"{'.'.join(walked)!r} not found (looking up {path!r})") from None
    return node


def temporary_file_beside(filename, suffix='.tmp'):
    """Create a temporary file in ``filename``'s folder for an atomic write.

    ``tempfile.mkstemp`` makes files private (0600); the temporary gets the mode a
    plain ``open()`` would give (0666 less the umask), which the renamed file keeps.

    Args:
        filename (str or os.PathLike): the final path; its folder must exist.
        suffix (str): ends the temporary's name (``.NAME.<random><suffix>``).

    Returns:
        (int, str): the open OS-level handle and the temporary's path.
    """
    filename = os.fspath(filename)
    handle, temporary = tempfile.mkstemp(
        prefix='.' + os.path.basename(filename) + '.', suffix=suffix,
        dir=os.path.dirname(os.path.abspath(filename)))
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)
    return handle, temporary
