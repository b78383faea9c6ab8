"""servekit's CDK constructs. (A package inside `servekit`: a top-level `constructs/` would shadow the
`constructs` library that aws-cdk-lib imports.)"""

from servekit.constructs.container_image import ContainerImage
from servekit.constructs.endpoint import ServingEndpoint
from servekit.constructs.model_data import ModelData
from servekit.constructs.servers import TfsEndpoint, TorchServeEndpoint, TritonEndpoint

__all__ = ["ContainerImage", "ModelData", "ServingEndpoint", "TfsEndpoint", "TorchServeEndpoint", "TritonEndpoint"]
