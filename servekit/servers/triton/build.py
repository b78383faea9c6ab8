"""The Triton artifact: a model repository, <model>/config.pbtxt and <model>/<version>/model.pt|onnx|plan,
the config checked against Triton's load rules and against the exported model (docs/triton.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from servekit.model_build import builder, identity, manifest
from servekit.model_build.archive import Content, FileHasher
from servekit.servers.triton import model_config as triton_config
from servekit.servers.triton.schema import TritonEndpointSpec


def plan(ep: TritonEndpointSpec, hasher: FileHasher) -> builder.Plan:
    model = ep.model
    source = model.source
    builder.check_example(source, "triton", "model.source")
    builder.check_path(source, "model.source", is_dir=False)
    if source.kind == "onnx" and model.format != "onnx":
        raise builder.BuildError(f"model.format: {model.format!r} with an onnx source; set format: onnx (and "
                                 "onnx_tensorrt_accelerator for TensorRT at load)")
    needs: tuple[str, ...] = ()
    if model.format == "onnx" and source.kind != "onnx":
        needs = ("onnx",)
    elif model.format == "tensorrt":
        needs = ("tensorrt",)
    data = {
        "server": "triton",
        "model": model.model_dump(mode="json", exclude={"source", *_unset_since_format_3(model)}),
        "source": identity.source_fingerprint(source, hasher, needs=needs),
    }

    def materialize(work: Path, say: builder.Progress) -> dict[str, Content]:
        plan_record: dict[str, Any] = {}
        text = triton_config.render(model)
        problems = triton_config.config_problems(triton_config.parse(text), "model", instance_type=ep.instance_type)
        if problems:
            raise builder.BuildError(f"endpoint {ep.name}: the Triton config breaks Triton's load rules", problems)
        tensors = {
            "inputs": [t.model_dump() for t in model.inputs],
            "outputs": [t.model_dump() for t in model.outputs],
        }
        if model.format == "onnx":
            if source.kind == "onnx":
                model_file = source.path
            else:
                model_file = work / "model.onnx"
                builder.run_worker({"task": "onnx", "path": str(builder.torchscript_file(source, work, say)), **tensors,
                                    "max_batch_size": model.max_batch_size, "out": str(model_file)}, say)
            problems = triton_config.onnx_problems(model, model_file)
        elif model.format == "torchscript":
            model_file = builder.torchscript_file(source, work, say)
            facts = builder.run_worker({"task": "inspect_torchscript", "path": str(model_file), "inputs": tensors["inputs"],
                                        "max_batch_size": model.max_batch_size}, say)
            problems = triton_config.torchscript_problems(model, facts)
        else:
            if importlib.util.find_spec("torch_tensorrt") is None:
                raise builder.BuildError(
                            "model.format: tensorrt needs torch-tensorrt and a CUDA GPU on the build machine, and "
                            "torch_tensorrt is not importable here; use format: onnx with onnx_tensorrt_accelerator "
                            "(Triton's ONNX Runtime builds the TensorRT engine at load, on the serving GPU) or install "
                            "torch-tensorrt on a GPU build machine"
                )
            ts = builder.torchscript_file(source, work, say)
            facts = builder.run_worker({"task": "inspect_torchscript", "path": str(ts), "inputs": tensors["inputs"],
                                        "max_batch_size": model.max_batch_size}, say)
            problems = triton_config.torchscript_problems(model, facts)
            if not problems:
                model_file = work / "model.plan"
                plan_record = builder.run_worker({"task": "tensorrt", "path": str(ts), "inputs": tensors["inputs"],
                                    "max_batch_size": model.max_batch_size, "min_batch": model.tensorrt.min_batch,
                                    "opt_batch": model.tensorrt.opt_batch, "precisions": model.tensorrt.precisions,
                                    "out": str(model_file)}, say)
        if problems:
            raise builder.BuildError(f"endpoint {ep.name}: the Triton config does not match the exported model (the model "
                                     "file is the truth)", problems)
        file_name = f"{model.name}/{model.version}/{triton_config.model_file_name(model)}"
        if model.format == "onnx":
            record = manifest.onnx_record(model_file)
        elif model.format == "torchscript":
            record = manifest.torchscript_record(model_file, builder.producer_torch(source))
        else:
            record = {"format": "tensorrt_plan", **plan_record}
        return {
            f"{model.name}/config.pbtxt": text.encode(),
            file_name: model_file,
            builder.RECORDS: {file_name: record},  # type: ignore[dict-item]
        }

    return builder.Plan(builder.plan_identity(data), materialize, model.name)


# Model keys added after identity format 3 enter the identity only when set: an artifact built before them keeps
# its identity (and its template its asset hash) until the user sets one.
_ADDED_SINCE_FORMAT_3 = ("warmup", "response_cache")


def _unset_since_format_3(model: Any) -> set[str]:
    return {name for name in _ADDED_SINCE_FORMAT_3
            if getattr(model, name) == type(model).model_fields[name].get_default(call_default_factory=True)}
