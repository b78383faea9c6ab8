"""servekit.yaml: its schema and load() with errors that name the field, the value and the fix.

The document (document.py) assembles what each part owns, and semantics.py checks what the schema cannot: the endpoint's common keys (servekit.spec), the
production blocks (servekit.options), each server's model and tuning (servekit/servers/<server>/schema.py,
where `to_environment()` maps tuning to the container's variables) and the pipeline (pipeline.py). Every
default is the container's own, so an empty tuning block changes nothing; field names carry their units.
This package re-exports those names, so `servekit.config` stays the one import of the schema.
"""

from servekit.config.components import ComponentEndpoint
from servekit.config.document import AppConfig, ServekitConfig
from servekit.config.endpoints import Endpoint
from servekit.config.loading import ConfigError, load, local_path_problems, parse, resolve_paths
from servekit.config.pipeline import PipelineConfig, PipelineEnvironment, PipelineRepository
from servekit.config.semantics import advisories, endpoint_problems, facts_of, gpu_only_tuning, gpu_verdict
from servekit.options import (
    Alarms,
    AsyncInference,
    CapacityReservation,
    ContainerOptions,
    CoreDump,
    DataCapture,
    Deployment,
    Hosting,
    InstancePool,
    MultiModel,
    Network,
    Observability,
    Scaling,
    ScheduledScaling,
    Serverless,
)
from servekit.servers.tfs.schema import TfsEndpointSpec, TfsModel, TfsTuning, TfsVariant
from servekit.servers.torchserve.schema import (
    TorchServeEndpointSpec,
    TorchServeModel,
    TorchServeTuning,
    TorchServeVariant,
)
from servekit.servers.triton.schema import (
    TRITON_TYPES,
    DynamicBatching,
    InstanceGroup,
    TensorRTAccelerator,
    TensorRTBuild,
    TritonEndpointSpec,
    TritonModel,
    TritonTensor,
    TritonTuning,
    TritonVariant,
)
from servekit.spec.components import (
    ComponentCompute,
    ComponentRollout,
    ComponentSpecification,
    CopyScaling,
    InferenceComponent,
    InstanceScaling,
    ScaleIn,
    Scheduling,
)
from servekit.spec.endpoint import NAME_PATTERN, VARIANT_NAME_PATTERN, EndpointBase, ResolvedVariant, VariantBase
from servekit.spec.sources import (
    ArchiveSource,
    ExampleSource,
    HuggingFaceSource,
    KerasSource,
    ModelSource,
    OnnxSource,
    S3Source,
    SavedModelSource,
    StateDictSource,
    TorchScriptSource,
)

__all__ = [
    "NAME_PATTERN", "TRITON_TYPES", "VARIANT_NAME_PATTERN", "Alarms", "AppConfig", "ArchiveSource", "AsyncInference",
    "CapacityReservation", "ComponentCompute", "ComponentEndpoint", "ComponentRollout", "ComponentSpecification", "ConfigError", "ContainerOptions", "CoreDump", "DataCapture", "Deployment", "DynamicBatching", "Endpoint", "EndpointBase",
    "ExampleSource", "CopyScaling", "Hosting", "HuggingFaceSource", "InstancePool", "InferenceComponent", "InstanceScaling", "InstanceGroup", "KerasSource", "ModelSource", "MultiModel", "Network",
    "Observability",
    "OnnxSource", "PipelineConfig", "PipelineEnvironment", "PipelineRepository", "ResolvedVariant", "S3Source",
    "SavedModelSource", "ScaleIn", "Scaling", "ScheduledScaling", "Scheduling", "Serverless", "ServekitConfig", "StateDictSource",
    "TensorRTAccelerator", "TensorRTBuild", "TfsEndpointSpec", "TfsModel", "TfsTuning", "TfsVariant",
    "TorchScriptSource", "TorchServeEndpointSpec", "TorchServeModel", "TorchServeTuning", "TorchServeVariant",
    "TritonEndpointSpec", "TritonModel", "TritonTensor", "TritonTuning", "TritonVariant", "VariantBase",
    "advisories", "endpoint_problems", "facts_of", "gpu_only_tuning",
    "gpu_verdict", "load", "local_path_problems", "parse", "resolve_paths",
]
