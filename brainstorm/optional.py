"""Which optional dependencies are installed: brainstorm 0.5's ``brainstorm.optional``.

Each flag is True when its package can be imported; finding out imports nothing
(``importlib.util.find_spec``), so importing this module never loads pycuda or
any other extra. ``has_pycuda`` says that pycuda is installed; whether a GPU is
there too shows when a ``PyCudaHandler`` is created (it raises
``HandlerUnavailableError`` if not).

Example:
    >>> from brainstorm.optional import has_pycuda
    >>> handler = PyCudaHandler() if has_pycuda else NumpyHandler()
"""

import importlib.util


def _installed(module_name):
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


#: pycuda (extra ``gpu``): the PyCudaHandler
has_pycuda = _installed('pycuda')
#: neon's NervanaGPU, brainstorm 0.5's second GPU handler (not provided here)
has_nervanagpu = _installed('neon')
#: mpi4py (extra ``mpi``): data-parallel training
has_mpi4py = _installed('mpi4py')
#: onnx (extra ``onnx``): export
has_onnx = _installed('onnx')
#: tensorboardX (extra ``tensorboard``): TensorBoard logs
has_tensorboardx = _installed('tensorboardX')
#: optuna (extra ``tune``): hyper-parameter search
has_optuna = _installed('optuna')
#: matplotlib (extra ``plot``): learning curves
has_matplotlib = _installed('matplotlib')
#: bokeh: brainstorm 0.5's live plots (not used here)
has_bokeh = _installed('bokeh')
#: pygraphviz: brainstorm 0.5's ``tools.draw_network`` (here the graphviz ``dot`` program)
has_pygraphviz = _installed('pygraphviz')
#: sacred: the ``InfoUpdater`` hook's runs
has_sacred = _installed('sacred')



class MissingDependencyMock:
    """Stands in for a module that could not be imported; any use raises that error.

    Args:
        error (BaseException): the ImportError to raise again.

    Example:
        >>> try:
        ...     import bokeh
        ... except ImportError as error:
        ...     bokeh = MissingDependencyMock(error)
    """

    def __init__(self, error):
        object.__setattr__(self, '_error', error)

    def __getattr__(self, name):
        raise object.__getattribute__(self, '_error')

    def __call__(self, *args, **kwargs):
        raise object.__getattribute__(self, '_error')


__all__ = ['has_pycuda', 'has_nervanagpu', 'has_bokeh', 'has_mpi4py', 'has_onnx',
           'has_tensorboardx', 'has_optuna', 'has_matplotlib', 'has_pygraphviz', 'has_sacred',
           'MissingDependencyMock']
