"""The servekit.yaml schema of a TorchServe endpoint (through the SageMaker PyTorch inference toolkit).
TorchServeTuning.to_environment() is the one place where its tuning maps to the container's variables
(docs/torchserve.md lists them with their upstream sources)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from servekit.options import Strict
from servekit.spec.endpoint import EndpointBase, VariantBase
from servekit.spec.sources import ModelSource

# The DLC version an endpoint runs unless it sets image_version (the constructs default to it too).
IMAGE_VERSION = "2.6"

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


# What servekit writes into a TorchServe container's environment itself (TorchServeTuning.to_environment with every
# option on, and multi-model mode): model.environment may not set these; each has its key in tuning.
def servekit_environment_keys() -> frozenset[str]:
    full = TorchServeTuning(omp_num_threads=1, batched_forward=True)
    return frozenset(full.to_environment("inference.py")) | {"SAGEMAKER_MULTI_MODEL"}


# Handlers servekit ships (model_build/handlers.py maps them to files).
HANDLER_NAMES = ("auto", "vision", "tensor", "question-answering")


class TorchServeModel(Strict):
    source: ModelSource
    handler: str = Field(
        "auto",
        description="`vision` (one image in, top-k classes out), `tensor` (tensors in, every output out, named), "
        "`question-answering`, `auto` (servekit runs the model at build and chooses: vision only for a model with "
        "one [batch, classes] output, tensor otherwise; question-answering for a Hugging Face folder) or the path "
        "of your own inference.py (docs/bring-your-own-model.md: its contract, and the error handling servekit puts "
        "around it).",
    )
    input_shape: list[int] | None = Field(
        None, min_length=1, description="The shape of one request's input tensor, batch first (e.g. [1, 3, 224, "
        "224]): servekit runs a TorchScript model on it at build to choose the handler and check the outputs. "
        "Unset: a state_dict's example_input_shape; for a TorchScript file, a [1, 3, 224, 224] image is tried.")
    output_names: list[str] | None = Field(
        None, min_length=1, description="The tensor handler's names of forward()'s outputs, in order (e.g. [boxes, "
        "landmarks, scores]); checked against the model at build. Unset: output__0, output__1, ...")
    environment: dict[str, str] = Field(
        default_factory=dict, description="More variables of the container's environment, such as the handlers' "
        "settings (SERVEKIT_TOP_K, SERVEKIT_INPUT_SHAPE, SERVEKIT_MAX_BATCH, SERVEKIT_MAX_REQUEST_BYTES) or your "
        "own handler's. The variables servekit sets from tuning, and SAGEMAKER_*, are refused with the key to use.")
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
        owned = servekit_environment_keys()
        for key in self.environment:
            if key in owned:
                raise ValueError(f"environment.{key}: servekit sets it from tuning (or the handler choice); set the "
                                 "matching tuning key instead (docs/torchserve.md lists which)")
            if key.startswith("SAGEMAKER_"):
                raise ValueError(f"environment.{key}: SAGEMAKER_* variables belong to SageMaker and its toolkit; "
                                 "servekit sets the ones it supports from tuning")
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise ValueError(f"environment: {key!r} is not a variable name; use letters, digits and _")
        if self.output_names is not None and len(set(self.output_names)) != len(self.output_names):
            raise ValueError(f"output_names {self.output_names} repeat a name; give each output its own")
        return self


class TorchServeVariant(VariantBase):
    """A TorchServe variant: VariantBase's keys plus the TorchServe endpoint's `model` and `tuning`."""

    model: TorchServeModel | None = Field(None, description="Replaces the endpoint's model.")
    tuning: TorchServeTuning | None = Field(None, description="Replaces the endpoint's tuning.")


class TorchServeEndpointSpec(EndpointBase):
    server: Literal["torchserve"]
    image_version: str = Field(IMAGE_VERSION, description="pytorch-inference DLC version.")
    model: TorchServeModel
    tuning: TorchServeTuning = Field(default_factory=TorchServeTuning)
    variants: list[TorchServeVariant] = Field(default_factory=list, description="More production variants.")
    shadow_variant: TorchServeVariant | None = Field(None, description="Takes copies of the production traffic.")
