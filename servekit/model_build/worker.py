"""Build steps that need torch, TensorFlow or transformers, each run in a fresh interpreter.

`python -m servekit.model_build.worker '<json task>'` prints `progress: ...` lines while it works and a
last line `result: <json>`; on failure it prints `error: <message>` and exits 2. A fresh process per
step keeps the exports deterministic (TensorFlow numbers traced functions process-wide), keeps
torch and TensorFlow out of the process that runs `cdk synth`, and frees their memory at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any


def progress(message: str) -> None:
    print(f"progress: {message}", flush=True)


def normalize_saved_model(out_dir: Path) -> None:
    """Make a SavedModel written here byte-reproducible: fingerprint.pb carries a random uuid.

    The uuid is replaced with one derived from the fingerprint's content hashes (TF reads it only to
    tag the load in logs and metrics); saved_model.pb and variables/ are deterministic already when
    exported from a fresh process with fixed seeds.
    """
    fp = out_dir / "fingerprint.pb"
    if not fp.exists():
        return
    from tensorflow.core.protobuf import fingerprint_pb2

    msg = fingerprint_pb2.FingerprintDef()
    msg.ParseFromString(fp.read_bytes())
    if not msg.uuid:
        return
    msg.uuid = ""
    digest = hashlib.sha256(msg.SerializeToString(deterministic=True)).digest()
    msg.uuid = str(int.from_bytes(digest[:16], "big"))
    fp.write_bytes(msg.SerializeToString(deterministic=True))


def _example(task: dict[str, Any]) -> dict[str, Any]:
    from servekit.model_build import examples

    out = Path(task["out"])
    progress(f"making example {task['name']!r}")
    examples.MAKERS[task["name"]](out)
    if task["name"] == "efficientnetv2":
        normalize_saved_model(out)
    return {}


def _keras(task: dict[str, Any]) -> dict[str, Any]:
    import keras

    from servekit.model_build import examples

    progress(f"loading Keras model {task['path']}")
    model = keras.models.load_model(task["path"], compile=False)
    progress("exporting it as a SavedModel with a serving_default signature")
    examples.export_keras_saved_model(model, Path(task["out"]))
    normalize_saved_model(Path(task["out"]))
    return {}


def _check_saved_model(task: dict[str, Any]) -> dict[str, Any]:
    """The signature names of each SavedModel in `paths`, read from saved_model.pb (one TF import for all)."""
    from tensorflow.core.protobuf import saved_model_pb2

    out, producers = {}, {}
    for path in task["paths"]:
        sm = saved_model_pb2.SavedModel()
        sm.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
        out[path] = sorted({k for mg in sm.meta_graphs for k in mg.signature_def})
        # The TensorFlow that wrote it (MetaInfoDef.tensorflow_version), for servekit.rules.producers.
        producers[path] = next((mg.meta_info_def.tensorflow_version for mg in sm.meta_graphs
                                if mg.meta_info_def.tensorflow_version), "")
    return {"signatures": out, "tensorflow": producers}


def _state_dict(task: dict[str, Any]) -> dict[str, Any]:
    from servekit.model_build import torch_io

    progress(f"loading state_dict into {task['model_class']} and tracing it with shape {task['shape']}")
    torch_io.state_dict_to_torchscript(Path(task["path"]), task["model_class"], task["init_kwargs"], task["shape"],
                                       Path(task["out"]))
    return {}


def _inspect_torchscript(task: dict[str, Any]) -> dict[str, Any]:
    from servekit.model_build import torch_io

    progress("running the TorchScript model once with zero tensors of the configured shapes")
    return torch_io.inspect_torchscript(Path(task["path"]), task["inputs"], task["max_batch_size"])


def _onnx(task: dict[str, Any]) -> dict[str, Any]:
    from servekit.model_build import torch_io

    progress("exporting to ONNX (dynamic batch axis)")
    torch_io.export_onnx(Path(task["path"]), task["inputs"], task["outputs"], task["max_batch_size"], Path(task["out"]))
    return {}


def _tensorrt(task: dict[str, Any]) -> dict[str, Any]:
    import tensorrt
    import torch

    from servekit.model_build import torch_io

    progress("compiling a TensorRT engine with torch_tensorrt (specific to this GPU)")
    torch_io.compile_tensorrt(Path(task["path"]), task["inputs"], task["max_batch_size"], task["min_batch"],
                              task["opt_batch"], task["precisions"], Path(task["out"]))
    major, minor = torch.cuda.get_device_capability()
    # A plan runs only on this compute capability and this TensorRT: the manifest records both.
    return {"compute_capability": f"{major}.{minor}", "tensorrt": tensorrt.__version__,
            "gpu": torch.cuda.get_device_name()}


def _verify_huggingface(task: dict[str, Any]) -> dict[str, Any]:
    """Load the save_pretrained directory the way the question-answering handler will: locally only."""
    from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer

    path = task["path"]
    progress(f"loading {path} with local_files_only")
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    AutoTokenizer.from_pretrained(path, local_files_only=True)
    AutoModelForQuestionAnswering.from_pretrained(path, local_files_only=True)
    return {"model_type": config.model_type, "architectures": list(config.architectures or [])}


TASKS = {
    "example": _example,
    "keras": _keras,
    "check_saved_model": _check_saved_model,
    "state_dict": _state_dict,
    "inspect_torchscript": _inspect_torchscript,
    "onnx": _onnx,
    "tensorrt": _tensorrt,
    "verify_huggingface": _verify_huggingface,
}


def main(argv: list[str]) -> int:
    task = json.loads(argv[0])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        result = TASKS[task["task"]](task)
    except Exception as err:  # noqa: BLE001 - reported to the parent as one line
        message = " ".join(f"{type(err).__name__}: {err}".split())
        print(f"error: {message[:2000]}", flush=True)
        return 2
    print("result: " + json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
