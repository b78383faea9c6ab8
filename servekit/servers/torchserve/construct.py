"""TorchServeEndpoint: a ServingEndpoint whose variants run the SageMaker PyTorch inference container and its
toolkit, with the environment of TorchServeTuning.to_environment() (docs/torchserve.md)."""

from __future__ import annotations

from constructs import Construct
from typing_extensions import Unpack

from servekit.constructs.endpoint import ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.server_variant import (
    EndpointProps,
    VariantProps,
    check_multi_model,
    init_endpoint,
    server_variant,
)
from servekit.constructs.variant import Variant
from servekit.servers.torchserve import TORCHSERVE
from servekit.servers.torchserve.schema import IMAGE_VERSION, TorchServeTuning, servekit_environment_keys


class TorchServeEndpoint(ServingEndpoint):
    """TorchServe, through the SageMaker PyTorch inference container and its toolkit."""

    server = "torchserve"

    def __init__(self, scope: Construct, construct_id: str, *, model_data: ModelData, image_version: str = IMAGE_VERSION,
                 tuning: TorchServeTuning | None = None, program: str = "inference.py",
                 environment: dict[str, str] | None = None, **props: Unpack[EndpointProps]) -> None:
        """
        :param model_data: ModelData.from_asset/from_s3_uri, or ModelData.from_s3_prefix for a multi-model
            endpoint (CPU only; each model.tar.gz under the prefix has the single-model layout).
        :param image_version: pytorch-inference DLC version. Default: 2.6.
        :param tuning: batch size, batch delay (ms), workers, timeout. Default: TorchServeTuning().
        :param program: the handler module in the archive's code/ folder. Default: inference.py.
        :param environment: more container variables (the handlers' SERVEKIT_* settings, your handler's own); the
            ones servekit sets from tuning, and SAGEMAKER_*, are refused. Default: none.
        :param props: the own variant's (servekit.constructs.server_variant.VariantProps, with their defaults),
            variant_name (default AllTraffic), and the endpoint's (see ServingEndpoint).
        """
        init_endpoint(self, scope, construct_id, lambda name, **own: TorchServeEndpoint.variant(
            name, model_data=model_data, image_version=image_version, tuning=tuning, program=program,
            environment=environment, **own), props)

    @staticmethod
    def variant(name: str, *, model_data: ModelData, image_version: str = IMAGE_VERSION, tuning: TorchServeTuning | None = None,
                program: str = "inference.py", environment: dict[str, str] | None = None, where: str = "",
                **props: Unpack[VariantProps]) -> Variant:
        """One TorchServe variant; the parameters are those of the endpoint's own (`where`: the path in errors)."""
        where = where or name
        check_multi_model(where, TORCHSERVE, model_data, props.get("instance_type"))
        tuning = tuning or TorchServeTuning()
        own = tuning.to_environment(program, multi_model=model_data.multi_model)
        taken = sorted(k for k in (environment or {}) if k in servekit_environment_keys() or k.startswith("SAGEMAKER_"))
        if taken:
            raise ValueError(f"{where}: environment {taken}: servekit sets these from tuning (SAGEMAKER_* belong to "
                             "SageMaker and its toolkit); set the matching TorchServeTuning field instead")
        return server_variant(
            TORCHSERVE, name, where, model_data=model_data, environment={**own, **(environment or {})},
            image_version=image_version, **props,
        )
