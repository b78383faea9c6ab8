"""The copy of an uncompressed layout into the data bucket: CDK's BucketDeployment (a Lambda function that unzips
the layout's asset and syncs it to models/<asset hash>/, servekit.facts.model_data), sized for the layout, allowed to
use the bucket's key, and the findings cdk-nag and checkov report on that function, each with its reason: CDK writes
the function, its role and its grants, and exposes none of these."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct

from servekit.constructs.checkov import skip_check
from servekit.facts import model_data as facts
from servekit.rules import model_data as rules

# What cdk-nag finds on the copying function (acknowledged by servekit.constructs.nag.acknowledge_layout_copy).
LAYOUT_COPY_REASONS = {
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]":
        "CDK gives its BucketDeployment function the AWS managed AWSLambdaBasicExecutionRole for its logs.",
    "AwsSolutions-L1": "CDK pins the BucketDeployment function's runtime with the aws-cdk-lib release.",
    "HIPAA.Security-IAMNoInlinePolicy": "CDK writes the BucketDeployment function's grants as its role's policy.",
    "NIST.800.53.R5-IAMNoInlinePolicy": "CDK writes the BucketDeployment function's grants as its role's policy.",
    "HIPAA.Security-LambdaConcurrency": "CloudFormation invokes the function once per deployment of a changed "
    "model; a concurrency limit could only make that deployment wait.",
    "NIST.800.53.R5-LambdaConcurrency": "CloudFormation invokes the function once per deployment of a changed "
    "model; a concurrency limit could only make that deployment wait.",
    "HIPAA.Security-LambdaDLQ": "CloudFormation calls the function synchronously as a custom resource and fails the "
    "stack update when it fails: there is no event for a dead-letter queue to keep.",
    "NIST.800.53.R5-LambdaDLQ": "CloudFormation calls the function synchronously as a custom resource and fails the "
    "stack update when it fails: there is no event for a dead-letter queue to keep.",
    "HIPAA.Security-LambdaInsideVPC": "The function talks only to S3 and to CloudFormation's response URL, which a "
    "VPC without NAT cannot reach.",
    "NIST.800.53.R5-LambdaInsideVPC": "The function talks only to S3 and to CloudFormation's response URL, which a "
    "VPC without NAT cannot reach.",
}
# The same findings as checkov names them, with the same reasons.
LAYOUT_COPY_CHECKOV = {
    "CKV_AWS_115": LAYOUT_COPY_REASONS["HIPAA.Security-LambdaConcurrency"],
    "CKV_AWS_116": LAYOUT_COPY_REASONS["HIPAA.Security-LambdaDLQ"],
    "CKV_AWS_117": LAYOUT_COPY_REASONS["HIPAA.Security-LambdaInsideVPC"],
    "CKV_AWS_173": "Its one environment variable is CDK's AWS_CA_BUNDLE, a file path: there is nothing to encrypt.",
}
LAYOUT_COPY_WILDCARD = ("CDK grants its BucketDeployment function read on the zip asset and read-write on the "
                        "destination bucket (aws-s3-deployment: grantRead, grantReadWrite); it writes only the "
                        "layout's files under models/<asset hash>/.")


def copy_layout(scope: Construct, folder: Path, *, identity: str, bucket: s3.IBucket,
                kms_key: kms.IKey | None) -> tuple[s3_deployment.BucketDeployment, str]:
    """The BucketDeployment that copies `folder` to `bucket`/models/<asset hash>/, and that prefix (with its '/').
    The asset hash is CDK's, of `identity`: the one a model.tar.gz of the same build would have.
    Raises ValueError when CDK cannot carry the layout (rules.deployment_problem)."""
    sizes = [f.stat().st_size for f in folder.rglob("*") if f.is_file()]
    size_bytes = sum(sizes)
    too_big = rules.deployment_problem(size_bytes, f"{scope.node.path} model layout {folder}", max(sizes, default=0))
    if too_big is not None:
        raise ValueError(str(too_big))
    asset = s3_assets.Asset(scope, "ModelDataLayout", path=str(folder), asset_hash=identity,
                            asset_hash_type=cdk.AssetHashType.CUSTOM)
    prefix = f"{facts.KEY_PREFIX}{asset.asset_hash}/"
    deployment = s3_deployment.BucketDeployment(
        scope, "ModelDataDeployment",
        sources=[s3_deployment.Source.bucket(asset.bucket, asset.s3_object_key)],
        destination_bucket=bucket,
        destination_key_prefix=prefix,
        # Kept on update and delete: the handler would otherwise remove the old prefix before the endpoint has
        # moved off it, and a rollback to the old model would find nothing (facts.BUCKET_DEPLOYMENT).
        retain_on_delete=True,
        prune=False,
        memory_limit=facts.DEPLOY_MEMORY_MIB,
        ephemeral_storage_size=cdk.Size.mebibytes(rules.deployment_storage_mib(size_bytes)),
    )
    if kms_key is not None:  # the bucket's default encryption: the copy asks the key for data keys
        deployment.handler_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:Encrypt", "kms:GenerateDataKey"], resources=[kms_key.key_arn]))
    resource = deployment.handler_role.node.scope.node.default_child  # the function's CfnFunction
    for check, reason in LAYOUT_COPY_CHECKOV.items():
        skip_check(resource, check, reason)
    # cfn-lint W3005: CDK's Function both reads its role's Arn and depends on the role, and the DependsOn cannot be
    # taken off a construct dependency; cfn-lint's own per-resource ignore (its Metadata), for that one warning.
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
    return deployment, prefix
