"""The execution role every servekit endpoint runs with: a role SageMaker assumes, and one customer-managed policy
(not an inline one: HIPAA/NIST IAMNoInlinePolicy) holding only what the endpoint needs. It starts with the logs
and metrics every container writes; each part (model data, image, key, data paths, hosting) adds its own."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Construct

# Metrics the endpoint itself publishes: invocation metrics in AWS/SageMaker, instance metrics in
# /aws/sagemaker/Endpoints (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html).
INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"


def execution_role(scope: Construct, path: str, endpoint_name: str | None) -> tuple[iam.Role, iam.ManagedPolicy]:
    """(role, policy) in `scope`; `path` names the endpoint in the role's description; without `endpoint_name`
    the log grant covers every endpoint's group (CloudFormation names the endpoint later)."""
    role = iam.Role(
        scope,
        "ExecutionRole",
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description=f"SageMaker execution role of {path}: reads its model, pulls its image, writes logs",
    )
    policy = iam.ManagedPolicy(scope, "ExecutionPolicy", roles=[role])
    log_group_arn = cdk.Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name=f"/aws/sagemaker/Endpoints/{endpoint_name or '*'}",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    policy.add_statements(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_group_arn, f"{log_group_arn}:log-stream:*"],
        ),
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],  # PutMetricData has no resource-level permissions; scoped by namespace below
            conditions={"StringEquals": {"cloudwatch:namespace": [INSTANCE_NAMESPACE, INVOCATION_NAMESPACE]}},
        ),
    )
    return role, policy


def grant_describe_alarms(scope: Construct, policy: iam.ManagedPolicy, names: Sequence[str],
                          alarms: Sequence[cloudwatch.IAlarm], described: list[str]) -> None:
    """SageMaker reads the auto-rollback alarms with the execution role: "Ensure that your IAM execution role has
    permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify" (AWS,
    sagemaker/latest/dg/deployment-guardrails-configuration.html). DescribeAlarms takes the alarm resource type, so
    the grant names exactly these alarms (`names` servekit's, `alarms` given ones); `described` holds the ARNs
    granted so far, so each is granted once."""
    stack = cdk.Stack.of(scope)
    arns = [stack.format_arn(service="cloudwatch", resource="alarm", resource_name=n,
                             arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME) for n in names]
    arns += [a.alarm_arn for a in alarms]
    new = [a for a in arns if a not in described]
    if new:
        described += new
        policy.add_statements(iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=new))
