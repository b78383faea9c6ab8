"""The checks that run after the schema, where a rule needs the image and instance tables (an image version that
does not exist, a GPU the image cannot run on, a setting only a GPU can use, a component that does not fit its
fleet), so that each problem is one clear line naming the field and the fix."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from servekit import images, naming
from servekit.config.components import ComponentEndpoint
from servekit.config.document import AppConfig, ServekitConfig
from servekit.config.endpoints import Endpoint
from servekit.rules import gpu as gpu_rules
from servekit.rules import model_data as model_data_rules
from servekit.rules import variants as variant_rules
from servekit.spec.endpoint import EndpointBase, ResolvedVariant


# ---------------------------------------------------------------------------------------------
# Cross-field checks that need the image and instance tables: run after the schema, so each is one
# clear line. Each variant is checked as it runs (its own instance type, image and settings).
# ---------------------------------------------------------------------------------------------
def semantic_problems(config: ServekitConfig) -> list[str]:
    problems: list[str] = []
    for i, ep in enumerate(config.endpoints):
        problems += _endpoint_semantics(i, ep, config.app)
    for i, ce in enumerate(config.component_endpoints):
        problems += _component_semantics(i, ce, config.app)
    return problems


def _component_semantics(i: int, ce: ComponentEndpoint, app: AppConfig) -> list[str]:
    """A component endpoint: each component as an endpoint of its server (image, GPU rules), then the fit."""
    where = f"component_endpoints[{i}] ({ce.name})"
    full_name = naming.endpoint_name(app, ce.name)
    problems = []
    if len(full_name) > 63:
        problems.append(f"{where}.name: the endpoint would be named {full_name!r} ({len(full_name)} characters), "
                        "over SageMaker's 63; shorten the endpoint, app.name or app.env_name")
    for j, component in enumerate(ce.components):
        ep = component.serve
        variant = ResolvedVariant(ep.variant_name, "production", 1.0, ep)
        at = f"{where}.components[{j}] ({component.name})"
        problems += [f"{at}.{p}" for p in _variant_semantics(ep, variant, app.region)]
        component_name = naming.inference_component_name(full_name, component.name)
        if len(component_name) > 63:
            problems.append(f"{at}.name: the InferenceComponentName would be {component_name!r} "
                            f"({len(component_name)} characters), over SageMaker's 63; shorten the component, the "
                            "endpoint, app.name or app.env_name")
        problems += [f"{at}.{line}" for severity, line in _component_server_problems(component, ce)
                     if severity == "error"]
    if not problems:
        problems += [f"{where}.{p}" for p in ce.fit() if p.severity == "error"]
    return problems


def _endpoint_semantics(i: int, ep: EndpointBase, app: AppConfig) -> list[str]:
    problems: list[str] = []
    where = f"endpoints[{i}] ({ep.name})"
    full_name = naming.endpoint_name(app, ep.name)
    if len(full_name) > 63:
        problems.append(f"{where}.name: the endpoint would be named {full_name!r} ({len(full_name)} characters), "
                        "over SageMaker's 63; shorten the endpoint, app.name or app.env_name")
    for j, variant in enumerate(ep.resolved_variants()):
        at = where if j == 0 else f"{where}.{variant_field(ep, variant.name)}"
        problems += [f"{at}.{p}" for p in _variant_semantics(ep, variant, app.region)]
    return problems


def endpoint_problems(ep: EndpointBase, app: AppConfig | None = None) -> list[str]:
    """The checks after the schema for one endpoint (images, instance facts, GPU compatibility), e.g. for a
    setting `servekit bench --sweep` changes; `app` defaults to AppConfig() (its region)."""
    return _endpoint_semantics(0, ep, app or AppConfig())


def semantics_beside_schema_errors(data: dict[str, Any], err: ValidationError) -> list[str]:
    """When the schema refuses some endpoints, the endpoints it accepts are still checked against the image and
    instance tables, so that one run of validate lists their problems too instead of one round per stage."""
    try:
        app = AppConfig.model_validate(data.get("app") or {})
    except ValidationError:
        return []  # the region is part of every image check: wait for a valid app block
    endpoints = data.get("endpoints")
    if not isinstance(endpoints, list):
        return []
    refused = {e["loc"][1] for e in err.errors() if len(e["loc"]) > 1 and e["loc"][0] == "endpoints"}
    adapter = TypeAdapter(Endpoint)
    problems: list[str] = []
    for i, raw in enumerate(endpoints):
        if i in refused:
            continue
        try:
            ep = adapter.validate_python(raw)
        except ValidationError:
            continue  # reported by the schema already
        problems += _endpoint_semantics(i, ep, app)
    return problems


def variant_field(ep: EndpointBase, name: str) -> str:
    if ep.shadow_variant is not None and ep.shadow_variant.name == name:
        return f"shadow_variant ({name})"
    return f"variants[{[v.name for v in ep.variants].index(name)}] ({name})"


def facts_of(ep: EndpointBase) -> images.InstanceFacts | None:
    """The instance facts a variant runs on: serverless has those of "no GPU" (servekit.images.SERVERLESS)."""
    return images.variant_facts(None if ep.serverless is not None else ep.instance_type or "")


def _variant_semantics(parent: EndpointBase, variant: ResolvedVariant, region: str) -> list[str]:
    """Every rule of an instance type, for each type the variant may run on: its instance_type, or each of its
    instance_pools (each as the endpoint on that type, its problems named after the pool)."""
    ep = variant.endpoint
    pools = sorted(ep.instance_pools or [], key=lambda p: p.priority)
    if not pools:
        return _type_semantics(parent, variant, region)
    out: list[str] = []
    for pool in pools:
        on_pool = variant._replace(endpoint=ep.model_copy(update={"instance_type": pool.instance_type}))
        out += [f"instance_pools[priority {pool.priority}] ({pool.instance_type}): {p}"
                for p in _type_semantics(parent, on_pool, region)]
    return out


def _type_semantics(parent: EndpointBase, variant: ResolvedVariant, region: str) -> list[str]:
    ep = variant.endpoint
    out: list[str] = []
    facts = facts_of(ep)
    if facts is None:
        return [f"instance_type: {ep.instance_type!r} is not a SageMaker instance type servekit knows; use one like "
                f"ml.m5.xlarge or ml.g5.xlarge{images.suggest_instance_type(ep.instance_type or '')}"]
    try:
        ep.plugin.image_uri(ep.image_version, region, ep.instance_type)
    except images.ImageError as err:
        out.append(f"image_version: {ep.image_version!r}: {err}")
    out += [str(p) for p in gpu_verdict(ep).problems if p.severity == "error"]
    if not facts.gpus:
        out += _gpu_only_settings(ep, ep.instance_type or "serverless inference (CPU only)")
    scaling = parent.scaling
    if scaling is not None and variant.role == "production":
        out += [str(p) for p in variant_rules.scaled_instance(
            ep.instance_type, burstable=facts.burstable, gpus=facts.gpus,
            target_gpu_utilization_percent=scaling.target_gpu_utilization_percent)]
    out += [str(p) for p in variant_rules.nvme_volume(ep.instance_type, facts.nvme, ep.container.volume_size_gb)]
    out += [str(p) for p in model_data_rules.source_problems(ep.model_data, ep.plugin.models(ep),
                                                             multi_model=ep.multi_model is not None)]
    if ep.multi_model is not None:
        problem = ep.plugin.multi_model_problem(facts)
        if problem:
            out.append(f"multi_model: {problem}")
        out += ep.plugin.multi_model_problems(ep)
    return out


def gpu_verdict(ep: EndpointBase) -> gpu_rules.GpuVerdict:
    """servekit.rules.gpu's verdict on a variant as it runs (serverless: no GPU)."""
    return gpu_rules.check(ep.server, ep.image_version, ep.instance_type if ep.serverless is None else None,
                           ep.inference_ami_version)


def advisories(config: ServekitConfig) -> list[str]:
    """What a valid config deploys on facts servekit could not confirm, and the AMIs it picks: one line each,
    printed by `validate` as warnings (synth shows the same as construct warnings)."""
    out = []
    for i, ep in enumerate(config.endpoints):
        where = f"endpoints[{i}] ({ep.name})"
        for j, variant in enumerate(ep.resolved_variants()):
            at = where if j == 0 else f"{where}.{variant_field(ep, variant.name)}"
            verdict = gpu_verdict(variant.endpoint)
            out += [f"{at}.{p}" for p in verdict.problems if p.severity == "warning"]
            if verdict.picked_because:
                out.append(f"{at}.inference_ami_version: servekit sets {verdict.ami}: {verdict.picked_because}")
            out += [f"{at}.{line}" for line in _pool_count_advisories(variant.endpoint)]
    for i, ce in enumerate(config.component_endpoints):
        out += [f"component_endpoints[{i}] ({ce.name}).{p}" for p in ce.fit() if p.severity == "warning"]
        out += [f"component_endpoints[{i}] ({ce.name}).{p}" for p in ce.capture_advisories()]
        out += [f"component_endpoints[{i}] ({ce.name}).components[{j}] ({c.name}).{line}"
                for j, c in enumerate(ce.components) for severity, line in _component_server_problems(c, ce)
                if severity == "warning"]
    return out


def _pool_count_advisories(ep: EndpointBase) -> list[str]:
    """Alarms and scaling read per-vCPU and per-GPU thresholds times the first pool's counts (SageMaker sums
    utilization over them): on a pool of other counts the same threshold means another load."""
    first_type, *others = ep.instance_types
    first = images.instance_facts(first_type or "")
    out = []
    for instance_type in others:
        facts = images.instance_facts(instance_type)
        if first is not None and facts is not None and (facts.vcpus, facts.gpus) != (first.vcpus, first.gpus):
            out.append(f"instance_pools: {instance_type} has {facts.vcpus} vCPUs and {facts.gpus} GPUs, "
                       f"{first_type} {first.vcpus} and {first.gpus}: the utilization alarms and scaling "
                       f"targets are sized for {first_type}; pool types of the same size keep them exact")
    return out


def _component_server_problems(component: Any, ce: ComponentEndpoint) -> list[tuple[str, str]]:
    """The component's server's own rules for a copy on this fleet (servekit.servers.base.Server.component_problems)."""
    facts = images.instance_facts(ce.instance_type)
    return component.serve.plugin.component_problems(component.serve, component.compute.accelerators,
                                                                   facts.gpus if facts else 0)


def _gpu_only_settings(ep: Any, where: str) -> list[str]:
    out = [str(p) for p in variant_rules.gpu_only(where, False, gpu_only_tuning(ep))]
    return out + ep.plugin.cpu_problems(ep, where)


def gpu_only_tuning(ep: Any) -> dict[str, object]:
    """The tuning settings of `ep` that only a GPU can use (the constructs check the same ones)."""
    return ep.plugin.gpu_only_tuning(ep.tuning)
