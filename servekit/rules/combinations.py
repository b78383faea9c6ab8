"""Rules that combine an endpoint's blocks (serverless with the rest, weights, shadow, scaling ranges, deployment
strategies): the one place both `servekit validate` (servekit.spec.endpoint) and the constructs
(servekit.constructs.endpoint) ask. Pure functions returning Problems, each naming the fix."""

from __future__ import annotations

from collections.abc import Sequence

from servekit.options import Deployment, Scaling
from servekit.rules import Problem


def combination_problems(
    *,
    instance_type: str | None,
    instance_counts: list[int],
    weights: list[float],
    has_shadow: bool,
    scaling: Scaling | None,
    deployment: Deployment | None,
    alarms_enabled: bool,
    data_capture: bool,
    is_async: bool,
    serverless: bool,
    multi_model: bool,
    in_vpc: bool,
    isolation: bool | None,
    volume_size_set: bool,
    instance_only_hosting: Sequence[str] = (),
    observability_set: bool = False,
) -> list[Problem]:
    """instance_counts and weights: one entry per production variant, the endpoint's own first;
    instance_only_hosting: the hosting settings set that need instances (Hosting.instance_only);
    observability_set: `observability` differs from its defaults."""
    out: list[Problem] = []
    variants = len(weights)
    if not serverless and instance_type is None:
        out.append(Problem("instance_type", None, "required unless the endpoint is serverless; add one like "
                                                  "ml.m5.xlarge"))
    if serverless:
        out += _serverless_clashes(instance_type=instance_type, is_async=is_async, data_capture=data_capture,
                                   multi_model=multi_model, several=variants > 1 or has_shadow,
                                   scaling=scaling is not None, in_vpc=in_vpc, isolation=isolation,
                                   volume_size_set=volume_size_set, deployment=deployment,
                                   hosting=instance_only_hosting)
        if observability_set:
            # MetricsConfig configures instance and container metrics, which serverless endpoints do not publish;
            # servekit leaves it out of their configuration (whether SageMaker accepts it there is unconfirmed).
            out.append(Problem("observability", None, "serverless endpoints publish no instance or container "
                                                       "metrics, and servekit writes no MetricsConfig for them; "
                                                       "remove observability or use instance_type"))
    if weights and sum(weights) <= 0:
        out.append(Problem("weights", None, f"the production variants' weights sum to 0 ({weights}), so no variant "
                                            "would get traffic; give at least one a positive weight"))
    if has_shadow and variants > 1:
        out.append(Problem("shadow_variant", None, "SageMaker allows one production variant beside a shadow; remove "
                                                   "`variants` or the shadow"))
    if scaling is not None:
        out += _scaling_problems(scaling, instance_counts, is_async)
    if deployment is not None:
        out += _deployment_problems(deployment, alarms_enabled=alarms_enabled, instance_counts=instance_counts,
                                    several=variants > 1 or has_shadow, serverless=serverless)
    return out


def _serverless_clashes(*, instance_type: str | None, is_async: bool, data_capture: bool, multi_model: bool,
                        several: bool, scaling: bool, in_vpc: bool, isolation: bool | None, volume_size_set: bool,
                        deployment: Deployment | None, hosting: Sequence[str]) -> list[Problem]:
    # AWS's list of what serverless inference does not support (docs: serverless-endpoints.html): GPUs,
    # multi-model endpoints, VPC configuration, network isolation, data capture, multiple production variants;
    # it scales itself, and rolling updates exclude it (deployment-guardrails).
    clashes = [
        (instance_type is not None, "instance_type", "serverless picks no instance (and runs on CPU only); "
         "remove instance_type"),
        (is_async, "async_inference", "async inference needs instances; remove one of serverless and "
         "async_inference"),
        (data_capture, "data_capture", "serverless endpoints cannot capture data; remove data_capture or serverless"),
        (multi_model, "multi_model", "serverless endpoints cannot be multi-model; remove one"),
        (several, "variants", "a serverless endpoint has exactly one variant; remove variants and shadow_variant"),
        (scaling, "scaling", "serverless scales itself; remove scaling and set serverless.max_concurrency (and "
         "provisioned_concurrency)"),
        (in_vpc, "network.subnet_ids", "serverless endpoints cannot run in a VPC; remove the subnets"),
        (isolation is True, "network.isolation", "serverless endpoints cannot isolate the network; remove "
         "isolation: true"),
        (volume_size_set, "container.volume_size_gb", "serverless has no instance volume; remove volume_size_gb"),
        (deployment is not None and deployment.strategy == "rolling", "deployment.strategy",
         "rolling updates exclude serverless endpoints; use canary, linear or all_at_once"),
        # RoutingConfig routes among "the instances that the endpoint hosts", SSM opens a shell on "the ML
        # instances that host your containers", a capacity reservation reserves "compute instances" (the API
        # reference of each, and ssm-access.html): serverless has none.
        *((True, f"hosting.{name}", f"serverless has no instances for it; remove hosting.{name}") for name in hosting),
    ]
    return [Problem("serverless", None, f"cannot be combined with {field}: {fix}") for clash, field, fix in clashes
            if clash]


def _scaling_problems(scaling: Scaling, instance_counts: list[int], is_async: bool) -> list[Problem]:
    out = []
    for i, count in enumerate(instance_counts):
        if not scaling.min_instances <= count <= scaling.max_instances:
            where = "instance_count" if i == 0 else f"variants[{i - 1}].instance_count"
            out.append(Problem(where, count, f"outside scaling {scaling.min_instances}..{scaling.max_instances}; set "
                                             "it within the scaling range"))
    if not is_async:
        if scaling.min_instances == 0 or any(s.min_instances == 0 for s in scaling.schedules):
            out.append(Problem("scaling.min_instances", 0, "scale to zero works only for async_inference; set it "
                                                           "to 1 or more, or add async_inference"))
        if scaling.target_backlog_per_instance is not None:
            out.append(Problem("scaling.target_backlog_per_instance", None, "needs async_inference (the backlog is "
                                                                            "its queue); remove it or add "
                                                                            "async_inference"))
    elif scaling.target_concurrent_requests_per_model is not None:
        # servekit's rule: an async endpoint queues its requests, so its backlog (not the requests in flight) is
        # its load, the signal AWS's async scaling guide uses (sagemaker/latest/dg/async-inference-autoscale.html).
        out.append(Problem("scaling.target_concurrent_requests_per_model", None,
                           "async endpoints queue their requests; scale them on target_backlog_per_instance"))
    return out


def _deployment_problems(deployment: Deployment, *, alarms_enabled: bool, instance_counts: list[int], several: bool,
                         serverless: bool) -> list[Problem]:
    out = []
    if deployment.rollback_on_servekit_alarms and not alarms_enabled:
        out.append(Problem("deployment.rollback_on_servekit_alarms", None, "needs alarms.enabled; enable the alarms "
                                                                           "or set rollback_on_servekit_alarms: false"))
    if deployment.strategy == "rolling" and min(instance_counts, default=0) < 2 and not serverless:
        out.append(Problem("deployment.strategy", "rolling", "needs instance_count >= 2 (it updates instances "
                                                             "in batches); use canary or linear"))
    if deployment.strategy == "rolling" and several:
        out.append(Problem("deployment.strategy", "rolling", "excludes multi-variant endpoints (AWS deployment "
                                                             "guardrails); use canary, linear or all_at_once"))
    return out
