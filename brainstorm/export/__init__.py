"""Exporting networks to interchange formats (ONNX).

Nothing here is imported by ``import brainstorm``, and this package imports no
optional dependency at import time: ``brainstorm.export.onnx`` needs the ``[onnx]``
extra (``pip install '.[onnx]'``) and says so when it is missing.

Example:
    >>> from brainstorm.export.onnx import export_onnx
    >>> export_onnx(net, 'model.onnx')
"""
