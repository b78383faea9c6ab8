"""config.pbtxt from the typed config, and the rules Triton enforces when it loads a model.

The text is produced by protobuf from `tritonclient.grpc.model_config_pb2.ModelConfig` (the schema
Triton itself reads), so it is valid by construction, and parsed back to prove it. `config_problems`
holds the load-time rules (also used by check_artifact on archives brought by users);
`torchscript_problems` and `onnx_problems` compare the config with the exported model itself: the
model file is the truth.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from servekit import images
from servekit.servers.triton.schema import TritonModel

PLATFORMS = {"torchscript": "pytorch_libtorch", "onnx": "onnxruntime_onnx", "tensorrt": "tensorrt_plan"}
# Default model file name per platform / backend (Triton's own defaults).
MODEL_FILES = {
    "pytorch_libtorch": "model.pt", "pytorch": "model.pt",
    "onnxruntime_onnx": "model.onnx", "onnxruntime": "model.onnx",
    "tensorrt_plan": "model.plan", "tensorrt": "model.plan",
    "tensorflow_savedmodel": "model.savedmodel", "tensorflow_graphdef": "model.graphdef",
    "python": "model.py",
}
ONNX_TO_TRITON = {
    1: "TYPE_FP32", 2: "TYPE_UINT8", 3: "TYPE_INT8", 4: "TYPE_UINT16", 5: "TYPE_INT16", 6: "TYPE_INT32",
    7: "TYPE_INT64", 8: "TYPE_STRING", 9: "TYPE_BOOL", 10: "TYPE_FP16", 11: "TYPE_FP64", 12: "TYPE_UINT32",
    13: "TYPE_UINT64", 16: "TYPE_BF16",
}


def _pb():  # noqa: ANN202 - imported on use: tritonclient pulls in grpc
    from tritonclient.grpc import model_config_pb2

    return model_config_pb2


def model_file_name(model: TritonModel) -> str:
    return MODEL_FILES[PLATFORMS[model.format]]


def _add_tensors(mc: Any, inputs: Any, outputs: Any) -> None:
    """A model's (or an ensemble's) input and output tensors into its ModelConfig."""
    pb = _pb()
    for tensors, field in ((inputs, mc.input), (outputs, mc.output)):
        for t in tensors:
            entry = field.add()
            entry.name = t.name
            entry.data_type = pb.DataType.Value(t.data_type)
            entry.dims.extend(t.dims)
            if getattr(t, "reshape", None) is not None:
                entry.reshape.SetInParent()  # an empty shape (a scalar) is still a reshape
                entry.reshape.shape.extend(t.reshape)


def to_proto(model: TritonModel) -> Any:
    pb = _pb()
    mc = pb.ModelConfig()
    mc.name = model.name
    mc.platform = PLATFORMS[model.format]
    mc.max_batch_size = model.max_batch_size
    _add_tensors(mc, model.inputs, model.outputs)
    if model.dynamic_batching is not None:
        mc.dynamic_batching.SetInParent()
        mc.dynamic_batching.preferred_batch_size.extend(model.dynamic_batching.preferred_batch_size)
        mc.dynamic_batching.max_queue_delay_microseconds = model.dynamic_batching.max_queue_delay_microseconds
    group = mc.instance_group.add()
    group.count = model.instance_group.count
    group.kind = pb.ModelInstanceGroup.Kind.Value(model.instance_group.kind)
    if model.onnx_tensorrt_accelerator is not None:
        acc = mc.optimization.execution_accelerators.gpu_execution_accelerator.add()
        acc.name = "tensorrt"
        acc.parameters["precision_mode"] = model.onnx_tensorrt_accelerator.precision_mode
        acc.parameters["max_workspace_size_bytes"] = str(model.onnx_tensorrt_accelerator.max_workspace_size_bytes)
    if model.warmup is not None:
        warmup = mc.model_warmup.add()
        warmup.name = f"servekit_{model.warmup.data}_warmup"
        warmup.batch_size = model.warmup.batch_size if model.max_batch_size else 0
        warmup.count = model.warmup.count
        for t in model.inputs:
            entry = warmup.inputs[t.name]
            entry.data_type = pb.DataType.Value(t.data_type)
            entry.dims.extend(t.dims)
            if model.warmup.data == "zero":
                entry.zero_data = True
            else:
                entry.random_data = True
    if model.response_cache:
        mc.response_cache.enable = True
    if model.version_policy_latest is not None:
        mc.version_policy.latest.num_versions = model.version_policy_latest
    elif model.version_policy_specific is not None:
        mc.version_policy.specific.versions.extend(model.version_policy_specific)
    else:
        mc.version_policy.all.SetInParent()
    return mc


def render_ensemble(ensemble: Any, max_batch_size: int) -> str:
    """config.pbtxt of an ensemble (platform "ensemble", ensemble_scheduling), by Triton's proto, proven to parse
    back; `max_batch_size` is its members' (Triton wants an ensemble's at most theirs)."""
    from google.protobuf import text_format

    pb = _pb()
    mc = pb.ModelConfig()
    mc.name = ensemble.name
    mc.platform = "ensemble"
    mc.max_batch_size = max_batch_size
    _add_tensors(mc, ensemble.inputs, ensemble.outputs)
    for step in ensemble.steps:
        entry = mc.ensemble_scheduling.step.add()
        entry.model_name = step.model
        entry.model_version = -1  # the newest version the member's policy serves
        entry.input_map.update(step.input_map)
        entry.output_map.update(step.output_map)
    text = text_format.MessageToString(mc)
    if parse(text) != mc:  # pragma: no cover - protobuf round trip
        raise RuntimeError("the ensemble's config.pbtxt does not parse back to the config it was made from")
    return text


def render(model: TritonModel) -> str:
    """config.pbtxt text for `model`, proven to parse back into the same ModelConfig."""
    from google.protobuf import text_format

    mc = to_proto(model)
    text = text_format.MessageToString(mc)
    back = parse(text)
    if back != mc:  # pragma: no cover - protobuf round trip
        raise RuntimeError("config.pbtxt does not parse back to the config it was made from")
    return text


def parse(text: str) -> Any:
    """ModelConfig from config.pbtxt text; ValueError (one line) when Triton's schema rejects it."""
    from google.protobuf import text_format

    mc = _pb().ModelConfig()
    try:
        text_format.Parse(text, mc)
    except text_format.ParseError as err:
        raise ValueError(str(err)) from None
    return mc


def config_problems(mc: Any, where: str, *, folder: str | None = None, instance_type: str | None = None,
                    version_files: dict[str, list[str]] | None = None) -> list[str]:
    """The rules Triton checks at load, one line each naming the fix. `where` prefixes each line.

    version_files: version folder -> names directly inside it (from an archive), to check the model
    file name against the platform.
    """
    pb = _pb()
    out: list[str] = []
    if folder is not None and mc.name and mc.name != folder:
        out.append(f"{where}: name {mc.name!r} differs from its folder {folder!r}; set name: \"{folder}\" "
                   "or rename the folder")
    kind = mc.platform or mc.backend
    if not kind:
        out.append(f"{where}: neither platform nor backend is set; set platform (e.g. pytorch_libtorch)")
    if mc.max_batch_size < 0:
        out.append(f"{where}: max_batch_size {mc.max_batch_size} is negative; use 0 (no batching) or more")
    if mc.HasField("dynamic_batching"):
        if mc.max_batch_size == 0:
            out.append(f"{where}: dynamic_batching with max_batch_size 0 fails at load; set max_batch_size > 0 "
                       "or remove dynamic_batching")
        bad = [p for p in mc.dynamic_batching.preferred_batch_size if not 0 < p <= mc.max_batch_size]
        if bad and mc.max_batch_size > 0:
            out.append(f"{where}: dynamic_batching.preferred_batch_size {bad} must be within 1..max_batch_size "
                       f"({mc.max_batch_size}); lower them or raise max_batch_size")
    for label, tensors in (("input", mc.input), ("output", mc.output)):
        if not tensors and kind in ("pytorch_libtorch", "pytorch", "tensorrt_plan"):
            out.append(f"{where}: no {label} declared; {kind} needs every {label} with name, data_type and dims")
        for t in tensors:
            if t.data_type == pb.TYPE_INVALID:
                out.append(f"{where}: {label} {t.name!r} has no data_type; set one such as TYPE_FP32")
            bad_dims = [d for d in t.dims if d == 0 or d < -1]
            if bad_dims:
                out.append(f"{where}: {label} {t.name!r} dims {list(t.dims)} hold {bad_dims}; use positive sizes or -1")
    names = [t.name for t in mc.input]
    if len(set(names)) != len(names):
        out.append(f"{where}: input names {names} repeat; give each input its own name")
    gpu_kinds = [g for g in mc.instance_group if g.kind == pb.ModelInstanceGroup.KIND_GPU]
    accelerators = list(mc.optimization.execution_accelerators.gpu_execution_accelerator)
    if instance_type is not None:
        facts = images.instance_facts(instance_type)
        if facts is not None and not facts.gpus:
            if gpu_kinds:
                out.append(f"{where}: instance_group kind KIND_GPU on {instance_type}, which has no GPU; use KIND_CPU "
                           "or KIND_AUTO, or a GPU instance type")
            if kind in ("tensorrt_plan", "tensorrt"):
                out.append(f"{where}: a TensorRT plan needs a GPU and {instance_type} has none; use ONNX or "
                           "TorchScript, or a GPU instance type")
            if accelerators:
                out.append(f"{where}: gpu_execution_accelerator set on {instance_type}, which has no GPU; remove "
                           "it or use a GPU instance type")
    if accelerators and kind not in ("onnxruntime_onnx", "onnxruntime", "tensorflow_savedmodel", "tensorflow_graphdef"):
        out.append(f"{where}: gpu_execution_accelerator {[a.name for a in accelerators]} is for ONNX Runtime or "
                   f"TensorFlow models, not {kind}; remove it")
    if version_files is not None and kind:
        expected = mc.default_model_filename or MODEL_FILES.get(kind)
        numeric = {v: files for v, files in version_files.items() if v.isdigit()}
        for v in sorted(set(version_files) - set(numeric)):
            out.append(f"{where.rsplit('/', 1)[0]}/{v}/: version folder {v!r} is not a number; Triton ignores it — "
                       "rename it to a number such as 1")
        if not numeric:
            out.append(f"{where.rsplit('/', 1)[0]}/: no numeric version folder; put the model at "
                       f"{where.rsplit('/', 1)[0]}/1/{expected or 'model file'}")
        if mc.version_policy.HasField("specific"):
            absent = sorted(set(mc.version_policy.specific.versions) - {int(v) for v in numeric})
            if absent:
                out.append(f"{where}: version_policy specific {absent} has no version folder; Triton fails to load "
                           "the model: add the folders or change the policy")
        elif expected:
            for v, files in sorted(numeric.items()):
                if expected not in files:
                    found = ", ".join(sorted(files)) or "nothing"
                    out.append(f"{where.rsplit('/', 1)[0]}/{v}/: no {expected} for platform {kind} (found {found}); "
                               f"name the model file {expected}")
    return out


# ---------------------------------------------------------------------------------------------
# Config against the exported model
# ---------------------------------------------------------------------------------------------
_INDEXED = re.compile(r"^.+__(\d+)$")


def torchscript_problems(model: TritonModel, facts: dict[str, Any]) -> list[str]:
    """Compare the config with what the TorchScript file says (see torch_io.inspect_torchscript)."""
    out: list[str] = []
    args = facts["arg_names"]
    if len(args) != len(model.inputs):
        return [f"model.inputs: lists {len(model.inputs)} tensor(s) but the TorchScript forward() takes {len(args)} "
                f"({', '.join(args)}); list one input per forward() argument, named input__0, input__1, ..."]
    for i, t in enumerate(model.inputs):
        m = _INDEXED.match(t.name)
        if not ((m and int(m.group(1)) < len(args)) or t.name in args):
            out.append(f"model.inputs[{i}].name: {t.name!r} is neither <name>__<index> nor a forward() argument "
                       f"({', '.join(args)}); rename it input__{i}")
    batching = model.max_batch_size > 0
    for run in facts["runs"]:
        if "error" in run:
            hint = (" dims exclude the batch dimension when max_batch_size > 0;" if batching else "")
            out.append(f"model.inputs: forward() fails on zero tensors of shape {run['shapes']} "
                       f"({run['error']});{hint} fix model.inputs dims/data_type to what the model takes")
            break
        outs = run["outputs"]
        if run["non_tensor_outputs"] or len(outs) != len(model.outputs):
            out.append(f"model.outputs: lists {len(model.outputs)} tensor(s) but forward() returns {len(outs)} tensor(s)"
                       f"{' and other values' if run['non_tensor_outputs'] else ''}; list one output per returned tensor")
            break
        for i, (t, o) in enumerate(zip(model.outputs, outs, strict=True)):
            if run is facts["runs"][0]:
                m = _INDEXED.match(t.name)
                if not (m and int(m.group(1)) < len(outs)):
                    out.append(f"model.outputs[{i}].name: {t.name!r} must be <name>__<index> for pytorch_libtorch; "
                               f"rename it output__{i}")
                if o["dtype"] != t.data_type:
                    out.append(f"model.outputs[{i}].data_type: {t.data_type} but the model returns {o['dtype']}; "
                               f"set it to {o['dtype']}")
            shape = o["shape"]
            if batching:
                if not shape or shape[0] != run["batch"]:
                    out.append(f"model.outputs[{i}]: with batch {run['batch']} the model returns shape {shape}, "
                               "whose first dimension is not the batch; set max_batch_size: 0 or fix the model")
                    continue
                shape = shape[1:]
            dims, key = t.model_dims, "dims" if t.reshape is None else "reshape"
            if len(shape) != len(dims) or any(c != -1 and c != s for c, s in zip(dims, shape, strict=False)):
                out.append(f"model.outputs[{i}].{key}: {dims} but the model returns {shape}"
                           f"{' (batch excluded)' if batching else ''}; set {key}: {shape}"
                           + (" (with dims [1] and reshape [] for a scalar)" if not shape and key == "dims" else ""))
        if out:
            break
    if batching and len(facts["runs"]) == 2 and "error" in facts["runs"][1] and "error" not in facts["runs"][0]:
        out.append("model: forward() works with batch 1 but not batch 2: the batch dimension is fixed in the "
                   "traced model; re-trace it without shapes computed from the example, or set max_batch_size: 0")
    return out


def _onnx_shape(value_info: Any) -> list[int | None]:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else None for d in dims]


def onnx_problems(model: TritonModel, path: Path) -> list[str]:
    """Compare the config with the ONNX graph's inputs and outputs (names, data types, dims)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    model_tensors = {
        "inputs": {v.name: v for v in graph.input if v.name not in initializers},
        "outputs": {v.name: v for v in graph.output},
    }
    out: list[str] = []
    batching = model.max_batch_size > 0
    for label, tensors in (("inputs", model.inputs), ("outputs", model.outputs)):
        known = model_tensors[label]
        for i, t in enumerate(tensors):
            field = f"model.{label}[{i}]"
            v = known.get(t.name)
            if v is None:
                out.append(f"{field}.name: {t.name!r} is not an {label[:-1]} of the ONNX model (it has "
                           f"{', '.join(known) or 'none'}); rename it")
                continue
            dtype = ONNX_TO_TRITON.get(v.type.tensor_type.elem_type, f"ONNX type {v.type.tensor_type.elem_type}")
            if dtype != t.data_type:
                out.append(f"{field}.data_type: {t.data_type} but the ONNX model has {dtype}; set it to {dtype}")
            shape = _onnx_shape(v)
            dims, key = t.model_dims, "dims" if t.reshape is None else "reshape"
            scalar = ""
            if key == "dims" and len(shape) == (1 if batching else 0):  # a scalar (per batch row)
                scalar = " (a scalar: dims [1] and reshape [])" if batching else \
                    " (a scalar of a model that does not batch: dims [1], which servekit carries through a Reshape " \
                    "it adds to the graph; Triton refuses reshape [] there)"
            if batching:
                if len(shape) != len(dims) + 1:
                    out.append(f"{field}.{key}: {dims} (plus the batch dimension) but the ONNX model has rank "
                               f"{len(shape)} ({shape}); {key} exclude the batch dimension when max_batch_size > 0"
                               f"{scalar}")
                    continue
                if shape[0] is not None and shape[0] != 0:
                    out.append(f"{field}: the ONNX model fixes the batch dimension at {shape[0]}; export it with a "
                               "dynamic batch axis or set max_batch_size: 0")
                shape = shape[1:]
            elif shape == [] and t.dims == [1] and t.reshape is None:
                continue  # a scalar of a model that does not batch: the build adds a Reshape (onnx_scalars.py)
            elif len(shape) != len(dims):
                out.append(f"{field}.{key}: {dims} but the ONNX model has {shape}; set {key} to match{scalar}")
                continue
            for j, (c, s) in enumerate(zip(dims, shape, strict=True)):
                if s not in (None, 0) and c != s:
                    out.append(f"{field}.{key}[{j}]: {c} but the ONNX model fixes it at {s}; set it to {s}")
        extra = sorted(set(known) - {t.name for t in tensors})
        if extra and label == "inputs":
            out.append(f"model.inputs: the ONNX model also takes {extra}; add them to model.inputs")
    return out
