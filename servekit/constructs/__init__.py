"""servekit's CDK constructs. (A package inside `servekit`: a top-level `constructs/` would shadow the
`constructs` library that aws-cdk-lib imports.)

The shared parts live here; each server's construct lives in its package (servekit/servers/<server>/
construct.py) and is re-exported by name: `from servekit.constructs import TfsEndpoint`. Those are looked up
in the registry when first asked for, because a server's construct itself imports this package.
"""

from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import EndpointOptions, ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.variant import Variant

__all__ = ["ContainerImage", "EndpointOptions", "ModelData", "ServingEndpoint", "TfsEndpoint", "TorchServeEndpoint",
           "TritonEndpoint", "Variant"]


def __getattr__(name: str):
    from servekit import servers

    for server in servers.all():
        if server.construct_class == name:
            return server.construct()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
