"""What every server's construct (servekit/servers/<server>/construct.py) shares: the Variant its
`variant()` ends with (its DLC unless `image` is given, and the GPU verdict), the checks before it, and how
the endpoint's own variant joins the others.

Each server's `variant(...)` makes one more variant of its server (A/B or shadow) from the same kind of
props as the endpoint's own; pass them as `variants=[...]` / `shadow_variant=...`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypedDict

from constructs import Construct
from typing_extensions import Unpack

from servekit import images
from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import EndpointOptions, ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.variant import Variant
from servekit.facts.amis import AMI_NAMES
from servekit.options import ContainerOptions, Hosting, InstancePool, Serverless, types_by_priority
from servekit.rules import gpu as gpu_rules
from servekit.rules import variants as variant_rules


class VariantProps(TypedDict, total=False):
    """What a variant of any server takes besides its model, image version and tuning (each server's
    `variant(...)` and constructor take these as keywords).

    instance_type: e.g. ml.c5.xlarge. Required unless `serverless` is given.
    instance_count: initial instances. Default: 1.
    weight: traffic weight among the production variants. Default: 1.0.
    image: overrides the server's image. Default: ContainerImage.for_server(<the server>, image_version).
    serverless: memory and concurrency of a serverless endpoint. Default: none (instances).
    container: start timeouts and volume size. Default: SageMaker's.
    hosting: routing among instances, SSM access, core dumps, a capacity reservation. Default: Hosting() (none).
    inference_ami_version: the variant's InferenceAmiVersion (NVIDIA driver and CUDA). Default: the instance
        family's default, or an AMI servekit picks when that driver cannot run the image (servekit.rules.gpu;
        a GPU the image cannot run on raises ValueError with the fix).
    instance_pools: the instance types the variant may run on, by priority (InstancePools), instead of
        `instance_type`; every rule of an instance type runs for each pool. Default: none.
    provision_timeout_seconds: VariantInstanceProvisionTimeoutInSeconds, with instance_pools. Default: SageMaker's.
    """

    instance_type: str | None
    instance_count: int
    weight: float
    image: ContainerImage | None
    serverless: Serverless | None
    container: ContainerOptions | None
    hosting: Hosting | None
    inference_ami_version: str | None
    instance_pools: Sequence[InstancePool] | None
    provision_timeout_seconds: int | None


class EndpointProps(VariantProps, EndpointOptions, total=False):
    """A server endpoint's props besides its model, image version and tuning: its own variant's
    (VariantProps), `variant_name` (default AllTraffic) and the endpoint's (EndpointOptions, see
    ServingEndpoint)."""

    variant_name: str


_VARIANT_KEYS = frozenset(VariantProps.__annotations__)


def server_variant(server: Any, name: str, where: str, *, model_data: ModelData, environment: dict[str, str],
                   image_version: str, **props: Unpack[VariantProps]) -> Variant:
    """The Variant every server's `variant()` ends with: its DLC unless `image` is given, and the GPU verdict;
    the defaults of VariantProps applied. `server`: the servekit.servers.base.Server whose construct calls this."""
    image, instance_type, ami = props.get("image"), props.get("instance_type"), props.get("inference_ami_version")
    pools = sorted(props.get("instance_pools") or (), key=lambda p: p.priority)
    if pools and instance_type is None:
        instance_type = pools[0].instance_type  # the first choice: its counts size the alarms and the scaling
    return Variant(
        name=name, server=server.name, plugin=server, model_data=model_data, environment=environment,
        image=image or ContainerImage.for_server(server, image_version), instance_type=instance_type,
        instance_count=props.get("instance_count", 1), weight=props.get("weight", 1.0),
        serverless=props.get("serverless"), container=props.get("container") or ContainerOptions(),
        gpu=pools_gpu_verdict(where, server.name, image_version, types_by_priority(instance_type, pools),
                              ami, image),
        hosting=props.get("hosting") or Hosting(), instance_pools=tuple(pools),
        provision_timeout_seconds=props.get("provision_timeout_seconds"),
    )


def pools_gpu_verdict(where: str, server: str, image_version: str, instance_types: Sequence[str | None],
                      ami: str | None, image: ContainerImage | None) -> gpu_rules.GpuVerdict:
    """gpu_verdict for each instance type the variant may run on (its pools, or its one type). SageMaker takes one
    InferenceAmiVersion per variant: an AMI picked for one pool must run the image on every GPU pool too."""
    at = (lambda t: f"{where} (pool {t})") if len(instance_types) > 1 else (lambda t: where)  # noqa: E731
    verdicts = {t: gpu_verdict(at(t), server, image_version, t, ami, image) for t in instance_types}
    picked = sorted({v.ami for v in verdicts.values() if v.ami is not None and ami is None})
    if len(picked) > 1:
        raise ValueError(f"{where}: the pools need different InferenceAmiVersions ({', '.join(picked)}), and a "
                         "variant has one; set inference_ami_version to one that runs the image on every pool, or "
                         "split the pools into variants")
    why = next((v.picked_because for v in verdicts.values() if v.picked_because), None)
    if picked:  # servekit's pick for one pool: held to the others (their verdict under that AMI)
        verdicts = {t: gpu_verdict(at(t), server, image_version, t, picked[0], image)
                    if images.variant_facts(t) is not None and images.variant_facts(t).gpus else v
                    for t, v in verdicts.items()}
    problems = [p for v in verdicts.values() for p in v.problems]
    return gpu_rules.GpuVerdict(problems, picked[0] if picked else ami, why)


def gpu_verdict(where: str, server: str, image_version: str, instance_type: str | None, ami: str | None,
                image: ContainerImage | None) -> gpu_rules.GpuVerdict:
    """servekit.rules.gpu's verdict: errors raise, warnings travel with the variant (annotated at synth). An
    image of your own (`image=`) has no facts: only the AMI's fit is checked then."""
    if ami is not None and ami not in AMI_NAMES:
        raise ValueError(f"{where}: inference_ami_version {ami!r} is not one of {', '.join(AMI_NAMES)}")
    if image is not None:
        return gpu_rules.GpuVerdict(ami=ami)
    verdict = gpu_rules.check(server, image_version, instance_type, ami)
    errors = [str(p) for p in verdict.problems if p.severity == "error"]
    if errors:
        raise ValueError(f"{where}: " + "; ".join(errors))
    return verdict


def init_endpoint(endpoint: ServingEndpoint, scope: Construct, construct_id: str,
                  make_variant: Callable[..., Variant], props: EndpointProps) -> None:
    """A server's constructor, shared: its own variant from `make_variant(name, where=..., **VariantProps)`,
    then ServingEndpoint with the rest of `props` (its `variants` after the own one)."""
    options = {k: v for k, v in props.items() if k not in _VARIANT_KEYS and k != "variant_name"}
    own = {k: v for k, v in props.items() if k in _VARIANT_KEYS}
    primary = make_variant(props.get("variant_name", "AllTraffic"), where=construct_id, **own)
    variants = list(options.pop("variants", None) or ())
    ServingEndpoint.__init__(endpoint, scope, construct_id, production_variants=[primary, *variants], **options)


def check_multi_model(where: str, server: Any, model_data: ModelData, instance_type: str | None) -> None:
    """`server`: the servekit.servers.base.Server whose construct calls this."""
    facts = images.variant_facts(instance_type)
    if model_data.multi_model and facts is not None:
        problem = server.multi_model_problem(facts)
        if problem:
            raise ValueError(f"{where}: multi-model: {problem}")


def check_gpu_only(where: str, instance_type: str | None, settings: dict[str, object]) -> None:
    facts = images.variant_facts(instance_type)
    if facts is None:
        return  # an unknown type is reported by Variant with a suggestion
    problems = variant_rules.gpu_only(instance_type or "serverless inference", bool(facts.gpus), settings)
    if problems:
        raise ValueError(f"{where}: " + "; ".join(str(p) for p in problems))
