"""The identity of a build: sha256 of its inputs, computed without importing torch or TensorFlow.

Inputs: the builder's FORMAT_VERSION, the bytes of every source file (folders walked in sorted order,
paths relative to the folder, so where a checkout lives does not matter), the handler code, the
requirements, the model-relevant options of the endpoint as canonical JSON, and, for steps that run a
framework (examples, Keras export, tracing, ONNX export), the framework versions and the bytes of the
servekit code that runs it. The endpoint's name, instance type and tuning are not inputs: they change
the template, not the artifact.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

from servekit.model_build import handlers
from servekit.model_build.archive import FileHasher
from servekit.spec import sources

# Bump when the same inputs must give different bytes (layout, archive format, export code paths).
FORMAT_VERSION = "3"  # 2: servekit-manifest.json in every built archive; 3: gzip in parallel 1 MiB blocks (pgzip.py)

PACKAGE_DIR = Path(__file__).resolve().parent

# Framework versions that can change the bytes a step produces.
_TOOLS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "keras"),
    "torch": ("torch",),
    "transformers": ("torch", "transformers", "tokenizers", "safetensors"),
    "onnx": ("torch", "onnx"),
    "tensorrt": ("torch", "torch-tensorrt", "tensorrt"),
}


def tool_versions(group: str) -> dict[str, str]:
    return dict(_tool_versions(group))


# Once per process: importlib.metadata.version scans sys.path on every call (6 ms here), and a synth asks
# for the same groups once per endpoint (at 150 endpoints that was 1 s of a 13 s app.py).
@functools.cache
def _tool_versions(group: str) -> dict[str, str]:
    out = {}
    for dist in _TOOLS[group]:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def code_digest(*names: str) -> str:
    """sha256 over servekit's own build code files (their bytes), e.g. examples.py, torch_io.py."""
    return _code_digest(PACKAGE_DIR, names)


@functools.cache  # once per process and folder: servekit's own files do not change while it runs
def _code_digest(package_dir: Path, names: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0" + (package_dir / name).read_bytes() + b"\0")
    return h.hexdigest()


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def digest(data: Any) -> str:
    return hashlib.sha256(canonical(data).encode()).hexdigest()


def module_file(spec: str, root: Path | None = None) -> Path | None:
    """The source file of `module` in `module:Class`, found without importing it (or its packages): in `root` (the
    source's import_root) first, then where the build worker's Python looks."""
    parts = spec.split(":")[0].split(".")
    search: list[str] = [*([str(root)] if root else []), str(Path.cwd()), *sys.path]
    found = None
    for i in range(len(parts)):
        found = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), search)
        if found is None:
            return None
        search = list(found.submodule_search_locations or [])
    if found is None or not found.origin or not Path(found.origin).is_file():
        return None
    return Path(found.origin)


def keras_modules(path: Path) -> list[str]:
    """The custom-class modules a .keras file names (read from its config.json, no TensorFlow import)."""
    from servekit.model_build.user_worker import custom_modules

    return custom_modules(path)


def source_fingerprint(source: Any, hasher: FileHasher, *, needs: tuple[str, ...] = ()) -> dict[str, Any]:
    """What identifies a source's bytes: kind, content digests and non-path options (never the path).

    `needs`: extra tool groups the build of this source runs (e.g. "onnx" for a Triton ONNX export).
    """
    kind = source.kind
    fp: dict[str, Any] = {"kind": kind}
    tools: set[str] = set(needs)
    if isinstance(source, sources.ExampleSource):
        fp["name"] = source.name
        fp["code"] = code_digest("examples.py", "torch_io.py", "worker.py")
        tools.add({"efficientnetv2": "tensorflow", "distilbert-qa": "transformers", "resnet": "torch"}[source.name])
    elif isinstance(source, sources.SavedModelSource | sources.HuggingFaceSource):
        fp["tree"] = hasher.tree(source.path)
    elif isinstance(source, sources.KerasSource):
        fp["file"] = hasher.file(source.path)
        fp["code"] = code_digest("examples.py", "worker.py", "user_worker.py")
        # The custom classes' code is part of the model: hash the files of the modules it names
        fp["modules"] = {name: hasher.file(module) for name in keras_modules(source.path)
                         if (module := module_file(name, source.import_root)) is not None}
        tools.add("tensorflow")
    elif isinstance(source, sources.TorchScriptSource | sources.OnnxSource | sources.ArchiveSource):
        fp["file"] = hasher.file(source.path)
    elif isinstance(source, sources.StateDictSource):
        fp["file"] = hasher.file(source.path)
        fp["model_class"] = source.model_class
        fp["init_kwargs"] = source.init_kwargs
        fp["example_input_shape"] = source.example_input_shape
        module = module_file(source.model_class, source.import_root)
        if module is None:
            name = source.model_class.split(":")[0]
            raise handlers.HandlerError(
                f"model.source.model_class: module {name!r} is not in {source.import_root or Path.cwd()} nor "
                f"installed; put {name.replace('.', '/')}.py beside servekit.yaml, or set source.import_root to the "
                "folder that holds it")
        fp["module_file"] = hasher.file(module)
        fp["code"] = code_digest("torch_io.py", "worker.py")
        tools.add("torch")
    elif isinstance(source, sources.S3Source):
        fp["uri"] = source.uri
    else:  # pragma: no cover - the schema's union is closed
        raise TypeError(f"unknown source {source!r}")
    if tools:
        fp["tools"] = {group: tool_versions(group) for group in sorted(tools)}
    if "tensorrt" in tools:
        # A plan is specific to the GPU kind it is built on: the build GPU is an input of the artifact.
        fp["build_gpu_compute_capability"] = build_gpu_compute_capability()
    return fp


def build_gpu_compute_capability() -> str | None:
    """The first GPU's compute capability from nvidia-smi (no torch import), or None without a GPU."""
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=compute_cap", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30, check=True).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return out[0] if out else None


def handler_digest(key: str) -> str:
    return hashlib.sha256(handlers.handler_path(key).read_bytes()).hexdigest()
