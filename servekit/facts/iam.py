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
- AWS API reference, ProductionVariantCoreDumpConfig (sagemaker/latest/APIReference/API_ProductionVariantCoreDumpConfig.html):
  "If you use a KMS key ID or an alias of your KMS key, the SageMaker execution role must include permissions to
  call kms:Encrypt" (confirmed). s3:PutObject on the destination and kms:GenerateDataKey (what S3 asks of a
  writer to an SSE-KMS object) are servekit's reading: unconfirmed.
- AWS, "Access containers through SSM" (sagemaker/latest/dg/ssm-access.html), section "Endpoint IAM permissions":
  the SSM agent SageMaker runs beside the container calls ssmmessages CreateControlChannel, CreateDataChannel,
  OpenControlChannel and OpenDataChannel with the execution role. The section was not read in full here:
  unconfirmed. The same page: the account must be allowlisted through AWS Support, and SageMaker delays patching
  and replacing faulty instances of such a variant by a day (confirmed, quoted in docs/operations.md).
- AWS API reference, S3ModelDataSource (sagemaker/latest/APIReference/API_S3ModelDataSource.html): with
  S3DataType S3Prefix SageMaker copies every object under the prefix into /opt/ml/model. That it lists the prefix
  with the execution role (s3:ListBucket, limited here by an s3:prefix condition) and reads each object
  (s3:GetObject) is servekit's reading, as the page names no permission: unconfirmed. In servekit's KMS-encrypted
  data bucket the objects also need kms:Decrypt.
"""

from __future__ import annotations

from servekit.facts.source import Source

CREATE_MODEL = Source("AWS sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms", False)
GUARDRAILS = Source("AWS sagemaker/latest/dg/deployment-guardrails-configuration.html")
VPC = Source("AWS sagemaker/latest/dg/host-vpc.html", False)
CORE_DUMP = Source("AWS sagemaker/latest/APIReference/API_ProductionVariantCoreDumpConfig.html", False)
SSM = Source("AWS sagemaker/latest/dg/ssm-access.html#ssm-access-iam", False)
UNCOMPRESSED = Source("AWS sagemaker/latest/APIReference/API_S3ModelDataSource.html (permissions inferred)", False)
DATA = Source("AWS sagemaker/latest/dg/async-inference-create-endpoint-prerequisites.html, data-capture pages", False)

# feature -> (actions, source). "*"-resource actions are those the service authorizes on no resource type.
CALLS: dict[str, tuple[tuple[str, ...], Source]] = {
    "image": (("ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
               "ecr:BatchGetImage"), CREATE_MODEL),
    "model_data": (("s3:GetObject",), CREATE_MODEL),
    "uncompressed_model_data": (("s3:GetObject", "s3:ListBucket", "kms:Decrypt"), UNCOMPRESSED),
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
    "core_dump": (("s3:PutObject", "kms:Encrypt", "kms:GenerateDataKey"), CORE_DUMP),
    "ssm_access": (SSM_MESSAGES := ("ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                                    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"), SSM),
}
# Actions that take no resource type, so "*" is the only resource AWS allows (service authorization reference).
NO_RESOURCE_TYPE = frozenset({"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "ec2:DescribeNetworkInterfaces",
                              "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                              "ec2:DescribeSecurityGroups", *SSM_MESSAGES})
