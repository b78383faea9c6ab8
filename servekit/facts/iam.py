"""The calls SageMaker makes with an endpoint's execution role, per feature: what the role must allow, and
(the least-privilege side) all it may allow. tests/integration/test_execution_roles.py evaluates every
synthesized role against this list with a real IAM policy evaluator.

Sources:
- AWS, "How to use SageMaker AI execution roles", section "CreateModel API: Execution Role Permissions"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms):
  cloudwatch:PutMetricData; logs:CreateLogStream, PutLogEvents, CreateLogGroup, DescribeLogStreams;
  ecr:GetAuthorizationToken, BatchCheckLayerAvailability, GetDownloadUrlForLayer, BatchGetImage; s3:GetObject
  on the model data; with a VpcConfig the ec2 network-interface actions below. Not re-read in this session
  (the page could not be opened here): unconfirmed in detail, though each action is the documented one.
- AWS, "Auto-Rollback Configuration and Monitoring" (sagemaker/latest/dg/deployment-guardrails-configuration.html):
  "Ensure that your IAM execution role has permission to perform the cloudwatch:DescribeAlarms action on the
  auto-rollback alarms you specify" (confirmed, quoted in the issue that asked for this check).
- AWS, "Give SageMaker access to resources in your VPC" (sagemaker/latest/dg/host-vpc.html): the ENI actions.
- Data capture and async inference write to S3 with the execution role, with SSE-KMS when a key is set, and
  async notifications publish to SNS (sagemaker/latest/dg/async-inference-create-endpoint-prerequisites.html):
  s3:PutObject (and AbortMultipartUpload for outputs), s3:GetObject on inputs, kms:Encrypt/GenerateDataKey/
  Decrypt, sns:Publish.
"""

from __future__ import annotations

from servekit.facts import Source

CREATE_MODEL = Source("AWS sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms", False)
GUARDRAILS = Source("AWS sagemaker/latest/dg/deployment-guardrails-configuration.html")
VPC = Source("AWS sagemaker/latest/dg/host-vpc.html", False)
DATA = Source("AWS sagemaker/latest/dg/async-inference-create-endpoint-prerequisites.html, data-capture pages", False)

# feature -> (actions, source). "*"-resource actions are those the service authorizes on no resource type.
CALLS: dict[str, tuple[tuple[str, ...], Source]] = {
    "image": (("ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
               "ecr:BatchGetImage"), CREATE_MODEL),
    "model_data": (("s3:GetObject",), CREATE_MODEL),
    "logs": (("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
             CREATE_MODEL),
    "metrics": (("cloudwatch:PutMetricData",), CREATE_MODEL),
    "volume_key": (("kms:Decrypt",), CREATE_MODEL),
    "rollback_alarms": (("cloudwatch:DescribeAlarms",), GUARDRAILS),
    "vpc": (("ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
             "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
             "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"), VPC),
    "data_capture": (("s3:PutObject", "kms:Encrypt", "kms:GenerateDataKey"), DATA),
    "async": (("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "kms:Encrypt", "kms:GenerateDataKey",
               "kms:Decrypt", "sns:Publish"), DATA),
}
# Actions that take no resource type, so "*" is the only resource AWS allows (service authorization reference).
NO_RESOURCE_TYPE = frozenset({"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "ec2:DescribeNetworkInterfaces",
                              "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                              "ec2:DescribeSecurityGroups"})
