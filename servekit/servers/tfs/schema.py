"""The servekit.yaml schema of a TensorFlow Serving endpoint. TfsTuning.to_environment() is the one place
where its tuning maps to the container's variables (docs/tfs.md lists them with their upstream sources)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from servekit.options import Strict
from servekit.spec.endpoint import EndpointBase, VariantBase, bool_env
from servekit.spec.sources import ModelSource

# The DLC version an endpoint runs unless it sets image_version (the constructs default to it too).
IMAGE_VERSION = "2.19"

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
            "SAGEMAKER_TFS_ENABLE_BATCHING": bool_env(self.enable_batching),
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
    image_version: str = Field(IMAGE_VERSION, description="tensorflow-inference DLC version.")
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
