"""TorchServe, through the SageMaker PyTorch inference container and its toolkit (docs/torchserve.md).

This package: schema.py (servekit.yaml), construct.py (TorchServeEndpoint), build.py and check.py (the
artifact), local.py (`servekit serve`: the real TorchServe, through the toolkit's own entry), payloads.py
(bench), handlers/ (the container-side code/inference.py and its support module).
"""

from __future__ import annotations

from typing import Any

from servekit.servers.base import Server, shown_requirements
from servekit.servers.torchserve.schema import TorchServeEndpointSpec


class TorchServe(Server):
    name = "torchserve"
    title = "TorchServe"
    image_framework = "pytorch"
    spec = TorchServeEndpointSpec
    construct_class = "TorchServeEndpoint"
    tuning_columns = (("SAGEMAKER_TS_BATCH_SIZE", "batch"), ("SAGEMAKER_TS_MAX_BATCH_DELAY", "delay_ms"),
                      ("SAGEMAKER_TS_MIN_WORKERS", "min_workers"), ("SAGEMAKER_TS_MAX_WORKERS", "max_workers"),
                      ("SAGEMAKER_TS_RESPONSE_TIMEOUT", "timeout_s"), ("OMP_NUM_THREADS", "omp_threads"))
    sweep_aliases = {"workers": None}  # min_workers and max_workers are two fields: bench asks for one of them

    def doc_sections(self) -> list[tuple[str, type]]:
        from servekit.servers.torchserve import schema

        return [*super().doc_sections(), ("endpoints[].model (torchserve)", schema.TorchServeModel),
                ("endpoints[].tuning (torchserve)", schema.TorchServeTuning)]

    def variant(self, ep: Any, name: str, model_data: Any, **common: Any) -> Any:
        # model.environment: only when set, so an endpoint without it keeps its template byte for byte
        extra = {"environment": dict(ep.model.environment)} if ep.model.environment else {}
        return super().variant(ep, name, model_data, **common, **extra)

    def start_install_reason(self, requirements: list[str], has_lib: bool) -> str | None:
        # The PyTorch toolkit installs code/requirements.txt whenever it exists; it has no code/lib convention
        # (sagemaker_inference/model_server.py; docs/operations.md).
        if not requirements:
            return None
        return f"code/requirements.txt lists {shown_requirements(requirements)}, which the PyTorch toolkit pip-installs at every start"

    def multi_model_problem(self, facts: Any) -> str | None:
        if facts.gpus:
            return (f"GPU multi-model endpoints run only in the Triton container, and {facts.instance_type} has a "
                    "GPU; use a CPU instance type or server: triton")
        return None

    def multi_model_problems(self, ep: Any) -> list[str]:
        # The PyTorch toolkit applies SAGEMAKER_TS_* only to single-model endpoints and, in multi-model mode,
        # never runs pip on a model's code/requirements.txt (it installs only /opt/ml/model/code's at start).
        out = []
        # response_timeout_seconds is not among them: it also becomes TS_DEFAULT_RESPONSE_TIMEOUT, which TorchServe
        # reads itself because the toolkit's mme-ts.properties sets enable_envvars_config=true (toolkit 2.0.25,
        # sagemaker_pytorch_serving_container/etc/mme-ts.properties).
        ignored = sorted(ep.tuning.model_fields_set & {"batch_size", "max_batch_delay_ms", "min_workers", "max_workers"})
        if ignored:
            out.append(f"tuning: {', '.join(ignored)} are ignored by the PyTorch toolkit in multi-model mode (it "
                       "applies SAGEMAKER_TS_* to single-model endpoints only); remove them")
        if ep.tuning.batched_forward:
            out.append("tuning.batched_forward: not supported in multi-model mode; remove it")
        from servekit.model_build import handlers

        try:
            key = handlers.torchserve_handler(ep.model)
            lines = handlers.requirements_lines(key if key in handlers.HANDLER_FILES else "custom",
                                                ep.model.requirements)
        except handlers.HandlerError:
            return out  # the build reports a bad handler with its own fix
        if lines:
            out.append(f"model: its handler needs {', '.join(lines)} from code/requirements.txt, which the toolkit "
                       "never installs in multi-model mode; use a handler that needs only the image's packages, or a "
                       "single-model endpoint")
        return out

    def runtime_version(self, image_facts: Any, kind: str) -> str | None:
        if kind == "torch":
            return image_facts.framework_version  # the PyTorch image's own torch reads the TorchScript file
        return super().runtime_version(image_facts, kind)


TORCHSERVE = TorchServe()
