"""docs/configuration.md is generated from the schema; the committed file must be what the code prints."""

from pathlib import Path

from servekit import docgen

ROOT = Path(__file__).resolve().parents[2]


def test_when_the_schema_changes_then_the_committed_reference_must_be_regenerated():
    assert (ROOT / "docs" / "configuration.md").read_text() == docgen.render(), (
        "docs/configuration.md is stale: run .venv/bin/python -m servekit.docgen > docs/configuration.md"
    )


def test_when_rendered_then_every_tuning_field_and_its_variable_appear():
    text = docgen.render()
    for needle in ("`max_batch_delay_ms`", "SAGEMAKER_TS_MAX_BATCH_DELAY, milliseconds", "`batch_timeout_micros`",
                   "SAGEMAKER_TRITON_THREAD_COUNT", "### kind: s3"):
        assert needle in text
