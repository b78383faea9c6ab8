"""TritonEndpoint: a ServingEndpoint whose variants run the SageMaker Triton container, with the environment of
TritonTuning.to_environment() (docs/triton.md)."""

from __future__ import annotations

from constructs import Construct
from typing_extensions import Unpack

from servekit.constructs.endpoint import ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.server_variant import (
    EndpointProps,
    VariantProps,
    check_gpu_only,
    check_multi_model,
    init_endpoint,
    server_variant,
)
from servekit.constructs.variant import Variant
from servekit.servers.triton import TRITON
from servekit.servers.triton.schema import IMAGE_VERSION, TritonTuning


class TritonEndpoint(ServingEndpoint):
    """NVIDIA Triton Inference Server, through the SageMaker Triton container."""

    server = "triton"

    def __init__(self, scope: Construct, construct_id: str, *, model_data: ModelData, model_name: str,
                 image_version: str = IMAGE_VERSION, tuning: TritonTuning | None = None,
                 **props: Unpack[EndpointProps]) -> None:
        """
        :param model_data: ModelData.from_asset/from_s3_uri, or ModelData.from_s3_prefix for a multi-model
            endpoint (each model.tar.gz under the prefix holds `<model>/config.pbtxt` and `<model>/<version>/`).
        :param model_name: the model directory at the archive root that /invocations serves
            (SAGEMAKER_TRITON_DEFAULT_MODEL_NAME; always set, so a second directory never breaks start;
            unused in multi-model mode, where TargetModel chooses).
        :param image_version: sagemaker-tritonserver DLC version. Default: 25.09.
        :param tuning: threads, logging, shared memory, GPU load limit. Default: TritonTuning().
        :param props: the own variant's (servekit.constructs.server_variant.VariantProps, with their defaults),
            variant_name (default AllTraffic), and the endpoint's (see ServingEndpoint).
        """
        init_endpoint(self, scope, construct_id, lambda name, **own: TritonEndpoint.variant(
            name, model_data=model_data, model_name=model_name, image_version=image_version, tuning=tuning, **own),
            props)

    @staticmethod
    def variant(name: str, *, model_data: ModelData, model_name: str, image_version: str = IMAGE_VERSION,
                tuning: TritonTuning | None = None, where: str = "", **props: Unpack[VariantProps]) -> Variant:
        """One Triton variant; the parameters are those of the endpoint's own (`where`: the path in errors)."""
        where = where or name
        check_multi_model(where, TRITON, model_data, props.get("instance_type"))
        tuning = tuning or TritonTuning()
        check_gpu_only(where, props.get("instance_type"), TRITON.gpu_only_tuning(tuning))
        return server_variant(
            TRITON, name, where, model_data=model_data,
            environment=tuning.to_environment(model_name, multi_model=model_data.multi_model),
            image_version=image_version, **props,
        )
