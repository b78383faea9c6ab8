"""TfsEndpoint, TorchServeEndpoint and TritonEndpoint: a ServingEndpoint whose variants run one server's
image and environment. The environment comes from the tuning models in servekit.config, the one place
where the mapping to the containers' variables lives (docs/tfs.md, torchserve.md, triton.md).

Each class's `variant(...)` makes one more variant of its server (A/B or shadow) from the same kind of
props as the endpoint's own; pass them as `variants=[...]` / `shadow_variant=...`.
"""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct
from typing_extensions import Unpack

from servekit import images
from servekit.config import TfsTuning, TorchServeTuning, TritonTuning
from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import EndpointOptions, ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.variant import Variant
from servekit.facts.amis import AMI_NAMES
from servekit.options import ContainerOptions, Serverless
from servekit.rules import gpu as gpu_rules
from servekit.rules import variants as variant_rules


class TfsEndpoint(ServingEndpoint):
    """TensorFlow Serving, through the SageMaker TensorFlow inference container."""

    server = "tfs"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_data: ModelData,
        model_names: Sequence[str],
        instance_type: str | None = None,
        instance_count: int = 1,
        image_version: str = "2.19",
        image: ContainerImage | None = None,
        tuning: TfsTuning | None = None,
        default_model_name: str | None = None,
        variant_name: str = "AllTraffic",
        weight: float = 1.0,
        serverless: Serverless | None = None,
        container: ContainerOptions | None = None,
        inference_ami_version: str | None = None,
        **options: Unpack[EndpointOptions],
    ) -> None:
        """
        :param model_names: the SavedModels in the archive (`<name>/<version>/saved_model.pb`).
        :param instance_type: e.g. ml.c5.xlarge. Required unless `serverless` is given.
        :param image_version: tensorflow-inference DLC version. Default: 2.19.
        :param image: overrides the DLC. Default: ContainerImage.from_dlc("tfs", image_version).
        :param tuning: batching, processes, threads, timeouts. Default: TfsTuning() (the container's defaults).
        :param default_model_name: the model that answers without a tfs-model-name attribute. Default: the
            first of model_names. Always set: unset, the container picks the first model in unsorted
            directory order.
        :param variant_name, weight: of the endpoint's own variant. Default: AllTraffic, 1.0.
        :param serverless: memory and concurrency of a serverless endpoint. Default: none (instances).
        :param container: start timeouts and volume size. Default: SageMaker's.
        :param inference_ami_version: the variant's InferenceAmiVersion (NVIDIA driver and CUDA). Default: the
            instance family's default, or an AMI servekit picks when that driver cannot run the image
            (servekit.rules.gpu; a GPU the image cannot run on raises ValueError with the fix).
        Other parameters (variants, scaling, alarms, data capture, VPC, ...): see ServingEndpoint.
        """
        primary = TfsEndpoint.variant(
            variant_name, model_data=model_data, model_names=model_names, instance_type=instance_type,
            instance_count=instance_count, weight=weight, image_version=image_version, image=image, tuning=tuning,
            default_model_name=default_model_name, serverless=serverless, container=container, where=construct_id,
            inference_ami_version=inference_ami_version,
        )
        _init(self, scope, construct_id, primary, options)

    @staticmethod
    def variant(
        name: str, *, model_data: ModelData, model_names: Sequence[str], instance_type: str | None = None,
        instance_count: int = 1, weight: float = 1.0, image_version: str = "2.19", image: ContainerImage | None = None,
        tuning: TfsTuning | None = None, default_model_name: str | None = None, serverless: Serverless | None = None,
        container: ContainerOptions | None = None, where: str = "", inference_ami_version: str | None = None,
    ) -> Variant:
        """One TFS variant; the parameters are those of the endpoint's own."""
        where = where or name
        if model_data.multi_model:
            raise ValueError(f"{where}: {images.multi_model_problem('tfs', images.SERVERLESS)}")
        if not model_names:
            raise ValueError(f"{where}: model_names is empty; list the SavedModels in the archive")
        default = default_model_name or model_names[0]
        if default not in model_names:
            raise ValueError(f"{where}: default_model_name {default!r} is none of {list(model_names)}")
        tuning = tuning or TfsTuning()
        _check_gpu_only(where, instance_type, {"tuning.fractional_gpu_mem_margin": tuning.fractional_gpu_mem_margin})
        return _server_variant(
            "tfs", name, where, model_data=model_data, environment=tuning.to_environment(default), image=image,
            image_version=image_version, instance_type=instance_type, instance_count=instance_count, weight=weight,
            serverless=serverless, container=container, inference_ami_version=inference_ami_version,
        )


class TorchServeEndpoint(ServingEndpoint):
    """TorchServe, through the SageMaker PyTorch inference container and its toolkit."""

    server = "torchserve"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_data: ModelData,
        instance_type: str | None = None,
        instance_count: int = 1,
        image_version: str = "2.6",
        image: ContainerImage | None = None,
        tuning: TorchServeTuning | None = None,
        program: str = "inference.py",
        variant_name: str = "AllTraffic",
        weight: float = 1.0,
        serverless: Serverless | None = None,
        container: ContainerOptions | None = None,
        inference_ami_version: str | None = None,
        **options: Unpack[EndpointOptions],
    ) -> None:
        """
        :param model_data: ModelData.from_asset/from_s3_uri, or ModelData.from_s3_prefix for a multi-model
            endpoint (CPU only; each model.tar.gz under the prefix has the single-model layout).
        :param image_version: pytorch-inference DLC version. Default: 2.6.
        :param image: overrides the DLC. Default: ContainerImage.from_dlc("torchserve", image_version).
        :param tuning: batch size, batch delay (ms), workers, timeout. Default: TorchServeTuning().
        :param program: the handler module in the archive's code/ folder. Default: inference.py.
        Other parameters: see TfsEndpoint and ServingEndpoint.
        """
        primary = TorchServeEndpoint.variant(
            variant_name, model_data=model_data, instance_type=instance_type, instance_count=instance_count,
            weight=weight, image_version=image_version, image=image, tuning=tuning, program=program,
            serverless=serverless, container=container, where=construct_id,
            inference_ami_version=inference_ami_version,
        )
        _init(self, scope, construct_id, primary, options)

    @staticmethod
    def variant(
        name: str, *, model_data: ModelData, instance_type: str | None = None, instance_count: int = 1,
        weight: float = 1.0, image_version: str = "2.6", image: ContainerImage | None = None,
        tuning: TorchServeTuning | None = None, program: str = "inference.py", serverless: Serverless | None = None,
        container: ContainerOptions | None = None, where: str = "", inference_ami_version: str | None = None,
    ) -> Variant:
        """One TorchServe variant; the parameters are those of the endpoint's own."""
        where = where or name
        _check_multi_model(where, "torchserve", model_data, instance_type)
        tuning = tuning or TorchServeTuning()
        return _server_variant(
            "torchserve", name, where, model_data=model_data,
            environment=tuning.to_environment(program, multi_model=model_data.multi_model), image=image,
            image_version=image_version, instance_type=instance_type, instance_count=instance_count, weight=weight,
            serverless=serverless, container=container, inference_ami_version=inference_ami_version,
        )


class TritonEndpoint(ServingEndpoint):
    """NVIDIA Triton Inference Server, through the SageMaker Triton container."""

    server = "triton"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_data: ModelData,
        model_name: str,
        instance_type: str | None = None,
        instance_count: int = 1,
        image_version: str = "25.09",
        image: ContainerImage | None = None,
        tuning: TritonTuning | None = None,
        variant_name: str = "AllTraffic",
        weight: float = 1.0,
        serverless: Serverless | None = None,
        container: ContainerOptions | None = None,
        inference_ami_version: str | None = None,
        **options: Unpack[EndpointOptions],
    ) -> None:
        """
        :param model_data: ModelData.from_asset/from_s3_uri, or ModelData.from_s3_prefix for a multi-model
            endpoint (each model.tar.gz under the prefix holds `<model>/config.pbtxt` and `<model>/<version>/`).
        :param model_name: the model directory at the archive root that /invocations serves
            (SAGEMAKER_TRITON_DEFAULT_MODEL_NAME; always set, so a second directory never breaks start;
            unused in multi-model mode, where TargetModel chooses).
        :param image_version: sagemaker-tritonserver DLC version. Default: 25.09.
        :param image: overrides the DLC. Default: ContainerImage.from_dlc("triton", image_version).
        :param tuning: threads, logging, shared memory, GPU load limit. Default: TritonTuning().
        Other parameters: see TfsEndpoint and ServingEndpoint.
        """
        primary = TritonEndpoint.variant(
            variant_name, model_data=model_data, model_name=model_name, instance_type=instance_type,
            instance_count=instance_count, weight=weight, image_version=image_version, image=image, tuning=tuning,
            serverless=serverless, container=container, where=construct_id,
            inference_ami_version=inference_ami_version,
        )
        _init(self, scope, construct_id, primary, options)

    @staticmethod
    def variant(
        name: str, *, model_data: ModelData, model_name: str, instance_type: str | None = None,
        instance_count: int = 1, weight: float = 1.0, image_version: str = "25.09", image: ContainerImage | None = None,
        tuning: TritonTuning | None = None, serverless: Serverless | None = None,
        container: ContainerOptions | None = None, where: str = "", inference_ami_version: str | None = None,
    ) -> Variant:
        """One Triton variant; the parameters are those of the endpoint's own."""
        where = where or name
        _check_multi_model(where, "triton", model_data, instance_type)
        tuning = tuning or TritonTuning()
        _check_gpu_only(where, instance_type, {"tuning.model_load_gpu_limit": tuning.model_load_gpu_limit})
        return _server_variant(
            "triton", name, where, model_data=model_data,
            environment=tuning.to_environment(model_name, multi_model=model_data.multi_model), image=image,
            image_version=image_version, instance_type=instance_type, instance_count=instance_count, weight=weight,
            serverless=serverless, container=container, inference_ami_version=inference_ami_version,
        )


def _server_variant(
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
        gpu=_gpu(where, server, image_version, instance_type, inference_ami_version, image),
    )


def _gpu(where: str, server: str, image_version: str, instance_type: str | None, ami: str | None,
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


def _init(endpoint: ServingEndpoint, scope: Construct, construct_id: str, primary: Variant,
          options: EndpointOptions) -> None:
    options = dict(options)  # type: ignore[assignment]
    variants = list(options.pop("variants", None) or ())  # type: ignore[misc]
    ServingEndpoint.__init__(endpoint, scope, construct_id, production_variants=[primary, *variants], **options)


def _facts(instance_type: str | None) -> images.InstanceFacts | None:
    return images.SERVERLESS if instance_type is None else images.instance_facts(instance_type)


def _check_multi_model(where: str, server: str, model_data: ModelData, instance_type: str | None) -> None:
    facts = _facts(instance_type)
    if model_data.multi_model and facts is not None:
        problem = images.multi_model_problem(server, facts)
        if problem:
            raise ValueError(f"{where}: multi-model: {problem}")


def _check_gpu_only(where: str, instance_type: str | None, settings: dict[str, object]) -> None:
    facts = _facts(instance_type)
    if facts is None:
        return  # an unknown type is reported by Variant with a suggestion
    problems = variant_rules.gpu_only(instance_type or "serverless inference", bool(facts.gpus), settings)
    if problems:
        raise ValueError(f"{where}: " + "; ".join(str(p) for p in problems))
