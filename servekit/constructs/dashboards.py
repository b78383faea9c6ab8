"""CloudWatch dashboards of servekit's endpoints, from the metric factories (servekit.constructs.metrics): latency,
traffic and errors, and utilisation, of each production variant or each inference component on one page. Add one
to any stack: `endpoint_dashboard(stack, "Dashboard", endpoint, title="my-endpoint")`."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from servekit.constructs.metrics import SageMakerMetrics


def endpoint_dashboard(scope: Construct, construct_id: str, endpoint, title: str) -> cloudwatch.Dashboard:
    """One page for a ServingEndpoint: its production variants (instance utilisation where they have instances;
    per instance and per GPU too with enhanced metrics)."""
    return metrics_dashboard(scope, construct_id, title, [
        (endpoint.metrics(v.name), bool(v.facts.vcpus), bool(v.facts.gpus)) for v in endpoint.production_variants],
        enhanced=endpoint.observability.enhanced_metrics,
        period_seconds=endpoint.observability.publish_frequency_seconds)


def component_dashboard(scope: Construct, construct_id: str, endpoint, title: str) -> cloudwatch.Dashboard:
    """One page for an InferenceComponentEndpoint: each component (GPU utilisation where its copies reserve GPUs;
    per copy, by ContainerId, with enhanced metrics)."""
    return metrics_dashboard(scope, construct_id, title, [
        (endpoint.metrics(name), True, endpoint.component_accelerators[name] > 0) for name in endpoint.components],
        enhanced=endpoint.observability.enhanced_metrics,
        period_seconds=endpoint.observability.publish_frequency_seconds)


def metrics_dashboard(scope: Construct, construct_id: str, title: str,
                      targets: Sequence[tuple[SageMakerMetrics, bool, bool]], *, enhanced: bool = False,
                      period_seconds: int = 60) -> cloudwatch.Dashboard:
    """`targets`: (metrics, has instance metrics, has GPU metrics) of each variant or component, in order.
    `enhanced`: the endpoint publishes enhanced metrics, so a row graphs utilisation per instance and per GPU
    (per copy, ContainerId, for components), at the publish interval."""
    dashboard = cloudwatch.Dashboard(scope, construct_id)
    latency, traffic, utilisation = [], [], []
    for metrics, instances, gpus in targets:
        latency += [metrics.model_latency("p50"), metrics.model_latency(), metrics.overhead_latency()]
        traffic += [metrics.invocations(), metrics.invocation_4xx_errors(), metrics.invocation_5xx_errors()]
        if instances:  # serverless publishes no instance metrics
            utilisation += [metrics.utilization("cpu"), metrics.utilization("memory")]
        if gpus:
            utilisation += [metrics.utilization("gpu"), metrics.utilization("gpu_memory")]
    widgets = [
        cloudwatch.GraphWidget(title=f"{title}: model latency (µs)", width=12, left=latency),
        cloudwatch.GraphWidget(title=f"{title}: invocations and errors", width=12, left=traffic),
    ]
    if utilisation:
        widgets.append(cloudwatch.GraphWidget(title=f"{title}: utilisation (%)", width=24, left=utilisation))
    if enhanced:
        per_instance, per_gpu = [], []
        for metrics, instances, gpus in targets:
            if not instances:
                continue
            by = "ContainerId" if metrics.component else "InstanceId"
            per_instance.append(metrics.per_instance("cpu", by, period_seconds))
            if gpus:
                per_gpu.append(metrics.per_instance("gpu", "AcceleratorId", period_seconds))
        if per_instance:
            widgets.append(cloudwatch.GraphWidget(title=f"{title}: CPU by instance or copy (%, enhanced metrics)",
                                                  width=12, left=per_instance))
        if per_gpu:
            widgets.append(cloudwatch.GraphWidget(title=f"{title}: GPU by accelerator (%, enhanced metrics)",
                                                  width=12, left=per_gpu))
    dashboard.add_widgets(*widgets)
    return dashboard
