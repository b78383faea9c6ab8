"""The stacks: one shared stack (what endpoints share: the KMS key) and one stack per endpoint.

A stack per endpoint keeps an update's blast radius to that endpoint, stays far under CloudFormation's
500-resource cap however many endpoints there are, and lets `cdk deploy --concurrency N` deploy in
parallel. The same classes serve every environment (the pipeline reuses them per stage).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from constructs import Construct

from servekit import config as cfg
from servekit.constructs import ModelData, ServingEndpoint, TfsEndpoint, TorchServeEndpoint, TritonEndpoint
from servekit.constructs.nag import acknowledge_endpoint_findings


class SharedStack(cdk.Stack):
    """What the endpoints of one app and environment share."""

    def __init__(self, scope: Construct, construct_id: str, *, app_config: cfg.AppConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if app_config.kms_key_arn:
            self.key: kms.IKey = kms.Key.from_key_arn(self, "VolumeKey", app_config.kms_key_arn)
        else:
            self.key = kms.Key(
                self,
                "VolumeKey",
                description=f"{app_config.name}-{app_config.env_name}: SageMaker endpoint storage volumes",
                enable_key_rotation=True,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )


class ServingStack(cdk.Stack):
    """One endpoint, from its servekit.yaml entry."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: cfg.TfsEndpoint | cfg.TorchServeEndpoint | cfg.TritonEndpoint,
        model_data: ModelData,
        kms_key: kms.IKey | None,
        endpoint_name: str,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.endpoint = make_endpoint(self, "Endpoint", endpoint, model_data, kms_key, endpoint_name)
        acknowledge_endpoint_findings(self.endpoint)
        self.dashboard = _dashboard(self, self.endpoint, endpoint_name)
        cdk.CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
        cdk.CfnOutput(self, "Server", value=endpoint.server)


def _dashboard(scope: Construct, endpoint: ServingEndpoint, title: str) -> cloudwatch.Dashboard:
    """Latency, traffic, errors and utilisation of the endpoint on one page."""
    dashboard = cloudwatch.Dashboard(scope, "Dashboard")
    utilisation = [endpoint.metric_cpu_utilization(), endpoint.metric_memory_utilization()]
    if endpoint.facts.gpus:
        utilisation += [endpoint.metric_gpu_utilization(), endpoint.metric_gpu_memory_utilization()]
    dashboard.add_widgets(
        cloudwatch.GraphWidget(title=f"{title}: model latency (µs)", width=12, left=[
            endpoint.metric_model_latency(statistic="p50"), endpoint.metric_model_latency(statistic="p99"),
            endpoint.metric_overhead_latency(statistic="p99")]),
        cloudwatch.GraphWidget(title=f"{title}: invocations and errors", width=12, left=[
            endpoint.metric_invocations(), endpoint.metric_invocation4xx_errors(), endpoint.metric_invocation5xx_errors()]),
        cloudwatch.GraphWidget(title=f"{title}: utilisation (%)", width=24, left=utilisation),
    )
    return dashboard


def make_endpoint(
    scope: Construct,
    construct_id: str,
    endpoint: cfg.TfsEndpoint | cfg.TorchServeEndpoint | cfg.TritonEndpoint,
    model_data: ModelData,
    kms_key: kms.IKey | None,
    endpoint_name: str | None = None,
) -> ServingEndpoint:
    common = dict(
        endpoint_name=endpoint_name,
        scaling=endpoint.scaling,
        deployment=endpoint.deployment,
        alarms=endpoint.alarms if endpoint.alarms.enabled else None,
        model_data=model_data,
        instance_type=endpoint.instance_type,
        instance_count=endpoint.instance_count,
        image_version=endpoint.image_version,
        tuning=endpoint.tuning,
        kms_key=kms_key,
    )
    if isinstance(endpoint, cfg.TfsEndpoint):
        return TfsEndpoint(
            scope, construct_id, model_names=[m.name for m in endpoint.models],
            default_model_name=endpoint.default_model_name, **common,
        )
    if isinstance(endpoint, cfg.TorchServeEndpoint):
        return TorchServeEndpoint(scope, construct_id, **common)
    return TritonEndpoint(scope, construct_id, model_name=endpoint.model.name, **common)
