"""TorchServeEndpoint: a ServingEndpoint whose variants run the SageMaker PyTorch inference container and its
toolkit, with the environment of TorchServeTuning.to_environment() (docs/torchserve.md)."""

from __future__ import annotations

from constructs import Construct
from typing_extensions import Unpack

from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import EndpointOptions, ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.server_variant import check_multi_model, init_endpoint, server_variant
from servekit.constructs.variant import Variant
from servekit.options import ContainerOptions, Serverless
from servekit.servers.torchserve.schema import TorchServeTuning


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
        init_endpoint(self, scope, construct_id, primary, options)

    @staticmethod
    def variant(
        name: str, *, model_data: ModelData, instance_type: str | None = None, instance_count: int = 1,
        weight: float = 1.0, image_version: str = "2.6", image: ContainerImage | None = None,
        tuning: TorchServeTuning | None = None, program: str = "inference.py", serverless: Serverless | None = None,
        container: ContainerOptions | None = None, where: str = "", inference_ami_version: str | None = None,
    ) -> Variant:
        """One TorchServe variant; the parameters are those of the endpoint's own."""
        where = where or name
        check_multi_model(where, "torchserve", model_data, instance_type)
        tuning = tuning or TorchServeTuning()
        return server_variant(
            "torchserve", name, where, model_data=model_data,
            environment=tuning.to_environment(program, multi_model=model_data.multi_model), image=image,
            image_version=image_version, instance_type=instance_type, instance_count=instance_count, weight=weight,
            serverless=serverless, container=container, inference_ami_version=inference_ami_version,
        )
