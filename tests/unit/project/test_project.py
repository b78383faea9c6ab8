"""A servekit project is the folder of its servekit.yaml, whatever the current folder: the config is found upward,
and the cache, the local servers' folders and cdk.out are the project's; synth gives the app the CDK CLI's context."""

from __future__ import annotations

import json
from pathlib import Path

from servekit import project
from servekit.config.json_schema import SCHEMA_FILE, json_schema_text

REPO = Path(__file__).resolve().parents[3]


def test_when_no_config_is_given_then_the_nearest_servekit_yaml_above_the_current_folder_is_used(tmp_path):
    (tmp_path / "servekit.yaml").write_text("app: {}\n")
    deep = tmp_path / "models" / "face"
    deep.mkdir(parents=True)
    assert project.find_config(None, cwd=deep) == tmp_path / "servekit.yaml"
    assert project.find_config("other.yaml", cwd=deep) == deep / "other.yaml"  # as given, made absolute


def test_when_the_project_has_no_cdk_json_then_its_files_live_beside_servekit_yaml(tmp_path):
    here = project.of(tmp_path / "servekit.yaml")
    assert here.root == tmp_path
    assert here.cache_dir == tmp_path / ".servekit" / "cache"
    assert here.assembly_dir == tmp_path / "cdk.out"
    assert here.serve_dir("fleet/resnet") == tmp_path / ".servekit" / "serve" / "fleet--resnet"


def test_when_a_config_sits_below_a_cdk_json_then_it_shares_that_projects_cache(tmp_path):
    (tmp_path / "cdk.json").write_text("{}")
    (tmp_path / "fixtures").mkdir()
    assert project.of(tmp_path / "fixtures" / "x.yaml").cache_dir == tmp_path / ".servekit" / "cache"


def test_synth_gives_the_app_the_context_the_cdk_cli_would(tmp_path):
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "x", "context": {"flag": 1}}))
    (tmp_path / "cdk.context.json").write_text(json.dumps({"looked-up": "value"}))
    env = project.synth_environment(project.of(tmp_path / "servekit.yaml"), tmp_path / "out")
    context = json.loads(env["CDK_CONTEXT_JSON"])
    assert context["flag"] == 1 and context["looked-up"] == "value" and context["config"] == "servekit.yaml"
    assert context["aws:cdk:enable-path-metadata"] is True and context["aws:cdk:bundling-stacks"] == ["**"]
    assert env["CDK_OUTDIR"] == str(tmp_path / "out")


def test_the_embedded_default_is_a_servekit_project_like_any_other():
    """Its cdk.json carries servekit's feature flags (what `servekit init` writes), and the JSON Schema beside its
    servekit.yaml is the current one (`servekit schema > servekit.schema.json` regenerates it)."""
    assert json.loads((REPO / "cdk.json").read_text())["context"] == project.CDK_CONTEXT
    assert (REPO / SCHEMA_FILE).read_text() == json_schema_text(), \
        f"{SCHEMA_FILE} is stale: run .venv/bin/servekit schema > {SCHEMA_FILE}"
    assert (REPO / "servekit.yaml").read_text().splitlines()[0] == f"# yaml-language-server: $schema=./{SCHEMA_FILE}"
