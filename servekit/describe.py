"""What a model file says about itself, as the servekit.yaml endpoint that serves it (`servekit init --model`).

- ONNX: the graph's inputs and outputs (names, types, dims; a symbolic first dimension everywhere is the batch), read
  with onnx, served by Triton's onnxruntime backend;
- TorchScript: forward()'s arguments, and one run on random tensors of the shapes given (TorchScript keeps no input
  shapes), served by Triton's libtorch backend;
- a SavedModel folder, or a Keras file: its signatures, served by TensorFlow Serving.
Anything servekit cannot read is refused with what to do instead. The run happens in the build worker
(servekit.model_build.worker), so this process never imports torch or TensorFlow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TENSOR_NAME = re.compile(r"^[A-Za-z_][\w.]*$")  # servekit's TritonTensor.name
MODEL_NAME = re.compile(r"[^A-Za-z0-9_-]+")


class DescribeError(Exception):
    """A model file servekit cannot turn into an endpoint: one line, with what to do."""


@dataclass
class Described:
    endpoint: dict[str, Any]  # one servekit.yaml endpoint (its name and source path are set by the caller)
    comment: str  # what servekit read, shown above the endpoint


def describe(path: Path, *, input_shapes: list[list[int]], say: Callable[[str], None]) -> Described:
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return _tensorflow(path, "saved_model", say)
        raise DescribeError(f"{path}: a folder without saved_model.pb; give a SavedModel folder, or a .onnx, .pt "
                            "(TorchScript), .keras or .h5 file")
    if not path.is_file():
        raise DescribeError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return _onnx(path)
    if suffix in (".keras", ".h5"):
        return _tensorflow(path, "keras", say)
    if suffix in (".pt", ".pth", ".ts", ".jit", ".torchscript"):
        return _torchscript(path, input_shapes, say)
    raise DescribeError(f"{path}: servekit reads .onnx, TorchScript (.pt), .keras/.h5 files and SavedModel folders; "
                        "a state_dict needs its class: write a `kind: state_dict` source by hand "
                        "(docs/bring-your-own-model.md)")


def _model_name(path: Path) -> str:
    name = MODEL_NAME.sub("_", path.stem).strip("_") or "model"
    return name if name[0].isalpha() else f"m_{name}"


def _tensors(values: list[tuple[str, str, list[int | None]]], batching: bool, where: str) -> list[dict[str, Any]]:
    out = []
    for name, dtype, shape in values:
        if not TENSOR_NAME.match(name):
            raise DescribeError(f"{where} tensor {name!r}: servekit's Triton configs take names of letters, digits, "
                                "_ and . only; rename it in the model (onnx.compose or at export)")
        dims = [-1 if d is None else d for d in (shape[1:] if batching else shape)]
        # A scalar (per batch row): Triton's dims cannot be empty, so requests carry [1] and Triton reshapes; a
        # model that does not batch gets dims [1] alone (the build adds a Reshape to the graph, onnx_scalars.py).
        out.append({"name": name, "data_type": dtype, "dims": dims} if dims else
                   {"name": name, "data_type": dtype, "dims": [1], **({"reshape": []} if batching else {})})
    return out


def _onnx(path: Path) -> Described:
    import onnx

    from servekit.servers.triton.model_config import ONNX_TO_TRITON, _onnx_shape

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    found = {label: [(v.name, ONNX_TO_TRITON.get(v.type.tensor_type.elem_type, "TYPE_FP32"), _onnx_shape(v))
                     for v in values if v.name not in initializers]
             for label, values in (("input", graph.input), ("output", graph.output))}
    everything = found["input"] + found["output"]
    batching = all(shape and shape[0] is None for _, _, shape in everything)
    model = {"name": _model_name(path), "source": {"kind": "onnx", "path": str(path)}, "format": "onnx",
             "max_batch_size": 8 if batching else 0,
             "inputs": _tensors(found["input"], batching, "input"),
             "outputs": _tensors(found["output"], batching, "output")}
    listed = "; ".join(f"{label} {n} {d.removeprefix('TYPE_')} {s}" for label in ("input", "output")
                       for n, d, s in found[label])
    comment = (f"Read from the ONNX graph: {listed} (None: any size).\n"
               + ("A symbolic first dimension on every tensor: the batch (max_batch_size 8, dims without it)."
                  if batching else "No shared batch dimension: max_batch_size 0, dims as they are."))
    return Described({"name": "", "server": "triton", "instance_type": "ml.m5.xlarge", "model": model}, comment)


def _torchscript(path: Path, input_shapes: list[list[int]], say: Callable[[str], None]) -> Described:
    from servekit.model_build import builder

    try:
        facts = builder.run_worker({"task": "describe_torchscript", "path": str(path), "shapes": input_shapes,
                                    "dtypes": ["TYPE_FP32"] * len(input_shapes)}, say, module=builder.USER_WORKER)
    except builder.BuildError as err:
        raise DescribeError(f"{path}: torch.jit.load cannot read it ({err}); a state_dict needs its class: write a "
                            "`kind: state_dict` source by hand (docs/bring-your-own-model.md)") from None
    arguments = facts["arguments"]
    others = [a for a in arguments if a["type"] not in ("Tensor", "Optional[Tensor]")]
    if others:
        listed = ", ".join(f"{a['name']}: {a['type']}" for a in others)
        raise DescribeError(f"{path}: forward() takes {listed} beside its tensors, which no request can carry; wrap "
                            "the model so the value is fixed (docs/bring-your-own-model.md, \"Arguments that are not "
                            "tensors\") and export the wrapper")
    if len(input_shapes) != len(arguments):
        names = ", ".join(a["name"] for a in arguments)
        raise DescribeError(f"{path}: forward() takes {len(arguments)} tensor(s) ({names}), and TorchScript keeps no "
                            "shapes: pass --input-shape once per tensor, batch first (e.g. --input-shape 1,3,224,224)")
    if "error" in facts:
        raise DescribeError(f"{path}: forward() fails on float32 tensors of shapes {input_shapes} ({facts['error']}); "
                            "pass the --input-shape the model takes")
    outputs = facts["outputs"]
    if any("python_type" in o for o in outputs):
        raise DescribeError(f"{path}: forward() returns values that are not tensors; return tensors only")
    batch = input_shapes[0][0]
    batching = all(s[0] == batch for s in input_shapes) and all(o["shape"] and o["shape"][0] == batch
                                                                 for o in outputs)
    model = {"name": _model_name(path), "source": {"kind": "torchscript", "path": str(path)}, "format": "torchscript",
             "max_batch_size": 8 if batching else 0,
             "inputs": _tensors([(f"input__{i}", "TYPE_FP32", s) for i, s in enumerate(input_shapes)], batching,
                                "input"),
             "outputs": _tensors([(f"output__{i}", o["dtype"], o["shape"]) for i, o in enumerate(outputs)], batching,
                                 "output")}
    comment = (f"Read from a run of forward({', '.join(a['name'] for a in arguments)}) on float32 tensors of shapes "
               f"{input_shapes}: outputs {[o['shape'] for o in outputs]}."
               + ("\nWARNING: it answered the same input differently twice: it keeps state between calls."
                  if facts.get("stateful") else ""))
    return Described({"name": "", "server": "triton", "instance_type": "ml.m5.xlarge", "model": model}, comment)


def _tensorflow(path: Path, kind: str, say: Callable[[str], None]) -> Described:
    comment = "A TensorFlow model, served by TensorFlow Serving with its serving_default signature."
    if kind == "saved_model":
        from servekit.model_build import builder

        signatures = builder.run_worker({"task": "check_saved_model", "paths": [str(path)]}, say)["signatures"]
        names = signatures.get(str(path), [])
        if "serving_default" not in names:
            raise DescribeError(f"{path}: the SavedModel has no serving_default signature (it has "
                                f"{', '.join(names) or 'none'}), which TensorFlow Serving answers; export one")
        comment = f"A SavedModel with signatures {', '.join(names)}; TensorFlow Serving answers serving_default."
    return Described({"name": "", "server": "tfs", "instance_type": "ml.c5.xlarge",
                      "models": [{"name": _model_name(path), "source": {"kind": kind, "path": str(path)}}]}, comment)
