"""The deploy pipeline: synthesized offline with the embedded default's stacks per environment, checked by the same
cdk-nag packs (AwsSolutions, HIPAA Security, NIST 800-53 R5) with only exact, reasoned acknowledgements."""

from __future__ import annotations

import copy
import json
import re
import tarfile
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from servekit import config as cfg
from servekit import naming
from servekit.constructs import ModelData
from servekit.constructs.nag import add_nag_packs
from servekit.stacks import add_serving_stacks
from servekit.stacks import pipeline_stack as ps

ROOT = Path(__file__).resolve().parents[3]
CONNECTION = "arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-0000-4000-8000-000000000000"
SAME_ACCOUNT = [{"name": "staging", "account": "111111111111", "region": "us-east-1"},
                {"name": "prod", "account": "111111111111", "region": "us-east-1"}]
CROSS = [{"name": "staging", "account": "111111111111", "region": "us-east-1"},
         {"name": "prod", "account": "222222222222", "region": "eu-west-1",
          "verify_role_arn": "arn:aws:iam::222222222222:role/servekit-verify"}]
ENDPOINTS = ("image-classifier", "question-answering", "resnet")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("artifact")
    (folder / "w.bin").write_bytes(b"\x01" * 16)
    path = folder / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder / "w.bin", arcname="w.bin")
    return path


def config_with(environments: list[dict]) -> cfg.ServekitConfig:
    import yaml

    data = yaml.safe_load((ROOT / "servekit.yaml").read_text())
    data["pipeline"] = {"connection_arn": CONNECTION, "repository": {"owner": "acme", "name": "models"},
                        "environments": copy.deepcopy(environments)}
    return cfg.parse(data)


def build_app(outdir: Path, tarball: Path, environments: list[dict], tamper=None) -> tuple[cdk.App, ps.PipelineStack]:
    config = config_with(environments)
    context = json.loads((ROOT / "cdk.json").read_text())["context"]  # the flags the CLI passes (finding ids use them)
    app = cdk.App(outdir=str(outdir), context=context)
    model_data = {key: ModelData.from_asset(tarball) for key, _ in naming.artifact_endpoints(config)}
    add_serving_stacks(app, config, model_data)
    stack = ps.add_pipeline_stack(app, config, model_data, ROOT / "servekit.yaml")
    if tamper:
        tamper(stack)
    add_nag_packs(app)
    return app, stack


def synthesized(tmp_path_factory, tarball, environments) -> Path:
    out = tmp_path_factory.mktemp("pipeline") / "cdk.out"
    app, _ = build_app(out, tarball, environments)
    app.synth()  # raises ValidationFailed on any unacknowledged finding, in any stack or stage
    return out


@pytest.fixture(scope="module")
def same_account(tmp_path_factory, tarball) -> Path:
    return synthesized(tmp_path_factory, tarball, SAME_ACCOUNT)


@pytest.fixture(scope="module")
def cross_account(tmp_path_factory, tarball) -> Path:
    return synthesized(tmp_path_factory, tarball, CROSS)


def template(out: Path, name: str = "servekit-pipeline") -> dict:
    return json.loads((out / f"{name}.template.json").read_text())


def of_type(t: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in t["Resources"].items() if v["Type"] == resource_type}


def stages(out: Path) -> dict[str, list[tuple[str, str, int]]]:
    (pipeline,) = of_type(template(out), "AWS::CodePipeline::Pipeline").values()
    return {s["Name"]: [(a["Name"], a["ActionTypeId"]["Category"], a["RunOrder"]) for a in s["Actions"]]
            for s in pipeline["Properties"]["Stages"]}


def build_spec(out: Path, fragment: str) -> str:
    projects = of_type(template(out), "AWS::CodeBuild::Project")
    (spec,) = [p["Properties"]["Source"]["BuildSpec"] for k, p in projects.items() if fragment in k]
    return spec


def test_when_synthesized_then_no_pack_reports_an_unacknowledged_finding(same_account):
    report = json.loads((same_account / "validation-report.json").read_text())
    failing = [r for r in report["pluginReports"] if r.get("conclusion") != "success"]
    assert failing == []


def test_the_pipeline_runs_source_tests_and_synth_self_mutation_assets_then_each_environment_in_order(same_account):
    found = stages(same_account)
    assert list(found) == ["Source", "Build", "UpdatePipeline", "Assets", "staging", "prod"]
    (pipeline,) = of_type(template(same_account), "AWS::CodePipeline::Pipeline").values()
    source = pipeline["Properties"]["Stages"][0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"] == {"ConnectionArn": CONNECTION, "FullRepositoryId": "acme/models",
                                       "BranchName": "main", "DetectChanges": True}
    synth = json.loads(build_spec(same_account, "Synth"))
    assert synth["phases"]["build"]["commands"] == ["make test", "make synth CONFIG=servekit.yaml"]
    assert synth["phases"]["install"]["runtime-versions"] == {"python": "3.11", "nodejs": "20", "java": "corretto17"}
    assert synth["artifacts"]["base-directory"] == "cdk.out"


def test_production_waits_for_an_approval_and_every_stage_ends_with_its_verification(same_account):
    found = stages(same_account)
    assert found["prod"][0] == ("Approve-prod", "Approval", 1)
    assert not any(category == "Approval" for _, category, _ in found["staging"])  # unset = only prod* names
    for env in ("staging", "prod"):
        deploys = [order for name, category, order in found[env] if category == "Deploy"]
        verify = [(name, order) for name, category, order in found[env] if category == "Build"]
        assert verify == [(f"Verify-{env}", max(deploys) + 1)], "verification runs after every stack of the stage"
        assert {name.split(".")[0] for name, category, _ in found[env] if category == "Deploy"} == {
            f"servekit-{env}-{part}" for part in ("shared", *ENDPOINTS)}
        spec = json.loads(build_spec(same_account, f"{env}Verify{env}"))
        assert spec["phases"]["build"]["commands"] == [
            f".venv/bin/python -m servekit.verify {e} --deployed --config servekit.yaml --env {env}" for e in ENDPOINTS]


def test_each_stage_holds_the_same_stacks_with_the_environments_names_account_and_region(cross_account):
    for env, account, region in (("staging", "111111111111", "us-east-1"), ("prod", "222222222222", "eu-west-1")):
        manifest = json.loads((cross_account / f"assembly-servekit-pipeline-{env}" / "manifest.json").read_text())
        stacks = {a["properties"]["stackName"]: a["environment"] for a in manifest["artifacts"].values()
                  if a["type"] == "aws:cloudformation:stack"}
        assert stacks == {f"servekit-{env}-{part}": f"aws://{account}/{region}" for part in ("shared", *ENDPOINTS)}
        qa = next(p for p in (cross_account / f"assembly-servekit-pipeline-{env}").glob("*questionanswering*.template.json"))
        endpoint = next(iter(of_type(json.loads(qa.read_text()), "AWS::SageMaker::Endpoint").values()))
        assert endpoint["Properties"]["EndpointName"] == f"servekit-{env}-question-answering"


def test_the_verification_may_read_exactly_its_stacks_and_endpoints(same_account):
    (policy,) = [p for k, p in of_type(template(same_account), "AWS::IAM::Policy").items() if "stagingVerifystaging" in k]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    sagemaker = next(s for s in statements if "sagemaker:InvokeEndpoint" in s["Action"])
    assert sorted(sagemaker["Action"]) == ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]
    assert sorted(sagemaker["Resource"]) == [
        f"arn:aws:sagemaker:us-east-1:111111111111:endpoint/servekit-staging-{e}" for e in ENDPOINTS]
    stacks = next(s for s in statements if "cloudformation:GetTemplate" in s["Action"])
    assert sorted(stacks["Action"]) == ["cloudformation:DescribeStackResource", "cloudformation:GetTemplate"]
    assert sorted(stacks["Resource"]) == [
        f"arn:aws:cloudformation:us-east-1:111111111111:stack/servekit-staging-{e}/*" for e in ENDPOINTS]


def test_another_accounts_verification_only_assumes_its_verify_role(cross_account):
    (policy,) = [p for k, p in of_type(template(cross_account), "AWS::IAM::Policy").items() if "prodVerifyprod" in k]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {"Action": "sts:AssumeRole", "Effect": "Allow",
            "Resource": "arn:aws:iam::222222222222:role/servekit-verify"} in statements
    assert not any("sagemaker:" in json.dumps(s["Action"]) for s in statements)
    spec = json.loads(build_spec(cross_account, "prodVerifyprod"))
    assert all(c.endswith("--env prod --role-arn arn:aws:iam::222222222222:role/servekit-verify")
               for c in spec["phases"]["build"]["commands"])


def test_artifacts_are_kms_encrypted_access_logged_and_tls_only(same_account, cross_account):
    for out, name in ((same_account, "servekit-pipeline"), (cross_account, "servekit-pipeline-support-eu-west-1")):
        t = template(out, name)
        buckets = of_type(t, "AWS::S3::Bucket")
        (artifacts,) = [b for k, b in buckets.items() if "Artifacts" in k]
        (logs,) = [k for k in buckets if "AccessLogs" in k]
        encryption = artifacts["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert "KMSMasterKeyID" in encryption["ServerSideEncryptionByDefault"]
        assert artifacts["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs}
        assert artifacts["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
        policies = json.dumps(of_type(t, "AWS::S3::BucketPolicy"))
        assert '"aws:SecureTransport": "false"' in policies
        keys = of_type(t, "AWS::KMS::Key")
        assert keys and all(k["Properties"]["EnableKeyRotation"] for k in keys.values())
    (pipeline,) = of_type(template(same_account), "AWS::CodePipeline::Pipeline").values()
    assert pipeline["Properties"]["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"


def test_self_mutation_installs_the_cdk_cli_that_package_json_pins(same_account):
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert ps.CDK_CLI_VERSION == pinned
    assert f"npm install -g aws-cdk@{pinned}" in build_spec(same_account, "SelfMutation")


def test_a_wildcard_no_reason_explains_still_fails_the_synth(tmp_path, tarball):
    """The acknowledgements are per finding: a new wildcard in a pipeline role is a finding again."""
    def tamper(stack: ps.PipelineStack) -> None:
        stack.pipeline.pipeline.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=["arn:aws:s3:::someone-elses-bucket/*"]))
        ps.PipelineStack._acknowledge(stack)  # re-run, as if the statement had been there from the start

    app, _ = build_app(tmp_path / "cdk.out", tarball, SAME_ACCOUNT, tamper)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "cdk.out" / "validation-report.json").read_text()
    assert "AwsSolutions-IAM5[Resource::arn:aws:s3:::someone-elses-bucket/*]" in report


def test_every_acknowledgement_names_one_finding_and_gives_a_reason(tmp_path, tarball):
    _, stack = build_app(tmp_path / "cdk.out", tarball, CROSS)
    acknowledged: dict[str, str] = {}
    for node in stack.node.find_all():
        for entry in node.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                acknowledged.update(entry.data)
    assert acknowledged
    for rule, reason in acknowledged.items():
        rule_id = rule.split("::", 1)[-1]
        assert rule_id not in ("AwsSolutions-IAM5", "AwsSolutions-IAM4"), f"{rule} acknowledges a whole rule"
        assert len(reason) > 40, f"{rule}: {reason!r} is no reason"
    assert any(re.fullmatch(r"AwsSolutions-IAM5\[Action::s3:GetObject\*\]", r.split("::", 1)[-1]) for r in acknowledged)


def test_without_a_pipeline_block_there_is_no_pipeline_stack(tmp_path, tarball, default_config_data):
    config = cfg.parse(default_config_data)
    app = cdk.App(outdir=str(tmp_path))
    assert ps.add_pipeline_stack(app, config, {}, ROOT / "servekit.yaml") is None
    assert [c.node.id for c in app.node.children] == []


def test_a_config_outside_the_repository_cannot_be_the_pipelines(tmp_path):
    assert ps.repo_relative(ROOT / "servekit.yaml", ROOT) == "servekit.yaml"
    assert ps.repo_relative("examples/../servekit.yaml", ROOT) == "servekit.yaml"
    with pytest.raises(ValueError, match="outside the repository"):
        ps.repo_relative(tmp_path / "servekit.yaml", ROOT)


def test_the_pipeline_block_is_validated_with_one_line_per_problem(default_config_data):
    data = copy.deepcopy(default_config_data)
    data["pipeline"] = {"connection_arn": CONNECTION, "repository": {"owner": "acme", "name": "models"},
                        "environments": [{"name": "prod", "account": "222222222222", "region": "eu-west-1"},
                                         {"name": "prod", "account": "111111111111", "region": "us-east-1",
                                          "requires_approval": False}]}
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse(data)
    assert err.value.problems == ["pipeline: environments ['prod'] appear twice; give each environment its own name"]
    data["pipeline"]["environments"][1]["name"] = "staging"
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse(data)
    assert err.value.problems[0].startswith("pipeline: environments[0] (prod): account 222222222222 is not the "
                                            "pipeline's (111111111111, from connection_arn)")
    data["pipeline"]["environments"][0]["verify_role_arn"] = "arn:aws:iam::222222222222:role/v"
    parsed = cfg.parse(data).pipeline
    assert [(e.name, e.approval) for e in parsed.environments] == [("prod", True), ("staging", False)]
    assert (parsed.account, parsed.region) == ("111111111111", "us-east-1")
