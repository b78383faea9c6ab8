"""The schema of servekit.yaml, and load() with errors that name the field, the value and the fix.

Every tuning field maps to one container environment variable (docs/tfs.md, docs/torchserve.md, docs/triton.md); the
field names carry their units, and each default is the container's own default so that an empty
tuning block changes nothing. `to_environment()` on each tuning model is the one place where the
mapping lives: the constructs call it, the docs are generated from the field descriptions.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Union

import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator, model_validator

from servekit import images
from servekit.facts.amis import AMI_NAMES
from servekit.options import (
    Alarms,
    AsyncInference,
    ContainerOptions,
    DataCapture,
    Deployment,
    MultiModel,
    Network,
    Scaling,
    Serverless,
    Strict,
    combination_problems,
)
from servekit.options import (
    ScheduledScaling as ScheduledScaling,  # re-exported: part of the schema (docs, tests)
)
from servekit.rules import gpu as gpu_rules
from servekit.rules import variants as variant_rules

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
VARIANT_NAME_PATTERN = variant_rules.NAME_PATTERN  # SageMaker's VariantName
TRITON_TYPES = (
    "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8", "TYPE_INT16",
    "TYPE_INT32", "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16",
)


def _bool_env(value: bool) -> str:
    # The TFS container accepts true/false in any case; the PyTorch toolkit wants exact lowercase.
    return "true" if value else "false"


# ---------------------------------------------------------------------------------------------
# Model sources: where the bytes of a model come from. Loading never touches a model hub.
# ---------------------------------------------------------------------------------------------
class ExampleSource(Strict):
    """One of the reference chapter's models, made small and offline on the spot."""

    kind: Literal["example"]
    name: Literal["efficientnetv2", "distilbert-qa", "resnet"] = Field(
        description="efficientnetv2 (TFS), distilbert-qa (TorchServe) or resnet (Triton)."
    )


class SavedModelSource(Strict):
    """A TensorFlow SavedModel directory (the one that holds saved_model.pb)."""

    kind: Literal["saved_model"]
    path: Path


class KerasSource(Strict):
    """A Keras model file (.keras or .h5), exported to a SavedModel at build time."""

    kind: Literal["keras"]
    path: Path


class TorchScriptSource(Strict):
    """A TorchScript file made with torch.jit.trace or torch.jit.script."""

    kind: Literal["torchscript"]
    path: Path


class StateDictSource(Strict):
    """A state_dict plus the importable class it belongs to; traced to TorchScript at build time."""

    kind: Literal["state_dict"]
    path: Path
    model_class: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", description="`module:Class`, importable.")
    init_kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the class.")
    example_input_shape: list[int] = Field(min_length=1, description="Shape of one traced input, batch first.")


class HuggingFaceSource(Strict):
    """A local directory written by `save_pretrained` (model and tokenizer). Never downloaded."""

    kind: Literal["huggingface"]
    path: Path


class OnnxSource(Strict):
    """An ONNX file, served by Triton's onnxruntime backend."""

    kind: Literal["onnx"]
    path: Path


class ArchiveSource(Strict):
    """An existing model.tar.gz: checked against the server's layout, then uploaded as it is."""

    kind: Literal["archive"]
    path: Path


class S3Source(Strict):
    """A model.tar.gz already in S3: used as it is, nothing is built or uploaded."""

    kind: Literal["s3"]
    uri: str = Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\.tar\.gz$")


ModelSource = Annotated[
    ExampleSource | SavedModelSource | KerasSource | TorchScriptSource | StateDictSource | HuggingFaceSource | OnnxSource | ArchiveSource | S3Source,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------------------------------------
# What every endpoint has, whatever its server; the production blocks live in servekit.options.
# ---------------------------------------------------------------------------------------------
class ResolvedVariant(NamedTuple):
    """One variant as SageMaker will run it: `endpoint` is the endpoint with the variant's overrides."""

    name: str
    role: Literal["production", "shadow"]
    weight: float
    endpoint: Any  # TfsEndpointSpec | TorchServeEndpointSpec | TritonEndpointSpec


InferenceAmiVersion = Literal[AMI_NAMES]  # type: ignore[valid-type]  # cfn-lint 1.58's enum (servekit.facts.amis)


class VariantBase(Strict):
    """Another production variant (A/B test) or the shadow variant. Unset keys inherit the endpoint's; a
    block that is set (`model`, `models`, `tuning`, `container`) replaces the endpoint's block whole."""

    name: str = Field(pattern=VARIANT_NAME_PATTERN, description="VariantName; unique in the endpoint.")
    weight: float | None = Field(
        None, ge=0, description="Production variants: traffic weight (share = weight / sum of weights); default 1."
    )
    sampling_percent: int | None = Field(
        None, ge=1, le=100, description="Shadow variant: share of the production variant's requests copied; default 100."
    )
    instance_type: str | None = None
    instance_count: int | None = Field(None, ge=1, le=100)
    image_version: str | None = None
    inference_ami_version: InferenceAmiVersion | None = None
    container: ContainerOptions | None = None


# Blocks that belong to the endpoint as a whole; a variant's own endpoint (variant_endpoint) drops them.
_ENDPOINT_LEVEL = {"variants", "shadow_variant", "scaling", "deployment", "data_capture", "async_inference"}


class EndpointBase(Strict):
    """What every endpoint has, whatever its server."""

    name: str = Field(pattern=NAME_PATTERN)
    instance_type: str | None = Field(None, description="e.g. ml.m5.xlarge; required unless serverless.")
    instance_count: int = Field(1, ge=1, le=100, description="Initial instance count (within scaling's range).")
    variant_name: str = Field("AllTraffic", pattern=VARIANT_NAME_PATTERN, description="The endpoint's own variant.")
    weight: float = Field(1.0, ge=0, description="Traffic weight of the endpoint's own variant beside `variants`.")
    inference_ami_version: InferenceAmiVersion | None = Field(
        None, description="InferenceAmiVersion of the variant (its NVIDIA driver and CUDA; docs/gpus.md). Unset: "
        "SageMaker's default for the instance family, or, when that driver cannot run the image, an AMI servekit "
        "picks that can (the synth table says so).",
    )
    scaling: Scaling | None = Field(None, description="Autoscaling of the instance counts; unset: fixed counts.")
    deployment: Deployment | None = Field(None, description="Traffic shifting of updates; unset: all at once.")
    alarms: Alarms = Field(default_factory=Alarms, description="CloudWatch alarms (on by default).")
    data_capture: DataCapture | None = Field(None, description="Request/response capture; unset: none.")
    async_inference: AsyncInference | None = Field(None, description="Queue requests, results to S3; unset: real-time.")
    serverless: Serverless | None = Field(None, description="No instances, CPU only; unset: instances.")
    multi_model: MultiModel | None = Field(None, description="Models loaded on demand from an S3 prefix.")
    network: Network = Field(default_factory=Network, description="VPC and network isolation (on by default).")
    container: ContainerOptions = Field(default_factory=ContainerOptions, description="Start timeouts, volume size.")
    # Each server adds `variants: list[<Server>Variant]` and `shadow_variant: <Server>Variant | None`.
    variants: list[Any] = Field(default_factory=list)
    shadow_variant: Any = None

    def variant_endpoint(self, variant: VariantBase) -> EndpointBase:
        """This endpoint as `variant` runs it: the variant's keys over the endpoint's, endpoint-level blocks dropped."""
        data = self.model_dump(exclude=_ENDPOINT_LEVEL)
        overrides = {k for k in variant.model_fields_set - {"name", "weight", "sampling_percent"}
                     if getattr(variant, k) is not None}
        data.update(variant.model_dump(include=overrides))
        data["variant_name"] = variant.name
        data["weight"] = 1.0  # a variant's weight (or shadow share) is its ResolvedVariant's, not its endpoint's
        return type(self).model_validate(data)

    def resolved_variants(self) -> list[ResolvedVariant]:
        """The endpoint's own variant, then `variants`, then the shadow (weight: its share of the production one's)."""
        out = [ResolvedVariant(self.variant_name, "production", self.weight, self)]
        for v in self.variants:
            out.append(ResolvedVariant(v.name, "production", 1.0 if v.weight is None else v.weight,
                                       self.variant_endpoint(v)))
        if self.shadow_variant is not None:
            share = (self.shadow_variant.sampling_percent or 100) / 100
            out.append(ResolvedVariant(self.shadow_variant.name, "shadow", self.weight * share,
                                       self.variant_endpoint(self.shadow_variant)))
        return out

    @property
    def uses_shared_bucket(self) -> bool:
        capture = self.data_capture is not None and self.data_capture.shared_bucket
        return capture or (self.async_inference is not None and self.async_inference.uses_shared_bucket)

    @model_validator(mode="after")
    def _check_base(self) -> EndpointBase:
        problems = _variant_problems(self)
        if not problems:
            production = [self, *(self.variant_endpoint(v) for v in self.variants)]
            problems = combination_problems(
                instance_type=self.instance_type,
                instance_counts=[e.instance_count for e in production],
                weights=[r.weight for r in self.resolved_variants() if r.role == "production"],
                has_shadow=self.shadow_variant is not None,
                scaling=self.scaling, deployment=self.deployment, alarms_enabled=self.alarms.enabled,
                data_capture=self.data_capture is not None, is_async=self.async_inference is not None,
                serverless=self.serverless is not None, multi_model=self.multi_model is not None,
                in_vpc=self.network.in_vpc, isolation=self.network.isolation,
                volume_size_set=self.container.volume_size_gb is not None,
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _variant_problems(ep: EndpointBase) -> list[str]:
    named = [("variants", i, v) for i, v in enumerate(ep.variants)]
    if ep.shadow_variant is not None:
        named.append(("shadow_variant", None, ep.shadow_variant))
    out = []
    names = [ep.variant_name] + [v.name for _, _, v in named]
    out += [str(p) for p in variant_rules.duplicate_names(names, own=ep.variant_name)]
    for field, i, v in named:
        where = f"{field}[{i}] ({v.name})" if i is not None else f"{field} ({v.name})"
        if field == "variants" and v.sampling_percent is not None:
            out.append(f"{where}.sampling_percent: only the shadow variant samples; use weight for a production one")
        if field == "shadow_variant" and v.weight is not None:
            out.append(f"{where}.weight: a shadow variant takes copies, not a share; use sampling_percent")
        if ep.multi_model is not None and ({"model", "models"} & v.model_fields_set):
            out.append(f"{where}: in multi-model mode the models come from multi_model.s3_prefix; remove the "
                       "variant's model")
        try:
            ep.variant_endpoint(v)
        except ValidationError as err:
            out += [f"{where}: {line}" for e in err.errors() for line in _describe(e)]
    return out

# ---------------------------------------------------------------------------------------------
# TensorFlow Serving
# ---------------------------------------------------------------------------------------------
class TfsTuning(Strict):
    """The TFS container's environment (docs/tfs.md lists them with their upstream sources). Defaults are the container's."""

    enable_batching: bool = Field(False, description="SAGEMAKER_TFS_ENABLE_BATCHING.")
    max_batch_size: int = Field(8, ge=1, description="SAGEMAKER_TFS_MAX_BATCH_SIZE.")
    batch_timeout_micros: int = Field(1000, ge=0, description="SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS, microseconds.")
    num_batch_threads: int | None = Field(None, ge=1, description="SAGEMAKER_TFS_NUM_BATCH_THREADS; unset = CPU count.")
    max_enqueued_batches: int | None = Field(
        None, ge=1, description="SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES; unset = CPU count."
    )
    server_processes: int = Field(
        1, ge=1, le=16, description="SAGEMAKER_TFS_INSTANCE_COUNT: TFS processes; process i gets GPU i % GPUs."
    )
    fractional_gpu_mem_margin: float | None = Field(
        None, ge=0.0, lt=1.0,
        description="SAGEMAKER_TFS_FRACTIONAL_GPU_MEM_MARGIN (container default 0.2); GPU only, applies when "
        "server_processes > 1.",
    )
    inter_op_parallelism: int = Field(0, ge=0, description="SAGEMAKER_TFS_INTER_OP_PARALLELISM; 0 = TF decides.")
    intra_op_parallelism: int = Field(0, ge=0, description="SAGEMAKER_TFS_INTRA_OP_PARALLELISM; 0 = TF decides.")
    wait_time_seconds: int | None = Field(
        None, ge=1, description="SAGEMAKER_TFS_WAIT_TIME_SECONDS; unset = 55 // server_processes."
    )
    gunicorn_workers: int = Field(1, ge=1, description="SAGEMAKER_GUNICORN_WORKERS (front-end python service).")
    gunicorn_threads: int = Field(1, ge=1, description="SAGEMAKER_GUNICORN_THREADS.")
    gunicorn_timeout_seconds: int = Field(30, ge=1, description="SAGEMAKER_GUNICORN_TIMEOUT_SECONDS.")
    nginx_proxy_read_timeout_seconds: int = Field(60, ge=1, description="SAGEMAKER_NGINX_PROXY_READ_TIMEOUT_SECONDS.")
    handler_protocol: Literal["rest", "grpc"] = Field(
        "rest",
        description="SAGEMAKER_TFS_HANDLER_PROTOCOL, read by servekit's TFS handler (code/inference.py): how it "
        "calls TensorFlow Serving. rest = its REST API with JSON (the container's own path); grpc = the "
        "PredictionService with TensorProtos, which skips writing and parsing the tensor as JSON (docs/tfs.md: "
        "x-npy p50 8 ms over gRPC vs 279 ms over REST in the local emulation); it uses tensorflow-serving-api, "
        "which the TFS DLC ships (a core package of the 2.19 image). Set only when grpc.",
    )

    def to_environment(self, default_model_name: str) -> dict[str, str]:
        env = {
            "SAGEMAKER_TFS_DEFAULT_MODEL_NAME": default_model_name,
            "SAGEMAKER_TFS_ENABLE_BATCHING": _bool_env(self.enable_batching),
            "SAGEMAKER_TFS_INSTANCE_COUNT": str(self.server_processes),
            "SAGEMAKER_GUNICORN_WORKERS": str(self.gunicorn_workers),
            "SAGEMAKER_GUNICORN_THREADS": str(self.gunicorn_threads),
            "SAGEMAKER_GUNICORN_TIMEOUT_SECONDS": str(self.gunicorn_timeout_seconds),
            "SAGEMAKER_NGINX_PROXY_READ_TIMEOUT_SECONDS": str(self.nginx_proxy_read_timeout_seconds),
        }
        if self.enable_batching:
            # The batching variables are read only when batching is on; setting them otherwise
            # would suggest to a reviewer that they do something.
            env["SAGEMAKER_TFS_MAX_BATCH_SIZE"] = str(self.max_batch_size)
            env["SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS"] = str(self.batch_timeout_micros)
            if self.num_batch_threads is not None:
                env["SAGEMAKER_TFS_NUM_BATCH_THREADS"] = str(self.num_batch_threads)
            if self.max_enqueued_batches is not None:
                env["SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES"] = str(self.max_enqueued_batches)
        if self.fractional_gpu_mem_margin is not None:
            env["SAGEMAKER_TFS_FRACTIONAL_GPU_MEM_MARGIN"] = str(self.fractional_gpu_mem_margin)
        if self.inter_op_parallelism:
            env["SAGEMAKER_TFS_INTER_OP_PARALLELISM"] = str(self.inter_op_parallelism)
        if self.intra_op_parallelism:
            env["SAGEMAKER_TFS_INTRA_OP_PARALLELISM"] = str(self.intra_op_parallelism)
        if self.wait_time_seconds is not None:
            env["SAGEMAKER_TFS_WAIT_TIME_SECONDS"] = str(self.wait_time_seconds)
        if self.handler_protocol != "rest":
            env["SAGEMAKER_TFS_HANDLER_PROTOCOL"] = self.handler_protocol
        return env


class TfsModel(Strict):
    """One SavedModel in a TFS archive: `<name>/<version>/saved_model.pb` at the archive root."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    version: int = Field(1, ge=1)
    source: ModelSource


class TfsVariant(VariantBase):
    """A TFS variant: VariantBase's keys plus the TFS endpoint's `models`, `default_model` and `tuning`."""

    models: list[TfsModel] | None = Field(None, min_length=1, description="Replaces the endpoint's models.")
    default_model: str | None = None
    tuning: TfsTuning | None = Field(None, description="Replaces the endpoint's tuning.")


class TfsEndpointSpec(EndpointBase):
    server: Literal["tfs"]
    image_version: str = Field("2.19", description="tensorflow-inference DLC version.")
    models: list[TfsModel] = Field(min_length=1, description="Several SavedModels share one archive.")
    default_model: str | None = Field(
        None, description="Model that answers requests without tfs-model-name; default: the first listed."
    )
    tuning: TfsTuning = Field(default_factory=TfsTuning)
    variants: list[TfsVariant] = Field(default_factory=list, description="More production variants (A/B tests).")
    shadow_variant: TfsVariant | None = Field(None, description="Takes copies of the production traffic.")

    @property
    def default_model_name(self) -> str:
        return self.default_model or self.models[0].name

    @model_validator(mode="after")
    def _check(self) -> TfsEndpointSpec:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names {dupes} appear twice; give each model in `models` its own name")
        if self.default_model is not None and self.default_model not in names:
            raise ValueError(f"default_model {self.default_model!r} is none of {names}; name one of them")
        allowed = {"example", "saved_model", "keras", "archive", "s3"}
        for m in self.models:
            if m.source.kind not in allowed:
                raise ValueError(f"models[{m.name}].source.kind {m.source.kind!r} cannot serve on TFS; use one of "
                                 f"{sorted(allowed)}")
        if len(self.models) > 1 and any(m.source.kind in ("archive", "s3") for m in self.models):
            raise ValueError("an archive or s3 source is a whole model.tar.gz: list it as the only model")
        return self


# ---------------------------------------------------------------------------------------------
# TorchServe (through the SageMaker PyTorch inference toolkit)
# ---------------------------------------------------------------------------------------------
class TorchServeTuning(Strict):
    """SAGEMAKER_TS_* and friends (docs/torchserve.md lists them with their upstream sources). Defaults are the toolkit's."""

    batch_size: int = Field(1, ge=1, description="SAGEMAKER_TS_BATCH_SIZE (TorchServe batchSize).")
    max_batch_delay_ms: int = Field(
        100, ge=0, description="SAGEMAKER_TS_MAX_BATCH_DELAY, milliseconds (the book says microseconds: wrong)."
    )
    min_workers: int = Field(1, ge=1, description="SAGEMAKER_TS_MIN_WORKERS, workers per model.")
    max_workers: int = Field(1, ge=1, description="SAGEMAKER_TS_MAX_WORKERS, workers per model.")
    response_timeout_seconds: int = Field(
        60, ge=1, description="SAGEMAKER_TS_RESPONSE_TIMEOUT and TS_DEFAULT_RESPONSE_TIMEOUT, seconds (multi-model "
        "endpoints: the latter only).")
    default_accept: str = Field("application/json", description="SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT.")
    omp_num_threads: int | None = Field(
        None, ge=1, le=192,
        description="OMP_NUM_THREADS: torch's intra-op threads in each TorchServe worker (TorchServe passes its "
        "environment to the workers). Unset = torch's default, one per vCPU in every worker, which oversubscribes "
        "the CPU when max_workers > 1 or beside the Java frontend; vCPUs / max_workers is a good start "
        "(docs/performance.md: 1 thread doubled throughput on 2 vCPUs).",
    )
    batched_forward: bool = Field(
        False,
        description="Route TorchServe batches to the handler's handle() (TS_DEFAULT_SERVICE_HANDLER=inference:handle) "
        "for one forward pass per batch; the stock toolkit calls the model once per request even when batch_size > 1. "
        "Needs a servekit handler (question-answering, vision) or your own handle(data, context).",
    )

    @model_validator(mode="after")
    def _check(self) -> TorchServeTuning:
        if self.min_workers > self.max_workers:
            raise ValueError(
                f"min_workers {self.min_workers} > max_workers {self.max_workers}; raise max_workers or lower min_workers"
            )
        return self

    def to_environment(self, program: str, *, multi_model: bool = False) -> dict[str, str]:
        env = {
            "SAGEMAKER_PROGRAM": program,
            "SAGEMAKER_TS_BATCH_SIZE": str(self.batch_size),
            "SAGEMAKER_TS_MAX_BATCH_DELAY": str(self.max_batch_delay_ms),
            "SAGEMAKER_TS_MIN_WORKERS": str(self.min_workers),
            "SAGEMAKER_TS_MAX_WORKERS": str(self.max_workers),
            "SAGEMAKER_TS_RESPONSE_TIMEOUT": str(self.response_timeout_seconds),
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": self.default_accept,
            # Toolkit 2.0.25's bundled properties files (single- and multi-model) end without a newline, so
            # the toolkit's own `enable_model_api=true` and `default_response_timeout` are glued into one
            # bad line and lost. They set enable_envvars_config=true, so TorchServe's TS_* overrides work.
            "TS_ENABLE_MODEL_API": "true",
            "TS_DEFAULT_RESPONSE_TIMEOUT": str(self.response_timeout_seconds),
        }
        if self.omp_num_threads is not None:
            env["OMP_NUM_THREADS"] = str(self.omp_num_threads)
        if multi_model:
            # The toolkit applies SAGEMAKER_TS_* to single-model endpoints only: leave out what does nothing.
            env = {k: v for k, v in env.items() if not k.startswith("SAGEMAKER_TS_")}
            env["SAGEMAKER_MULTI_MODEL"] = "true"
            return env
        if self.batched_forward:
            env["TS_DEFAULT_SERVICE_HANDLER"] = f"{program.removesuffix('.py')}:handle"
        return env


class TorchServeModel(Strict):
    source: ModelSource
    handler: str = Field(
        "auto",
        description="`question-answering`, `vision`, `auto` (chosen from the source) or a path to your own "
        "inference.py, copied into the archive as code/inference.py.",
    )
    requirements: list[str] = Field(
        default_factory=list, description="Extra pinned lines for code/requirements.txt (pip installs them at start)."
    )
    labels: list[str] = Field(default_factory=list, description="Class labels for the vision handler's top-k output.")

    @model_validator(mode="after")
    def _check(self) -> TorchServeModel:
        allowed = {"example", "torchscript", "state_dict", "huggingface", "archive", "s3"}
        if self.source.kind not in allowed:
            raise ValueError(f"source.kind {self.source.kind!r} cannot serve on TorchServe; use one of {sorted(allowed)}")
        for line in self.requirements:
            if not re.match(r"^[A-Za-z0-9_.\-\[\],]+==[\w.+!-]+$", line):
                raise ValueError(f"requirements line {line!r} is not pinned; write it as name==version")
        return self


class TorchServeVariant(VariantBase):
    """A TorchServe variant: VariantBase's keys plus the TorchServe endpoint's `model` and `tuning`."""

    model: TorchServeModel | None = Field(None, description="Replaces the endpoint's model.")
    tuning: TorchServeTuning | None = Field(None, description="Replaces the endpoint's tuning.")


class TorchServeEndpointSpec(EndpointBase):
    server: Literal["torchserve"]
    image_version: str = Field("2.6", description="pytorch-inference DLC version.")
    model: TorchServeModel
    tuning: TorchServeTuning = Field(default_factory=TorchServeTuning)
    variants: list[TorchServeVariant] = Field(default_factory=list, description="More production variants.")
    shadow_variant: TorchServeVariant | None = Field(None, description="Takes copies of the production traffic.")


# ---------------------------------------------------------------------------------------------
# Triton
# ---------------------------------------------------------------------------------------------
class TritonTensor(Strict):
    name: str = Field(pattern=r"^[A-Za-z_][\w.]*$")
    data_type: str = Field(description="Triton data type, e.g. TYPE_FP32.")
    dims: list[int] = Field(min_length=1, description="Without the batch dimension when max_batch_size > 0; -1 = any.")

    @field_validator("data_type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in TRITON_TYPES:
            raise ValueError(f"unknown Triton data type {v!r}; use one of {', '.join(TRITON_TYPES)}")
        return v

    @field_validator("dims")
    @classmethod
    def _dims(cls, v: list[int]) -> list[int]:
        if any(d == 0 or d < -1 for d in v):
            raise ValueError(f"dims {v} must be positive or -1 (variable)")
        return v


class DynamicBatching(Strict):
    preferred_batch_size: list[int] = Field(default_factory=list)
    max_queue_delay_microseconds: int = Field(0, ge=0)


class InstanceGroup(Strict):
    count: int = Field(1, ge=1)
    kind: Literal["KIND_AUTO", "KIND_CPU", "KIND_GPU"] = "KIND_AUTO"


class TensorRTAccelerator(Strict):
    """ONNX Runtime's TensorRT execution provider, built by Triton at load on the GPU it runs on."""

    precision_mode: Literal["FP32", "FP16"] = "FP16"
    max_workspace_size_bytes: int = Field(1 << 30, ge=1 << 20)


class TensorRTBuild(Strict):
    """torch_tensorrt.compile options: a plan specific to the GPU it was built on."""

    min_batch: int = Field(1, ge=1)
    opt_batch: int = Field(8, ge=1)
    precisions: list[Literal["fp32", "fp16", "int8"]] = Field(default_factory=lambda: ["fp16"])


class TritonModel(Strict):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    source: ModelSource
    format: Literal["torchscript", "onnx", "tensorrt"] = Field(
        "torchscript", description="torchscript → pytorch_libtorch, onnx → onnxruntime_onnx, tensorrt → tensorrt_plan."
    )
    max_batch_size: int = Field(8, ge=0, description="0 = the model takes no batch dimension (no batching).")
    inputs: list[TritonTensor] = Field(min_length=1)
    outputs: list[TritonTensor] = Field(min_length=1)
    dynamic_batching: DynamicBatching | None = None
    instance_group: InstanceGroup = Field(default_factory=InstanceGroup)
    onnx_tensorrt_accelerator: TensorRTAccelerator | None = Field(
        None, description="Only with format onnx: let ONNX Runtime build TensorRT engines at load (GPU)."
    )
    tensorrt: TensorRTBuild = Field(default_factory=TensorRTBuild, description="Only with format tensorrt.")
    version: int = Field(1, ge=1)
    version_policy_latest: int | None = Field(None, ge=1, description="Serve the N latest versions; default all.")

    @model_validator(mode="after")
    def _check(self) -> TritonModel:
        allowed = {"example", "torchscript", "state_dict", "onnx", "archive", "s3"}
        if self.source.kind not in allowed:
            raise ValueError(f"source.kind {self.source.kind!r} cannot serve on Triton; use one of {sorted(allowed)}")
        if self.dynamic_batching is not None:
            if self.max_batch_size == 0:
                raise ValueError("dynamic_batching needs max_batch_size > 0; set max_batch_size or drop dynamic_batching")
            bad = [p for p in self.dynamic_batching.preferred_batch_size if not 0 < p <= self.max_batch_size]
            if bad:
                raise ValueError(
                    f"dynamic_batching.preferred_batch_size {bad} outside 1..max_batch_size ({self.max_batch_size}); "
                    "Triton refuses to load such a model"
                )
        if self.onnx_tensorrt_accelerator is not None and self.format != "onnx":
            raise ValueError("onnx_tensorrt_accelerator needs format: onnx; with format tensorrt the plan is TensorRT already")
        if self.format == "tensorrt" and self.tensorrt.opt_batch > max(self.max_batch_size, 1):
            raise ValueError(f"tensorrt.opt_batch {self.tensorrt.opt_batch} > max_batch_size {self.max_batch_size}")
        return self


class TritonTuning(Strict):
    """SAGEMAKER_TRITON_* (docs/triton.md lists them with their upstream sources). Defaults are the container's."""

    thread_count: int = Field(8, ge=1, description="SAGEMAKER_TRITON_THREAD_COUNT.")
    buffer_manager_thread_count: int = Field(0, ge=0, description="SAGEMAKER_TRITON_BUFFER_MANAGER_THREAD_COUNT.")
    log_verbose: bool = Field(True, description="SAGEMAKER_TRITON_LOG_VERBOSE.")
    shm_default_byte_size: int = Field(16777216, ge=1, description="SAGEMAKER_TRITON_SHM_DEFAULT_BYTE_SIZE, bytes.")
    shm_growth_byte_size: int = Field(1048576, ge=1, description="SAGEMAKER_TRITON_SHM_GROWTH_BYTE_SIZE, bytes.")
    model_load_gpu_limit: float | None = Field(
        None, gt=0.0, le=1.0, description="SAGEMAKER_TRITON_MODEL_LOAD_GPU_LIMIT, fraction per GPU; GPU only."
    )
    ping_mode: Literal["ready", "live"] | None = Field(None, description="SAGEMAKER_TRITON_OVERRIDE_PING_MODE.")

    def to_environment(self, default_model_name: str, *, multi_model: bool = False) -> dict[str, str]:
        env = {
            # In multi-model mode the serve script ignores the default model (each TargetModel is its own
            # repository, loaded on demand) and SageMaker wants SAGEMAKER_MULTI_MODEL exactly "true".
            **({"SAGEMAKER_MULTI_MODEL": "true"} if multi_model else
               {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": default_model_name}),
            "SAGEMAKER_TRITON_THREAD_COUNT": str(self.thread_count),
            "SAGEMAKER_TRITON_BUFFER_MANAGER_THREAD_COUNT": str(self.buffer_manager_thread_count),
            "SAGEMAKER_TRITON_LOG_VERBOSE": _bool_env(self.log_verbose),
            "SAGEMAKER_TRITON_SHM_DEFAULT_BYTE_SIZE": str(self.shm_default_byte_size),
            "SAGEMAKER_TRITON_SHM_GROWTH_BYTE_SIZE": str(self.shm_growth_byte_size),
        }
        if self.model_load_gpu_limit is not None:
            env["SAGEMAKER_TRITON_MODEL_LOAD_GPU_LIMIT"] = str(self.model_load_gpu_limit)
        if self.ping_mode is not None:
            env["SAGEMAKER_TRITON_OVERRIDE_PING_MODE"] = self.ping_mode
        return env


class TritonVariant(VariantBase):
    """A Triton variant: VariantBase's keys plus the Triton endpoint's `model` and `tuning`."""

    model: TritonModel | None = Field(None, description="Replaces the endpoint's model.")
    tuning: TritonTuning | None = Field(None, description="Replaces the endpoint's tuning.")


class TritonEndpointSpec(EndpointBase):
    server: Literal["triton"]
    image_version: str = Field("25.09", description="sagemaker-tritonserver DLC version.")
    model: TritonModel
    tuning: TritonTuning = Field(default_factory=TritonTuning)
    variants: list[TritonVariant] = Field(default_factory=list, description="More production variants.")
    shadow_variant: TritonVariant | None = Field(None, description="Takes copies of the production traffic.")


Endpoint = Annotated[TfsEndpointSpec | TorchServeEndpointSpec | TritonEndpointSpec, Field(discriminator="server")]


class AppConfig(Strict):
    name: str = Field("servekit", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,30}$", description="Prefix of stack names.")
    env_name: str = Field("dev", pattern=r"^[a-z][a-z0-9]{0,15}$", description="Environment: dev, staging, prod...")
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    account: str | None = Field(None, pattern=r"^\d{12}$", description="Unset = environment-agnostic stacks.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags on every stack's resources.")
    kms_key_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$",
        description="Existing key for endpoint volumes, captured data and async results; unset = one key created "
        "in the shared stack.",
    )


    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        # "The aws: prefix is reserved for AWS use" (AWS, tag-editor/latest/userguide/tagging.html, tag naming
        # limits); CloudFormation refuses such a key at deploy. Tag keys are 1-128 characters, values 0-256.
        for key, value in v.items():
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag key {key!r} starts with the reserved prefix 'aws:', which CloudFormation "
                                 "refuses; rename it (e.g. without the prefix)")
            if not 1 <= len(key) <= 128 or len(str(value)) > 256:
                raise ValueError(f"tag {key!r}: keys are 1-128 characters and values up to 256; shorten it")
        return v


class ServekitConfig(Strict):
    app: AppConfig = Field(default_factory=AppConfig)
    endpoints: list[Endpoint] = Field(min_length=1)
    pipeline: PipelineConfig | None = Field(None, description="CDK Pipelines deployment; unset = no pipeline stack.")

    @model_validator(mode="after")
    def _check(self) -> ServekitConfig:
        names = [e.name for e in self.endpoints]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"endpoint names {dupes} appear twice; give each endpoint its own name")
        return self


# ---------------------------------------------------------------------------------------------
# Cross-field checks that need the image and instance tables: run after the schema, so each is one
# clear line. Each variant is checked as it runs (its own instance type, image and settings).
# ---------------------------------------------------------------------------------------------
def _semantic_problems(config: ServekitConfig) -> list[str]:
    problems: list[str] = []
    for i, ep in enumerate(config.endpoints):
        problems += _endpoint_semantics(i, ep, config.app)
    return problems


def _endpoint_semantics(i: int, ep: EndpointBase, app: AppConfig) -> list[str]:
    problems: list[str] = []
    where = f"endpoints[{i}] ({ep.name})"
    full_name = f"{app.name}-{app.env_name}-{ep.name}"
    if len(full_name) > 63:
        problems.append(f"{where}.name: the endpoint would be named {full_name!r} ({len(full_name)} characters), "
                        "over SageMaker's 63; shorten the endpoint, app.name or app.env_name")
    for j, variant in enumerate(ep.resolved_variants()):
        at = where if j == 0 else f"{where}.{_variant_field(ep, variant.name)}"
        problems += [f"{at}.{p}" for p in _variant_semantics(ep, variant, app.region)]
    return problems


def endpoint_problems(ep: EndpointBase, app: AppConfig | None = None) -> list[str]:
    """The checks after the schema for one endpoint (images, instance facts, GPU compatibility), e.g. for a
    setting `servekit bench --sweep` changes; `app` defaults to AppConfig() (its region)."""
    return _endpoint_semantics(0, ep, app or AppConfig())


def _semantics_beside_schema_errors(data: dict[str, Any], err: ValidationError) -> list[str]:
    """When the schema refuses some endpoints, the endpoints it accepts are still checked against the image and
    instance tables, so that one run of validate lists their problems too instead of one round per stage."""
    try:
        app = AppConfig.model_validate(data.get("app") or {})
    except ValidationError:
        return []  # the region is part of every image check: wait for a valid app block
    endpoints = data.get("endpoints")
    if not isinstance(endpoints, list):
        return []
    refused = {e["loc"][1] for e in err.errors() if len(e["loc"]) > 1 and e["loc"][0] == "endpoints"}
    adapter = TypeAdapter(Endpoint)
    problems: list[str] = []
    for i, raw in enumerate(endpoints):
        if i in refused:
            continue
        try:
            ep = adapter.validate_python(raw)
        except ValidationError:
            continue  # reported by the schema already
        problems += _endpoint_semantics(i, ep, app)
    return problems


def _variant_field(ep: EndpointBase, name: str) -> str:
    if ep.shadow_variant is not None and ep.shadow_variant.name == name:
        return f"shadow_variant ({name})"
    return f"variants[{[v.name for v in ep.variants].index(name)}] ({name})"


def facts_of(ep: EndpointBase) -> images.InstanceFacts | None:
    """The instance facts a variant runs on: serverless has those of "no GPU" (servekit.images.SERVERLESS)."""
    return images.SERVERLESS if ep.serverless is not None else images.instance_facts(ep.instance_type or "")


def _variant_semantics(parent: EndpointBase, variant: ResolvedVariant, region: str) -> list[str]:
    ep = variant.endpoint
    out: list[str] = []
    facts = facts_of(ep)
    if facts is None:
        return [f"instance_type: {ep.instance_type!r} is not a SageMaker instance type servekit knows; use one like "
                f"ml.m5.xlarge or ml.g5.xlarge{images.suggest_instance_type(ep.instance_type or '')}"]
    try:
        images.image_uri(ep.server, ep.image_version, region, ep.instance_type)
    except images.ImageError as err:
        out.append(f"image_version: {ep.image_version!r}: {err}")
    out += [str(p) for p in gpu_verdict(ep).problems if p.severity == "error"]
    if not facts.gpus:
        out += _gpu_only_settings(ep, ep.instance_type or "serverless inference (CPU only)")
    scaling = parent.scaling
    if scaling is not None and variant.role == "production":
        if facts.burstable:
            out.append(f"scaling: {ep.instance_type} is burstable (CPU credits), which makes scaling on load "
                       "unreliable; use an m5/c5 or GPU type, or remove scaling")
        if scaling.target_gpu_utilization_percent is not None and not facts.gpus:
            out.append(f"scaling.target_gpu_utilization_percent: {ep.instance_type} has no GPU; remove it or use a "
                       "GPU instance type")
    out += [str(p) for p in variant_rules.nvme_volume(ep.instance_type, facts.nvme, ep.container.volume_size_gb)]
    if ep.multi_model is not None:
        problem = images.multi_model_problem(ep.server, facts)
        if problem:
            out.append(f"multi_model: {problem}")
        if isinstance(ep, TorchServeEndpointSpec):
            out += _torchserve_multi_model_problems(ep)
    return out


def _torchserve_multi_model_problems(ep: TorchServeEndpointSpec) -> list[str]:
    # The PyTorch toolkit applies SAGEMAKER_TS_* only to single-model endpoints and, in multi-model mode,
    # never runs pip on a model's code/requirements.txt (it installs only /opt/ml/model/code's at start).
    out = []
    # response_timeout_seconds is not among them: it also becomes TS_DEFAULT_RESPONSE_TIMEOUT, which TorchServe
    # reads itself because the toolkit's mme-ts.properties sets enable_envvars_config=true (toolkit 2.0.25,
    # sagemaker_pytorch_serving_container/etc/mme-ts.properties).
    ignored = sorted(ep.tuning.model_fields_set & {"batch_size", "max_batch_delay_ms", "min_workers", "max_workers"})
    if ignored:
        out.append(f"tuning: {', '.join(ignored)} are ignored by the PyTorch toolkit in multi-model mode (it applies "
                   "SAGEMAKER_TS_* to single-model endpoints only); remove them")
    if ep.tuning.batched_forward:
        out.append("tuning.batched_forward: not supported in multi-model mode; remove it")
    from servekit.model_build import handlers  # lazily: model_build's builder imports this module

    try:
        key = handlers.torchserve_handler(ep.model)
        lines = handlers.requirements_lines(key if key in handlers.HANDLER_FILES else "custom", ep.model.requirements)
    except handlers.HandlerError:
        return out  # the build reports a bad handler with its own fix
    if lines:
        out.append(f"model: its handler needs {', '.join(lines)} from code/requirements.txt, which the toolkit never "
                   "installs in multi-model mode; use a handler that needs only the image's packages, or a single-model "
                   "endpoint")
    return out


def gpu_verdict(ep: EndpointBase) -> gpu_rules.GpuVerdict:
    """servekit.rules.gpu's verdict on a variant as it runs (serverless: no GPU)."""
    return gpu_rules.check(ep.server, ep.image_version, ep.instance_type if ep.serverless is None else None,
                           ep.inference_ami_version)


def advisories(config: ServekitConfig) -> list[str]:
    """What a valid config deploys on facts servekit could not confirm, and the AMIs it picks: one line each,
    printed by `validate` as warnings (synth shows the same as construct warnings)."""
    out = []
    for i, ep in enumerate(config.endpoints):
        where = f"endpoints[{i}] ({ep.name})"
        for j, variant in enumerate(ep.resolved_variants()):
            at = where if j == 0 else f"{where}.{_variant_field(ep, variant.name)}"
            verdict = gpu_verdict(variant.endpoint)
            out += [f"{at}.{p}" for p in verdict.problems if p.severity == "warning"]
            if verdict.picked_because:
                out.append(f"{at}.inference_ami_version: servekit sets {verdict.ami}: {verdict.picked_because}")
    return out


def _gpu_only_settings(ep: Any, where: str) -> list[str]:
    out = [str(p) for p in variant_rules.gpu_only(where, False, gpu_only_tuning(ep))]
    if isinstance(ep, TritonEndpointSpec):
        if ep.model.instance_group.kind == "KIND_GPU":
            out.append(f"model.instance_group.kind: 'KIND_GPU' on {where}, which has no GPU; use KIND_CPU "
                       "or KIND_AUTO, or a GPU instance type")
        if ep.model.format == "tensorrt":
            out.append(f"model.format: 'tensorrt' plans run only on GPUs, and {where} has none; use "
                       "format: onnx or torchscript, or a GPU instance type")
        if ep.model.onnx_tensorrt_accelerator is not None:
            out.append(f"model.onnx_tensorrt_accelerator: set on {where}, which has no GPU; {variant_rules.GPU_FIX}")
    return out


def gpu_only_tuning(ep: Any) -> dict[str, object]:
    """The tuning settings of `ep` that only a GPU can use (the constructs check the same ones)."""
    if isinstance(ep, TfsEndpointSpec):
        return {"tuning.fractional_gpu_mem_margin": ep.tuning.fractional_gpu_mem_margin}
    if isinstance(ep, TritonEndpointSpec):
        return {"tuning.model_load_gpu_limit": ep.tuning.model_load_gpu_limit}
    return {}


# ---------------------------------------------------------------------------------------------
# Loading, with one line per problem
# ---------------------------------------------------------------------------------------------
class ConfigError(Exception):
    """A servekit.yaml that must not reach CloudFormation. `problems` holds one line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("tfs", "torchserve", "triton") or str(part) in (
            "example", "saved_model", "keras", "torchscript", "state_dict", "huggingface", "onnx", "archive", "s3",
        ):
            continue  # the discriminator's tag in pydantic's path: noise for a reader of the YAML
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _allowed_keys(model: type[BaseModel] | None) -> list[str]:
    return sorted(model.model_fields) if model else []


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of `loc` (to list the allowed keys)."""
    current: Any = ServekitConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in ("tfs", "torchserve", "triton"):
            current = {"tfs": TfsEndpointSpec, "torchserve": TorchServeEndpointSpec, "triton": TritonEndpointSpec}[part]
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = _first_model(current.model_fields[part].annotation)
        else:
            found = _source_by_kind(part)
            if found is None:
                return None
            current = found
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _source_by_kind(kind: Any) -> type[BaseModel] | None:
    for cls in (ExampleSource, SavedModelSource, KerasSource, TorchScriptSource, StateDictSource,
                HuggingFaceSource, OnnxSource, ArchiveSource, S3Source):
        if cls.model_fields["kind"].annotation.__args__[0] == kind:
            return cls
    return None


def _first_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    meta = getattr(annotation, "__origin__", None)
    return _first_model(meta) if meta not in (None, Union, list, dict) else None


def _describe(err: dict[str, Any]) -> list[str]:
    """One line per problem; a cross-field rule may report several, one per line of its message."""
    field = _loc(tuple(err["loc"]))
    if err["type"] == "value_error":
        return [f"{field}: {line}" for line in err["msg"].removeprefix("Value error, ").split("\n")]
    return [_describe_one(err, field)]


def _describe_one(err: dict[str, Any], field: str) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(_model_at(loc))
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"{field}: unknown key (value {value!r}); remove it — {hint}"
    if kind == "missing":
        return f"{field}: required and missing; add it"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"{field}: {ctx.get('tag')!r} is not one of {ctx.get('expected_tags')}; use one of them"
    if kind == "union_tag_not_found":
        return f"{field}: needs its `{err.get('ctx', {}).get('discriminator', 'kind')}` key; add it"
    msg = err["msg"]
    shown = value if not isinstance(value, dict | list) else "(block)"
    if kind == "string_pattern_mismatch":
        return f"{field}: {value!r} does not match {err['ctx']['pattern']}; rename it to match"
    return f"{field}: {shown!r}: {msg}; fix the value"


def parse(data: Any, source: str = "servekit.yaml") -> ServekitConfig:
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping with `app` and `endpoints`; see docs/configuration.md"])
    try:
        config = ServekitConfig.model_validate(data)
    except ValidationError as err:
        problems = [line for e in err.errors() for line in _describe(e)]
        raise ConfigError(source, problems + _semantics_beside_schema_errors(data, err)) from None
    problems = _semantic_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def load(path: str | Path) -> ServekitConfig:
    """Read and validate servekit.yaml. Relative model paths are resolved against the file's folder."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(str(path), [f"(file): cannot read it ({err.strerror}); pass the path of your servekit.yaml"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigError(str(path), [f"(yaml): not valid YAML at {where}: {getattr(err, 'problem', err)}; fix the syntax"]) from None
    config = resolve_paths(parse(data, str(path)), path.parent)
    problems = local_path_problems(config)
    if problems:
        raise ConfigError(str(path), problems)
    return config


_FOLDER_SOURCES = {"saved_model", "huggingface"}


def local_path_problems(config: ServekitConfig) -> list[str]:
    """Every local source path and handler file must exist before anything is built: one line for each that
    does not (paths are resolved against the config file's folder)."""
    out = []
    for i, ep in enumerate(config.endpoints):
        where = f"endpoints[{i}] ({ep.name})"
        owners = [("", ep)] + [(f".{_variant_field(ep, v.name)}", v) for v in
                               [*ep.variants, *([ep.shadow_variant] if ep.shadow_variant else [])]]
        for at, owner in owners:
            models = [(f"models[{j}] ({m.name})", m) for j, m in enumerate(getattr(owner, "models", None) or [])]
            if getattr(owner, "model", None) is not None:
                models.append(("model", owner.model))
            for field, model in models:
                path = getattr(model.source, "path", None)
                if path is not None:
                    folder = model.source.kind in _FOLDER_SOURCES
                    if not (path.is_dir() if folder else path.is_file()):
                        what = "folder" if folder else "file"
                        out.append(f"{where}{at}.{field}.source.path: {str(path)!r} is not an existing {what}; give "
                                   f"the path of the {model.source.kind} {what} (relative to servekit.yaml)")
                handler = getattr(model, "handler", "")
                if handler.endswith(".py") and not Path(handler).is_file():
                    out.append(f"{where}{at}.{field}.handler: {handler!r} is not an existing file; give the path "
                               "of your inference.py (relative to servekit.yaml)")
    return out


def resolve_paths(config: ServekitConfig, base: Path) -> ServekitConfig:
    """Make every local source path absolute, relative to the config file, so builds don't depend on cwd."""

    def fix(source: Any) -> Any:
        if hasattr(source, "path") and not source.path.is_absolute():
            return source.model_copy(update={"path": (base / source.path).resolve()})
        return source

    def fix_models(owner: Any) -> Any:
        """An endpoint or a variant, with its model sources (and own handler file) made absolute."""
        if getattr(owner, "models", None):
            return owner.model_copy(update={"models": [m.model_copy(update={"source": fix(m.source)})
                                                       for m in owner.models]})
        if getattr(owner, "model", None) is None:
            return owner
        update: dict[str, Any] = {"source": fix(owner.model.source)}
        handler = getattr(owner.model, "handler", None)
        if handler and handler.endswith(".py") and not Path(handler).is_absolute():
            update["handler"] = str((base / handler).resolve())  # the user's own inference.py
        return owner.model_copy(update={"model": owner.model.model_copy(update=update)})

    endpoints = []
    for ep in config.endpoints:
        shadow = fix_models(ep.shadow_variant) if ep.shadow_variant is not None else None
        endpoints.append(fix_models(ep).model_copy(
            update={"variants": [fix_models(v) for v in ep.variants], "shadow_variant": shadow}))
    return config.model_copy(update={"endpoints": endpoints})


def artifact_key(endpoint_name: str, variant_name: str, primary: bool) -> str:
    """The key of a variant's model data: the endpoint's name for its own variant, `endpoint/variant` else."""
    return endpoint_name if primary else f"{endpoint_name}/{variant_name}"


def artifact_endpoints(config: ServekitConfig) -> list[tuple[str, Any]]:
    """(key, endpoint as the variant runs it) for every variant whose model servekit builds: multi-model
    endpoints have none (their models live under multi_model.s3_prefix)."""
    out = []
    for ep in config.endpoints:
        if ep.multi_model is not None:
            continue
        for i, variant in enumerate(ep.resolved_variants()):
            out.append((artifact_key(ep.name, variant.name, i == 0), variant.endpoint))
    return out


# ---------------------------------------------------------------------------------------------
# Pipeline (optional): CDK Pipelines deploys the endpoints above to each environment on every push
# ---------------------------------------------------------------------------------------------
class PipelineRepository(Strict):
    """The source repository, read through a CodeStar/CodeConnections connection."""

    owner: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Owner: user, organisation or workspace.")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Repository name.")


class PipelineEnvironment(Strict):
    """One stage of the pipeline: the same endpoints, with this environment's name, account and region."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,15}$", description="Stage name, and env_name of its stacks and endpoints.")
    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    requires_approval: bool | None = Field(
        None, description="A manual approval before this stage deploys; unset = yes when the name starts with prod."
    )
    verify_role_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
        description="Role in `account` that the stage's verification assumes; needed when `account` is not the "
        "pipeline's.",
    )

    @property
    def approval(self) -> bool:
        return self.requires_approval if self.requires_approval is not None else self.name.startswith("prod")


class PipelineConfig(Strict):
    """CDK Pipelines: source through the connection, `make test` and `make synth`, then each environment in
    order, each verified with `servekit verify --deployed`."""

    connection_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]+$",
        description="CodeStar/CodeConnections connection; the pipeline is deployed in its account and region.",
    )
    repository: PipelineRepository
    branch: str = Field("main", pattern=r"^[^\s~^:?*\[\\]+$", description="Branch whose pushes run the pipeline.")
    environments: list[PipelineEnvironment] = Field(min_length=1, description="Deployed in this order.")

    @property
    def account(self) -> str:
        return self.connection_arn.split(":")[4]

    @property
    def region(self) -> str:
        return self.connection_arn.split(":")[3]

    @model_validator(mode="after")
    def _check(self) -> PipelineConfig:
        names = [e.name for e in self.environments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"environments {dupes} appear twice; give each environment its own name")
        for i, env in enumerate(self.environments):
            if env.verify_role_arn is not None and env.verify_role_arn.split(":")[4] != env.account:
                raise ValueError(f"environments[{i}] ({env.name}).verify_role_arn: the role must be in account "
                                 f"{env.account}; use a role of that account")
            if env.account != self.account and env.verify_role_arn is None:
                raise ValueError(
                    f"environments[{i}] ({env.name}): account {env.account} is not the pipeline's ({self.account}, "
                    "from connection_arn), so its verification needs verify_role_arn: a role in that account the "
                    "pipeline may assume, allowed sagemaker:DescribeEndpoint, sagemaker:InvokeEndpoint, "
                    "cloudformation:GetTemplate and cloudformation:DescribeStackResource"
                )
        return self


ServekitConfig.model_rebuild()
