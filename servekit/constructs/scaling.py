"""Application Auto Scaling of one production variant's instance count.

Target tracking on invocations per instance or on concurrent requests per model (both predefined; the
second a high-resolution, 10-second metric), on CPU or GPU utilization (SageMaker sums
them over vCPUs / GPUs, so the per-unit target is multiplied by the counts from servekit.images), and,
for async endpoints, on ApproximateBacklogSizePerInstance. A target tracking policy cannot scale out
from zero instances (its metric is per instance), so scale to zero adds AWS's documented companion: a
step policy on HasBacklogWithoutCapacity that adds one instance
(https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from servekit import images
from servekit.constructs.durations import one_minute, seconds
from servekit.constructs.execution_role import INSTANCE_NAMESPACE, INVOCATION_NAMESPACE
from servekit.options import Scaling
from servekit.rules import variants as variant_rules


def add_variant_scaling(
    scope: Construct, *, scaling: Scaling, endpoint_name: str, variant_name: str, facts: images.InstanceFacts,
) -> appscaling.ScalableTarget:
    problems = variant_rules.scaled_instance(facts.instance_type, burstable=facts.burstable, gpus=facts.gpus,
                                             target_gpu_utilization_percent=scaling.target_gpu_utilization_percent)
    if problems:
        raise ValueError(f"{scope.node.path}: " + "; ".join(str(p) for p in problems))
    target = appscaling.ScalableTarget(
        scope, "ScalableTarget",
        service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
        resource_id=f"endpoint/{endpoint_name}/variant/{variant_name}",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        min_capacity=scaling.min_instances,
        max_capacity=scaling.max_instances,
    )
    cooldowns = dict(scale_in_cooldown=seconds(scaling.scale_in_cooldown_seconds),
                     scale_out_cooldown=seconds(scaling.scale_out_cooldown_seconds))
    variant = {"EndpointName": endpoint_name, "VariantName": variant_name}
    if scaling.target_invocations_per_instance is not None:
        target.scale_to_track_metric(
            "InvocationsPerInstance", target_value=scaling.target_invocations_per_instance,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE, **cooldowns,
        )
    if scaling.target_concurrent_requests_per_model is not None:
        # A 10-second metric (AWS: endpoint-auto-scaling-add-code-define.html, "Specify a high-resolution
        # predefined metric"), so target tracking sees a burst within seconds.
        target.scale_to_track_metric(
            "ConcurrentRequestsPerModel", target_value=scaling.target_concurrent_requests_per_model,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION,
            **cooldowns,
        )
    if scaling.target_cpu_utilization_percent is not None:
        target.scale_to_track_metric(
            "CpuUtilization", target_value=scaling.target_cpu_utilization_percent * facts.vcpus,
            custom_metric=_metric(INSTANCE_NAMESPACE, "CPUUtilization", variant), **cooldowns,
        )
    if scaling.target_gpu_utilization_percent is not None:
        target.scale_to_track_metric(
            "GpuUtilization", target_value=scaling.target_gpu_utilization_percent * facts.gpus,
            custom_metric=_metric(INSTANCE_NAMESPACE, "GPUUtilization", variant), **cooldowns,
        )
    if scaling.target_backlog_per_instance is not None:
        # Async metrics carry only the EndpointName dimension.
        target.scale_to_track_metric(
            "BacklogPerInstance", target_value=scaling.target_backlog_per_instance,
            custom_metric=_metric(INVOCATION_NAMESPACE, "ApproximateBacklogSizePerInstance",
                                  {"EndpointName": endpoint_name}), **cooldowns,
        )
    if scaling.min_instances == 0:
        target.scale_on_metric(
            "ScaleOutFromZero",
            metric=_metric(INVOCATION_NAMESPACE, "HasBacklogWithoutCapacity", {"EndpointName": endpoint_name}),
            scaling_steps=[appscaling.ScalingInterval(upper=0, change=0),
                           appscaling.ScalingInterval(lower=1, change=1)],
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=seconds(scaling.scale_out_cooldown_seconds),
            evaluation_periods=1,
        )
    for schedule in scaling.schedules:
        target.scale_on_schedule(
            f"Schedule-{schedule.name}",
            schedule=appscaling.Schedule.expression(f"cron({schedule.cron})"),
            time_zone=cdk.TimeZone.of(schedule.time_zone),
            min_capacity=schedule.min_instances,
            max_capacity=schedule.max_instances,
        )
    return target


def _metric(namespace: str, name: str, dimensions: dict[str, str]) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace=namespace, metric_name=name, dimensions_map=dimensions, statistic="Average",
                             period=one_minute())
