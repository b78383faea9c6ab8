"""TfsEndpoint: a ServingEndpoint whose variants run the SageMaker TensorFlow inference container, with the
environment of TfsTuning.to_environment() (docs/tfs.md)."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct
from typing_extensions import Unpack

from servekit import images
from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import EndpointOptions, ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.server_variant import check_gpu_only, init_endpoint, server_variant
from servekit.constructs.variant import Variant
from servekit.options import ContainerOptions, Serverless
from servekit.servers.tfs import TFS
from servekit.servers.tfs.schema import TfsTuning


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
        init_endpoint(self, scope, construct_id, primary, options)

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
            raise ValueError(f"{where}: {TFS.multi_model_problem(images.SERVERLESS)}")
        if not model_names:
            raise ValueError(f"{where}: model_names is empty; list the SavedModels in the archive")
        default = default_model_name or model_names[0]
        if default not in model_names:
            raise ValueError(f"{where}: default_model_name {default!r} is none of {list(model_names)}")
        tuning = tuning or TfsTuning()
        check_gpu_only(where, instance_type, {"tuning.fractional_gpu_mem_margin": tuning.fractional_gpu_mem_margin})
        return server_variant(
            "tfs", name, where, model_data=model_data, environment=tuning.to_environment(default), image=image,
            image_version=image_version, instance_type=instance_type, instance_count=instance_count, weight=weight,
            serverless=serverless, container=container, inference_ami_version=inference_ami_version,
        )
