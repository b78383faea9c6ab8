"""cdk-nag packs for the whole app, and the few acknowledgements servekit's endpoints need, each one
exact (the finding id, not the whole rule) and with its reason."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks

from servekit.constructs.endpoint import ServingEndpoint

PACKS = (AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks)


def add_nag_packs(app: cdk.App) -> None:
    """Run AwsSolutions, HIPAA Security and NIST 800-53 R5 on every stack at synth: an unacknowledged
    finding fails the synth."""
    cdk.Validations.of(app).add_plugins(*(pack(app) for pack in PACKS))


def acknowledge_endpoint_findings(endpoint: ServingEndpoint) -> None:
    cdk.Validations.of(endpoint.policy).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level "
            "permission (AWS requires '*'); PutMetricData is limited by a cloudwatch:namespace condition.",
        )
    )
    stack = cdk.Stack.of(endpoint)
    # cdk-nag writes a literal region and partition into the finding id where the stack resolves them.
    region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region
    partition = "<AWS::Partition>" if cdk.Token.is_unresolved(stack.partition) else stack.partition
    generated = cdk.Token.is_unresolved(endpoint.endpoint_name)
    log_group = (f"arn:{partition}:logs:{region}:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/"
                 + ("*" if generated else endpoint.endpoint_name))
    cdk.Validations.of(endpoint.policy).acknowledge(
        cdk.Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::{log_group}:log-stream:*]",
            reason="SageMaker creates one log stream per instance (named after the instance) in the endpoint's group.",
        )
    )
    if generated:
        cdk.Validations.of(endpoint.policy).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{log_group}]",
                reason="SageMaker names the log group after the endpoint, whose name CloudFormation generates later.",
            )
        )
    for alarm in endpoint.alarms:
        if endpoint.alarm_topic is None:
            reason = ("The alarm drives the deployment's automatic rollback and the dashboard; set "
                      "alarms.sns_topic_arn to be notified as well.")
            cdk.Validations.of(alarm).acknowledge(
                cdk.Acknowledgment(id="HIPAA.Security-CloudWatchAlarmAction", reason=reason),
                cdk.Acknowledgment(id="NIST.800.53.R5-CloudWatchAlarmAction", reason=reason),
            )
    if endpoint.facts.nvme:
        reason = (f"{endpoint.instance_type} has NVMe instance storage: SageMaker encrypts it with a "
                  "hardware module and rejects a KMS key on the endpoint config's volume.")
        cdk.Validations.of(endpoint.endpoint_config).acknowledge(
            cdk.Acknowledgment(id="HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured", reason=reason),
            cdk.Acknowledgment(id="NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured", reason=reason),
        )

