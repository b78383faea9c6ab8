"""Rules on a production variant's placement and names: pure functions returning Problems, used by
servekit.config (validate, synth) and by the constructs (servekit.constructs.server_variant / variant / endpoint)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from servekit.rules import Problem

# SageMaker's pattern for VariantName and EndpointName (and EndpointConfigName): 1 to 63 letters, digits and
# hyphens, starting and ending with a letter or digit. Source: SageMaker API reference, API_ProductionVariant
# (VariantName) and API_CreateEndpoint (EndpointName), "Pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}".
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"

GPU_FIX = "use a GPU instance type (e.g. ml.g5.xlarge) or remove the setting"


def gpu_only(where: str, has_gpu: bool, settings: Mapping[str, object]) -> list[Problem]:
    """Settings that only a GPU instance can use, set (not None) on `where` (an instance type, or serverless
    inference), which has none."""
    if has_gpu:
        return []
    return [Problem(field, None, f"{value} is GPU-only but {where} has no GPU; {GPU_FIX}")
            for field, value in settings.items() if value is not None]


def scaled_instance(instance_type: str | None, *, burstable: bool, gpus: int,
                    target_gpu_utilization_percent: float | None) -> list[Problem]:
    """What makes an instance type unfit for autoscaling: CPU credits (a burstable type's load is not its work) and
    a GPU utilization target on a type without a GPU (GPUUtilization is never published there)."""
    out = []
    if burstable:
        out.append(Problem("scaling", None, f"{instance_type} is burstable (CPU credits), which makes scaling on load "
                                            "unreliable; use an m5/c5 or GPU type, or remove scaling"))
    if target_gpu_utilization_percent is not None and not gpus:
        out.append(Problem("scaling.target_gpu_utilization_percent", None,
                           f"{instance_type} has no GPU; remove it or use a GPU instance type"))
    return out


def nvme_volume(instance_type: str | None, nvme: bool, volume_size_gb: int | None) -> list[Problem]:
    """SageMaker refuses VolumeSizeInGB on instance types with NVMe instance storage (their volume is the NVMe
    drive). Source: API_ProductionVariant, VolumeSizeInGB."""
    if not nvme or volume_size_gb is None:
        return []
    return [Problem("container.volume_size_gb", None,
                    f"{instance_type} has NVMe instance storage, where SageMaker refuses VolumeSizeInGB; remove "
                    "volume_size_gb or use an EBS-only type (e.g. ml.m5, ml.c5)")]


def duplicate_names(names: Sequence[str], own: str | None = None) -> list[Problem]:
    """Variant names must be unique in an endpoint config (production and shadow together). `own`: the
    endpoint's own variant's name, named in the message when it is one of the duplicates."""
    dupes = sorted({n for n in names if list(names).count(n) > 1})
    if not dupes:
        return []
    hint = f" (the endpoint's own is variant_name {own!r})" if own in dupes else ""
    return [Problem("variants", None, f"variant names {dupes} appear twice{hint}; give each variant its own name")]


# ProductionVariant.InstancePools (botocore's service model: 1 to 5 pools, Priority 1-5;
# VariantInstanceProvisionTimeoutInSeconds 300-3600) and AWS's realtime-endpoints-heterogeneous.html ("you replace
# the InstanceType parameter ... with an InstancePools list"; real-time and asynchronous endpoints and inference
# components, so not serverless).
MAX_POOLS = 5
PROVISION_TIMEOUT_SECONDS = (300, 3600)


def pool_problems(instance_type: str | None, pools: Sequence[tuple[str, int]], timeout_seconds: int | None,
                  serverless: bool) -> list[Problem]:
    """`pools`: (instance type, priority) of each; `instance_type`: the variant's, which must be priority 1's."""
    out: list[Problem] = []
    if not pools:
        if timeout_seconds is not None:
            out.append(Problem("provision_timeout_seconds", timeout_seconds, "applies to instance_pools only; add "
                               "instance_pools or remove it"))
        return out
    if serverless:
        return [Problem("instance_pools", None, "serverless endpoints have no instances to pool; remove "
                                                "instance_pools or serverless")]
    if len(pools) > MAX_POOLS:
        out.append(Problem("instance_pools", len(pools), f"SageMaker takes at most {MAX_POOLS} pools; keep the "
                                                          f"{MAX_POOLS} you prefer"))
    types = [t for t, _ in pools]
    priorities = [p for _, p in pools]
    for what, values in (("instance_type", types), ("priority", priorities)):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            out.append(Problem(f"instance_pools[].{what}", twice, f"appears in more than one pool; give each pool its "
                                                                  f"own {what.replace('_', ' ')}"))
    first = min(pools, key=lambda pool: pool[1])[0]
    if instance_type is not None and instance_type != first:
        out.append(Problem("instance_type", instance_type, f"instance_pools replaces it; the priority-1 pool "
                                                          f"({first}) is the first choice: remove instance_type"))
    low, high = PROVISION_TIMEOUT_SECONDS
    if timeout_seconds is not None and not low <= timeout_seconds <= high:
        out.append(Problem("provision_timeout_seconds", timeout_seconds, f"must be {low} to {high} seconds"))
    return out
