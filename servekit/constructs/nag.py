"""cdk-nag packs for the whole app, and the few acknowledgements servekit's stacks need, each one exact
(the finding id, not the whole rule) and with its reason."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks

from servekit.constructs.components import InferenceComponentEndpoint
from servekit.constructs.endpoint import ServingEndpoint
from servekit.constructs.layout_copy import LAYOUT_COPY_REASONS, LAYOUT_COPY_WILDCARD

PACKS = (AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks)

# Why a wildcard resource is the narrowest AWS allows, by the first action of its statement.
WILDCARD_REASONS = {
    "ecr:GetAuthorizationToken": "ecr:GetAuthorizationToken supports no resource-level permission (AWS requires '*').",
    "ec2:DescribeNetworkInterfaces": "The ec2:Describe* actions SageMaker needs in a VPC support no resource-level "
    "permission (AWS requires '*').",
    "cloudwatch:PutMetricData": "cloudwatch:PutMetricData supports no resource-level permission (AWS requires '*'); "
    "it is limited by a cloudwatch:namespace condition.",
    "logs:CreateLogGroup": "SageMaker creates one log stream per instance (named after the instance) in the endpoint's "
    "group.",
    "ec2:CreateNetworkInterface": "SageMaker creates one ENI per instance in the endpoint's subnets; their ids exist "
    "only at run time, so the grant names the ENI type in this account and region, plus the exact subnets and groups.",
    "ec2:CreateNetworkInterfacePermission": "SageMaker manages the ENIs it creates per instance; their ids exist only "
    "at run time.",
    "ssmmessages:CreateControlChannel": "The ssmmessages actions of the SSM agent SageMaker runs for "
    "hosting.ssm_access support no resource-level permission (AWS requires '*').",
    "s3:PutObject": "SageMaker writes each captured record or async result as a new object with a generated key "
    "(date, hour, request id) under this endpoint's own prefix; nothing above the prefix is granted.",
    "s3:GetObject": "Objects under this endpoint's own prefix: async request payloads uploaded by callers, or the "
    "models of a multi-model endpoint, added without a deployment.",
}


def add_nag_packs(app: cdk.App) -> None:
    """Run AwsSolutions, HIPAA Security and NIST 800-53 R5 on every stack at synth: an unacknowledged
    finding fails the synth."""
    cdk.Validations.of(app).add_plugins(*(pack(app) for pack in PACKS))


def acknowledge_endpoint_findings(endpoint: ServingEndpoint | InferenceComponentEndpoint) -> None:
    stack = cdk.Stack.of(endpoint)
    document = stack.resolve(endpoint.policy.document)
    reasons: dict[str, list[str]] = {}
    core_dumps = {_render(stack.resolve(arn)) for arn in endpoint.core_dump_objects}
    for statement in document.get("Statement", []):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        reason = next((WILDCARD_REASONS[a] for a in actions if a in WILDCARD_REASONS), None)
        for rendered in (_render(r) for r in resources):
            if "*" not in rendered or reason is None:
                continue  # an unexpected wildcard must fail the synth, not be waved through
            if rendered in core_dumps:
                reason = ("SageMaker writes each core dump as a new object, named at the crash, under the prefix given "
                          "in hosting.core_dump.s3_uri; nothing above the prefix is granted.")
            if rendered.endswith(":log-group:/aws/sagemaker/Endpoints/*"):
                reason = "SageMaker names the log group after the endpoint, whose name CloudFormation generates later."
            if reason not in reasons.setdefault(rendered, []):
                reasons[rendered].append(reason)
    if reasons:  # in one call: each call is a round trip to Node
        cdk.Validations.of(endpoint.policy).acknowledge(*(
            cdk.Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{rendered}]", reason=" ".join(why))
            for rendered, why in reasons.items()))
    if endpoint.alarms and endpoint.alarm_topic is None:
        # On the endpoint, not on each alarm: an acknowledgement covers the constructs below its scope, every alarm
        # servekit makes sits below the endpoint with this same reason, and each call is a round trip to Node.
        reason = ("The alarm drives the deployment's automatic rollback, or shows load on the dashboard; set "
                  "alarms.sns_topic_arn to be notified as well.")
        cdk.Validations.of(endpoint).acknowledge(
            cdk.Acknowledgment(id="HIPAA.Security-CloudWatchAlarmAction", reason=reason),
            cdk.Acknowledgment(id="NIST.800.53.R5-CloudWatchAlarmAction", reason=reason),
        )
    variants = [*endpoint.production_variants, *filter(None, [getattr(endpoint, "shadow_variant", None)]),
                *getattr(endpoint, "component_variants", [])]
    copies = {id(v.model_data.deployment): v.model_data.deployment for v in variants
              if v.model_data.deployment is not None}
    for deployment in copies.values():
        acknowledge_layout_copy(deployment)
    nvme = sorted({v.instance_type for v in endpoint.production_variants if v.facts.nvme})
    if nvme:
        reason = (f"{', '.join(nvme)} has NVMe instance storage: SageMaker encrypts it with a hardware module and "
                  "rejects a KMS key on the endpoint config's volume.")
        cdk.Validations.of(endpoint.endpoint_config).acknowledge(
            cdk.Acknowledgment(id="HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured", reason=reason),
            cdk.Acknowledgment(id="NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured", reason=reason),
        )


def acknowledge_layout_copy(deployment: Any) -> None:
    """cdk-nag's findings on the function that copies an uncompressed layout (ModelData.from_directory), exact: the
    rule ids of layout_copy.LAYOUT_COPY_REASONS, and one IAM5 id per wildcard action and resource of its role's
    policy."""
    function = deployment.handler_role.node.scope  # the singleton function; its role and policy are below it
    stack = cdk.Stack.of(function)
    policy = deployment.handler_role.node.try_find_child("DefaultPolicy")
    document = stack.resolve(policy.document) if policy is not None else {}
    wildcards: set[str] = set()
    for statement in document.get("Statement", []):
        for key, kind in (("Action", "Action"), ("Resource", "Resource")):
            values = statement.get(key, [])
            for value in values if isinstance(values, list) else [values]:
                rendered = _render(value)
                if "*" in rendered:
                    wildcards.add(f"AwsSolutions-IAM5[{kind}::{rendered}]")
    cdk.Validations.of(function).acknowledge(
        *(cdk.Acknowledgment(id=rule, reason=reason) for rule, reason in LAYOUT_COPY_REASONS.items()),
        *(cdk.Acknowledgment(id=rule, reason=LAYOUT_COPY_WILDCARD) for rule in sorted(wildcards)),
    )


def acknowledge_shared_findings(shared: Any) -> None:
    """The shared stack's data and access-log buckets (servekit.stacks.SharedStack)."""
    if shared.data_bucket is None:
        return
    replication = ("Captured requests and async results are working data of one region: cross-region replication "
                   "would need a second bucket and region that this app does not own; the bucket is versioned.")
    for bucket in (shared.data_bucket, shared.access_logs):
        cdk.Validations.of(bucket).acknowledge(
            cdk.Acknowledgment(id="HIPAA.Security-S3BucketReplicationEnabled", reason=replication),
            cdk.Acknowledgment(id="NIST.800.53.R5-S3BucketReplicationEnabled", reason=replication),
        )
    sse_s3 = ("S3 server access logs can be delivered only to a bucket encrypted with SSE-S3, not SSE-KMS; the "
              "logged data bucket itself uses the KMS key.")
    cdk.Validations.of(shared.access_logs).acknowledge(
        cdk.Acknowledgment(id="HIPAA.Security-S3DefaultEncryptionKMS", reason=sse_s3),
        cdk.Acknowledgment(id="NIST.800.53.R5-S3DefaultEncryptionKMS", reason=sse_s3),
    )


def _render(value: Any) -> str:
    """A resolved template value as cdk-nag writes it in a finding id: Ref -> <Name>, GetAtt -> <Id.Attr>,
    ImportValue -> the export's name, Join -> the parts joined, Sub -> its ${X} as <X>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (kind, arg), = value.items()
        if kind == "Ref":
            return f"<{arg}>"
        if kind == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if kind == "Fn::ImportValue":
            return _render(arg)
        if kind == "Fn::Join":
            return arg[0].join(_render(part) for part in arg[1])
        if kind == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}]+)\}", r"<\1>", arg)
    return str(value)
