"""servekit-manifest.json: what produced each model file of an artifact (framework versions, file formats,
TensorRT's build GPU), written into the archive and beside the cached archive, and checked against the
serving image by servekit.rules.producers on every build, cached or not (a changed image_version does not
change the artifact's identity, so a cached artifact must be checked again).

It sits at the archive root for TFS and TorchServe (both containers ignore unknown root files) and in the
model's folder for Triton, where a file at the repository root would be taken for a model.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from servekit.model_build.archive import artifact_files
from servekit.rules import Problem, producers

NAME = "servekit-manifest.json"


def torchscript_record(path: Path, producer_torch: str | None) -> dict[str, Any]:
    """The TorchScript zip's `<name>/version` (its file-format version), read without torch."""
    version = None
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.count("/") == 1 and name.endswith("/version"):
                version = int(archive.read(name).strip())
                break
    return {"format": "torchscript", "file_format_version": version, "torch": producer_torch}


def onnx_record(path: Path) -> dict[str, Any]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    return {"format": "onnx", "ir_version": model.ir_version, "opset": opset,
            "producer": f"{model.producer_name} {model.producer_version}".strip()}


def encode(files: dict[str, dict[str, Any]]) -> bytes:
    return (json.dumps({"servekit_manifest": 1, "files": files}, indent=1, sort_keys=True) + "\n").encode()


def read_from_archive(path: Path) -> dict[str, Any] | None:
    """The manifest inside a model.tar.gz (or an uncompressed layout), or None (streams the archive; servekit's own
    sort it early)."""
    for name, read in artifact_files(path):
        if name.rsplit("/", 1)[-1] == NAME:
            return json.loads(read())
    return None


def problems(manifest: dict[str, Any] | None, server: Any, image_version: str,
             instance_type: str | None) -> list[Problem]:
    """servekit.rules.producers over every file the manifest lists; `server`: the endpoint's
    servekit.servers.base.Server."""
    out: list[Problem] = []
    for name, record in sorted(((manifest or {}).get("files") or {}).items()):
        kind = record.get("format")
        if kind == "torchscript":
            out += producers.torchscript(name, record, server, image_version)
        elif kind == "onnx":
            out += producers.onnx(name, record, server, image_version)
        elif kind == "saved_model":
            out += producers.saved_model(name, record, server, image_version)
        elif kind == "tensorrt_plan":
            out += producers.tensorrt_plan(name, record, server, instance_type, image_version)
    return out
