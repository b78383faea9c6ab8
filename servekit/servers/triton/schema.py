"""The servekit.yaml schema of a Triton endpoint: the model (config.pbtxt's fields) and the serve script's
SAGEMAKER_TRITON_* tuning. TritonTuning.to_environment() is the one place where that mapping lives
(docs/triton.md lists the variables with their upstream sources)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from servekit.options import Strict
from servekit.spec.endpoint import EndpointBase, VariantBase, bool_env
from servekit.spec.sources import ModelSource

TRITON_TYPES = (
    "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8", "TYPE_INT16",
    "TYPE_INT32", "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16",
)


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
            "SAGEMAKER_TRITON_LOG_VERBOSE": bool_env(self.log_verbose),
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
