"""TritonEndpoint: a ServingEndpoint whose variants run the SageMaker Triton container, with the environment of
TritonTuning.to_environment() (docs/triton.md)."""

from __future__ import annotations

from constructs import Construct
from typing_extensions import Unpack

from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import EndpointOptions, ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.server_variant import check_gpu_only, check_multi_model, init_endpoint, server_variant
from servekit.constructs.variant import Variant
from servekit.options import ContainerOptions, Serverless
from servekit.servers.triton.schema import TritonTuning


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
        init_endpoint(self, scope, construct_id, primary, options)

    @staticmethod
    def variant(
        name: str, *, model_data: ModelData, model_name: str, instance_type: str | None = None,
        instance_count: int = 1, weight: float = 1.0, image_version: str = "25.09", image: ContainerImage | None = None,
        tuning: TritonTuning | None = None, serverless: Serverless | None = None,
        container: ContainerOptions | None = None, where: str = "", inference_ami_version: str | None = None,
    ) -> Variant:
        """One Triton variant; the parameters are those of the endpoint's own."""
        where = where or name
        check_multi_model(where, "triton", model_data, instance_type)
        tuning = tuning or TritonTuning()
        check_gpu_only(where, instance_type, {"tuning.model_load_gpu_limit": tuning.model_load_gpu_limit})
        return server_variant(
            "triton", name, where, model_data=model_data,
            environment=tuning.to_environment(model_name, multi_model=model_data.multi_model), image=image,
            image_version=image_version, instance_type=instance_type, instance_count=instance_count, weight=weight,
            serverless=serverless, container=container, inference_ami_version=inference_ami_version,
        )
