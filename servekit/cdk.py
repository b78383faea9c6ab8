"""servekit's construct library in one import, for your own CDK app:

    from servekit.cdk import ModelData, TorchServeEndpoint

The shared constructs come from servekit.constructs, each server's from its package
(servekit/servers/<server>/construct.py). A server installed as a plug-in (servekit.registry) is reached by its
construct's class name too: `from servekit.cdk import EchoEndpoint`.
"""

from __future__ import annotations

from typing import Any

from servekit import registry
from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import EndpointOptions, ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.variant import Variant
from servekit.servers.tfs.construct import TfsEndpoint
from servekit.servers.torchserve.construct import TorchServeEndpoint
from servekit.servers.triton.construct import TritonEndpoint

__all__ = ["ContainerImage", "EndpointOptions", "ModelData", "ServingEndpoint", "TfsEndpoint", "TorchServeEndpoint",
           "TritonEndpoint", "Variant"]


def __getattr__(name: str) -> Any:
    # A plug-in server's construct, by its class name (the built-in three are imported above).
    for server in registry.all():
        if server.construct_class == name:
            return server.construct()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
