"""The shared base of TfsEndpoint, TorchServeEndpoint and TritonEndpoint.

One real-time endpoint: a least-privilege execution role, a SageMaker Model, an EndpointConfig and
an Endpoint. Names are left to CloudFormation: an EndpointConfig is immutable, so a change must
create a new one, which a fixed name would forbid ("already exists").
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from servekit import images
from servekit.constructs.container_image import ContainerImage
from servekit.constructs.model_data import ModelData

# Metrics the endpoint itself publishes: invocation metrics in AWS/SageMaker, instance metrics in
# /aws/sagemaker/Endpoints (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html).
INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"


class ServingEndpoint(Construct):
    """A SageMaker real-time endpoint behind one model server.

    Subclasses decide the server (image and environment); everything else is shared.
    """

    server: str = ""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_data: ModelData,
        image: ContainerImage,
        environment: Mapping[str, str],
        instance_type: str,
        instance_count: int = 1,
        kms_key: kms.IKey | None = None,
        variant_name: str = "AllTraffic",
    ) -> None:
        """
        :param model_data: the model.tar.gz (ModelData.from_asset or ModelData.from_s3_uri).
        :param image: the serving container; ContainerImage.from_dlc(...) for the AWS DLC.
        :param environment: the container's environment, already mapped from the server's tuning.
        :param instance_type: SageMaker instance type, e.g. ml.g5.xlarge.
        :param instance_count: initial instance count of the variant. Default: 1.
        :param kms_key: key for the endpoint's storage volume. Default: none (AWS-managed encryption).
            Left out, with a warning, on instance types with NVMe instance storage, which SageMaker
            encrypts itself and where it rejects a volume key.
        :param variant_name: production variant name. Default: AllTraffic.
        """
        super().__init__(scope, construct_id)
        facts = images.instance_facts(instance_type)
        if facts is None:
            raise ValueError(
                f"{self.node.path}: instance_type {instance_type!r} is unknown; use a SageMaker type like "
                f"ml.m5.xlarge{images.suggest_instance_type(instance_type)}"
            )
        if instance_count < 1:
            raise ValueError(f"{self.node.path}: instance_count {instance_count} must be at least 1")
        self.instance_type = instance_type
        self.variant_name = variant_name
        stack = cdk.Stack.of(self)

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker execution role of {self.node.path}: reads its model, pulls its image, writes logs",
        )
        # A customer-managed policy, not an inline one (HIPAA/NIST IAMNoInlinePolicy), holding only
        # what this model needs; each part (model data, image, key) adds its own statements.
        self.policy = iam.ManagedPolicy(self, "ExecutionPolicy", roles=[self.role])
        log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/Endpoints/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.policy.add_statements(
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
        model_data_url = model_data.bind(self, self.policy)
        self.image_uri = image.bind(self, self.policy, instance_type)
        self.environment = dict(environment)

        if kms_key is not None and not facts.nvme:
            # In the managed policy, not through kms_key.grant_decrypt(), which would add an inline policy.
            self.policy.add_statements(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[kms_key.key_arn]))

        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image_uri,
                model_data_url=model_data_url,
                environment=self.environment,
            ),
        )
        # The model must not be created before its role can read the model data.
        self.model.node.add_dependency(self.policy)

        variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=variant_name,
            model_name=self.model.attr_model_name,
            initial_instance_count=instance_count,
            instance_type=instance_type,
            initial_variant_weight=1.0,
        )
        volume_key = None
        if kms_key is not None:
            if facts.nvme:
                cdk.Annotations.of(self).add_warning_v2(
                    "servekit:nvme-volume-key",
                    f"{instance_type} has NVMe instance storage, which SageMaker encrypts itself and where it "
                    "rejects a volume KMS key: the endpoint config is synthesized without KmsKeyId.",
                )
            else:
                volume_key = kms_key.key_arn
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self, "EndpointConfig", production_variants=[variant], kms_key_id=volume_key
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint", endpoint_config_name=self.endpoint_config.attr_endpoint_config_name
        )
        self.endpoint_name = self.endpoint.attr_endpoint_name
        self.endpoint_arn = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=self.endpoint_name)

    # --- access --------------------------------------------------------------------------------
    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` call InvokeEndpoint (and the async/streaming variants) on this endpoint only."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:InvokeEndpoint",
                "sagemaker:InvokeEndpointAsync",
                "sagemaker:InvokeEndpointWithResponseStream",
            ],
            resource_arns=[self.endpoint_arn],
        )

    # --- metrics, named after the official ones ------------------------------------------------
    def metric(
        self, metric_name: str, *, namespace: str = INVOCATION_NAMESPACE, statistic: str = "Sum",
        period: cdk.Duration | None = None,
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": self.variant_name},
            statistic=statistic,
            period=period or cdk.Duration.minutes(1),
        )

    def metric_invocations(self, **kwargs) -> cloudwatch.Metric:
        return self.metric("Invocations", **kwargs)

    def metric_invocation4xx_errors(self, **kwargs) -> cloudwatch.Metric:
        return self.metric("Invocation4XXErrors", **kwargs)

    def metric_invocation5xx_errors(self, **kwargs) -> cloudwatch.Metric:
        return self.metric("Invocation5XXErrors", **kwargs)

    def metric_model_latency(self, statistic: str = "p99", **kwargs) -> cloudwatch.Metric:
        """Microseconds, as SageMaker reports it."""
        return self.metric("ModelLatency", statistic=statistic, **kwargs)

    def metric_overhead_latency(self, statistic: str = "p99", **kwargs) -> cloudwatch.Metric:
        """Microseconds spent by SageMaker outside the model."""
        return self.metric("OverheadLatency", statistic=statistic, **kwargs)

    def metric_cpu_utilization(self, statistic: str = "Average", **kwargs) -> cloudwatch.Metric:
        """Percent, summed over cores (up to 100 x vCPUs)."""
        return self.metric("CPUUtilization", namespace=INSTANCE_NAMESPACE, statistic=statistic, **kwargs)

    def metric_memory_utilization(self, statistic: str = "Average", **kwargs) -> cloudwatch.Metric:
        return self.metric("MemoryUtilization", namespace=INSTANCE_NAMESPACE, statistic=statistic, **kwargs)

    def metric_gpu_utilization(self, statistic: str = "Average", **kwargs) -> cloudwatch.Metric:
        """Percent, summed over GPUs (up to 100 x GPUs)."""
        return self.metric("GPUUtilization", namespace=INSTANCE_NAMESPACE, statistic=statistic, **kwargs)

    def metric_gpu_memory_utilization(self, statistic: str = "Average", **kwargs) -> cloudwatch.Metric:
        return self.metric("GPUMemoryUtilization", namespace=INSTANCE_NAMESPACE, statistic=statistic, **kwargs)
