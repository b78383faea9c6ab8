"""The component endpoint of servekit.yaml (`component_endpoints`): a fleet whose components are each read as an
endpoint of its server (the union of the servers' schemas, so it lives here, above the registry); the
component's own keys are servekit.spec.components's."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from servekit import images, registry
from servekit.config.endpoints import Endpoint
from servekit.options import (
    Alarms,
    ContainerOptions,
    DataCapture,
    Hosting,
    InstancePool,
    Network,
    Observability,
    Strict,
    types_by_priority,
)
from servekit.rules import variants as variant_rules
from servekit.rules.components import capture_problems, fleet_problems, metrics_endpoint_problems
from servekit.spec.components import NOT_FOR_COMPONENTS, OWN_KEYS, InferenceComponent, InstanceScaling
from servekit.spec.endpoint import NAME_PATTERN, InferenceAmiVersion, with_first_pool_type
from servekit.spec.errors import describe


class ComponentEndpoint(Strict):
    """An endpoint whose instances host inference components."""

    name: str = Field(pattern=NAME_PATTERN)
    instance_type: str | None = Field(None, description="The fleet's instance type, e.g. ml.g5.12xlarge; with "
                                      "instance_pools, the priority-1 pool's.")
    instance_pools: list[InstancePool] | None = Field(
        None, min_length=1, description="InstancePools of the fleet: up to 5 instance types by priority; every "
        "component is checked on each, and written as Specifications, one per type.")
    provision_timeout_seconds: int | None = Field(
        None, description="VariantInstanceProvisionTimeoutInSeconds (300-3600), with instance_pools.")
    instance_count: int = Field(1, ge=1, le=100, description="Initial instances (at least one: the fleet starts "
                                "with the copies, and instance_scaling may take it to zero later).")
    instance_scaling: InstanceScaling | None = Field(
        None, description="ManagedInstanceScaling: SageMaker adds instances when copies do not fit and removes idle "
        "ones; unset: a fixed count.")
    inference_ami_version: InferenceAmiVersion | None = None
    hosting: Hosting = Field(default_factory=Hosting, description="Routing, SSM access, core dumps, capacity "
                             "reservation of the fleet.")
    container: ContainerOptions = Field(default_factory=ContainerOptions, description="Start timeouts, volume size.")
    alarms: Alarms = Field(default_factory=Alarms, description="CloudWatch alarms on each component's metrics, "
                           "named <InferenceComponentName>-<alarm> (on by default); utilization is normalized to what "
                           "a copy reserves.")
    observability: Observability = Field(default_factory=Observability, description="The fleet's MetricsConfig, "
                                         "always written (enhanced metrics add each component's ContainerId).")
    network: Network = Field(default_factory=Network, description="The fleet's VPC and network isolation, on its "
                             "EndpointConfig and every component's Model (isolation on by default).")
    data_capture: DataCapture | None = Field(
        None, description="Request/response capture on the fleet's EndpointConfig (every component's requests; "
        "unconfirmed, validate says so); unset: none.")
    components: list[InferenceComponent] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _components_as_endpoints(cls, data: Any) -> Any:
        """Each component's endpoint keys become `serve`, the endpoint of its server, with the fleet's instance
        type; a key that belongs to the fleet, or that components do not offer, is refused with where it goes."""
        if not isinstance(data, dict) or not isinstance(data.get("components"), list):
            return data
        data = with_first_pool_type(data)
        pools = data.get("instance_pools")
        adapter = TypeAdapter(Endpoint)
        components = []
        for i, raw in enumerate(data["components"]):
            if not isinstance(raw, dict):
                components.append(raw)
                continue
            wrong = [f"components[{i}].{k}: {why}" for k, why in NOT_FOR_COMPONENTS.items() if k in raw]
            if wrong:
                raise ValueError("; ".join(wrong))
            own = {k: raw[k] for k in ("name", *OWN_KEYS) if k in raw}
            served = {k: v for k, v in raw.items() if k not in OWN_KEYS}
            served.update(instance_type=data.get("instance_type"), alarms={"enabled": False})
            if pools:  # each component is an endpoint on every pool: every instance-type rule runs per pool
                served["instance_pools"] = pools
            if data.get("inference_ami_version") is not None:
                served["inference_ami_version"] = data["inference_ami_version"]
            try:
                own["serve"] = adapter.validate_python(served)
            except ValidationError as err:
                raise ValueError("\n".join(f"components[{i}] ({raw.get('name')}).{line}" for line in _lines(err)))\
                    from None
            components.append(own)
        return {**data, "components": components}

    @property
    def copies_layout(self) -> bool:
        """A component serves an uncompressed layout servekit builds, copied into the data bucket at deploy."""
        return any(c.serve.copies_layout for c in self.components)

    @property
    def uses_shared_bucket(self) -> bool:
        """Captures to the shared bucket, or a component's layout is copied there."""
        return self.copies_layout or (self.data_capture is not None and self.data_capture.shared_bucket)

    def capture_advisories(self) -> list:
        """servekit.rules.components' warnings on the fleet's data capture (Problems)."""
        return capture_problems([c.name for c in self.components], self.data_capture is not None)

    @property
    def instance_types(self) -> list[str | None]:
        """The types the fleet may run on: its pools' by priority, else its instance_type."""
        return types_by_priority(self.instance_type, self.instance_pools)

    def fit(self) -> list:
        """servekit.rules.components' verdict on this fleet (Problems), on each type it may run on, each component
        with what a copy reserves there."""
        out = []
        for instance_type in self.instance_types:
            facts = images.instance_facts(instance_type or "")
            if facts is None:
                continue  # reported with a suggestion by the instance-type check
            on_type = [c.model_copy(update={"compute": c.compute_on(instance_type)}) for c in self.components]
            found = fleet_problems(facts, on_type, instance_count=self.instance_count,
                                   instance_scaling=self.instance_scaling)
            if len(self.instance_types) > 1:
                found = [dataclasses.replace(p, field=f"instance_pools ({instance_type}): {p.field}") for p in found]
            out += found
        return out

    @model_validator(mode="after")
    def _check(self) -> ComponentEndpoint:
        names = [c.name for c in self.components]
        dupes = sorted({n for n in names if names.count(n) > 1})
        problems = [f"components: names {dupes} appear twice; give each component its own name"] if dupes else []
        for i, c in enumerate(self.components):
            scaling = c.copy_scaling
            if scaling is not None and not scaling.min_copies <= c.copies <= scaling.max_copies:
                problems.append(f"components[{i}] ({c.name}).copies: {c.copies} is outside copy_scaling "
                                f"{scaling.min_copies}..{scaling.max_copies}; set it within the range")
        types = self.instance_types
        problems += [str(p) for p in variant_rules.pool_problems(
            self.instance_type, [(p.instance_type, p.priority) for p in self.instance_pools or []],
            self.provision_timeout_seconds, False)]
        for i, c in enumerate(self.components):
            given = [s.instance_type for s in c.specifications or []]
            strange = sorted({t for t in given if t not in types})
            if strange:
                problems.append(f"components[{i}] ({c.name}).specifications: {strange} are not instance types of the "
                                f"fleet ({', '.join(str(t) for t in types)}); give one per instance_pools type")
            twice = sorted({t for t in given if given.count(t) > 1})
            if twice:
                problems.append(f"components[{i}] ({c.name}).specifications: {twice} appear twice; one per type")
            if c.metrics_endpoint is not None:
                problems += [str(p) for p in metrics_endpoint_problems(
                    f"components[{i}] ({c.name})", c.serve.plugin.metrics_found_by_sagemaker,
                    self.observability.detailed)]
        if self.instance_scaling is not None and not (
                self.instance_scaling.min_instances <= self.instance_count <= self.instance_scaling.max_instances):
            problems.append(f"instance_count: {self.instance_count} is outside instance_scaling "
                            f"{self.instance_scaling.min_instances}..{self.instance_scaling.max_instances}; set it "
                            "within the range")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _lines(err: ValidationError) -> list[str]:
    """The server schema's errors, one line each, without the union's tag at the head of each path."""
    out = []
    for e in err.errors():
        tag, *rest = e["loc"] or ("",)
        spec = registry.get(tag).spec if tag in registry.names() else None
        if spec is None:  # no or an unknown `server:`: pydantic's own words name the choices
            out.append(f"server: {e['msg']}")
            continue
        out += describe({**e, "loc": tuple(rest)}, spec)
    return out
