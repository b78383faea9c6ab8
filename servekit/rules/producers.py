"""Can the serving image's runtime load the model file servekit built or was given? The file's producer
(TorchScript file-format version and torch, ONNX IR version and opset, SavedModel TensorFlow version,
TensorRT plan's GPU and TensorRT) against the image's runtime, from servekit.facts (dlc, runtimes, gpus).

Known refusals fail with the fix; what only the runtime knows (new operators, newer TensorFlow ops) warns,
naming both versions.
"""

from __future__ import annotations

from typing import Any

from servekit.facts import dlc, gpus, runtimes
from servekit.rules import Problem


def _minor(version: str) -> tuple[int, int]:
    parts = [int(p) for p in version.split("+")[0].split(".")[:2] if p.isdigit()]
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


def runtime(server: Any, image_version: str, kind: str) -> str | None:
    """The version of the runtime `kind` (torch, onnxruntime, tensorflow, tensorrt) inside `server`'s image that
    reads such model files, or None when servekit has no facts on that image or it has no such runtime."""
    facts = dlc.IMAGES.get((server.name, image_version))
    return None if facts is None else server.runtime_version(facts, kind)


def _confirmed(server: Any, image_version: str) -> bool:
    facts = dlc.IMAGES.get((server.name, image_version))
    return facts is not None and facts.source.confirmed


def torchscript(field: str, record: dict, server: Any, image_version: str) -> list[Problem]:
    torch = runtime(server, image_version, "torch")
    if torch is None:
        return [Problem(field, record.get("torch"), f"servekit has no facts on the torch inside the {server.name} "
                        f"{image_version} image; whether it loads this TorchScript is not checked", "warning")]
    reader = runtimes.TORCHSCRIPT.get(".".join(map(str, _minor(torch))))
    version = record.get("file_format_version")
    if reader is not None and version is not None and version > reader.max_file_format_version:
        return [Problem(field, f"TorchScript file format {version}",
                        f"torch {torch} in the {server.name} {image_version} image reads up to "
                        f"{reader.max_file_format_version}; save it with torch {torch} or pick a newer image_version",
                        "error" if reader.source.confirmed else "warning")]
    producer = record.get("torch")
    if producer and _minor(producer) > _minor(torch):
        return [Problem(field, f"made with torch {producer}",
                        f"the {server.name} {image_version} image runs torch {torch}; the file format ({version}) is one "
                        "it reads, but operators added after it would fail at load: test it in that image, or trace "
                        f"it with torch {torch}", "warning")]
    return []


def onnx(field: str, record: dict, server: Any, image_version: str) -> list[Problem]:
    ort = runtime(server, image_version, "onnxruntime")
    known = runtimes.ONNXRUNTIME.get(ort or "")
    if known is None:
        return [Problem(field, f"IR {record.get('ir_version')}, opset {record.get('opset')}",
                        f"servekit has no facts on the ONNX Runtime of the {server.name} {image_version} image; whether "
                        "it loads this "
                        "model is not checked", "warning")]
    sure = known.source.confirmed and _confirmed(server, image_version)
    out = []
    if record.get("ir_version", 0) > known.max_ir_version:
        out.append(Problem(field, f"ONNX IR version {record['ir_version']}",
                           f"ONNX Runtime {ort} in the {server.name} {image_version} image loads IR up to {known.max_ir_version} "
                           f"(\"Unsupported model IR version\"); export with an older onnx/opset (servekit's own "
                           f"export uses opset 17, IR 8) or pick a newer image_version", "error" if sure else "warning"))
    if record.get("opset", 0) > known.max_opset:
        out.append(Problem(field, f"opset {record['opset']}",
                           f"ONNX Runtime {ort} in the {server.name} {image_version} image implements opsets up to {known.max_opset}; "
                           f"export with opset_version <= {known.max_opset}", "error" if sure else "warning"))
    return out


def saved_model(field: str, record: dict, server: Any, image_version: str) -> list[Problem]:
    tensorflow = runtime(server, image_version, "tensorflow")
    producer = record.get("tensorflow")
    if tensorflow is None or not producer:
        return [Problem(field, producer, f"servekit has no TensorFlow version for this SavedModel or the "
                        f"{server.name} {image_version} image; whether it loads is not checked", "warning")
                ] if producer else []
    if _minor(producer) > _minor(tensorflow):
        return [Problem(field, f"made with TensorFlow {producer}",
                        f"the {server.name} {image_version} image serves TensorFlow {tensorflow}; ops added after "
                        f"it fail at load (\"Op type not registered\"): test it in that image, or export it with "
                        f"TensorFlow {tensorflow}", "warning")]
    return []


def tensorrt_plan(field: str, record: dict, server: Any, instance_type: str | None, image_version: str) -> list[Problem]:
    """A plan runs only on the compute capability, and with the TensorRT, it was built with."""
    out = []
    family = gpus.facts_for(instance_type)
    built_cc = record.get("compute_capability")
    if not built_cc or not record.get("tensorrt"):
        return [Problem(field, None, "the plan records no build GPU or TensorRT version (no servekit manifest); "
                        "servekit cannot check that it runs on the endpoint's GPU and image", "warning")]
    if family is not None and built_cc != f"{family.compute_capability[0]}.{family.compute_capability[1]}":
        out.append(Problem(field, f"built on compute capability {built_cc}",
                           f"{instance_type}'s {family.gpu} has {family.compute_capability[0]}."
                           f"{family.compute_capability[1]}, and a TensorRT plan runs only on the GPU kind it was "
                           "built on; build it on that GPU, or use format: onnx with onnx_tensorrt_accelerator"))
    image_trt = runtime(server, image_version, "tensorrt")
    if image_trt is None:
        out.append(Problem(field, f"TensorRT {record['tensorrt']}", f"servekit has no TensorRT version for the "
                           f"{server.name} {image_version} image; whether it deserializes the plan is not checked",
                           "warning"))
    elif _minor(record["tensorrt"]) != _minor(image_trt):
        out.append(Problem(field, f"built with TensorRT {record['tensorrt']}",
                           f"the {server.name} {image_version} image runs TensorRT {image_trt}, and plans deserialize only in the "
                           "TensorRT they were built with; build it with that TensorRT or pick the matching image",
                           "error" if _confirmed(server, image_version) else "warning"))
    return out
