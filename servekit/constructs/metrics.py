"""SageMaker's metrics of one target, made in one place (as cdk-monitoring-constructs makes one metric factory per
service): a production variant of an endpoint, or an inference component. Alarms, scaling and dashboards ask
the factory; the same metric is the same object (a Metric is immutable, and each new one costs jsii round trips
to Node, docs/performance.md).

Source (AWS): https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
- invocation metrics (Invocations, Invocation4XXErrors, Invocation5XXErrors, ModelLatency and OverheadLatency in
  microseconds, NoCapacityInvocationFailures) in AWS/SageMaker, by EndpointName and VariantName, or by
  InferenceComponentName for a component;
- a variant's instance metrics in /aws/sagemaker/Endpoints (CPUUtilization and GPUUtilization summed over vCPUs
  and GPUs, MemoryUtilization);
- a component's in /aws/sagemaker/InferenceComponents, by InferenceComponentName, each normalized to 0-100% of
  what a copy reserved (CPUUtilizationNormalized, MemoryUtilizationNormalized, GPUUtilizationNormalized,
  GPUMemoryUtilizationNormalized).
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

from servekit.constructs.durations import one_minute
from servekit.constructs.execution_role import INSTANCE_NAMESPACE, INVOCATION_NAMESPACE

COMPONENT_NAMESPACE = "/aws/sagemaker/InferenceComponents"

# (the variant's metric name, the component's): how the two targets name the same utilization.
_UTILIZATION = {
    "cpu": ("CPUUtilization", "CPUUtilizationNormalized"),
    "memory": ("MemoryUtilization", "MemoryUtilizationNormalized"),
    "gpu": ("GPUUtilization", "GPUUtilizationNormalized"),
    "gpu_memory": ("GPUMemoryUtilization", "GPUMemoryUtilizationNormalized"),
}


class SageMakerMetrics:
    """The metrics of one production variant (`SageMakerMetrics.for_variant`) or inference component
    (`SageMakerMetrics.for_component`). Periods default to one minute; statistics to each metric's useful one."""

    def __init__(self, dimensions: Mapping[str, str], *, component: bool) -> None:
        self.dimensions = dict(dimensions)
        self.component = component
        self._made: dict[tuple[object, ...], cloudwatch.Metric] = {}

    @staticmethod
    def for_variant(endpoint_name: str, variant_name: str) -> SageMakerMetrics:
        return SageMakerMetrics({"EndpointName": endpoint_name, "VariantName": variant_name}, component=False)

    @staticmethod
    def for_component(inference_component_name: str) -> SageMakerMetrics:
        return SageMakerMetrics({"InferenceComponentName": inference_component_name}, component=True)

    @property
    def utilization_namespace(self) -> str:
        return COMPONENT_NAMESPACE if self.component else INSTANCE_NAMESPACE

    @property
    def normalized(self) -> bool:
        """True where utilization is 0-100% already (a component's); a variant's is summed over vCPUs and GPUs."""
        return self.component

    def metric(self, metric_name: str, *, namespace: str = INVOCATION_NAMESPACE, statistic: str = "Sum",
               period: cdk.Duration | None = None) -> cloudwatch.Metric:
        key = (metric_name, namespace, statistic, period)  # a Duration by identity: no round trip
        found = self._made.get(key)
        if found is None:
            found = self._made[key] = cloudwatch.Metric(
                namespace=namespace, metric_name=metric_name, dimensions_map=self.dimensions, statistic=statistic,
                period=period or one_minute(),
            )
        return found

    def invocations(self, **kwargs) -> cloudwatch.Metric:
        return self.metric("Invocations", **kwargs)

    def invocation_4xx_errors(self, **kwargs) -> cloudwatch.Metric:
        return self.metric("Invocation4XXErrors", **kwargs)

    def invocation_5xx_errors(self, **kwargs) -> cloudwatch.Metric:
        return self.metric("Invocation5XXErrors", **kwargs)

    def model_latency(self, statistic: str = "p99", **kwargs) -> cloudwatch.Metric:
        """Microseconds, as SageMaker reports it."""
        return self.metric("ModelLatency", statistic=statistic, **kwargs)

    def overhead_latency(self, statistic: str = "p99", **kwargs) -> cloudwatch.Metric:
        """Microseconds spent by SageMaker outside the model."""
        return self.metric("OverheadLatency", statistic=statistic, **kwargs)

    def utilization(self, kind: str, statistic: str = "Average", **kwargs) -> cloudwatch.Metric:
        """`kind`: cpu, memory, gpu or gpu_memory. Percent: a variant's CPU and GPU figures are summed over vCPUs
        and GPUs (up to 100 x their count); a component's are normalized (0-100)."""
        name = _UTILIZATION[kind][1 if self.component else 0]
        return self.metric(name, namespace=self.utilization_namespace, statistic=statistic, **kwargs)

    def no_capacity_invocation_failures(self, statistic: str = "Maximum") -> cloudwatch.Metric:
        """Requests that found no copy of a component (what wakes a component scaled to zero)."""
        return self.metric("NoCapacityInvocationFailures", statistic=statistic)

    def per_instance(self, kind: str, dimension: str = "InstanceId", period_seconds: int = 60
                     ) -> cloudwatch.MathExpression:
        """One series per instance (`InstanceId`), per GPU (`AcceleratorId`) or per container (`ContainerId`) of a
        utilization metric: the dimensions enhanced metrics add (AWS, monitoring-cloudwatch-enhanced-metrics.html),
        found by a CloudWatch SEARCH over this target's dimensions, so no instance id is written in the template."""
        name = _UTILIZATION[kind][1 if self.component else 0]
        terms = " ".join(f'{k}="{v}"' for k, v in self.dimensions.items())
        return cloudwatch.MathExpression(
            expression=f"SEARCH('Namespace=\"{self.utilization_namespace}\" MetricName=\"{name}\" {terms} "
                       f"{dimension}', 'Average', {period_seconds})",
            using_metrics={}, label=f"{name} by {dimension}", period=cdk.Duration.seconds(period_seconds))

    def error_rate(self, min_invocations: int) -> cloudwatch.MathExpression:
        """5XX errors as a percentage of the minute's invocations; 0 in minutes under `min_invocations` (the
        minimum-traffic guard), none in minutes without invocations (treated as not breaching)."""
        return cloudwatch.MathExpression(
            expression=f"IF(invocations >= {min_invocations}, 100 * FILL(errors, 0) / invocations, 0)",
            using_metrics={"errors": self.invocation_5xx_errors(), "invocations": self.invocations()},
            label="Invocation5XXErrors / Invocations (%)",
            period=one_minute(),
        )
