"""cdk-nag (AwsSolutions, HIPAA Security, NIST 800-53 R5) runs on the whole app at synth and passes with
only exact, reasoned acknowledgements."""

from __future__ import annotations

import json
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


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    folder = tmp_path_factory.mktemp("artifact")
    (folder / "w.bin").write_bytes(b"\x01" * 16)
    path = folder / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder / "w.bin", arcname="w.bin")
    return path


def default_app(tmp_path, tarball, config_data):
    config = cfg.parse(config_data)
    # The feature flags of cdk.json, as the CDK CLI passes them (they change partitions, hence finding ids).
    context = json.loads((Path(__file__).resolve().parents[3] / "cdk.json").read_text())["context"]
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=context)
    stacks = add_serving_stacks(app, config, {k: ModelData.from_asset(tarball) for k, _ in naming.artifact_endpoints(config)})
    add_nag_packs(app)
    return app, stacks


def test_when_the_default_app_is_synthesized_then_no_pack_reports_an_unacknowledged_finding(tmp_path, tarball, default_config_data):
    app, _ = default_app(tmp_path, tarball, default_config_data)
    app.synth()  # raises ValidationFailed on any unacknowledged finding
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    assert report["pluginReports"] == []  # CDK lists only failing plugins; the tests below prove all three run


def test_when_a_wildcard_permission_is_added_then_the_synth_fails_on_it(tmp_path, tarball, default_config_data):
    app, stacks = default_app(tmp_path, tarball, default_config_data)
    endpoint = stacks["question-answering"].endpoint
    endpoint.policy.add_statements(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "cdk.out" / "validation-report.json").read_text()
    assert "AwsSolutions-IAM5[Action::s3:*]" in report
    assert "HIPAA.Security-IAMPolicyNoStatementsWithFullAccess" in report


def test_when_an_inline_policy_is_added_then_the_hipaa_and_nist_packs_fail_the_synth(tmp_path, tarball, default_config_data):
    app, stacks = default_app(tmp_path, tarball, default_config_data)
    role = stacks["resnet"].endpoint.role
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::bucket/key"]))
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "cdk.out" / "validation-report.json").read_text()
    assert "HIPAA.Security-IAMNoInlinePolicy" in report
    assert "NIST.800.53.R5-IAMNoInlinePolicy" in report


def test_when_findings_are_acknowledged_then_each_names_one_finding_and_gives_a_reason(tmp_path, tarball, default_config_data):
    app, stacks = default_app(tmp_path, tarball, default_config_data)
    acknowledged: dict[str, str] = {}
    for stack in stacks.values():
        for node in stack.node.find_all():
            for entry in node.node.metadata:
                if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    acknowledged.update(entry.data)
    assert any("AwsSolutions-IAM5[Resource::*]" in rule for rule in acknowledged)
    for rule, reason in acknowledged.items():
        rule_id = rule.split("::", 1)[-1]
        assert rule_id not in ("AwsSolutions-IAM5", "AwsSolutions-IAM4"), f"{rule_id} acknowledges a whole rule"
        if "IAM5" in rule_id:
            assert rule_id.startswith("AwsSolutions-IAM5[") and rule_id.endswith("]"), f"{rule_id} is not one finding"
        assert len(reason) > 40, f"{rule_id} needs a reason a reviewer can check"


def every_feature(data: dict) -> dict:
    """The default app with each production block on somewhere: variants, shadow, capture, async with scale
    to zero, schedules, VPC, CPU/GPU targets, hosting (routing, SSM, core dumps), serverless and multi-model
    endpoints."""
    tfs, qa, resnet = data["endpoints"]
    tfs.update(shadow_variant={"name": "next", "sampling_percent": 25, "instance_type": "ml.c5.2xlarge"},
               data_capture={"s3_uri": "s3://team-capture/image-classifier"},
               network={"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]},
               container={"volume_size_gb": 40, "startup_health_check_timeout_seconds": 600})
    qa["scaling"].update(min_instances=0, target_backlog_per_instance=5, target_cpu_utilization_percent=70,
                         schedules=[{"name": "day", "cron": "0 8 ? * MON-FRI *", "min_instances": 1}])
    qa.update(async_inference={"success_topic_arn": "arn:aws:sns:us-east-1:111122223333:done"},
              variants=[{"name": "challenger", "weight": 0.2, "instance_type": "ml.c5.xlarge"}],
              network={"subnet_ids": ["subnet-0123456789abcdef0"], "vpc_id": "vpc-0123456789abcdef0"})
    resnet["scaling"]["target_gpu_utilization_percent"] = 70
    resnet["hosting"] = {"routing": "least_outstanding_requests", "ssm_access": True,
                         "core_dump": {"s3_uri": "s3://team-dumps/resnet",
                                       "kms_key_arn": "arn:aws:kms:us-east-1:111122223333:key/0123abcd-12ab-34cd-56ef-1234567890ab"}}
    data["endpoints"] += [
        {**{k: v for k, v in tfs.items() if k not in ("instance_type", "shadow_variant", "data_capture", "network",
                                                         "container")},
         "name": "serverless-classifier", "serverless": {"memory_size_mb": 2048, "max_concurrency": 5}},
        {**{k: v for k, v in resnet.items() if k not in ("scaling", "deployment")},
         "name": "resnet-mme", "multi_model": {"s3_prefix": "s3://my-models/resnets/"}},
    ]
    return data


def test_when_every_feature_is_on_then_no_pack_reports_an_unacknowledged_finding(tmp_path, tarball, default_config_data):
    app, stacks = default_app(tmp_path, tarball, every_feature(default_config_data))
    app.synth()  # raises ValidationFailed on any unacknowledged finding
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    assert report["pluginReports"] == []
    assert set(stacks) == {"image-classifier", "question-answering", "resnet", "serverless-classifier", "resnet-mme"}


def test_when_the_data_bucket_exists_then_only_its_exact_findings_are_acknowledged(tmp_path, tarball, default_config_data):
    app, _ = default_app(tmp_path, tarball, default_config_data)
    shared = next(s for s in app.node.children if isinstance(s, cdk.Stack) and s.stack_name.endswith("-shared"))
    acknowledged = {}
    for node in shared.node.find_all():
        for entry in node.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                acknowledged.setdefault(node.node.path, set()).update(rule.split("::", 1)[-1] for rule in entry.data)
    assert acknowledged == {
        "servekit-dev-shared/DataBucket": {"HIPAA.Security-S3BucketReplicationEnabled",
                                           "NIST.800.53.R5-S3BucketReplicationEnabled"},
        "servekit-dev-shared/AccessLogsBucket": {"HIPAA.Security-S3BucketReplicationEnabled",
                                                 "NIST.800.53.R5-S3BucketReplicationEnabled",
                                                 "HIPAA.Security-S3DefaultEncryptionKMS",
                                                 "NIST.800.53.R5-S3DefaultEncryptionKMS"},
    }
