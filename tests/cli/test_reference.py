"""docs/experiment_reference.md is what the schemas render to."""

import pathlib

from bstorm_cli.experiment import components, reference

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_reference_is_current():
    committed = (ROOT / 'docs' / 'experiment_reference.md').read_text(encoding='utf-8')
    assert committed == reference.render_reference(), (
        "docs/experiment_reference.md is out of date; run `python -m "
        "bstorm_cli.experiment.reference docs/experiment_reference.md`")


def test_reference_documents_every_component():
    text = reference.render_reference()
    for kind in components.KINDS:
        for name in components.component_classes(kind):
            assert f"### {kind} `{name}`" in text
