"""CloudWatch alarms on one production variant.

Errors and latency are per minute (they also drive a deployment's automatic rollback); utilization is
averaged over `utilization_period_seconds` and its thresholds are per vCPU / per GPU, multiplied by the
counts from servekit.images because SageMaker sums CPUUtilization, GPUUtilization and
GPUMemoryUtilization over them. Serverless variants publish no instance metrics: they get errors and
latency only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from servekit import images
from servekit.options import Alarms

INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
MetricFactory = Callable[..., cloudwatch.Metric]


@dataclass
class VariantAlarms:
    rollback: list[cloudwatch.Alarm]  # errors and latency: a bad deployment shows there first
    other: list[cloudwatch.Alarm]  # client errors and utilization: load, not necessarily a bad release

    @property
    def all(self) -> list[cloudwatch.Alarm]:
        return [*self.rollback, *self.other]


def add_variant_alarms(
    scope: Construct, *, alarms: Alarms, metric: MetricFactory, facts: images.InstanceFacts, name_prefix: str | None,
) -> VariantAlarms:
    """`metric(name, namespace=..., statistic=..., period=...)` gives the variant's metric; `name_prefix`
    names the alarms (None: CloudFormation names them)."""

    def alarm(construct_id: str, suffix: str, description: str, m: cloudwatch.Metric, threshold: float,
              operator: cloudwatch.ComparisonOperator) -> cloudwatch.Alarm:
        return m.create_alarm(
            scope, construct_id,
            alarm_name=f"{name_prefix}-{suffix}" if name_prefix else None,
            alarm_description=f"{scope.node.path}: {description}",
            threshold=threshold,
            evaluation_periods=alarms.evaluation_periods,
            comparison_operator=operator,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
    rollback = [
        alarm("Invocation5XXErrorsAlarm", "invocation-5xx-errors",
              f"model server errors (5XX) reached {alarms.invocation_5xx_errors_per_minute} per minute",
              metric("Invocation5XXErrors"), alarms.invocation_5xx_errors_per_minute, at_least),
        alarm("ModelLatencyP99Alarm", "model-latency-p99", f"p99 model latency above {alarms.model_latency_p99_ms} ms",
              metric("ModelLatency", statistic="p99"), alarms.model_latency_p99_ms * 1000, above),  # microseconds
    ]
    other = []
    if alarms.invocation_4xx_errors_per_minute is not None:
        other.append(alarm("Invocation4XXErrorsAlarm", "invocation-4xx-errors",
                           f"client errors (4XX) reached {alarms.invocation_4xx_errors_per_minute} per minute",
                           metric("Invocation4XXErrors"), alarms.invocation_4xx_errors_per_minute, at_least))
    if facts.vcpus:  # instances publish utilization; serverless does not
        period = cdk.Duration.seconds(alarms.utilization_period_seconds)
        per_unit = [
            ("CPUUtilization", "cpu-utilization", "CPU", alarms.cpu_utilization_percent, facts.vcpus, "vCPU"),
            ("MemoryUtilization", "memory-utilization", "memory", alarms.memory_utilization_percent, 1, ""),
            ("GPUUtilization", "gpu-utilization", "GPU", alarms.gpu_utilization_percent, facts.gpus, "GPU"),
            ("GPUMemoryUtilization", "gpu-memory-utilization", "GPU memory", alarms.gpu_memory_utilization_percent,
             facts.gpus, "GPU"),
        ]
        for name, suffix, label, percent, units, unit in per_unit:
            if percent is None or not units:
                continue  # no threshold, or a GPU metric on an instance without GPU
            per = f" per {unit}" if unit else ""
            other.append(alarm(f"{name}Alarm", suffix, f"{label} use above {percent:g}%{per} on average",
                               metric(name, namespace=INSTANCE_NAMESPACE, statistic="Average", period=period),
                               percent * units, above))
    return VariantAlarms(rollback, other)
