"""The servekit.yaml schema of a Triton endpoint: the model (config.pbtxt's fields) and the serve script's
SAGEMAKER_TRITON_* tuning. TritonTuning.to_environment() is the one place where that mapping lives
(docs/triton.md lists the variables with their upstream sources)."""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_serializer, model_validator

from servekit.options import Strict
from servekit.spec.endpoint import EndpointBase, VariantBase, bool_env
from servekit.spec.sources import ModelSource

TRITON_TYPES = (
    "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8", "TYPE_INT16",
    "TYPE_INT32", "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16",
)


# The DLC version an endpoint runs unless it sets image_version (the constructs default to it too).
IMAGE_VERSION = "25.09"

class TritonTensor(Strict):
    name: str = Field(pattern=r"^[A-Za-z_][\w.]*$")
    data_type: str = Field(description="Triton data type, e.g. TYPE_FP32.")
    dims: list[int] = Field(min_length=1, description="Without the batch dimension when max_batch_size > 0; -1 = any.")
    reshape: list[int] | None = Field(
        None, description="The model's own shape of the tensor (batch excluded) where it differs from dims, the shape "
        "requests and answers carry: Triton reshapes between them (config.pbtxt reshape). [] with dims [1] serves a "
        "scalar per batch row, which dims alone cannot say. Unset: the model takes dims as they are.")

    @property
    def model_dims(self) -> list[int]:
        """The shape the model itself takes or returns (batch excluded): reshape when set, else dims."""
        return list(self.dims if self.reshape is None else self.reshape)

    @model_serializer(mode="wrap")
    def _without_unset_reshape(self, handler: Any) -> Any:
        # An unset reshape is left out of dumps, so artifact identities made before it existed stay as they were.
        data = handler(self)
        if self.reshape is None and isinstance(data, dict):
            data.pop("reshape", None)
        return data

    @model_validator(mode="after")
    def _reshape_fits(self) -> TritonTensor:
        if self.reshape is None:
            return self
        if any(d == 0 or d < -1 for d in self.reshape):
            raise ValueError(f"reshape {self.reshape} must be positive sizes or -1 (variable)")
        if -1 not in self.dims and -1 not in self.reshape and math.prod(self.dims) != math.prod(self.reshape):
            raise ValueError(f"reshape {self.reshape} holds {math.prod(self.reshape)} values but dims {self.dims} hold "
                             f"{math.prod(self.dims)}; Triton only reshapes, so both must hold the same number")
        return self

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


class ModelWarmup(Strict):
    """model_warmup in config.pbtxt: requests Triton runs at load, before the model reports ready, so the first
    real request does not pay for lazy initialisation (CUDA context, TensorRT or cuDNN autotuning)."""

    batch_size: int = Field(1, ge=1, description="Rows of each warmup request (within max_batch_size).")
    count: int = Field(1, ge=1, le=100, description="How many times each warmup request runs.")
    data: Literal["zero", "random"] = Field("zero", description="zero_data or random_data for every input.")


class TritonModelVersion(Strict):
    """Another version of the model, from its own source, in the same repository folder (<name>/<version>/)."""

    version: int = Field(ge=1)
    source: ModelSource


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
    version_policy_specific: list[int] | None = Field(
        None, min_length=1, description="Serve exactly these versions (version_policy.specific); default all.")
    more_versions: list[TritonModelVersion] = Field(
        default_factory=list, description="Other versions, each from its own source and checked against the same "
        "config (inputs, outputs, format); InvokeEndpoint is answered by the newest version the policy serves.")
    warmup: ModelWarmup | None = Field(None, description="model_warmup: requests run at load; unset: none.")
    response_cache: bool = Field(
        False, description="response_cache.enable: identical requests are answered from Triton's cache (the "
        "server's cache is sized by tuning.response_cache_bytes, which this needs).",
    )

    @model_validator(mode="after")
    def _check(self) -> TritonModel:
        allowed = {"example", "torchscript", "state_dict", "onnx", "archive", "s3"}
        if self.source.kind not in allowed:
            raise ValueError(f"source.kind {self.source.kind!r} cannot serve on Triton; use one of {sorted(allowed)}")
        for label, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            names = [t.name for t in tensors]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{label}: {repeated} named twice; a request addresses a tensor by its name, so give "
                                 "each its own")
        empty = [t.name for t in (*self.inputs, *self.outputs) if t.reshape == []]
        if empty and self.max_batch_size == 0:
            raise ValueError(f"{empty}: reshape [] on a model that does not batch is refused by Triton at load "
                             "(\"scalar tensors are not supported\"); set dims [1] without reshape (an ONNX model's "
                             "scalar is then carried through a Reshape servekit adds to the graph) or batch the model")
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
        versions = [self.version, *(v.version for v in self.more_versions)]
        if len(set(versions)) < len(versions):
            raise ValueError(f"versions {versions} repeat a number; give each version its own")
        for v in self.more_versions:
            if v.source.kind not in allowed:
                raise ValueError(f"more_versions (version {v.version}).source.kind {v.source.kind!r} cannot serve on "
                                 f"Triton; use one of {sorted(allowed)}")
        if self.version_policy_latest is not None and self.version_policy_specific is not None:
            raise ValueError("version_policy_latest and version_policy_specific are two policies; keep one")
        if self.version_policy_latest is not None and self.version_policy_latest > len(versions):
            raise ValueError(f"version_policy_latest {self.version_policy_latest} > the {len(versions)} version(s) "
                             "built; lower it or add more_versions")
        missing = sorted(set(self.version_policy_specific or ()) - set(versions))
        if missing:
            raise ValueError(f"version_policy_specific names versions {missing} that are not built (versions "
                             f"{sorted(versions)}); Triton fails to load a version it has no folder for")
        if self.warmup is not None and self.max_batch_size and self.warmup.batch_size > self.max_batch_size:
            raise ValueError(f"warmup.batch_size {self.warmup.batch_size} > max_batch_size {self.max_batch_size}; "
                             "Triton refuses the warmup and the model does not load")
        if self.warmup is not None and any(-1 in t.dims for t in self.inputs):
            raise ValueError("warmup needs fixed input dims (a -1 has no size to make data for); fix the dims or "
                             "remove warmup")
        if self.format == "tensorrt" and self.tensorrt.opt_batch > max(self.max_batch_size, 1):
            raise ValueError(f"tensorrt.opt_batch {self.tensorrt.opt_batch} > max_batch_size {self.max_batch_size}")
        return self


class EnsembleStep(Strict):
    """One step of an ensemble: a member model, its inputs fed from ensemble tensors and its outputs named as
    ensemble tensors (ensemble_scheduling.step; keys are the member's tensor names)."""

    model: str = Field(description="A member's name: `model`'s or one of `ensemble.members`.")
    input_map: dict[str, str] = Field(min_length=1, description="member input -> ensemble tensor it reads.")
    output_map: dict[str, str] = Field(min_length=1, description="member output -> ensemble tensor it writes.")


class Ensemble(Strict):
    """A Triton ensemble (platform "ensemble") over `model` and `members`, all built into one archive; it is the
    model the endpoint serves (SAGEMAKER_TRITON_DEFAULT_MODEL_NAME), and Triton loads its members with it."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", description="The ensemble's model name.")
    members: list[TritonModel] = Field(default_factory=list, description="Member models besides `model`, each "
                                       "built and checked as `model` is.")
    inputs: list[TritonTensor] = Field(min_length=1, description="What a request sends.")
    outputs: list[TritonTensor] = Field(min_length=1, description="What the answer holds.")
    steps: list[EnsembleStep] = Field(min_length=1, description="In order: each reads ensemble inputs or earlier "
                                      "steps' outputs.")


# Flags the container's serve script sets itself, or that a tuning switch sets (docker/sagemaker/serve in
# triton-inference-server/server): ADDITIONAL_ARGS must not repeat them.
SCRIPT_FLAGS = frozenset({
    "--model-repository", "--model-namespacing", "--sagemaker-port", "--sagemaker-safe-port-range", "--allow-grpc",
    "--allow-metrics", "--metrics-port", "--grpc-port", "--buffer-manager-thread-count", "--sagemaker-thread-count",
    "--log-verbose", "--log-info", "--log-warning", "--log-error", "--model-load-gpu-limit", "--load-model",
    "--allow-sagemaker", "--allow-http", "--model-control-mode", "--cache-config",
})


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
    log_info: bool | None = Field(None, description="SAGEMAKER_TRITON_LOG_INFO (--log-info); unset: Triton's (on).")
    log_warning: bool | None = Field(None, description="SAGEMAKER_TRITON_LOG_WARNING (--log-warning); unset: on.")
    log_error: bool | None = Field(None, description="SAGEMAKER_TRITON_LOG_ERROR (--log-error); unset: on.")
    allow_metrics: bool | None = Field(
        None, description="SAGEMAKER_TRITON_ALLOW_METRICS: Triton's Prometheus endpoint inside the container "
        "(SageMaker does not scrape it; for your own sidecar or debugging). Unset: off, as the script defaults.",
    )
    metrics_port: int | None = Field(None, ge=1024, le=65535, description="SAGEMAKER_TRITON_METRICS_PORT (--metrics-port).")
    allow_grpc: bool | None = Field(
        None, description="SAGEMAKER_TRITON_ALLOW_GRPC: Triton's gRPC endpoint inside the container (SageMaker "
        "routes only /invocations to it). Unset: off.",
    )
    grpc_port: int | None = Field(None, ge=1024, le=65535, description="SAGEMAKER_TRITON_GRPC_PORT (--grpc-port).")
    inference_type: Literal["infer", "generate", "generate_stream"] | None = Field(
        None, description="SAGEMAKER_TRITON_INFERENCE_TYPE: what /invocations maps to; unset: infer.")
    response_cache_bytes: int | None = Field(
        None, ge=1, description="Size of Triton's local response cache (--cache-config local,size=N, passed through "
        "SAGEMAKER_TRITON_ADDITIONAL_ARGS); needed by model.response_cache.",
    )
    additional_args: list[str] = Field(
        default_factory=list, description="More tritonserver flags (SAGEMAKER_TRITON_ADDITIONAL_ARGS), each "
        "--name=value; not the flags the serve script or the switches above set.",
    )

    @field_validator("additional_args")
    @classmethod
    def _args(cls, v: list[str]) -> list[str]:
        for arg in v:
            if not re.fullmatch(r"--[a-z][a-z0-9-]*(=\S+)?", arg):
                raise ValueError(f"additional_args {arg!r} is not one --name=value flag without spaces (the serve "
                                 "script splits the variable on whitespace); write each flag as its own item")
            flag = arg.split("=", 1)[0]
            if flag in SCRIPT_FLAGS:
                raise ValueError(f"additional_args {arg!r}: {flag} is set by the container's serve script or by a "
                                 "tuning switch; use the switch, or leave it to the script")
        return v

    @model_validator(mode="after")
    def _ports(self) -> TritonTuning:
        for port, allowed, name in ((self.metrics_port, self.allow_metrics, "metrics"),
                                    (self.grpc_port, self.allow_grpc, "grpc")):
            if port is not None and not allowed:
                raise ValueError(f"{name}_port {port} without allow_{name}: true opens nothing; set allow_{name}: true "
                                 f"or remove {name}_port")
        return self

    def to_environment(self, default_model_name: str, *, multi_model: bool = False) -> dict[str, str]:
        env = {
            # In multi-model mode the serve script ignores the default model (each TargetModel is its own
            # repository, loaded on demand) and SageMaker wants SAGEMAKER_MULTI_MODEL exactly "true".
            **({"SAGEMAKER_MULTI_MODEL": "true"} if multi_model else
               {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": default_model_name}),
            "SAGEMAKER_TRITON_THREAD_COUNT": str(self.thread_count),
            "SAGEMAKER_TRITON_BUFFER_MANAGER_THREAD_COUNT": str(self.buffer_manager_thread_count),
            "SAGEMAKER_TRITON_LOG_VERBOSE": bool_env(self.log_verbose),
            "SAGEMAKER_TRITON_SHM_DEFAULT_BYTE_SIZE": str(self.shm_default_byte_size),
            "SAGEMAKER_TRITON_SHM_GROWTH_BYTE_SIZE": str(self.shm_growth_byte_size),
        }
        if self.model_load_gpu_limit is not None:
            env["SAGEMAKER_TRITON_MODEL_LOAD_GPU_LIMIT"] = str(self.model_load_gpu_limit)
        if self.ping_mode is not None:
            env["SAGEMAKER_TRITON_OVERRIDE_PING_MODE"] = self.ping_mode
        switches = {"SAGEMAKER_TRITON_LOG_INFO": self.log_info, "SAGEMAKER_TRITON_LOG_WARNING": self.log_warning,
                    "SAGEMAKER_TRITON_LOG_ERROR": self.log_error, "SAGEMAKER_TRITON_ALLOW_METRICS": self.allow_metrics,
                    "SAGEMAKER_TRITON_ALLOW_GRPC": self.allow_grpc}
        env.update({k: bool_env(v) for k, v in switches.items() if v is not None})
        for key, value in (("SAGEMAKER_TRITON_METRICS_PORT", self.metrics_port),
                           ("SAGEMAKER_TRITON_GRPC_PORT", self.grpc_port),
                           ("SAGEMAKER_TRITON_INFERENCE_TYPE", self.inference_type)):
            if value is not None:
                env[key] = str(value)
        extra = [*([f"--cache-config=local,size={self.response_cache_bytes}"] if self.response_cache_bytes else []),
                 *self.additional_args]
        if extra:
            env["SAGEMAKER_TRITON_ADDITIONAL_ARGS"] = " ".join(extra)
        return env


class TritonVariant(VariantBase):
    """A Triton variant: VariantBase's keys plus the Triton endpoint's `model` and `tuning`."""

    model: TritonModel | None = Field(None, description="Replaces the endpoint's model.")
    tuning: TritonTuning | None = Field(None, description="Replaces the endpoint's tuning.")


class TritonEndpointSpec(EndpointBase):
    server: Literal["triton"]
    image_version: str = Field(IMAGE_VERSION, description="sagemaker-tritonserver DLC version.")
    model: TritonModel
    tuning: TritonTuning = Field(default_factory=TritonTuning)
    variants: list[TritonVariant] = Field(default_factory=list, description="More production variants.")
    shadow_variant: TritonVariant | None = Field(None, description="Takes copies of the production traffic.")

    ensemble: Ensemble | None = Field(None, description="Serve an ensemble of `model` and more members; unset: "
                                      "`model` alone.")

    @property
    def served_model_name(self) -> str:
        """The model /invocations runs (SAGEMAKER_TRITON_DEFAULT_MODEL_NAME): the ensemble, else `model`."""
        return self.ensemble.name if self.ensemble is not None else self.model.name

    @model_validator(mode="after")
    def _ensemble(self) -> TritonEndpointSpec:
        if self.ensemble is not None:
            problems = ensemble_problems(self.ensemble, [self.model, *self.ensemble.members])
            if problems:
                raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _cache(self) -> TritonEndpointSpec:
        if self.model.response_cache and self.tuning.response_cache_bytes is None:
            raise ValueError("model.response_cache needs a server cache: set tuning.response_cache_bytes (e.g. "
                             "104857600), which servekit passes as --cache-config local,size=N")
        return self


def _same_shape(a: list[int], b: list[int]) -> bool:
    """Shapes as Triton's ensemble check compares them: the same rank, each dim equal or either variable (-1)."""
    return len(a) == len(b) and all(x == y or -1 in (x, y) for x, y in zip(a, b, strict=True))


def ensemble_problems(ensemble: Ensemble, members: list[TritonModel]) -> list[str]:
    """What Triton refuses at load in an ensemble, one line each with the fix: unknown members, unmapped or unknown
    member tensors, tensors read before any step writes them, outputs nothing writes, and type mismatches."""
    by_name = {m.name: m for m in members}
    out = []
    if ensemble.name in by_name or len(by_name) < len(members):
        out.append(f"ensemble: model names {[m.name for m in members]} and ensemble {ensemble.name!r} must all differ")
    types = {t.name: t.data_type for t in ensemble.inputs}  # ensemble tensor -> its data type, as it is written
    # ensemble tensor -> (its shape as the ensemble sees it, who wrote it). The ensemble batches as its least member
    # does (render_ensemble: the smallest max_batch_size), so with a member that does not batch, a batching member's
    # tensors carry their batch dimension (-1) in the ensemble's shapes.
    batching = min(m.max_batch_size for m in members) > 0
    shapes: dict[str, tuple[list[int], str]] = {t.name: (list(t.dims), "the ensemble's inputs") for t in ensemble.inputs}
    used = set()
    for i, step in enumerate(ensemble.steps):
        at = f"ensemble.steps[{i}] ({step.model})"
        member = by_name.get(step.model)
        if member is None:
            out.append(f"{at}: no member named {step.model!r}; use one of {sorted(by_name)}")
            continue
        used.add(step.model)
        inputs = {t.name: t.data_type for t in member.inputs}
        outputs = {t.name: t.data_type for t in member.outputs}
        seen = {t.name: ([-1] if member.max_batch_size > 0 and not batching else []) + list(t.dims)
                for t in [*member.inputs, *member.outputs]}
        for name in sorted(set(step.input_map) - set(inputs)):
            out.append(f"{at}.input_map: {step.model} has no input {name!r}; its inputs are {sorted(inputs)}")
        for name in sorted(set(inputs) - set(step.input_map)):
            out.append(f"{at}.input_map: {step.model}'s input {name!r} is fed by nothing; map it to an ensemble tensor")
        for name, tensor in step.input_map.items():
            if tensor not in types:
                out.append(f"{at}.input_map: {tensor!r} is read before any step writes it (and is no ensemble input)")
            elif name in inputs and types[tensor] != inputs[name]:
                out.append(f"{at}.input_map: {tensor!r} is {types[tensor]} but {step.model}'s {name!r} is "
                           f"{inputs[name]}; make the types agree")
            elif name in inputs and not _same_shape(shapes[tensor][0], seen[name]):
                out.append(f"{at}.input_map: {tensor!r} has shape {shapes[tensor][0]} (from {shapes[tensor][1]}) but "
                           f"{step.model}'s {name!r} takes {seen[name]}; Triton refuses an ensemble tensor with two "
                           "shapes (\"inconsistent shape\"): make the dims agree (-1 matches any size)")
        for name, tensor in step.output_map.items():
            if name not in outputs:
                out.append(f"{at}.output_map: {step.model} has no output {name!r}; its outputs are {sorted(outputs)}")
                continue
            types[tensor] = outputs[name]
            shapes[tensor] = (seen[name], f"{step.model}'s {name!r}")
    for t in ensemble.outputs:
        if t.name not in types or t.name in {i.name for i in ensemble.inputs}:
            out.append(f"ensemble.outputs: {t.name!r} is written by no step; map a member output to it")
        elif types[t.name] != t.data_type:
            out.append(f"ensemble.outputs: {t.name!r} is {t.data_type} but the step writing it gives {types[t.name]}")
        elif not _same_shape(shapes[t.name][0], list(t.dims)):
            out.append(f"ensemble.outputs: {t.name!r} has dims {t.dims} but {shapes[t.name][1]} gives "
                       f"{shapes[t.name][0]}; make the dims agree (-1 matches any size)")
    unused = sorted(set(by_name) - used)
    if unused:
        out.append(f"ensemble: members {unused} are in no step; add a step or remove them")
    return out
