"""build(): an endpoint's model source -> its server's layout -> a checked, deterministic model.tar.gz.

Steps that need a framework (examples, Keras export, tracing, ONNX/TensorRT export, inspecting a
TorchScript file) run in a fresh interpreter (worker.py); this module imports neither torch nor
TensorFlow, so a cached build costs a few file stats and one JSON hash.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servekit import config
from servekit.model_build import handlers, identity, manifest, triton_config
from servekit.model_build.archive import Content, FileHasher, tree_entries, write_archive
from servekit.model_build.check import check_artifact
from servekit.model_build.examples import EXAMPLE_SERVERS

REPO_ROOT = Path(__file__).resolve().parents[2]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Artifact:
    """A local model.tar.gz. `identity`: sha256 (hex) of the build's inputs, the CDK asset hash."""

    path: Path
    identity: str
    size_bytes: int


@dataclass(frozen=True)
class RemoteArtifact:
    """A model.tar.gz already in S3 (`kind: s3`): nothing is built or uploaded."""

    uri: str


class BuildError(Exception):
    """A build that must not reach CloudFormation. `problems`: one line each, naming the fix."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = list(problems or [])
        text = message + "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(text)


@dataclass
class _Plan:
    identity: str
    materialize: Callable[[Path, Progress], dict[str, Content]]
    default_model_name: str | None


# ---------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------
def build(endpoint: Any, *, cache_dir: Path, progress: Progress | None = None) -> Artifact | RemoteArtifact:
    """Build `endpoint`'s model into `cache_dir/<identity>/model.tar.gz` (or return the cached one).

    Raises BuildError (with `problems`) when a source is missing or unusable, when the config does not
    match the exported model, or when check_artifact finds a problem in what was built.
    """
    cache_dir = Path(cache_dir)
    say: Progress = progress or (lambda _message: None)
    where = f"endpoint {endpoint.name}"
    source = _only_source(endpoint)
    if isinstance(source, config.S3Source):
        return RemoteArtifact(uri=source.uri)
    hasher = FileHasher(cache_dir / "file-hashes.json")
    try:
        if isinstance(source, config.ArchiveSource):
            return _pass_through(endpoint, source, cache_dir, hasher, say)
        plan = _plan(endpoint, hasher)
    except (OSError, handlers.HandlerError) as err:
        raise BuildError(f"{where}: {_os_error(err)}") from None
    finally:
        hasher.save()
    dest = cache_dir / plan.identity / "model.tar.gz"
    if dest.is_file():
        say(f"{endpoint.name}: cached {dest}")
        _check_producers(endpoint, _cached_manifest(dest), say)
        return Artifact(path=dest, identity=plan.identity, size_bytes=dest.stat().st_size)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".work-", dir=cache_dir) as tmp:
        work = Path(tmp)
        say(f"{endpoint.name}: building {endpoint.server} artifact {plan.identity[:12]}")
        try:
            entries = plan.materialize(work, lambda m: say(f"{endpoint.name}: {m}"))
        except (OSError, handlers.HandlerError) as err:
            raise BuildError(f"{where}: {_os_error(err)}") from None
        records = entries.pop(_RECORDS, {})  # what produced each model file: the manifest
        if records:
            entries[_manifest_name(endpoint)] = manifest.encode(records)
        _check_producers(endpoint, {"files": records}, say)
        built = work / "model.tar.gz"
        write_archive(entries, built, progress=lambda m: say(f"{endpoint.name}: {m}"))
        problems = check_artifact(built, endpoint.server, default_model_name=plan.default_model_name,
                                  instance_type=endpoint.instance_type)
        if problems:
            raise BuildError(f"{where}: the built archive fails check-artifact", problems)
        dest.parent.mkdir(parents=True, exist_ok=True)
        (dest.parent / "inputs.json").write_text(json.dumps({"endpoint": endpoint.name, "server": endpoint.server,
                                                             "format_version": identity.FORMAT_VERSION}, indent=1))
        (dest.parent / manifest.NAME).write_bytes(manifest.encode(records))
        os.replace(built, dest)
    say(f"{endpoint.name}: built {dest} ({dest.stat().st_size / 1e6:.1f} MB)")
    return Artifact(path=dest, identity=plan.identity, size_bytes=dest.stat().st_size)


_RECORDS = "\0records"  # materialize's entry for the manifest records (not an archive path)
_WARNED: set[str] = set()  # each producer warning once per process


def _manifest_name(endpoint: Any) -> str:
    # Triton would take a file at the repository root for a model: the manifest sits in the model's folder.
    return f"{endpoint.model.name}/{manifest.NAME}" if isinstance(endpoint, config.TritonEndpointSpec) else manifest.NAME


def _cached_manifest(archive: Path) -> dict[str, Any] | None:
    beside = archive.parent / manifest.NAME
    return json.loads(beside.read_text()) if beside.is_file() else None


def _check_producers(endpoint: Any, found: dict[str, Any] | None, say: Progress) -> None:
    """servekit.rules.producers against the endpoint's image: errors fail the build, warnings print once."""
    problems = manifest.problems(found, endpoint.server, endpoint.image_version, endpoint.instance_type)
    errors = [f"{p}" for p in problems if p.severity == "error"]
    if errors:
        raise BuildError(f"endpoint {endpoint.name}: the {endpoint.server} {endpoint.image_version} image cannot "
                         "load the model file", errors)
    for p in problems:
        line = f"warning: {p}"
        if line not in _WARNED:
            _WARNED.add(line)
            say(f"{endpoint.name}: {line}")


def _producer_torch(source: Any) -> str | None:
    """The torch that wrote a TorchScript file servekit makes (examples, state_dict); None for a user's file."""
    if isinstance(source, config.ExampleSource | config.StateDictSource):
        return identity.tool_versions("torch").get("torch")
    return None


def _tensorflow_here() -> str | None:
    versions = identity.tool_versions("tensorflow")
    return versions.get("tensorflow-cpu") or versions.get("tensorflow")


def _os_error(err: Exception) -> str:
    if isinstance(err, OSError) and err.filename:
        return f"{err.filename}: {err.strerror or err}; check the source path in servekit.yaml"
    return str(err)


def _only_source(endpoint: Any) -> Any:
    if isinstance(endpoint, config.TfsEndpointSpec):
        if len(endpoint.models) == 1 and endpoint.models[0].source.kind in ("archive", "s3"):
            return endpoint.models[0].source
        return None
    return endpoint.model.source if endpoint.model.source.kind in ("archive", "s3") else None


def _default_model_name(endpoint: Any) -> str | None:
    if isinstance(endpoint, config.TfsEndpointSpec):
        return endpoint.default_model_name
    if isinstance(endpoint, config.TritonEndpointSpec):
        return endpoint.model.name
    return None


def _pass_through(endpoint: Any, source: config.ArchiveSource, cache_dir: Path, hasher: FileHasher,
                  say: Progress) -> Artifact:
    """An existing archive: identity = sha256 of its bytes; checked once per (identity, server, options)."""
    path = source.path
    if not path.is_file():
        raise BuildError(f"endpoint {endpoint.name}: archive source {path} does not exist; give the path of a "
                         "model.tar.gz")
    digest = hasher.file(path)
    default_name = _default_model_name(endpoint)
    options = identity.digest([endpoint.server, default_name, endpoint.instance_type])[:16]
    marker = cache_dir / digest / f"checked-{endpoint.server}-{options}"
    recorded = cache_dir / digest / manifest.NAME
    if not recorded.exists():  # read once: the archive streams past its manifest to the end when it has none
        recorded.parent.mkdir(parents=True, exist_ok=True)
        recorded.write_text(json.dumps(manifest.read_from_archive(path)))
    _check_producers(endpoint, json.loads(recorded.read_text()), say)
    if not marker.exists():
        say(f"{endpoint.name}: checking {path}")
        problems = check_artifact(path, endpoint.server, default_model_name=default_name,
                                  instance_type=endpoint.instance_type)
        if problems:
            raise BuildError(f"endpoint {endpoint.name}: archive {path} fails check-artifact", problems)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(path) + "\n")
    return Artifact(path=path, identity=digest, size_bytes=path.stat().st_size)


def identity_of(endpoint: Any, *, cache_dir: Path) -> str | None:
    """The identity `build` would give `endpoint` (None for an s3 source), without building anything."""
    source = _only_source(endpoint)
    if isinstance(source, config.S3Source):
        return None
    hasher = FileHasher(Path(cache_dir) / "file-hashes.json")
    try:
        if isinstance(source, config.ArchiveSource):
            return hasher.file(source.path)
        return _plan(endpoint, hasher).identity
    finally:
        hasher.save()


# ---------------------------------------------------------------------------------------------
# Worker
# ---------------------------------------------------------------------------------------------
def run_worker(task: dict[str, Any], say: Progress) -> dict[str, Any]:
    """Run one framework step in a fresh interpreter; its `progress:` lines go to `say`."""
    env = dict(os.environ)
    env.update(PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               KERAS_BACKEND="tensorflow", TOKENIZERS_PARALLELISM="false", TF_ENABLE_ONEDNN_OPTS="0")
    if task["task"] != "tensorrt":
        env["CUDA_VISIBLE_DEVICES"] = ""  # CPU kernels: same bytes on every machine, no GPU needed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.getcwd(), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "servekit.model_build.worker", json.dumps(task)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    tail: collections.deque[str] = collections.deque(maxlen=20)
    result = error = None
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith("progress: "):
            say(line[len("progress: "):])
        elif line.startswith("result: "):
            result = json.loads(line[len("result: "):])
        elif line.startswith("error: "):
            error = line[len("error: "):]
        elif line.strip():
            tail.append(line)
    code = proc.wait()
    if code != 0 or result is None:
        detail = error or " | ".join(tail) or f"exit code {code}"
        raise BuildError(f"{task['task']} step failed: {detail}")
    return result


# ---------------------------------------------------------------------------------------------
# Plans per server: identity first (cheap), materialize only on a cache miss
# ---------------------------------------------------------------------------------------------
def _plan(endpoint: Any, hasher: FileHasher) -> _Plan:
    if isinstance(endpoint, config.TfsEndpointSpec):
        return _plan_tfs(endpoint, hasher)
    if isinstance(endpoint, config.TorchServeEndpointSpec):
        return _plan_torchserve(endpoint, hasher)
    if isinstance(endpoint, config.TritonEndpointSpec):
        return _plan_triton(endpoint, hasher)
    raise TypeError(f"not an endpoint: {endpoint!r}")


def _check_example(source: Any, server: str, field: str) -> None:
    if isinstance(source, config.ExampleSource) and server not in EXAMPLE_SERVERS[source.name]:
        fits = sorted(n for n, servers in EXAMPLE_SERVERS.items() if server in servers)
        raise BuildError(f"{field}: example {source.name!r} cannot serve on {server}; use {' or '.join(fits)}")


def _check_path(source: Any, field: str, *, is_dir: bool) -> None:
    path = getattr(source, "path", None)
    if path is None:
        return
    if is_dir and not path.is_dir():
        raise BuildError(f"{field}.path: {path} is not a directory; point it at the {source.kind} folder")
    if not is_dir and not path.is_file():
        raise BuildError(f"{field}.path: {path} is not a file; point it at the {source.kind} file")


def _identity(data: dict[str, Any]) -> str:
    return identity.digest({"format_version": identity.FORMAT_VERSION, **data})


def _plan_tfs(ep: config.TfsEndpointSpec, hasher: FileHasher) -> _Plan:
    for i, m in enumerate(ep.models):
        field = f"models[{i}] ({m.name}).source"
        if m.name == "code":
            raise BuildError(f"models[{i}].name: 'code' collides with the handler's code/ folder; rename the model")
        _check_example(m.source, "tfs", field)
        _check_path(m.source, field, is_dir=m.source.kind == "saved_model")
        if m.source.kind == "saved_model" and not (m.source.path / "saved_model.pb").is_file():
            raise BuildError(f"{field}.path: {m.source.path} holds no saved_model.pb; point it at the SavedModel "
                             "folder (the one with saved_model.pb and variables/)")
    reqs = handlers.requirements_lines("tfs", [])
    data = {
        "server": "tfs",
        "models": [{"name": m.name, "version": m.version, "source": identity.source_fingerprint(m.source, hasher)}
                   for m in ep.models],
        "handler": identity.handler_digest("tfs"),
        "requirements": reqs,
    }

    def materialize(work: Path, say: Progress) -> dict[str, Content]:
        entries: dict[str, Content] = {}
        given = [str(m.source.path) for m in ep.models if isinstance(m.source, config.SavedModelSource)]
        producers: dict[str, str] = {}
        if given:
            checked = run_worker({"task": "check_saved_model", "paths": given}, say)
            signatures, producers = checked["signatures"], checked.get("tensorflow", {})
            for path, names in signatures.items():
                if "serving_default" not in names:
                    raise BuildError(f"SavedModel {path} has no serving_default signature (it has "
                                     f"{', '.join(names) or 'none'}); TFS answers /invocations with serving_default "
                                     "— re-export it with signatures={'serving_default': ...}")
        records = {}
        for m in ep.models:
            folder = _saved_model(m.source, work / f"model-{m.name}", say)
            entries.update(tree_entries(folder, f"{m.name}/{m.version}"))
            producer = producers.get(str(m.source.path)) if given and hasattr(m.source, "path") else None
            records[f"{m.name}/{m.version}/saved_model.pb"] = {
                "format": "saved_model",
                "tensorflow": producer if isinstance(m.source, config.SavedModelSource) else _tensorflow_here()}
        entries[_RECORDS] = records  # type: ignore[assignment]
        entries["code/inference.py"] = handlers.handler_path("tfs")
        entries["code/requirements.txt"] = handlers.requirements_text(reqs)
        return entries

    return _Plan(_identity(data), materialize, ep.default_model_name)


def _saved_model(source: Any, out: Path, say: Progress) -> Path:
    if isinstance(source, config.ExampleSource):
        run_worker({"task": "example", "name": source.name, "out": str(out)}, say)
        return out
    if isinstance(source, config.KerasSource):
        run_worker({"task": "keras", "path": str(source.path), "out": str(out)}, say)
        return out
    return source.path


def _plan_torchserve(ep: config.TorchServeEndpointSpec, hasher: FileHasher) -> _Plan:
    model = ep.model
    source = model.source
    _check_example(source, "torchserve", "model.source")
    _check_path(source, "model.source", is_dir=source.kind == "huggingface")
    key = handlers.torchserve_handler(model)
    qa_source = source.kind == "huggingface" or (source.kind == "example" and source.name == "distilbert-qa")
    if key == "question-answering" and not qa_source:
        raise BuildError(f"model.handler: question-answering needs a huggingface source (or example distilbert-qa), "
                         f"not {source.kind}; use handler: vision or auto, or your own inference.py")
    if key == "vision" and qa_source:
        raise BuildError("model.handler: vision needs a TorchScript model, not a Hugging Face one; use handler: "
                         "question-answering or auto")
    builtin = key in handlers.HANDLER_FILES
    reqs = handlers.requirements_lines(key if builtin else "custom", model.requirements)
    handler_file = handlers.handler_path(key)
    support = handlers.support_paths(key)
    data = {
        "server": "torchserve",
        "source": identity.source_fingerprint(source, hasher),
        "handler": {"name": key if builtin else "custom", "sha256": hashlib.sha256(handler_file.read_bytes()).hexdigest(),
                    "support": {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in support.items()}},
        "requirements": reqs,
        "labels": model.labels,
    }

    def materialize(work: Path, say: Progress) -> dict[str, Content]:
        entries: dict[str, Content] = {}
        if qa_source:
            folder = source.path if source.kind == "huggingface" else work / "hf"
            if source.kind == "example":
                run_worker({"task": "example", "name": source.name, "out": str(folder)}, say)
            else:  # a user's folder: prove it loads offline, as the handler will load it
                run_worker({"task": "verify_huggingface", "path": str(folder)}, say)
            entries.update(tree_entries(folder))
            if "code" in entries:
                raise BuildError(f"{folder}: holds a code/ folder, which would clash with the handler's code/; "
                                 "remove it from the model folder")
        else:
            entries["model.pt"] = _torchscript(source, work, say)
            entries[_RECORDS] = {"model.pt": manifest.torchscript_record(entries["model.pt"],  # type: ignore[dict-item]
                                                                          _producer_torch(source))}
        if model.labels:
            entries["labels.json"] = (json.dumps(model.labels, ensure_ascii=False) + "\n").encode()
        entries["code/inference.py"] = handler_file
        entries.update(support)
        entries["code/requirements.txt"] = handlers.requirements_text(reqs)
        return entries

    return _Plan(_identity(data), materialize, None)


def _torchscript(source: Any, work: Path, say: Progress) -> Path:
    """A TorchScript file for a torch source (example resnet, torchscript, state_dict)."""
    if isinstance(source, config.TorchScriptSource):
        return source.path
    out = work / "torchscript"
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(source, config.ExampleSource):
        run_worker({"task": "example", "name": source.name, "out": str(out)}, say)
    else:
        run_worker({"task": "state_dict", "path": str(source.path), "model_class": source.model_class,
                    "init_kwargs": source.init_kwargs, "shape": source.example_input_shape,
                    "out": str(out / "model.pt")}, say)
    return out / "model.pt"


def _plan_triton(ep: config.TritonEndpointSpec, hasher: FileHasher) -> _Plan:
    model = ep.model
    source = model.source
    _check_example(source, "triton", "model.source")
    _check_path(source, "model.source", is_dir=False)
    if source.kind == "onnx" and model.format != "onnx":
        raise BuildError(f"model.format: {model.format!r} with an onnx source; set format: onnx (and "
                         "onnx_tensorrt_accelerator for TensorRT at load)")
    needs: tuple[str, ...] = ()
    if model.format == "onnx" and source.kind != "onnx":
        needs = ("onnx",)
    elif model.format == "tensorrt":
        needs = ("tensorrt",)
    data = {
        "server": "triton",
        "model": model.model_dump(mode="json", exclude={"source"}),
        "source": identity.source_fingerprint(source, hasher, needs=needs),
    }

    def materialize(work: Path, say: Progress) -> dict[str, Content]:
        plan_record: dict[str, Any] = {}
        text = triton_config.render(model)
        problems = triton_config.config_problems(triton_config.parse(text), "model", instance_type=ep.instance_type)
        if problems:
            raise BuildError(f"endpoint {ep.name}: the Triton config breaks Triton's load rules", problems)
        tensors = {
            "inputs": [t.model_dump() for t in model.inputs],
            "outputs": [t.model_dump() for t in model.outputs],
        }
        if model.format == "onnx":
            if source.kind == "onnx":
                model_file = source.path
            else:
                model_file = work / "model.onnx"
                run_worker({"task": "onnx", "path": str(_torchscript(source, work, say)), **tensors,
                            "max_batch_size": model.max_batch_size, "out": str(model_file)}, say)
            problems = triton_config.onnx_problems(model, model_file)
        elif model.format == "torchscript":
            model_file = _torchscript(source, work, say)
            facts = run_worker({"task": "inspect_torchscript", "path": str(model_file), "inputs": tensors["inputs"],
                                "max_batch_size": model.max_batch_size}, say)
            problems = triton_config.torchscript_problems(model, facts)
        else:
            if importlib.util.find_spec("torch_tensorrt") is None:
                raise BuildError(
                    "model.format: tensorrt needs torch-tensorrt and a CUDA GPU on the build machine, and "
                    "torch_tensorrt is not importable here; use format: onnx with onnx_tensorrt_accelerator "
                    "(Triton's ONNX Runtime builds the TensorRT engine at load, on the serving GPU) or install "
                    "torch-tensorrt on a GPU build machine"
                )
            ts = _torchscript(source, work, say)
            facts = run_worker({"task": "inspect_torchscript", "path": str(ts), "inputs": tensors["inputs"],
                                "max_batch_size": model.max_batch_size}, say)
            problems = triton_config.torchscript_problems(model, facts)
            if not problems:
                model_file = work / "model.plan"
                plan_record = run_worker({"task": "tensorrt", "path": str(ts), "inputs": tensors["inputs"],
                            "max_batch_size": model.max_batch_size, "min_batch": model.tensorrt.min_batch,
                            "opt_batch": model.tensorrt.opt_batch, "precisions": model.tensorrt.precisions,
                            "out": str(model_file)}, say)
        if problems:
            raise BuildError(f"endpoint {ep.name}: the Triton config does not match the exported model (the model "
                             "file is the truth)", problems)
        file_name = f"{model.name}/{model.version}/{triton_config.model_file_name(model)}"
        if model.format == "onnx":
            record = manifest.onnx_record(model_file)
        elif model.format == "torchscript":
            record = manifest.torchscript_record(model_file, _producer_torch(source))
        else:
            record = {"format": "tensorrt_plan", **plan_record}
        return {
            f"{model.name}/config.pbtxt": text.encode(),
            file_name: model_file,
            _RECORDS: {file_name: record},  # type: ignore[dict-item]
        }

    return _Plan(_identity(data), materialize, model.name)
