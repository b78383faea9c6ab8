"""servekit's CDK constructs. (A package inside `servekit`: a top-level `constructs/` would shadow the
`constructs` library that aws-cdk-lib imports.)"""

from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import EndpointOptions, ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.servers import TfsEndpoint, TorchServeEndpoint, TritonEndpoint
from servekit.constructs.variant import Variant

__all__ = ["ContainerImage", "EndpointOptions", "ModelData", "ServingEndpoint", "TfsEndpoint", "TorchServeEndpoint",
           "TritonEndpoint", "Variant"]
