"""A test-only model server for servekit: one folder, registered by one entry point (see ../README.md).

It answers /invocations with {"greeting": <its model's greeting>, "echo": <the request's JSON>}. Its package has
the parts every servekit server has: schema.py, construct.py, build.py, check.py, local.py (with serve.py, the
server itself) and payloads.py.
"""

from __future__ import annotations

from typing import Any

from echo_server.schema import EchoEndpointSpec
from servekit.servers.base import Server

# A made-up ECR repository (account 123456789012): the image only has to be a well-formed URI for synth.
IMAGE = "123456789012.dkr.ecr.{region}.amazonaws.com/servekit-echo:{version}"


class Echo(Server):
    name = "echo"
    title = "Echo (a test plug-in)"
    image_framework = "servekit-echo"
    spec = EchoEndpointSpec
    construct_class = "EchoEndpoint"
    tuning_columns = (("ECHO_WORKERS", "workers"),)
    sweep_aliases = {"workers": "tuning.workers"}

    def image_uri(self, version: str, region: str, instance_type: str | None) -> str:
        return IMAGE.format(region=region, version=version)

    def variant(self, ep: Any, name: str, model_data: Any, **common: Any) -> Any:
        return self.construct().variant(name, model_data=model_data, greeting=ep.model.greeting, **common)


ECHO = Echo()
