"""What every endpoint of servekit.yaml has, whatever its server: its own variant, the production blocks
(servekit.options), more variants and a shadow. Each server's schema (servekit/servers/<server>/schema.py) adds
its model, tuning and variant types; servekit.config assembles the document.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, NamedTuple

from pydantic import Field, ValidationError, model_validator

from servekit.facts.amis import AMI_NAMES
from servekit.options import (
    Alarms,
    AsyncInference,
    ContainerOptions,
    DataCapture,
    Deployment,
    Hosting,
    InstancePool,
    MultiModel,
    Network,
    Observability,
    Scaling,
    Serverless,
    Strict,
    types_by_priority,
)
from servekit.rules import variants as variant_rules
from servekit.rules.combinations import combination_problems
from servekit.spec.errors import describe

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
VARIANT_NAME_PATTERN = variant_rules.NAME_PATTERN  # SageMaker's VariantName


def bool_env(value: bool) -> str:
    # The TFS container accepts true/false in any case; the PyTorch toolkit wants exact lowercase.
    return "true" if value else "false"


class ResolvedVariant(NamedTuple):
    """One variant as SageMaker will run it: `endpoint` is the endpoint with the variant's overrides."""

    name: str
    role: Literal["production", "shadow"]
    weight: float
    endpoint: Any  # TfsEndpointSpec | TorchServeEndpointSpec | TritonEndpointSpec


InferenceAmiVersion = Literal[AMI_NAMES]  # type: ignore[valid-type]  # cfn-lint 1.58's enum (servekit.facts.amis)


class VariantBase(Strict):
    """Another production variant (A/B test) or the shadow variant. Unset keys inherit the endpoint's; a
    block that is set (`model`, `models`, `tuning`, `container`, `hosting`) replaces the endpoint's block whole."""

    name: str = Field(pattern=VARIANT_NAME_PATTERN, description="VariantName; unique in the endpoint.")
    weight: float | None = Field(
        None, ge=0, description="Production variants: traffic weight (share = weight / sum of weights); default 1."
    )
    sampling_percent: int | None = Field(
        None, ge=1, le=100, description="Shadow variant: share of the production variant's requests copied; default 100."
    )
    instance_type: str | None = None
    instance_pools: list[InstancePool] | None = Field(None, min_length=1, description="Replaces the endpoint's.")
    instance_count: int | None = Field(None, ge=1, le=100)
    image_version: str | None = None
    inference_ami_version: InferenceAmiVersion | None = None
    container: ContainerOptions | None = None
    hosting: Hosting | None = None


# Blocks that belong to the endpoint as a whole; a variant's own endpoint (variant_endpoint) drops them.
_ENDPOINT_LEVEL = {"variants", "shadow_variant", "scaling", "deployment", "data_capture", "async_inference"}


def with_first_pool_type(data: Any) -> Any:
    """Raw servekit.yaml data of an endpoint or fleet with `instance_pools` and no `instance_type`: the priority-1
    pool's type as its instance_type, so every rule and count keyed on the instance type reads the first choice
    (each pool is checked on its own too: servekit.config.semantics). Other data as it is."""
    if isinstance(data, dict) and data.get("instance_pools") and not data.get("instance_type"):
        pools = [p if isinstance(p, dict) else p.model_dump() for p in data["instance_pools"]]
        if all(isinstance(p.get("priority"), int) and p.get("instance_type") for p in pools):
            data = {**data, "instance_type": min(pools, key=lambda p: p["priority"])["instance_type"]}
    return data


class EndpointBase(Strict):
    """What every endpoint has, whatever its server."""

    plugin: ClassVar[Any] = None
    """The servekit.servers.base.Server whose schema this is (bound when that Server is made): how the layers
    below the registry learn an endpoint's server without asking the registry by name."""

    name: str = Field(pattern=NAME_PATTERN)
    instance_type: str | None = Field(None, description="e.g. ml.m5.xlarge; required unless serverless or "
                                      "instance_pools (then it is the priority-1 pool's).")
    instance_pools: list[InstancePool] | None = Field(
        None, min_length=1, description="InstancePools: up to 5 instance types by priority, in place of "
        "instance_type; SageMaker falls back to the next on insufficient capacity. Every rule of an instance type "
        "runs for each pool; a pool whose image differs gets its own Model (ModelNameOverride).")
    provision_timeout_seconds: int | None = Field(
        None, description="VariantInstanceProvisionTimeoutInSeconds (300-3600): how long SageMaker tries the pools "
        "before the deployment fails; unset: SageMaker's.")
    instance_count: int = Field(1, ge=1, le=100, description="Initial instance count (within scaling's range).")
    variant_name: str = Field("AllTraffic", pattern=VARIANT_NAME_PATTERN, description="The endpoint's own variant.")
    weight: float = Field(1.0, ge=0, description="Traffic weight of the endpoint's own variant beside `variants`.")
    inference_ami_version: InferenceAmiVersion | None = Field(
        None, description="InferenceAmiVersion of the variant (its NVIDIA driver and CUDA; docs/gpus.md). Unset: "
        "SageMaker's default for the instance family, or, when that driver cannot run the image, an AMI servekit "
        "picks that can (the synth table says so).",
    )
    scaling: Scaling | None = Field(None, description="Autoscaling of the instance counts; unset: fixed counts.")
    deployment: Deployment | None = Field(None, description="Traffic shifting of updates; unset: all at once.")
    alarms: Alarms = Field(default_factory=Alarms, description="CloudWatch alarms (on by default).")
    observability: Observability = Field(
        default_factory=Observability, description="The endpoint configuration's MetricsConfig, always written "
        "(not on serverless endpoints, which publish no instance metrics).")
    data_capture: DataCapture | None = Field(None, description="Request/response capture; unset: none.")
    async_inference: AsyncInference | None = Field(None, description="Queue requests, results to S3; unset: real-time.")
    serverless: Serverless | None = Field(None, description="No instances, CPU only; unset: instances.")
    multi_model: MultiModel | None = Field(None, description="Models loaded on demand from an S3 prefix.")
    model_data: Literal["archive", "uncompressed"] = Field(
        "archive", description="archive: the layout as one model.tar.gz (ModelDataUrl), unpacked at every instance "
        "start. uncompressed: the layout's files under an S3 prefix (ModelDataSource, CompressionType None), "
        "copied as they are: no gzip at build, no unpacking at start (docs/model-build.md).",
    )
    network: Network = Field(default_factory=Network, description="VPC and network isolation (on by default).")
    container: ContainerOptions = Field(default_factory=ContainerOptions, description="Start timeouts, volume size.")
    hosting: Hosting = Field(default_factory=Hosting, description="Routing, SSM access, core dumps, capacity "
                             "reservation of the variant; unset keys: SageMaker's defaults.")
    # Each server adds `variants: list[<Server>Variant]` and `shadow_variant: <Server>Variant | None`.
    variants: list[Any] = Field(default_factory=list)
    shadow_variant: Any = None

    @model_validator(mode="before")
    @classmethod
    def _first_pool_is_the_instance_type(cls, data: Any) -> Any:
        return with_first_pool_type(data)

    @property
    def instance_types(self) -> list[str | None]:
        """The types it may run on: its pools' by priority, else its instance_type."""
        return types_by_priority(self.instance_type, self.instance_pools)

    def variant_endpoint(self, variant: VariantBase) -> EndpointBase:
        """This endpoint as `variant` runs it: the variant's keys over the endpoint's, endpoint-level blocks dropped."""
        data = self.model_dump(exclude=_ENDPOINT_LEVEL)
        overrides = {k for k in variant.model_fields_set - {"name", "weight", "sampling_percent"}
                     if getattr(variant, k) is not None}
        if "instance_pools" in overrides:  # the variant's pools replace the endpoint's type and pools
            data["instance_type"] = None
        elif "instance_type" in overrides:  # the variant's one type replaces the endpoint's pools
            data["instance_pools"] = None
            data["provision_timeout_seconds"] = None
        data.update(variant.model_dump(include=overrides))
        data["variant_name"] = variant.name
        data["weight"] = 1.0  # a variant's weight (or shadow share) is its ResolvedVariant's, not its endpoint's
        return type(self).model_validate(data)

    def resolved_variants(self) -> list[ResolvedVariant]:
        """The endpoint's own variant, then `variants`, then the shadow (weight: its share of the production one's)."""
        out = [ResolvedVariant(self.variant_name, "production", self.weight, self)]
        for v in self.variants:
            out.append(ResolvedVariant(v.name, "production", 1.0 if v.weight is None else v.weight,
                                       self.variant_endpoint(v)))
        if self.shadow_variant is not None:
            share = (self.shadow_variant.sampling_percent or 100) / 100
            out.append(ResolvedVariant(self.shadow_variant.name, "shadow", self.weight * share,
                                       self.variant_endpoint(self.shadow_variant)))
        return out

    @property
    def uses_shared_bucket(self) -> bool:
        capture = self.data_capture is not None and self.data_capture.shared_bucket
        return (capture or (self.async_inference is not None and self.async_inference.uses_shared_bucket)
                or self.copies_layout)

    @property
    def copies_layout(self) -> bool:
        """An uncompressed layout that servekit builds, and copies into the data bucket at deploy."""
        return self.model_data == "uncompressed" and any(
            getattr(getattr(m, "source", None), "kind", "s3") != "s3"
            for r in self.resolved_variants() for _, m in r.endpoint.plugin.models(r.endpoint))

    @model_validator(mode="after")
    def _check_base(self) -> EndpointBase:
        problems = _variant_problems(self)
        if not problems:
            production = [self, *(self.variant_endpoint(v) for v in self.variants)]
            problems = [str(p) for p in combination_problems(
                instance_type=self.instance_type,
                instance_counts=[e.instance_count for e in production],
                weights=[r.weight for r in self.resolved_variants() if r.role == "production"],
                has_shadow=self.shadow_variant is not None,
                scaling=self.scaling, deployment=self.deployment, alarms_enabled=self.alarms.enabled,
                data_capture=self.data_capture is not None, is_async=self.async_inference is not None,
                serverless=self.serverless is not None, multi_model=self.multi_model is not None,
                in_vpc=self.network.in_vpc, isolation=self.network.isolation,
                volume_size_set=self.container.volume_size_gb is not None,
                instance_only_hosting=list(self.hosting.instance_only),
                observability_set=self.observability != Observability(),
            )]
            problems += [str(p) for p in variant_rules.pool_problems(
                self.instance_type, [(p.instance_type, p.priority) for p in self.instance_pools or []],
                self.provision_timeout_seconds, self.serverless is not None)]
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _variant_problems(ep: EndpointBase) -> list[str]:
    named = [("variants", i, v) for i, v in enumerate(ep.variants)]
    if ep.shadow_variant is not None:
        named.append(("shadow_variant", None, ep.shadow_variant))
    out = []
    names = [ep.variant_name] + [v.name for _, _, v in named]
    out += [str(p) for p in variant_rules.duplicate_names(names, own=ep.variant_name)]
    for field, i, v in named:
        where = f"{field}[{i}] ({v.name})" if i is not None else f"{field} ({v.name})"
        if field == "variants" and v.sampling_percent is not None:
            out.append(f"{where}.sampling_percent: only the shadow variant samples; use weight for a production one")
        if field == "shadow_variant" and v.weight is not None:
            out.append(f"{where}.weight: a shadow variant takes copies, not a share; use sampling_percent")
        if ep.multi_model is not None and ({"model", "models"} & v.model_fields_set):
            out.append(f"{where}: in multi-model mode the models come from multi_model.s3_prefix; remove the "
                       "variant's model")
        try:
            ep.variant_endpoint(v)
        except ValidationError as err:
            out += [f"{where}: {line}" for e in err.errors() for line in describe(e, type(ep))]
    return out
