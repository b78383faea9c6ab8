"""servekit's CDK constructs. (A package inside `servekit`: a top-level `constructs/` would shadow the
`constructs` library that aws-cdk-lib imports.)

The shared parts live here; each server's construct lives in its package (servekit/servers/<server>/
construct.py). `servekit.cdk` gathers both for an app: `from servekit.cdk import TfsEndpoint, ModelData`.
"""

from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import EndpointOptions, ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.variant import Variant

__all__ = ["ContainerImage", "EndpointOptions", "ModelData", "ServingEndpoint", "Variant"]
