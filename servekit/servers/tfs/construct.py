"""TfsEndpoint: a ServingEndpoint whose variants run the SageMaker TensorFlow inference container, with the
environment of TfsTuning.to_environment() (docs/tfs.md)."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct
from typing_extensions import Unpack

from servekit import images
from servekit.constructs.endpoint import ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.server_variant import (
    EndpointProps,
    VariantProps,
    check_gpu_only,
    init_endpoint,
    server_variant,
)
from servekit.constructs.variant import Variant
from servekit.servers.tfs import TFS
from servekit.servers.tfs.schema import IMAGE_VERSION, TfsTuning


class TfsEndpoint(ServingEndpoint):
    """TensorFlow Serving, through the SageMaker TensorFlow inference container."""

    server = "tfs"

    def __init__(self, scope: Construct, construct_id: str, *, model_data: ModelData, model_names: Sequence[str],
                 image_version: str = IMAGE_VERSION, tuning: TfsTuning | None = None, default_model_name: str | None = None,
                 **props: Unpack[EndpointProps]) -> None:
        """
        :param model_names: the SavedModels in the archive (`<name>/<version>/saved_model.pb`).
        :param image_version: tensorflow-inference DLC version. Default: 2.19.
        :param tuning: batching, processes, threads, timeouts. Default: TfsTuning() (the container's defaults).
        :param default_model_name: the model that answers without a tfs-model-name attribute. Default: the
            first of model_names. Always set: unset, the container picks the first model in unsorted
            directory order.
        :param props: the own variant's (instance_type, instance_count, weight, image, serverless, container,
            inference_ami_version: servekit.constructs.server_variant.VariantProps, with their defaults),
            variant_name (default AllTraffic), and the endpoint's (variants, scaling, alarms, data capture,
            VPC, ...: see ServingEndpoint).
        """
        init_endpoint(self, scope, construct_id, lambda name, **own: TfsEndpoint.variant(
            name, model_data=model_data, model_names=model_names, image_version=image_version, tuning=tuning,
            default_model_name=default_model_name, **own), props)

    @staticmethod
    def variant(name: str, *, model_data: ModelData, model_names: Sequence[str], image_version: str = IMAGE_VERSION,
                tuning: TfsTuning | None = None, default_model_name: str | None = None, where: str = "",
                **props: Unpack[VariantProps]) -> Variant:
        """One TFS variant; the parameters are those of the endpoint's own (`where`: the path in errors)."""
        where = where or name
        if model_data.multi_model:
            raise ValueError(f"{where}: {TFS.multi_model_problem(images.SERVERLESS)}")
        if not model_names:
            raise ValueError(f"{where}: model_names is empty; list the SavedModels in the archive")
        default = default_model_name or model_names[0]
        if default not in model_names:
            raise ValueError(f"{where}: default_model_name {default!r} is none of {list(model_names)}")
        tuning = tuning or TfsTuning()
        check_gpu_only(where, props.get("instance_type"), TFS.gpu_only_tuning(tuning))
        return server_variant(TFS, name, where, model_data=model_data, environment=tuning.to_environment(default),
                              image_version=image_version, **props)
