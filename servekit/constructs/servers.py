"""TfsEndpoint, TorchServeEndpoint and TritonEndpoint: a ServingEndpoint plus each server's image and
environment. The environment comes from the tuning models in servekit.config, the one place where the
mapping to the containers' variables (CONTRACTS.md) lives.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_kms as kms
from constructs import Construct

from servekit import images
from servekit.config import Alarms, Deployment, Scaling, TfsTuning, TorchServeTuning, TritonTuning
from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import ServingEndpoint
from servekit.constructs.model_data import ModelData


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
        instance_type: str,
        instance_count: int = 1,
        image_version: str = "2.19",
        image: ContainerImage | None = None,
        tuning: TfsTuning | None = None,
        default_model_name: str | None = None,
        kms_key: kms.IKey | None = None,
        endpoint_name: str | None = None,
        scaling: Scaling | None = None,
        deployment: Deployment | None = None,
        alarms: Alarms | None = None,
    ) -> None:
        """
        :param model_names: the SavedModels in the archive (`<name>/<version>/saved_model.pb`).
        :param image_version: tensorflow-inference DLC version. Default: 2.19.
        :param image: overrides the DLC. Default: ContainerImage.from_dlc("tfs", image_version).
        :param tuning: batching, processes, threads, timeouts. Default: TfsTuning() (the container's defaults).
        :param default_model_name: the model that answers without a tfs-model-name attribute. Default: the
            first of model_names. Always set: unset, the container picks the first model in unsorted
            directory order.
        Other parameters: see ServingEndpoint.
        """
        if not model_names:
            raise ValueError(f"{construct_id}: model_names is empty; list the SavedModels in the archive")
        default = default_model_name or model_names[0]
        if default not in model_names:
            raise ValueError(f"{construct_id}: default_model_name {default!r} is none of {list(model_names)}")
        tuning = tuning or TfsTuning()
        _check_gpu_only(construct_id, instance_type, {"tuning.fractional_gpu_mem_margin": tuning.fractional_gpu_mem_margin})
        super().__init__(
            scope,
            construct_id,
            model_data=model_data,
            image=image or ContainerImage.from_dlc("tfs", image_version),
            environment=tuning.to_environment(default),
            instance_type=instance_type,
            instance_count=instance_count,
            kms_key=kms_key,
            endpoint_name=endpoint_name,
            scaling=scaling,
            deployment=deployment,
            alarms=alarms,
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
        instance_type: str,
        instance_count: int = 1,
        image_version: str = "2.6",
        image: ContainerImage | None = None,
        tuning: TorchServeTuning | None = None,
        program: str = "inference.py",
        kms_key: kms.IKey | None = None,
        endpoint_name: str | None = None,
        scaling: Scaling | None = None,
        deployment: Deployment | None = None,
        alarms: Alarms | None = None,
    ) -> None:
        """
        :param image_version: pytorch-inference DLC version. Default: 2.6.
        :param image: overrides the DLC. Default: ContainerImage.from_dlc("torchserve", image_version).
        :param tuning: batch size, batch delay (ms), workers, timeout. Default: TorchServeTuning().
        :param program: the handler module in the archive's code/ folder. Default: inference.py.
        Other parameters: see ServingEndpoint.
        """
        tuning = tuning or TorchServeTuning()
        super().__init__(
            scope,
            construct_id,
            model_data=model_data,
            image=image or ContainerImage.from_dlc("torchserve", image_version),
            environment=tuning.to_environment(program),
            instance_type=instance_type,
            instance_count=instance_count,
            kms_key=kms_key,
            endpoint_name=endpoint_name,
            scaling=scaling,
            deployment=deployment,
            alarms=alarms,
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
        instance_type: str,
        instance_count: int = 1,
        image_version: str = "25.09",
        image: ContainerImage | None = None,
        tuning: TritonTuning | None = None,
        kms_key: kms.IKey | None = None,
        endpoint_name: str | None = None,
        scaling: Scaling | None = None,
        deployment: Deployment | None = None,
        alarms: Alarms | None = None,
    ) -> None:
        """
        :param model_name: the model directory at the archive root that /invocations serves
            (SAGEMAKER_TRITON_DEFAULT_MODEL_NAME; always set, so a second directory never breaks start).
        :param image_version: sagemaker-tritonserver DLC version. Default: 25.09.
        :param image: overrides the DLC. Default: ContainerImage.from_dlc("triton", image_version).
        :param tuning: threads, logging, shared memory, GPU load limit. Default: TritonTuning().
        Other parameters: see ServingEndpoint.
        """
        tuning = tuning or TritonTuning()
        _check_gpu_only(construct_id, instance_type, {"tuning.model_load_gpu_limit": tuning.model_load_gpu_limit})
        super().__init__(
            scope,
            construct_id,
            model_data=model_data,
            image=image or ContainerImage.from_dlc("triton", image_version),
            environment=tuning.to_environment(model_name),
            instance_type=instance_type,
            instance_count=instance_count,
            kms_key=kms_key,
            endpoint_name=endpoint_name,
            scaling=scaling,
            deployment=deployment,
            alarms=alarms,
        )


def _check_gpu_only(construct_id: str, instance_type: str, settings: dict[str, object]) -> None:
    facts = images.instance_facts(instance_type)
    if facts is None or facts.gpus:
        return  # an unknown type is reported by ServingEndpoint with a suggestion
    for name, value in settings.items():
        if value is not None:
            raise ValueError(
                f"{construct_id}: {name}={value} is GPU-only but {instance_type} has no GPU; "
                "use a GPU instance type (e.g. ml.g5.xlarge) or remove the setting"
            )
