"""`servekit synth` of uncompressed model data through the real CDK CLI: resnet built by servekit and copied into the
data bucket by CDK's BucketDeployment, question-answering from a user's S3 prefix. cdk-nag runs inside the synth
(every finding on the copying function acknowledged exactly), then cfn-lint and checkov check the templates.

Not deployed here: moto's CloudFormation cannot run the BucketDeployment custom resource (a Lambda function), so
the copy itself is AWS's; the folder it copies is served by the real Triton and TorchServe in test_local_*.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def assembly(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("uncompressed")
    data = yaml.safe_load((ROOT / "servekit.yaml").read_text())
    by_name = {e["name"]: e for e in data["endpoints"]}
    by_name["resnet"]["model_data"] = "uncompressed"
    qa = by_name["question-answering"]
    qa["model_data"] = "uncompressed"
    qa["model"]["source"] = {"kind": "s3", "uri": "s3://team-models/question-answering/v7/"}
    data["endpoints"] = [by_name["resnet"], qa]
    config = work / "servekit.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    out = work / "cdk.out"
    result = subprocess.run([sys.executable, "-m", "servekit.cli", "synth", str(config), "--output", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return out


def resources(assembly: Path, stack: str, kind: str) -> dict[str, dict]:
    template = json.loads((assembly / f"{stack}.template.json").read_text())
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_when_a_built_layout_is_uncompressed_then_its_folder_is_an_asset_copied_before_the_model(assembly):
    (model,) = resources(assembly, "servekit-dev-resnet", "AWS::SageMaker::Model").values()
    source = model["Properties"]["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert (source["S3DataType"], source["CompressionType"]) == ("S3Prefix", "None")
    (copy_id, copy), = resources(assembly, "servekit-dev-resnet", "Custom::CDKBucketDeployment").items()
    assert copy_id in model["DependsOn"]
    assets = json.loads((assembly / "servekit-dev-resnet.assets.json").read_text())["files"]
    folders = [a for a in assets.values() if a["source"].get("packaging") == "zip"
               and (assembly / a["source"]["path"] / "resnet" / "config.pbtxt").is_file()]
    assert len(folders) == 1  # the layout, staged as a folder that the CLI zips at publish
    shared = json.loads((assembly / "servekit-dev-shared.template.json").read_text())
    assert any(v["Type"] == "AWS::S3::Bucket" and "DataBucket" in k for k, v in shared["Resources"].items())


def test_when_a_users_prefix_is_uncompressed_then_it_is_read_where_it_is(assembly):
    (model,) = resources(assembly, "servekit-dev-question-answering", "AWS::SageMaker::Model").values()
    source = model["Properties"]["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert source["S3Uri"] == "s3://team-models/question-answering/v7/"
    assert resources(assembly, "servekit-dev-question-answering", "Custom::CDKBucketDeployment") == {}


def test_when_cfn_lint_checks_the_uncompressed_templates_then_it_finds_nothing(assembly):
    templates = sorted(str(p) for p in assembly.glob("*.template.json"))
    result = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_when_checkov_scans_the_copying_function_then_each_skip_is_exact_with_its_reason(assembly):
    from servekit_checkov import scan, where

    found = scan(assembly)
    assert found["failed"] == [], [where(r) for r in found["failed"]]
    lambda_skips = {where(r)[0]: r["check_result"]["suppress_comment"] for r in found["skipped"]
                    if where(r)[2].startswith("AWS::Lambda::Function.")}
    assert set(lambda_skips) == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"}
    assert "dead-letter queue" in lambda_skips["CKV_AWS_116"]
