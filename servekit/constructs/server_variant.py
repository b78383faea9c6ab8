"""What every server's construct (servekit/servers/<server>/construct.py) shares: the Variant its
`variant()` ends with (its DLC unless `image` is given, and the GPU verdict), the checks before it, and how
the endpoint's own variant joins the others.

Each server's `variant(...)` makes one more variant of its server (A/B or shadow) from the same kind of
props as the endpoint's own; pass them as `variants=[...]` / `shadow_variant=...`.
"""

from __future__ import annotations

from constructs import Construct

from servekit import images, servers
from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import EndpointOptions, ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.variant import Variant
from servekit.facts.amis import AMI_NAMES
from servekit.options import ContainerOptions, Serverless
from servekit.rules import gpu as gpu_rules
from servekit.rules import variants as variant_rules


def server_variant(
    server: str, name: str, where: str, *, model_data: ModelData, environment: dict[str, str],
    image: ContainerImage | None, image_version: str, instance_type: str | None, instance_count: int, weight: float,
    serverless: Serverless | None, container: ContainerOptions | None, inference_ami_version: str | None,
) -> Variant:
    """The Variant every server's `variant()` ends with: its DLC unless `image` is given, and the GPU verdict."""
    return Variant(
        name=name, server=server, model_data=model_data, environment=environment,
        image=image or ContainerImage.from_dlc(server, image_version), instance_type=instance_type,
        instance_count=instance_count, weight=weight, serverless=serverless,
        container=container or ContainerOptions(),
        gpu=gpu_verdict(where, server, image_version, instance_type, inference_ami_version, image),
    )


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


def init_endpoint(endpoint: ServingEndpoint, scope: Construct, construct_id: str, primary: Variant,
          options: EndpointOptions) -> None:
    options = dict(options)  # type: ignore[assignment]
    variants = list(options.pop("variants", None) or ())  # type: ignore[misc]
    ServingEndpoint.__init__(endpoint, scope, construct_id, production_variants=[primary, *variants], **options)


def facts_of(instance_type: str | None) -> images.InstanceFacts | None:
    return images.SERVERLESS if instance_type is None else images.instance_facts(instance_type)


def check_multi_model(where: str, server: str, model_data: ModelData, instance_type: str | None) -> None:
    facts = facts_of(instance_type)
    if model_data.multi_model and facts is not None:
        problem = servers.get(server).multi_model_problem(facts)
        if problem:
            raise ValueError(f"{where}: multi-model: {problem}")


def check_gpu_only(where: str, instance_type: str | None, settings: dict[str, object]) -> None:
    facts = facts_of(instance_type)
    if facts is None:
        return  # an unknown type is reported by Variant with a suggestion
    problems = variant_rules.gpu_only(instance_type or "serverless inference", bool(facts.gpus), settings)
    if problems:
        raise ValueError(f"{where}: " + "; ".join(str(p) for p in problems))
