"""CloudWatch alarms on one production variant or inference component, from its metrics
(servekit.constructs.metrics.SageMakerMetrics).

Errors and latency are per minute (they also drive a deployment's automatic rollback); the 5XX alarm is a
rate with a minimum-traffic guard (metric math), every alarm fires on M of N datapoints; utilization is
averaged over `utilization_period_seconds`. A variant's thresholds are per vCPU / per GPU, multiplied by the
counts from servekit.images because SageMaker sums CPUUtilization, GPUUtilization and GPUMemoryUtilization
over them; a component's metrics are normalized to what a copy reserved, so its thresholds are used as they
are. Serverless variants publish no instance metrics: they get errors and latency only.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from servekit import images
from servekit.constructs.durations import seconds
from servekit.constructs.metrics import SageMakerMetrics
from servekit.options import Alarms


@dataclass
class VariantAlarms:
    rollback: list[cloudwatch.Alarm]  # errors and latency: a bad deployment shows there first
    other: list[cloudwatch.Alarm]  # client errors and utilization: load, not necessarily a bad release
    rollback_names: list[str]  # the rollback alarms' names, when servekit names them (empty otherwise)

    @property
    def all(self) -> list[cloudwatch.Alarm]:
        return [*self.rollback, *self.other]


def add_variant_alarms(
    scope: Construct, *, alarms: Alarms, metrics: SageMakerMetrics, facts: images.InstanceFacts,
    name_prefix: str | None,
) -> VariantAlarms:
    """The alarms of the variant or component whose metrics are `metrics`, on instances of `facts`; `name_prefix`
    names the alarms (None: CloudFormation names them)."""
    path = scope.node.path  # read once: each read is a round trip to Node

    def alarm(construct_id: str, suffix: str, description: str, m: cloudwatch.IMetric, threshold: float,
              operator: cloudwatch.ComparisonOperator) -> cloudwatch.Alarm:
        return m.create_alarm(
            scope, construct_id,
            alarm_name=f"{name_prefix}-{suffix}" if name_prefix else None,
            alarm_description=f"{path}: {description}",
            threshold=threshold,
            evaluation_periods=alarms.evaluation_periods,
            datapoints_to_alarm=alarms.datapoints_to_alarm,
            comparison_operator=operator,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
    rollback_suffixes = ("invocation-5xx-error-rate", "model-latency-p99")
    rollback = [
        alarm("Invocation5XXErrorRateAlarm", rollback_suffixes[0],
              f"model server errors (5XX) reached {alarms.invocation_5xx_error_rate_percent:g}% of invocations in "
              f"{alarms.datapoints_to_alarm} of {alarms.evaluation_periods} minutes (minutes with fewer than "
              f"{alarms.min_invocations_per_minute} invocations never breach)",
              metrics.error_rate(alarms.min_invocations_per_minute), alarms.invocation_5xx_error_rate_percent,
              at_least),
        alarm("ModelLatencyP99Alarm", rollback_suffixes[1], f"p99 model latency above {alarms.model_latency_p99_ms} ms",
              metrics.model_latency(), alarms.model_latency_p99_ms * 1000, above),  # microseconds
    ]
    rollback_names = [f"{name_prefix}-{suffix}" for suffix in rollback_suffixes] if name_prefix else []
    other = []
    if alarms.invocation_4xx_errors_per_minute is not None:
        other.append(alarm("Invocation4XXErrorsAlarm", "invocation-4xx-errors",
                           f"client errors (4XX) reached {alarms.invocation_4xx_errors_per_minute} per minute",
                           metrics.invocation_4xx_errors(), alarms.invocation_4xx_errors_per_minute, at_least))
    if facts.vcpus:  # instances publish utilization; serverless does not
        period = seconds(alarms.utilization_period_seconds)
        per_unit = [
            ("CPUUtilization", "cpu", "cpu-utilization", "CPU", alarms.cpu_utilization_percent, facts.vcpus, "vCPU"),
            ("MemoryUtilization", "memory", "memory-utilization", "memory", alarms.memory_utilization_percent, 1, ""),
            ("GPUUtilization", "gpu", "gpu-utilization", "GPU", alarms.gpu_utilization_percent, facts.gpus, "GPU"),
            ("GPUMemoryUtilization", "gpu_memory", "gpu-memory-utilization", "GPU memory",
             alarms.gpu_memory_utilization_percent, facts.gpus, "GPU"),
        ]
        for name, kind, suffix, label, percent, units, unit in per_unit:
            if percent is None or not units:
                continue  # no threshold, or a GPU metric on an instance without GPU
            if metrics.normalized:  # a component's: a share of what its copy reserved
                per, units = " of the copy's reservation", 1
            else:
                per = f" per {unit}" if unit else ""
            other.append(alarm(f"{name}Alarm", suffix, f"{label} use above {percent:g}%{per} on average",
                               metrics.utilization(kind, period=period), percent * units, above))
    return VariantAlarms(rollback, other, rollback_names)
