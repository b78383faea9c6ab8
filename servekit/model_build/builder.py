"""build(): an endpoint's model source -> its server's layout -> a checked, deterministic model.tar.gz.

Steps that need a framework (examples, Keras export, tracing, ONNX/TensorRT export, inspecting a
TorchScript file) run in a fresh interpreter (worker.py); this module imports neither torch nor
TensorFlow, so a cached build costs a few file stats and one JSON hash.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servekit.model_build import handlers, identity, manifest
from servekit.model_build.archive import Content, FileHasher, write_archive, write_directory
from servekit.model_build.check import check_artifact
from servekit.model_build.examples import EXAMPLE_SERVERS
from servekit.model_build.layout import record_start_installs
from servekit.spec import sources

REPO_ROOT = Path(__file__).resolve().parents[2]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Artifact:
    """A local model.tar.gz, or with model_data: uncompressed the layout's folder. `identity`: sha256 (hex) of the
    build's inputs, given to CDK as the custom asset hash (CDK hashes it once more into the asset's key, the same for
    both packagings); `size_bytes`: the archive's, or the sum of the folder's files."""

    path: Path
    identity: str
    size_bytes: int


@dataclass(frozen=True)
class RemoteArtifact:
    """A model already in S3 (`kind: s3`), a model.tar.gz or an uncompressed prefix: nothing is built or uploaded."""

    uri: str


class BuildError(Exception):
    """A build that must not reach CloudFormation. `problems`: one line each, naming the fix."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = list(problems or [])
        text = message + "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(text)


@dataclass
class Plan:
    """A build before it runs: its identity (cheap), and how to make its archive entries on a cache miss."""

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
    if isinstance(source, sources.S3Source):
        return RemoteArtifact(uri=source.uri)
    hasher = FileHasher(cache_dir / "file-hashes.json")
    try:
        if isinstance(source, sources.ArchiveSource):
            return _pass_through(endpoint, source, cache_dir, hasher, say)
        plan = _plan(endpoint, hasher)
    except (OSError, handlers.HandlerError) as err:
        raise BuildError(f"{where}: {_os_error(err)}") from None
    finally:
        hasher.save()
    uncompressed = getattr(endpoint, "model_data", "archive") == "uncompressed"
    dest = cache_dir / plan.identity / (LAYOUT_DIR if uncompressed else "model.tar.gz")
    if dest.exists():  # both are renamed into place whole
        say(f"{endpoint.name}: cached {dest}")
        _check_producers(endpoint, _cached_manifest(dest), say)
        _load_check(endpoint, dest, say)
        return Artifact(path=dest, identity=plan.identity, size_bytes=_size(dest))
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".work-", dir=cache_dir) as tmp:
        work = Path(tmp)
        say(f"{endpoint.name}: building {endpoint.server} artifact {plan.identity[:12]}")
        try:
            entries = plan.materialize(work, lambda m: say(f"{endpoint.name}: {m}"))
        except (OSError, handlers.HandlerError) as err:
            raise BuildError(f"{where}: {_os_error(err)}") from None
        records = entries.pop(RECORDS, {})  # what produced each model file: the manifest
        if records:
            entries[_manifest_name(endpoint)] = manifest.encode(records)
        _check_producers(endpoint, {"files": records}, say)
        built = work / dest.name
        write = write_directory if uncompressed else write_archive
        write(entries, built, progress=lambda m: say(f"{endpoint.name}: {m}"))
        problems = check_artifact(built, endpoint.plugin, default_model_name=plan.default_model_name,
                                  instance_type=endpoint.instance_type)
        if problems:
            raise BuildError(f"{where}: the built archive fails check-artifact", problems)
        dest.parent.mkdir(parents=True, exist_ok=True)
        (dest.parent / "inputs.json").write_text(json.dumps({"endpoint": endpoint.name, "server": endpoint.server,
                                                             "format_version": identity.FORMAT_VERSION}, indent=1))
        (dest.parent / manifest.NAME).write_bytes(manifest.encode(records))
        os.replace(built, dest)
        if not uncompressed:
            record_start_installs(dest, entries)
    _load_check(endpoint, dest, say)
    size = _size(dest)
    say(f"{endpoint.name}: built {dest} ({size / 1e6:.1f} MB)")
    return Artifact(path=dest, identity=plan.identity, size_bytes=size)


# model_data: uncompressed builds the layout as this folder beside where model.tar.gz would be: the same identity
# (the same inputs give the same files), two packagings of them.
LAYOUT_DIR = "model"


def _size(path: Path) -> int:
    """A model.tar.gz's bytes, or the bytes of the files of an uncompressed layout."""
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


RECORDS = "\0records"  # materialize's entry for the manifest records (not an archive path)
_WARNED: set[str] = set()  # each producer warning once per process


def _manifest_name(endpoint: Any) -> str:
    return endpoint.plugin.manifest_name(endpoint)


def _cached_manifest(archive: Path) -> dict[str, Any] | None:
    beside = archive.parent / manifest.NAME
    return json.loads(beside.read_text()) if beside.is_file() else None


def _check_producers(endpoint: Any, found: dict[str, Any] | None, say: Progress) -> None:
    """servekit.rules.producers against the endpoint's image, on each instance type it may run on (its instance
    pools: a TensorRT plan runs on one GPU kind): errors fail the build, warnings print once."""
    problems = []
    for instance_type in endpoint.instance_types:
        problems += [p for p in manifest.problems(found, endpoint.plugin, endpoint.image_version, instance_type)
                     if p not in problems]
    errors = [f"{p}" for p in problems if p.severity == "error"]
    if errors:
        raise BuildError(f"endpoint {endpoint.name}: the {endpoint.server} {endpoint.image_version} image cannot "
                         "load the model file", errors)
    for p in problems:
        line = f"warning: {p}"
        if line not in _WARNED:
            _WARNED.add(line)
            say(f"{endpoint.name}: {line}")


def producer_torch(source: Any) -> str | None:
    """The torch that wrote a TorchScript file servekit makes (examples, state_dict); None for a user's file."""
    if isinstance(source, sources.ExampleSource | sources.StateDictSource):
        return identity.tool_versions("torch").get("torch")
    return None


def tensorflow_here() -> str | None:
    versions = identity.tool_versions("tensorflow")
    return versions.get("tensorflow-cpu") or versions.get("tensorflow")


def _os_error(err: Exception) -> str:
    if isinstance(err, OSError) and err.filename:
        return f"{err.filename}: {err.strerror or err}; check the source path in servekit.yaml"
    return str(err)


def _only_source(endpoint: Any) -> Any:
    """The source when the endpoint's model is a whole archive (`archive` or `s3`: the schema lets such a source
    be the only model), else None."""
    models = endpoint.plugin.models(endpoint)
    source = getattr(models[0][1], "source", None) if len(models) == 1 else None
    if source is not None and source.kind in ("archive", "s3"):
        return source
    return None


def _default_model_name(endpoint: Any) -> str | None:
    return endpoint.plugin.default_model_name(endpoint)


def _pass_through(endpoint: Any, source: sources.ArchiveSource, cache_dir: Path, hasher: FileHasher,
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
        problems = check_artifact(path, endpoint.plugin, default_model_name=default_name,
                                  instance_type=endpoint.instance_type)
        if problems:
            raise BuildError(f"endpoint {endpoint.name}: archive {path} fails check-artifact", problems)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(path) + "\n")
    _load_check(endpoint, path, say, marker_dir=cache_dir / digest)
    return Artifact(path=path, identity=digest, size_bytes=path.stat().st_size)


# Artifacts this process built or took from the cache that no real server could judge (its server is not installed
# here): synth names them in one line (servekit.synth.build_model_data).
UNCHECKED: list[str] = []
LOAD_MARKER = "loaded-by-the-real-server"


def _load_check(endpoint: Any, artifact: Path, say: Progress, *, marker_dir: Path | None = None) -> None:
    """The endpoint's real server loads the artifact (Server.load_problems), once per identity: a marker beside the
    cached artifact says it loaded. A refusal fails the build with the server's words against the field."""
    marker = (marker_dir or artifact.parent) / LOAD_MARKER
    server = endpoint.plugin
    if marker.is_file():
        return
    unavailable = server.load_check_unavailable()
    if unavailable:
        if endpoint.name not in UNCHECKED:
            UNCHECKED.append(endpoint.name)
            say(f"{endpoint.name}: not load-checked by a real {endpoint.server} ({unavailable})")
        return
    problems = server.load_problems(endpoint, artifact)
    if problems is None:  # this server has no load check
        return
    if problems:
        raise BuildError(f"endpoint {endpoint.name}: the real {endpoint.server} refuses to load the artifact", problems)
    say(f"{endpoint.name}: loaded by the real {endpoint.server} (stand-ins for the model files); checked once per "
        "identity")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{endpoint.server}\n")


def identity_of(endpoint: Any, *, cache_dir: Path) -> str | None:
    """The identity `build` would give `endpoint` (None for an s3 source), without building anything."""
    source = _only_source(endpoint)
    if isinstance(source, sources.S3Source):
        return None
    hasher = FileHasher(Path(cache_dir) / "file-hashes.json")
    try:
        if isinstance(source, sources.ArchiveSource):
            return hasher.file(source.path)
        return _plan(endpoint, hasher).identity
    finally:
        hasher.save()


# ---------------------------------------------------------------------------------------------
# Worker
# ---------------------------------------------------------------------------------------------
def run_worker(task: dict[str, Any], say: Progress, *, python_path: list[str] = (),  # type: ignore[assignment]
               module: str = "servekit.model_build.worker") -> dict[str, Any]:
    """Run one framework step in a fresh interpreter; its `progress:` lines go to `say`. `python_path`: folders
    put first on its import path (a state_dict's import_root, where the user's model class lives); `module`: the
    worker (servekit.model_build.user_worker for the steps on a user's model)."""
    env = dict(os.environ)
    env.update(PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               KERAS_BACKEND="tensorflow", TOKENIZERS_PARALLELISM="false", TF_ENABLE_ONEDNN_OPTS="0")
    if task["task"] != "tensorrt":
        env["CUDA_VISIBLE_DEVICES"] = ""  # CPU kernels: same bytes on every machine, no GPU needed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (*python_path, str(REPO_ROOT), os.getcwd(), env.get("PYTHONPATH", ""))
                                        if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", module, json.dumps(task)],
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
# Plans: each server's build.py makes its Plan (identity first, materialize only on a cache miss) from these
# ---------------------------------------------------------------------------------------------
def _plan(endpoint: Any, hasher: FileHasher) -> Plan:
    return endpoint.plugin.plan(endpoint, hasher)


def check_example(source: Any, server: str, field: str) -> None:
    if isinstance(source, sources.ExampleSource) and server not in EXAMPLE_SERVERS[source.name]:
        fits = sorted(n for n, servers in EXAMPLE_SERVERS.items() if server in servers)
        raise BuildError(f"{field}: example {source.name!r} cannot serve on {server}; use {' or '.join(fits)}")


def check_path(source: Any, field: str, *, is_dir: bool) -> None:
    path = getattr(source, "path", None)
    if path is None:
        return
    if is_dir and not path.is_dir():
        raise BuildError(f"{field}.path: {path} is not a directory; point it at the {source.kind} folder")
    if not is_dir and not path.is_file():
        raise BuildError(f"{field}.path: {path} is not a file; point it at the {source.kind} file")


USER_WORKER = "servekit.model_build.user_worker"


def plan_identity(data: dict[str, Any]) -> str:
    return identity.digest({"format_version": identity.FORMAT_VERSION, **data})


def torchscript_file(source: Any, work: Path, say: Progress) -> Path:
    """A TorchScript file for a torch source (example resnet, torchscript, state_dict)."""
    if isinstance(source, sources.TorchScriptSource):
        return source.path
    out = work / "torchscript"
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(source, sources.ExampleSource):
        run_worker({"task": "example", "name": source.name, "out": str(out)}, say)
    else:
        run_worker({"task": "state_dict", "path": str(source.path), "model_class": source.model_class,
                    "init_kwargs": source.init_kwargs, "shape": source.example_input_shape,
                    "out": str(out / "model.pt")}, say,
                   python_path=[str(source.import_root)] if source.import_root else [])
    return out / "model.pt"
