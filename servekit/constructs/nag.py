"""cdk-nag packs for the whole app, and the few acknowledgements servekit's endpoints need, each one
exact (the finding id, not the whole rule) and with its reason."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks

from servekit import images
from servekit.constructs.endpoint import ServingEndpoint

PACKS = (AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks)


def add_nag_packs(app: cdk.App) -> None:
    """Run AwsSolutions, HIPAA Security and NIST 800-53 R5 on every stack at synth: an unacknowledged
    finding fails the synth."""
    cdk.Validations.of(app).add_plugins(*(pack(app) for pack in PACKS))


def acknowledge_endpoint_findings(endpoint: ServingEndpoint) -> None:
    # cdk-nag writes a concrete region into the finding id where the stack has one.
    stack = cdk.Stack.of(endpoint)
    region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region
    log_groups = f"arn:<AWS::Partition>:logs:{region}:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/*"
    validations = cdk.Validations.of(endpoint.policy)
    validations.acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level "
            "permission (AWS requires '*'); PutMetricData is limited by a cloudwatch:namespace condition.",
        ),
        cdk.Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::{log_groups}]",
            reason="SageMaker names the endpoint's log group after the endpoint, whose name CloudFormation "
            "generates after the role exists; the group is limited to SageMaker endpoint logs.",
        ),
        cdk.Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::{log_groups}:log-stream:*]",
            reason="Log streams are created by SageMaker per instance, under the endpoint's log group.",
        ),
    )
    facts = images.instance_facts(endpoint.instance_type)
    if facts is not None and facts.nvme:
        reason = (f"{endpoint.instance_type} has NVMe instance storage: SageMaker encrypts it with a "
                  "hardware module and rejects a KMS key on the endpoint config's volume.")
        config = cdk.Validations.of(endpoint.endpoint_config)
        config.acknowledge(
            cdk.Acknowledgment(id="HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured", reason=reason),
            cdk.Acknowledgment(id="NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured", reason=reason),
        )
