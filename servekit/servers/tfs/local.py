"""An EMULATION of the SageMaker TensorFlow Serving container, for running a TFS model.tar.gz locally.

No TensorFlow Serving binary can be installed here, so this module serves the artifact's SavedModels with
TensorFlow itself, in one small process started through ServerProcess:

* a TFS REST API on its own port: `POST /v1/models/<name>[/versions/<v>]:predict` ({"instances": ...} rows
  or {"inputs": ...} columns), `GET /v1/models/<name>[/versions/<v>]` (status) and `.../metadata`;
* TFS's gRPC PredictionService (Predict, GetModelMetadata) and ModelService (GetModelStatus) on another
  port, from tensorflow-serving-api's protos, when that package is importable;
* in front, the SageMaker contract as the container has it: `GET /ping` and `POST /invocations`. With
  `code/inference.py` in the archive it runs `handler` or `input_handler`/`output_handler` the way the
  container's python_service.py does (same context fields, custom-attribute routing, errors as 500 with
  {"error": ...}); without it, it does what the container's nginx script (tensorflowServing.js) does:
  JSON, JSON lines and CSV become {"instances": ...}, other content types get 415.

Everything it prints and returns says it is an emulation (LocalEndpoint.emulated is True).

This module is the parent side (reading the archive, starting the process); emulation.py serves the
SavedModels as TensorFlow Serving would (REST and gRPC), front.py is the container's front (/ping,
/invocations, the handler or the nginx conversions) and the process's entry point.
"""

from __future__ import annotations

import collections
import logging
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from servekit.local.process import ServerProcess, free_port
from servekit.model_build import archive
from servekit.servers.tfs.schema import TfsEndpointSpec

LABEL = "TFS EMULATION (TensorFlow in Python, not TensorFlow Serving)"
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
# SageMaker's InvokeEndpoint refuses real-time payloads over 6 MB before they reach the container.
MAX_BODY_BYTES = 6 * 1024 * 1024

# The container's handler context (tfs_utils.Context), field for field.
Context = collections.namedtuple(
    "Context",
    "model_name, model_version, method, rest_uri, grpc_port, channel, custom_attributes, "
    "request_content_type, accept_header, content_length",
)

log = logging.getLogger("servekit.tfs")


class TfsLocalError(RuntimeError):
    """The artifact cannot be served; the message says why and what to fix."""


# ---------------------------------------------------------------------------------------------
# The archive, read the way the container reads it
# ---------------------------------------------------------------------------------------------
def find_models(root: Path) -> dict[str, dict[int, Path]]:
    """`<name>/<version>/saved_model.pb` anywhere under root (the container's search), in directory order."""
    models: dict[str, dict[int, Path]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if "saved_model.pb" in filenames:
            version_dir = Path(dirpath)
            if version_dir.name.isdigit():
                models.setdefault(version_dir.parent.name, {})[int(version_dir.name)] = version_dir
        dirnames[:] = [d for d in dirnames if d != "variables"]
    return models


def handler_problems(root: Path) -> list[str]:
    """Why the container would not load the handler (a misplaced code/ folder is silently ignored there)."""
    if (root / "code" / "inference.py").exists():
        return []
    return [
        f"{p.relative_to(root)} is not at the archive root: the container never loads it (it needs code/inference.py)"
        for p in sorted(root.glob("*/code/inference.py"))
    ]


# ---------------------------------------------------------------------------------------------
# Starting it (parent side)
# ---------------------------------------------------------------------------------------------
def start(
    endpoint: TfsEndpointSpec,
    artifact_path: str | Path,
    *,
    workdir: str | Path,
    port: int | None = None,
    progress: Callable[[str], object] = print,
    timeout_seconds: float = 180.0,
    extra_env: Mapping[str, str] | None = None,
):
    """Serve `artifact_path` (the endpoint's model.tar.gz) in the TFS emulation; returns a LocalEndpoint
    (emulated=True) whose url answers /ping and /invocations.

    `extra_env`: variables added to the server's (and so the handler's) environment on top of the tuning's,
    for experiments. The cloud model gets them only if you set them there too, so they are listed in
    `differences`. (The handler's protocol is `tuning.handler_protocol`, which both get.)"""
    from servekit.local.endpoint import LocalEndpoint

    workdir = Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    root = workdir / "model"
    root.mkdir(parents=True)
    archive.unpack(Path(artifact_path), root)
    models = find_models(root)
    if not models:
        raise TfsLocalError(
            f"{artifact_path}: no <name>/<version>/saved_model.pb (version all digits); the container would find "
            "no model either"
        )
    env = endpoint.tuning.to_environment(endpoint.default_model_name)
    if env["SAGEMAKER_TFS_DEFAULT_MODEL_NAME"] not in models:
        raise TfsLocalError(
            f"default model {env['SAGEMAKER_TFS_DEFAULT_MODEL_NAME']!r} is not in the archive (found {sorted(models)})"
        )
    differences = [
        "TensorFlow Serving is emulated: the SavedModel runs in TensorFlow (Python) behind a small HTTP server",
        "no nginx/gunicorn: one threaded server; SAGEMAKER_GUNICORN_* and SAGEMAKER_NGINX_* have no effect",
    ]
    if endpoint.tuning.enable_batching:
        differences.append("SAGEMAKER_TFS_ENABLE_BATCHING: requests are not batched together (each runs alone)")
    if endpoint.tuning.server_processes > 1:
        differences.append("SAGEMAKER_TFS_INSTANCE_COUNT: one process serves, not several")
    differences.append(":classify and :regress answer 400 (the emulation runs predict signatures only)")
    differences.append(f"bodies over {MAX_BODY_BYTES} bytes get 413, as InvokeEndpoint refuses them (the container "
                       "itself has no limit)")
    extra_env = dict(extra_env or {})
    if extra_env:
        differences.append("extra environment not in the endpoint's config (set it on the SageMaker model too): "
                           + ", ".join(f"{k}={v}" for k, v in sorted(extra_env.items())))
    for problem in handler_problems(root):
        differences.append(problem)
        progress(f"[tfs-emulation] WARNING: {problem}")
    if (root / "code" / "requirements.txt").exists() and not (root / "code" / "lib").exists():
        differences.append("code/requirements.txt is not installed (the container pip-installs it at start); "
                           "the handler runs with this environment's packages")
    rest_port, grpc_port = free_port(), free_port()
    port = port or free_port()
    command = [
        sys.executable, "-m", "servekit.servers.tfs.front", "--model-root", str(root), "--port", str(port),
        "--rest-port", str(rest_port), "--grpc-port", str(grpc_port),
    ]
    server = ServerProcess(
        name=f"TFS emulation ({endpoint.name})",
        command=command,
        log_path=workdir / "tfs-emulation.log",
        env={**env, **extra_env, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "1"},
        cwd=workdir,
    )
    progress(f"[tfs-emulation] {LABEL}: starting {endpoint.name} on port {port} (log {server.log_path})")
    url = f"http://127.0.0.1:{port}"
    startup = server.start_healthy(f"{url}/ping", timeout_seconds)
    progress(f"[tfs-emulation] {endpoint.name} ready at {url} in {startup:.1f} s "
             f"(TFS REST on {rest_port}, gRPC on {grpc_port})")
    for line in differences:
        progress(f"[tfs-emulation] differs from the cloud: {line}")
    return LocalEndpoint(url=url, server=server, emulated=True, differences=differences, startup_seconds=startup)
