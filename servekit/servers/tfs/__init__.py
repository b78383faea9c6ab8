"""TensorFlow Serving, through the SageMaker TensorFlow inference container (docs/tfs.md).

This package: schema.py (servekit.yaml), construct.py (TfsEndpoint), build.py and check.py (the artifact),
local.py (`servekit serve`: an emulation here, TensorFlow Serving cannot be installed), payloads.py (bench),
handlers/ (the container-side code/inference.py).
"""

from __future__ import annotations

from typing import Any

from servekit.servers.base import Server, shown_requirements
from servekit.servers.tfs.schema import TfsEndpointSpec


class Tfs(Server):
    name = "tfs"
    title = "TensorFlow Serving"
    image_framework = "tensorflow"
    spec = TfsEndpointSpec
    construct_class = "TfsEndpoint"
    local_emulated = True
    tuning_columns = (("SAGEMAKER_TFS_ENABLE_BATCHING", "batching"), ("SAGEMAKER_TFS_MAX_BATCH_SIZE", "max_batch"),
                      ("SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS", "timeout_us"), ("SAGEMAKER_TFS_INSTANCE_COUNT", "processes"),
                      ("SAGEMAKER_TFS_DEFAULT_MODEL_NAME", "default_model"))
    sweep_aliases = {"batching": "tuning.enable_batching"}
    sweep_note = ("the local TFS is an emulation that runs every request alone and ignores TFS tuning: a TFS sweep "
                  "here shows noise, not the setting (sweep against --deployed endpoints for real TFS figures)")

    def doc_sections(self) -> list[tuple[str, type]]:
        from servekit.servers.tfs import schema

        return [*super().doc_sections(), ("endpoints[].models[] (tfs)", schema.TfsModel),
                ("endpoints[].tuning (tfs)", schema.TfsTuning)]

    def models(self, ep: Any) -> list[tuple[str, Any]]:
        return [(f"models[{i}] ({m.name})", m) for i, m in enumerate(ep.models)]

    def default_model_name(self, ep: Any) -> str | None:
        return ep.default_model_name

    def start_install_reason(self, requirements: list[str], has_lib: bool) -> str | None:
        # The TFS container pip-installs code/requirements.txt unless code/lib/ exists, which it puts on sys.path
        # instead (sagemaker-tensorflow-serving-container, serve.py; docs/operations.md).
        if not requirements or has_lib:
            return None
        return (f"code/requirements.txt lists {shown_requirements(requirements)}, which TFS pip-installs at start unless "
                "code/lib/ vendors the packages")

    def runtime_version(self, image_facts: Any, kind: str) -> str | None:
        if kind == "tensorflow":
            return image_facts.framework_version  # the TensorFlow image serves SavedModels with its own TensorFlow
        return super().runtime_version(image_facts, kind)

    def gpu_only_tuning(self, tuning: Any) -> dict[str, object]:
        return {"tuning.fractional_gpu_mem_margin": tuning.fractional_gpu_mem_margin}

    def multi_model_problem(self, facts: Any) -> str | None:
        # Left out on purpose: servekit routes several SavedModels of one archive with tfs-model-name.
        return ("TFS serves several SavedModels from one archive instead: list them under `models` and route "
                "with the tfs-model-name custom attribute")

    def variant(self, ep: Any, name: str, model_data: Any, **common: Any) -> Any:
        return self.construct().variant(name, model_data=model_data, model_names=[m.name for m in ep.models],
                                        default_model_name=ep.default_model_name, **common)

    def request_problem(self, body: bytes, content_type: str | None) -> str | None:
        from servekit.servers.tfs import requests

        return requests.request_problem(body, content_type)


TFS = Tfs()
