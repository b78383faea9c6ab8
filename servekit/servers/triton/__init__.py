"""NVIDIA Triton Inference Server, through the SageMaker Triton container (docs/triton.md).

This package: schema.py (servekit.yaml), model_config.py (config.pbtxt, by Triton's own proto), construct.py
(TritonEndpoint), build.py and check.py (the model repository), local.py (`servekit serve`: the real
tritonserver of nvidia-pytriton), payloads.py (bench). Triton runs no servekit code in the container.
"""

from __future__ import annotations

from typing import Any

from servekit.servers.base import Server
from servekit.servers.triton.schema import TritonEndpointSpec


class Triton(Server):
    name = "triton"
    title = "Triton Inference Server"
    image_framework = "sagemaker-tritonserver"
    spec = TritonEndpointSpec
    construct_class = "TritonEndpoint"
    tuning_columns = (("SAGEMAKER_TRITON_DEFAULT_MODEL_NAME", "model"), ("SAGEMAKER_TRITON_THREAD_COUNT", "threads"),
                      ("SAGEMAKER_TRITON_LOG_VERBOSE", "log_verbose"))
    sweep_aliases = {
        "instance_count": "model.instance_group.count",
        "preferred_batch_sizes": "model.dynamic_batching.preferred_batch_size",
        "max_queue_delay_microseconds": "model.dynamic_batching.max_queue_delay_microseconds",
    }

    def doc_sections(self) -> list[tuple[str, type]]:
        from servekit.servers.triton import schema as s

        return [*super().doc_sections(), ("endpoints[].model (triton)", s.TritonModel),
                ("endpoints[].model.inputs[] / outputs[] (triton)", s.TritonTensor),
                ("endpoints[].model.dynamic_batching (triton)", s.DynamicBatching),
                ("endpoints[].model.instance_group (triton)", s.InstanceGroup),
                ("endpoints[].model.onnx_tensorrt_accelerator (triton)", s.TensorRTAccelerator),
                ("endpoints[].model.tensorrt (triton)", s.TensorRTBuild),
                ("endpoints[].model.warmup (triton)", s.ModelWarmup),
                ("endpoints[].model.more_versions[] (triton)", s.TritonModelVersion),
                ("endpoints[].ensemble (triton)", s.Ensemble),
                ("endpoints[].ensemble.steps[] (triton)", s.EnsembleStep),
                ("endpoints[].tuning (triton)", s.TritonTuning)]

    def default_model_name(self, ep: Any) -> str | None:
        return ep.served_model_name

    def manifest_name(self, ep: Any) -> str:
        # Triton would take a file at the repository root for a model: the manifest sits in the model's folder.
        from servekit.model_build import manifest

        return f"{ep.model.name}/{manifest.NAME}"

    def gpu_only_tuning(self, tuning: Any) -> dict[str, object]:
        return {"tuning.model_load_gpu_limit": tuning.model_load_gpu_limit}

    def cpu_problems(self, ep: Any, where: str) -> list[str]:
        from servekit.rules import variants as variant_rules

        out = []
        if ep.model.instance_group.kind == "KIND_GPU":
            out.append(f"model.instance_group.kind: 'KIND_GPU' on {where}, which has no GPU; use KIND_CPU "
                       "or KIND_AUTO, or a GPU instance type")
        if ep.model.format == "tensorrt":
            out.append(f"model.format: 'tensorrt' plans run only on GPUs, and {where} has none; use "
                       "format: onnx or torchscript, or a GPU instance type")
        if ep.model.onnx_tensorrt_accelerator is not None:
            out.append(f"model.onnx_tensorrt_accelerator: set on {where}, which has no GPU; {variant_rules.GPU_FIX}")
        return out

    def load_problems(self, ep: Any, artifact: Any) -> list[str] | None:
        from servekit.servers.triton import load_check

        return None if load_check.unavailable() else load_check.problems(ep, artifact)

    def load_check_unavailable(self) -> str | None:
        from servekit.servers.triton import load_check

        return load_check.unavailable()

    def component_problems(self, ep: Any, accelerators: int, fleet_gpus: int) -> list[tuple[str, str]]:
        # A copy gets only the accelerators its compute reserves (InferenceComponentComputeResourceRequirements,
        # NumberOfAcceleratorDevicesRequired: "the number of accelerators to allocate"; unset: none), so a KIND_GPU
        # instance group has no GPU to be created on, and KIND_AUTO falls back to the CPU.
        if accelerators > 0:
            return []
        out = []
        models = [ep.model, *(ep.ensemble.members if ep.ensemble is not None else ())]
        for model in models:
            kind = model.instance_group.kind
            if kind == "KIND_GPU":
                out.append(("error", f"model {model.name}: instance_group.kind KIND_GPU, but compute.accelerators is 0, "
                                     "so its copies get no GPU; reserve compute.accelerators: 1 or more, or use "
                                     "KIND_CPU"))
            elif kind == "KIND_AUTO" and fleet_gpus:
                out.append(("warning", f"model {model.name}: instance_group.kind KIND_AUTO with compute.accelerators 0 "
                                       "runs on the CPU of a GPU fleet (its copies get no GPU); reserve "
                                       "compute.accelerators: 1, or say KIND_CPU"))
        return out

    def multi_model_problem(self, facts: Any) -> str | None:
        from servekit import images

        return images.gpu_multi_model_problem(facts)

    def runtime_version(self, image_facts: Any, kind: str) -> str | None:
        if kind == "torch":
            return image_facts.runtimes.get("libtorch")  # the pytorch_libtorch backend's libtorch
        return super().runtime_version(image_facts, kind)

    def variant(self, ep: Any, name: str, model_data: Any, **common: Any) -> Any:
        return self.construct().variant(name, model_data=model_data, model_name=ep.served_model_name,
                                        **common)

    def request_problem(self, body: bytes, content_type: str | None) -> str | None:
        from servekit.servers.triton import requests

        return requests.request_problem(body, content_type)


TRITON = Triton()
