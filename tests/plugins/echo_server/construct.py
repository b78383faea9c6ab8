"""EchoEndpoint: a SageMaker endpoint of the echo server, built from servekit's shared constructs."""

from __future__ import annotations

from constructs import Construct
from typing_extensions import Unpack

from echo_server import ECHO
from echo_server.schema import EchoTuning
from servekit.constructs.endpoint import ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.server_variant import EndpointProps, VariantProps, init_endpoint, server_variant
from servekit.constructs.variant import Variant


class EchoEndpoint(ServingEndpoint):
    server = "echo"

    def __init__(self, scope: Construct, construct_id: str, *, model_data: ModelData, greeting: str,
                 image_version: str = "1.0", tuning: EchoTuning | None = None,
                 **props: Unpack[EndpointProps]) -> None:
        init_endpoint(self, scope, construct_id, lambda name, **own: EchoEndpoint.variant(
            name, model_data=model_data, greeting=greeting, image_version=image_version, tuning=tuning, **own), props)

    @staticmethod
    def variant(name: str, *, model_data: ModelData, greeting: str, image_version: str = "1.0",
                tuning: EchoTuning | None = None, where: str = "", **props: Unpack[VariantProps]) -> Variant:
        environment = {**(tuning or EchoTuning()).to_environment(), "ECHO_GREETING": greeting}
        return server_variant(ECHO, name, where or name, model_data=model_data, environment=environment,
                              image_version=image_version, **props)
