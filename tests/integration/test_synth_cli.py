"""`servekit synth` end to end: the real CDK CLI synthesizes the embedded default (building its artifacts),
cdk-nag runs inside the synth, and cfn-lint checks every template against AWS's resource schemas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVEKIT = [sys.executable, "-m", "servekit.cli"]
pytestmark = pytest.mark.integration


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900, **kwargs)


@pytest.fixture(scope="module")
def assembly(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "cdk.out"
    result = run([*SERVEKIT, "synth", "servekit.yaml", "--output", str(out)])
    assert result.returncode == 0, result.stdout + result.stderr
    (out / "stdout.txt").write_text(result.stdout)
    return out


def test_when_the_default_is_synthesized_then_each_endpoint_has_its_own_stack_and_the_table_shows_it(assembly):
    names = sorted(p.name for p in assembly.glob("*.template.json"))
    assert names == [
        "servekit-dev-image-classifier.template.json",
        "servekit-dev-question-answering.template.json",
        "servekit-dev-resnet.template.json",
        "servekit-dev-shared.template.json",
    ]
    table = (assembly / "stdout.txt").read_text()
    for expected in ("tensorflow-inference:2.19-cpu", "pytorch-inference:2.6-cpu-py312", "sagemaker-tritonserver:25.09-py3",
                     "ml.g5.xlarge x1", "delay_ms=50", "batching=true"):
        assert expected in table


def test_when_the_default_is_synthesized_then_each_model_data_is_a_staged_asset(assembly):
    for stack in ("image-classifier", "question-answering", "resnet"):
        assets = json.loads((assembly / f"servekit-dev-{stack}.assets.json").read_text())["files"]
        packaging = [a["source"] for a in assets.values() if a["source"]["packaging"] == "file"
                     and a["source"]["path"].endswith(".tar.gz")]
        assert len(packaging) == 1, f"{stack}: expected one model.tar.gz asset, got {packaging}"
        assert (assembly / packaging[0]["path"]).stat().st_size > 1000


def test_when_cfn_lint_checks_every_template_then_it_finds_no_error_and_no_warning(assembly):
    templates = sorted(str(p) for p in assembly.glob("*.template.json"))
    result = run([str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_when_nothing_changed_then_a_second_synth_gives_a_byte_identical_assembly(assembly, tmp_path):
    """Templates, asset manifests, staged assets and metadata alike: cdk.json turns off the construct stack
    traces, whose jsii temp paths would otherwise change every synth's metadata and clutter the warnings."""
    again = tmp_path / "cdk.out"
    result = run([*SERVEKIT, "synth", "servekit.yaml", "--output", str(again)])
    assert result.returncode == 0, result.stderr
    assert "program.js" not in result.stdout + result.stderr
    first = {p.relative_to(assembly) for p in assembly.rglob("*") if p.is_file() and p.name != "stdout.txt"}
    second = {p.relative_to(again) for p in again.rglob("*") if p.is_file()}
    assert first == second
    for name in sorted(first):
        assert (again / name).read_bytes() == (assembly / name).read_bytes(), f"{name} changed with no change"


def test_when_checkov_scans_the_default_then_nothing_fails_and_each_skip_is_exact_with_its_reason(assembly):
    """checkov's CloudFormation policies, the real scanner: network isolation (CKV_AWS_370) passes on the models
    that run isolated; the model whose handler pip-installs at start, and the access-log bucket, carry a skip of
    that one check with the reason, which checkov reports as SKIPPED."""
    from servekit_checkov import scan, where

    found = scan(assembly)
    assert found["failed"] == [], [where(r) for r in found["failed"]]
    skipped = {where(r): r["check_result"]["suppress_comment"] for r in found["skipped"]}
    assert set(skipped) == {
        ("CKV_AWS_370", "servekit-dev-question-answering.template.json", "AWS::SageMaker::Model.EndpointModel0F230181"),
        ("CKV_AWS_18", "servekit-dev-shared.template.json", "AWS::S3::Bucket.AccessLogsBucket83982689"),
    }
    qa_reason = skipped[("CKV_AWS_370", "servekit-dev-question-answering.template.json",
                         "AWS::SageMaker::Model.EndpointModel0F230181")]
    assert "transformers==4.57.6" in qa_reason and "vendor the packages" in qa_reason
    isolated = {where(r)[1] for r in found["passed"] if r["check_id"] == "CKV_AWS_370"}
    assert isolated == {"servekit-dev-image-classifier.template.json", "servekit-dev-resnet.template.json"}
    assert len(found["passed"]) > 50  # the policies really ran over the four templates


def test_when_the_config_is_bad_then_synth_exits_2_with_one_line_per_problem_and_writes_nothing(tmp_path):
    data = yaml.safe_load((ROOT / "servekit.yaml").read_text())
    data["endpoints"][1]["tuning"]["max_batch_delay"] = 5
    data["endpoints"][2]["instance_type"] = "ml.c5.xlarge"
    bad = tmp_path / "servekit.yaml"
    bad.write_text(yaml.safe_dump(data))
    out = tmp_path / "cdk.out"
    result = run([*SERVEKIT, "synth", str(bad), "--output", str(out)])
    assert result.returncode == 2
    assert "endpoints[1].tuning.max_batch_delay: unknown key" in result.stderr
    assert "did you mean 'max_batch_delay_ms'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists(), "a bad config must fail before anything is synthesized"


def test_when_the_cdk_cli_runs_app_py_directly_with_a_bad_config_then_it_fails_before_synth(tmp_path):
    """The config reaches app.py through the CDK CLI too (`cdk synth -c config=...`): same clean failure."""
    data = yaml.safe_load((ROOT / "servekit.yaml").read_text())
    data["app"]["region"] = "us-east-1x"
    bad = tmp_path / "servekit.yaml"
    bad.write_text(yaml.safe_dump(data))
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = run([str(cdk), "synth", "--quiet", "-o", str(tmp_path / "out"), "-c", f"config={bad}"], env=env)
    assert result.returncode != 0
    assert "app.region: 'us-east-1x' does not match" in result.stderr
    assert "Traceback" not in result.stderr


def test_when_validate_is_given_the_default_then_it_lists_the_endpoints():
    result = run([*SERVEKIT, "validate", "servekit.yaml"])
    assert result.returncode == 0
    assert "image-classifier (tfs), question-answering (torchserve), resnet (triton)" in result.stdout


def test_when_servekit_synth_runs_without_the_cdk_cli_then_it_writes_what_cdk_synth_writes(assembly, tmp_path):
    """servekit synth runs servekit.app itself with the context the CDK CLI would give it (servekit.project): every
    template and asset manifest equals, byte for byte, what the real CDK CLI synthesizes from cdk.json."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = run([str(cdk), "synth", "--quiet", "-o", str(tmp_path / "cli.out")], env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    names = sorted(p.name for p in assembly.glob("*.json") if p.name.endswith((".template.json", ".assets.json")))
    assert names == sorted(p.name for p in (tmp_path / "cli.out").glob("*.json")
                           if p.name.endswith((".template.json", ".assets.json")))
    for name in names:
        assert (assembly / name).read_bytes() == (tmp_path / "cli.out" / name).read_bytes(), name
