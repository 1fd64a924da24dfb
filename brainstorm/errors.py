"""Every exception type the engine raises, in one place.

The tree is shallow on purpose: callers (the CLI above all) catch the family they
can report (``ValidationError`` and ``DataError`` are bad input, exit code 2) and
let anything else surface as an internal error.
"""


class BrainstormError(Exception):
    """Base class of every error raised deliberately by brainstorm."""


class ValidationError(BrainstormError, ValueError):
    """Something a user wrote (an argument, an architecture, a file) is invalid."""


class LayerValidationError(ValidationError):
    """A layer was given kwargs or input shapes it cannot work with."""


class NetworkValidationError(ValidationError):
    """A network's architecture or its use (data, paths, initializers) is invalid."""


class StructureValidationError(ValidationError):
    """A buffer structure, shape template or layout is malformed."""


class IteratorValidationError(ValidationError):
    """A data iterator was given data of the wrong names, shapes or types."""


class InitializationError(ValidationError):
    """An initializer cannot produce values for the parameter it was applied to."""


class DescriptionError(ValidationError):
    """A description (dict with '@type') cannot be turned into an object."""


class DataError(BrainstormError, ValueError):
    """Input data is missing, malformed or does not fit the network."""


class FileFormatError(BrainstormError, ValueError):
    """A file (HDF5 network, dataset, archive) is corrupt, foreign or hostile."""


class HandlerContractError(BrainstormError):
    """A handler operation was called against its contract (see ``op_table``)."""


class HandlerUnavailableError(BrainstormError, RuntimeError):
    """A handler cannot be created here (no GPU, no pycuda, no CUDA toolkit)."""


class EnvironmentSettingError(HandlerUnavailableError):
    """An environment variable that chooses an implementation (``BRAINSTORM_BLAS``,
    ``BRAINSTORM_COMPILED_KERNELS``) has a value that cannot be used here; the message
    names the variable. Nothing in an experiment file is at fault."""


class TrainingError(BrainstormError, RuntimeError):
    """Training cannot start or continue (bad hook setup, missing iterator)."""


class ExportError(BrainstormError, ValueError):
    """A network (or a layer of it) cannot be expressed in an interchange format such as
    ONNX, or an optional package the export needs is missing."""


class ParallelSetupError(BrainstormError, RuntimeError):
    """Processes started by an MPI launcher cannot train together (no mpi4py, no one world)."""
