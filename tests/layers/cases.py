"""Layer test cases: one LayerCase per configuration, collected from cases_*.py modules.

Every module ``tests/layers/cases_<group>.py`` defines ``CASES`` (a list of
LayerCase). The finite-difference test, the contract tests and the
registry test iterate over ``ALL_CASES``.
"""

import dataclasses
import importlib
import pathlib


@dataclasses.dataclass
class LayerCase:
    """One layer configuration to test.

    Attributes:
        id: readable id, e.g. 'lstm-T3-B2-tanh-context'.
        layer_type: registered layer type name, e.g. 'Lstm'.
        kwargs: the layer's kwargs.
        in_shapes: input name -> feature shape (without T, B), e.g. {'default': (3,)}.
        time_steps: T.
        batch_size: B.
        inits: parameter name -> callable(shape, rnd) -> array (default: normal * 0.5).
        input_data: input name -> callable(shape, rnd) -> array (e.g. class indices
            for targets, 0/1 for masks); default: standard normal.
        context: give the layer a random non-zero context (recurrent layers).
        skip_inputs: inputs whose deltas are not checked (targets, masks).
        tolerance: relative tolerance of the finite-difference check.
        training_pass: run the forward pass with training_pass=True.
    """

    id: str
    layer_type: str
    kwargs: dict
    in_shapes: dict
    time_steps: int = 3
    batch_size: int = 2
    inits: dict = dataclasses.field(default_factory=dict)
    input_data: dict = dataclasses.field(default_factory=dict)
    context: bool = False
    skip_inputs: tuple = ()
    tolerance: float = 1e-5
    training_pass: bool = True


def _collect():
    cases = []
    for path in sorted(pathlib.Path(__file__).parent.glob('cases_*.py')):
        module = importlib.import_module(f"tests.layers.{path.stem}")
        cases.extend(module.CASES)
    ids = [case.id for case in cases]
    duplicates = {case_id for case_id in ids if ids.count(case_id) > 1}
    if duplicates:
        raise ValueError(f"duplicate LayerCase ids: {sorted(duplicates)}")
    return cases


ALL_CASES = _collect()
