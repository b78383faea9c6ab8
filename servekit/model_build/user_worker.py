"""Build steps for a user's own model that need torch or TensorFlow, run in a fresh interpreter with the protocol of
servekit.model_build.worker (`progress:` lines, then `result: <json>` or `error: <message>`).

They live apart from worker.py because the embedded examples' identities hash worker.py, torch_io.py and
examples.py (identity.source_fingerprint): a step added there would change every example's artifact, and so the
embedded default's templates. `python -m servekit.model_build.user_worker '<json task>'`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from servekit.model_build import worker
from servekit.model_build.torch_io import TORCH_DTYPE_TO_TRITON, TRITON_TO_TORCH_DTYPE

TENSOR_TYPES = ("Tensor", "Optional[Tensor]")


# ---------------------------------------------------------------------------------------------
# TorchScript: what it takes and gives
# ---------------------------------------------------------------------------------------------
def forward_arguments(module: Any) -> list[dict[str, str]]:
    """forward()'s arguments after self: name and TorchScript type ("Tensor", "int", "float", ...)."""
    return [{"name": a.name, "type": str(a.type)} for a in module.forward.schema.arguments[1:]]


def describe_torchscript(path: Path, shapes: list[list[int]], dtypes: list[str]) -> dict:
    """What a TorchScript file takes and gives: forward()'s arguments with their types, and, when every argument is a
    tensor, the outputs of one pass on seeded random tensors of `shapes` (batch first) and whether a second pass on the
    same tensors answers the same (a model that keeps state between calls does not)."""
    import torch

    module = torch.jit.load(str(path), map_location="cpu").eval()
    arguments = forward_arguments(module)
    facts: dict[str, Any] = {"arguments": arguments}
    if any(a["type"] not in TENSOR_TYPES for a in arguments) or len(shapes) != len(arguments):
        return facts
    generator = torch.Generator().manual_seed(0)
    tensors = []
    for shape, dtype in zip(shapes, dtypes, strict=True):
        kind = getattr(torch, TRITON_TO_TORCH_DTYPE.get(dtype, "float32"))
        tensors.append(torch.rand(shape, generator=generator).to(kind) if kind.is_floating_point
                       else torch.zeros(shape, dtype=kind))
    try:
        with torch.no_grad():
            first = module(*tensors)
            second = module(*tensors)
    except Exception as err:  # noqa: BLE001 - reported with the shapes that failed
        facts["error"] = str(err).strip().splitlines()[-1][:300]
        return facts
    facts["outputs"] = outputs_of(first)
    facts["stateful"] = not same_outputs(first, second)
    return facts


def outputs_of(result: Any) -> list[dict[str, Any]]:
    """Each value forward() returned (a tensor, or a tuple/list of them) with its Triton type and shape; a value that
    is not a tensor is listed with its Python type."""
    import torch

    values = list(result) if isinstance(result, tuple | list) else [result]
    return [{"dtype": TORCH_DTYPE_TO_TRITON.get(str(v.dtype), str(v.dtype)), "shape": list(v.shape)}
            if isinstance(v, torch.Tensor) else {"python_type": type(v).__name__} for v in values]


def same_outputs(first: Any, second: Any) -> bool:
    import torch

    a = list(first) if isinstance(first, tuple | list) else [first]
    b = list(second) if isinstance(second, tuple | list) else [second]
    return len(a) == len(b) and all(
        torch.equal(x, y) if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) else x == y
        for x, y in zip(a, b, strict=True))


def _describe_torchscript(task: dict[str, Any]) -> dict[str, Any]:
    worker.progress(f"running the TorchScript model twice on random tensors of shapes {task['shapes']}")
    return describe_torchscript(Path(task["path"]), task["shapes"], task["dtypes"])


# ---------------------------------------------------------------------------------------------
# Keras: any functional model, with its custom classes
# ---------------------------------------------------------------------------------------------
KERAS_PACKAGES = ("keras", "tensorflow", "tf_keras", "keras_hub", "keras_nlp", "keras_cv", "builtins")


def custom_modules(path: Path) -> list[str]:
    """The modules of the custom classes a .keras file names (its config.json's `module` keys outside Keras):
    Keras 3 imports only its own packages when it loads, so they are imported first."""
    import json
    import zipfile

    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        return []
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            module = node.get("module")
            if isinstance(module, str) and "class_name" in node and module.split(".")[0] not in KERAS_PACKAGES:
                found.add(module)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return sorted(found)


def export_keras(model: Any, out_dir: Path) -> None:
    """A SavedModel whose serving_default answers with every output by name. A model with one input and one output
    keeps the signature servekit's examples have (`input` -> `probabilities`, examples.export_keras_saved_model)."""
    import tensorflow as tf

    from servekit.model_build import examples

    if len(model.inputs) == 1 and len(model.outputs) == 1:
        examples.export_keras_saved_model(model, out_dir)
        return
    specs = [tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=_name(getattr(t, "name", ""), f"input_{i}"))
             for i, t in enumerate(model.inputs)]
    names = [_name(n, f"output_{i}") for i, n in enumerate(model.output_names)]

    class Serving(tf.Module):
        def __init__(self, m: Any):
            super().__init__()
            self.model = m

        @tf.function(input_signature=specs)
        def serve(self, *xs: Any) -> dict[str, Any]:
            out = self.model(list(xs) if len(xs) > 1 else xs[0], training=False)
            if isinstance(out, dict):
                return out
            return dict(zip(names, out if isinstance(out, list | tuple) else [out], strict=True))

    module = Serving(model)
    tf.saved_model.save(module, str(out_dir), signatures={"serving_default": module.serve})


def _name(name: str, default: str) -> str:
    import re

    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name.split(":")[0]).strip("_")
    return cleaned if cleaned and cleaned[0].isalpha() else default


def _keras(task: dict[str, Any]) -> dict[str, Any]:
    import importlib

    path = Path(task["path"])
    if task.get("import_root"):
        sys.path.insert(0, task["import_root"])
    modules = custom_modules(path)
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise RuntimeError(
                f"the model's custom classes are in module {name!r}, which cannot be imported ({err}); install the "
                f"package that defines it, or put {name.replace('.', '/')}.py (its classes decorated "
                "@keras.saving.register_keras_serializable) beside servekit.yaml or under source.import_root; or "
                "export a SavedModel yourself (model.export(path)) and use kind: saved_model") from None
    import keras

    worker.progress(f"loading Keras model {path}" + (f" (custom classes from {', '.join(modules)})" if modules else ""))
    try:
        model = keras.models.load_model(str(path), compile=False)
    except (TypeError, ValueError) as err:
        if "Could not locate" not in str(err) and "Unknown" not in str(err):
            raise
        raise RuntimeError(
            f"Keras cannot rebuild a custom class of {path.name} ({str(err).splitlines()[0][:300]}): decorate it with "
            "@keras.saving.register_keras_serializable() in a module beside servekit.yaml (a .keras file names its "
            "module, which servekit imports first; an .h5 file does not: save as .keras), or export a SavedModel "
            "yourself (model.export(path)) and use kind: saved_model") from None
    worker.progress(f"exporting it as a SavedModel: serving_default with {len(model.outputs)} output(s)")
    export_keras(model, Path(task["out"]))
    worker.normalize_saved_model(Path(task["out"]))
    return {"modules": modules}


TASKS = {"describe_torchscript": _describe_torchscript, "keras": _keras}

if __name__ == "__main__":
    worker.TASKS.update(TASKS)  # the same protocol and error handling, with these tasks
    raise SystemExit(worker.main(sys.argv[1:]))
