"""Do the inference components fit their fleet? Each copy reserves its cores, memory and accelerators on one
instance (SageMaker places whole copies), so every copy must fit an instance, the copies at creation must fit the
instances at creation, and, with autoscaling, the most copies must fit the most instances. Pure functions over
servekit.images' instance facts, returning Problems; used by validate and by the construct."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from servekit.facts.fleets import DATA_CAPTURE_OF_COMPONENTS
from servekit.facts.observability import CONTAINER_METRICS_PORT
from servekit.images import InstanceFacts
from servekit.rules import Problem

# Near the instance's memory, a copy may not be placed: SageMaker keeps part of it for its own agents, how much is
# not documented (servekit's margin, unconfirmed; the memory table itself is unconfirmed: images.MEMORY_FACT_CONFIRMED).
MEMORY_MARGIN = 0.9


@dataclass(frozen=True)
class CopyNeed:
    """One component as the fit rule sees it: what a copy reserves, and how many copies there are."""

    name: str
    cpu_cores: float
    memory_mb: int
    accelerators: int
    copies: int
    max_copies: int


def fit_problems(facts: InstanceFacts, needs: Sequence[CopyNeed], *, instances: int,
                 max_instances: int) -> list[Problem]:
    memory_mb = facts.memory_gib * 1024
    out: list[Problem] = []
    for need in needs:
        at = f"components ({need.name}).compute"
        if need.cpu_cores > facts.vcpus:
            out.append(Problem(f"{at}.cpu_cores", need.cpu_cores, f"{facts.instance_type} has {facts.vcpus} vCPUs; "
                                                                   "ask for fewer or use a larger instance type"))
        if need.memory_mb > memory_mb:
            out.append(Problem(f"{at}.memory_mb", need.memory_mb, f"{facts.instance_type} has {memory_mb:.0f} MB; ask "
                                                                  "for less or use a larger instance type"))
        elif need.memory_mb > MEMORY_MARGIN * memory_mb:
            out.append(Problem(f"{at}.memory_mb", need.memory_mb, f"over {MEMORY_MARGIN:.0%} of {facts.instance_type}'s "
                               f"{memory_mb:.0f} MB: SageMaker keeps part of an instance's memory for itself, so the "
                               "copy may not be placed; leave headroom", "warning"))
        if need.accelerators > facts.gpus:
            out.append(Problem(f"{at}.accelerators", need.accelerators,
                               f"{facts.instance_type} has {facts.gpus} GPU(s); ask for fewer or use a GPU instance "
                               "type with more"))
    if out:
        return out
    out += _total("copies", [n.copies for n in needs], needs, facts, instances, "instance_count")
    if max_instances != instances or any(n.max_copies != n.copies for n in needs):
        out += _total("copy_scaling.max_copies", [n.max_copies for n in needs], needs, facts, max_instances,
                      "instance_scaling.max_instances")
    return out


def _total(field: str, copies: Sequence[int], needs: Sequence[CopyNeed], facts: InstanceFacts, instances: int,
           instances_field: str) -> list[Problem]:
    """Copies against instances, resource by resource (a bound: whole copies may fit worse than the sums say)."""
    sums = {
        "cores": (sum(c * n.cpu_cores for c, n in zip(copies, needs, strict=True)), facts.vcpus),
        "MB of memory": (sum(c * n.memory_mb for c, n in zip(copies, needs, strict=True)), facts.memory_gib * 1024),
        "accelerators": (sum(c * n.accelerators for c, n in zip(copies, needs, strict=True)), facts.gpus),
    }
    out = []
    for what, (needed, per_instance) in sums.items():
        if needed > per_instance * instances:
            out.append(Problem(f"components.{field}", None,
                               f"the copies need {needed:g} {what}, and {instances} x {facts.instance_type} has "
                               f"{per_instance * instances:g}; raise {instances_field} or lower the copies"))
    return out



def fleet_problems(facts: InstanceFacts, components: Sequence[Any], *, instance_count: int,
                   instance_scaling: Any) -> list[Problem]:
    """fit_problems for components as servekit.yaml and the construct both hold them (each with `name`, `compute`,
    `copies`, `copy_scaling`) on `instance_count` instances, scaled up to `instance_scaling.max_instances`."""
    needs = [CopyNeed(c.name, c.compute.cpu_cores, c.compute.memory_mb, c.compute.accelerators, c.copies,
                      c.copy_scaling.max_copies if c.copy_scaling else c.copies) for c in components]
    return fit_problems(facts, needs, instances=instance_count,
                        max_instances=instance_scaling.max_instances if instance_scaling else instance_count)


def capture_problems(component_names: Sequence[str], capturing: bool) -> list[Problem]:
    """Data capture on a fleet: written on its EndpointConfig, where SageMaker keeps it; that it captures the
    components' requests, and that a record names its component, is unconfirmed (servekit.facts.fleets), so it is
    said, and with several components the captures may mix."""
    if not capturing or DATA_CAPTURE_OF_COMPONENTS.confirmed:
        return []
    mixed = (f"; the {len(component_names)} components ({', '.join(component_names)}) share the variant AllTraffic, so "
             "their captures land under one prefix and a monitor would read them as one model's"
             if len(component_names) > 1 else "")
    return [Problem("data_capture", None, "written on the fleet's EndpointConfig, the API's only place for it; "
                    "unconfirmed that SageMaker captures inference components' requests: no AWS page read says so, "
                    f"nor that a record names its component (servekit/facts/fleets.py){mixed}. Check the first "
                    "captures after deploying", "warning")]


def metrics_endpoint_problems(component: str, found_by_sagemaker: bool, detailed: bool) -> list[Problem]:
    """A component's ContainerMetricsConfig: scraped only with the fleet's detailed observability, and only from
    port 8080, where AWS's DLCs serve inference (their metrics SageMaker finds itself). `component`: how the
    messages name it, e.g. "components[0] (qa)"."""
    at = f"{component}.metrics_endpoint"
    out = []
    if found_by_sagemaker:
        out.append(Problem(at, None, "the component runs an AWS Deep Learning Container, whose metrics endpoint "
                           "SageMaker finds itself; a path is scraped on port "
                           f"{CONTAINER_METRICS_PORT}, where the DLC serves inference, not metrics: remove it"))
    if not detailed:
        out.append(Problem(at, None, "SageMaker scrapes it only with detailed observability; set observability."
                           "detailed: true on the component endpoint, or remove it"))
    return out
