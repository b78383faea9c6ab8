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
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import sys
import tarfile
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from servekit.local.process import ServerProcess, free_port
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
    with tarfile.open(artifact_path) as tar:
        tar.extractall(root, filter="data")
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
        sys.executable, "-m", "servekit.servers.tfs.local", "--model-root", str(root), "--port", str(port),
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


# ---------------------------------------------------------------------------------------------
# The emulated TensorFlow Serving (server side)
# ---------------------------------------------------------------------------------------------
class TfsError(Exception):
    """An error TFS would answer with: an HTTP status, the matching gRPC code, and TF's message."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


class Servable:
    """One version of one SavedModel: its signature functions and its SignatureDef protos."""

    def __init__(self, name: str, version: int, path: Path):
        import tensorflow as tf
        from tensorflow.core.protobuf import saved_model_pb2

        self.name, self.version, self.path = name, version, path
        self.loaded = tf.saved_model.load(str(path))
        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString((path / "saved_model.pb").read_bytes())
        self.signature_defs = {
            k: v for k, v in proto.meta_graphs[0].signature_def.items() if k != "__saved_model_init_op"
        }

    def signature(self, name: str | None):
        name = name or "serving_default"
        if name not in self.loaded.signatures:
            raise TfsError(400, f"Serving signature key \"{name}\" not found.")
        return self.loaded.signatures[name], self.signature_defs[name]


class Models:
    def __init__(self, models: dict[str, dict[int, Path]]):
        self.servables = {
            name: {v: Servable(name, v, p) for v, p in versions.items()} for name, versions in models.items()
        }

    def get(self, name: str, version: int | str | None) -> Servable:
        versions = self.servables.get(name)
        if version in (None, ""):
            if not versions:
                raise TfsError(404, f"Servable not found for request: Latest({name})")
            return versions[max(versions)]
        try:
            v = int(version)
        except (TypeError, ValueError):
            raise TfsError(400, f"invalid model version {version!r}") from None
        if not versions or v not in versions:
            raise TfsError(404, f"Servable not found for request: Specific({name}, {version})")
        return versions[v]

    def status(self, name: str, version: str | None) -> dict[str, Any]:
        if name not in self.servables:
            raise TfsError(404, f"Could not find any versions of model {name}")
        versions = [self.get(name, version).version] if version else sorted(self.servables[name])
        return {"model_version_status": [
            {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for v in versions
        ]}


def _input_specs(fn) -> dict[str, Any]:
    return dict(fn.structured_input_signature[1])


def _to_tensor(value: Any, spec, name: str):
    import numpy as np
    import tensorflow as tf

    try:
        if spec.dtype == tf.string:
            value = _decode_b64(value)
            array = np.array(value, dtype=object)
        else:
            array = np.array(value, dtype=spec.dtype.as_numpy_dtype)
    except (TypeError, ValueError) as err:
        raise TfsError(400, f"input {name!r}: cannot convert to {spec.dtype.name}: {err}") from None
    if not spec.shape.is_compatible_with(array.shape):
        raise TfsError(
            400, f"input {name!r}: shape {list(array.shape)} is incompatible with the signature's "
                 f"{spec.shape.as_list()} (None = any size)"
        )
    return tf.constant(array, dtype=spec.dtype)


def _decode_b64(value: Any) -> Any:
    import base64

    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode_b64(v) for v in value]
    return value


def _jsonable(array) -> Any:
    import numpy as np

    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind == "S":
        return [_jsonable(v) for v in array] if array.ndim else _bytes_out(array.item())
    return array.tolist()


def _bytes_out(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            import base64

            return {"b64": base64.b64encode(value).decode()}
    return value


def run_signature(servable: Servable, signature_name: str | None, inputs: dict[str, Any],
                  output_filter: list[str] | None = None) -> dict[str, Any]:
    """Call a signature with tensors converted to its declared dtypes and checked against its shapes."""
    import tensorflow as tf

    fn, sig_def = servable.signature(signature_name)
    if sig_def.method_name and sig_def.method_name != "tensorflow/serving/predict":
        raise TfsError(400, f"signature {signature_name or 'serving_default'} is a {sig_def.method_name} "
                            "signature; the emulation runs predict signatures only")
    specs = _input_specs(fn)
    unknown = sorted(set(inputs) - set(specs))
    missing = sorted(set(specs) - set(inputs))
    if unknown or missing:
        raise TfsError(400, f"input names do not match the signature: expected {sorted(specs)}, got "
                            f"{sorted(inputs)}")
    tensors = {k: _to_tensor(v, specs[k], k) for k, v in inputs.items()}
    try:
        outputs = fn(**tensors)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as err:
        message = getattr(err, "message", None) or str(err)
        raise TfsError(400, message.strip().splitlines()[0] if message else type(err).__name__) from None
    outputs = {k: v.numpy() for k, v in outputs.items()}
    if output_filter:
        bad = sorted(set(output_filter) - set(outputs))
        if bad:
            raise TfsError(400, f"output_filter names {bad} are not outputs of the signature ({sorted(outputs)})")
        outputs = {k: outputs[k] for k in output_filter}
    return outputs


def rest_predict(models: Models, name: str, version: str | None, method: str, body: bytes) -> dict[str, Any]:
    """TFS's REST predict: row ("instances") or columnar ("inputs") format."""
    if method != "predict":
        raise TfsError(400, f"the emulation serves :predict only, not :{method}")
    servable = models.get(name, version)
    try:
        request = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError) as err:
        raise TfsError(400, f"JSON Parse error: {err}") from None
    if not isinstance(request, dict):
        raise TfsError(400, "JSON Value is not an object; send {\"instances\": [...]} or {\"inputs\": ...}")
    if ("instances" in request) == ("inputs" in request):
        raise TfsError(400, "Missing 'inputs' or 'instances' key" if "instances" not in request
                       else "Not both 'inputs' and 'instances' keys")
    signature_name = request.get("signature_name")
    fn, _ = servable.signature(signature_name)
    names = sorted(_input_specs(fn))
    if "instances" in request:
        instances = request["instances"]
        if not isinstance(instances, list) or not instances:
            raise TfsError(400, "'instances' must be a non-empty JSON list")
        if all(isinstance(i, dict) and not set(i) == {"b64"} for i in instances):
            if any(set(i) != set(names) for i in instances):
                raise TfsError(400, f"each instance must be an object with the keys {names}")
            inputs = {n: [i[n] for i in instances] for n in names}
        elif len(names) == 1:
            inputs = {names[0]: instances}
        else:
            raise TfsError(400, f"the signature has several inputs {names}: each instance must be an object")
        outputs = run_signature(servable, signature_name, inputs)
        rows = len(instances)
        if len(outputs) == 1:
            (value,) = outputs.values()
            return {"predictions": _jsonable(value)}
        return {"predictions": [{k: _jsonable(v[i]) for k, v in outputs.items()} for i in range(rows)]}
    columns = request["inputs"]
    if isinstance(columns, dict) and not set(columns) == {"b64"}:
        inputs = columns
    elif len(names) == 1:
        inputs = {names[0]: columns}
    else:
        raise TfsError(400, f"the signature has several inputs {names}: 'inputs' must be an object")
    outputs = run_signature(servable, signature_name, inputs)
    if len(outputs) == 1:
        return {"outputs": _jsonable(next(iter(outputs.values())))}
    return {"outputs": {k: _jsonable(v) for k, v in outputs.items()}}


def metadata(servable: Servable) -> dict[str, Any]:
    from google.protobuf import json_format

    return {
        "model_spec": {"name": servable.name, "signature_name": "", "version": str(servable.version)},
        "metadata": {"signature_def": {"signature_def": {
            k: json_format.MessageToDict(v, preserving_proto_field_name=True) for k, v in servable.signature_defs.items()
        }}},
    }


_MODEL_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?(?::(\w+)|/(metadata))?$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "servekit-tfs-emulation"

    def log_message(self, fmt: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), fmt % args)

    def reply(self, status: int, body: bytes | str | dict | None, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        body = body or b""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Servekit-Emulation", "tfs")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self, limit: int | None = None) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if limit is not None and length > limit:
            # Drain what was sent, so the client reads our answer instead of a reset connection.
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        return self.rfile.read(length) if length else b""


class RestHandler(_Handler):
    """TensorFlow Serving's REST API."""

    models: Models

    def do_GET(self) -> None:  # noqa: N802
        match = _MODEL_PATH.match(self.path.split("?")[0])
        if not match or match.group(3):
            return self.reply(404, {"error": "Malformed request: GET " + self.path})
        name, version, _, meta = match.groups()
        try:
            if meta:
                return self.reply(200, metadata(self.models.get(name, version)))
            return self.reply(200, self.models.status(name, version))
        except TfsError as err:
            return self.reply(err.status, {"error": str(err)})

    def do_POST(self) -> None:  # noqa: N802
        match = _MODEL_PATH.match(self.path.split("?")[0])
        body = self.body()
        if not match or not match.group(3):
            return self.reply(404, {"error": "Malformed request: POST " + self.path})
        name, version, method, _ = match.groups()
        try:
            return self.reply(200, rest_predict(self.models, name, version, method, body))
        except TfsError as err:
            return self.reply(err.status, {"error": str(err)})
        except Exception as err:  # noqa: BLE001 - TFS answers internal errors as 500 with the message
            log.exception("predict failed")
            return self.reply(500, {"error": f"{type(err).__name__}: {err}"})


# --- the container's nginx script (tensorflowServing.js), ported line for line -------------------------
def parse_custom_attributes(header: str | None) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for kv in re.findall(r"tfs-[a-z\-]+=[^,]+", header or ""):
        parts = kv.split("=")
        if len(parts) == 2:
            attributes[parts[0]] = parts[1]
    return attributes


def is_tfs_json(data: str) -> bool:
    return re.search(r"\"(instances|inputs|examples)\"\s*:", data) is not None


def is_json_lines(data: str) -> bool:
    return re.search(r"[}\]]\s*[\[{]", data) is not None


def json_to_tfs(data: str) -> str:
    if is_tfs_json(data):
        return data
    if is_json_lines(data):
        lines = data.strip().splitlines()
        parts = ["{\"instances\":", "[" if len(lines) != 1 else ""]
        for i, line in enumerate(lines):
            line = line.strip()
            if line:
                parts.append(("" if i == 0 else ",") + line)
        parts.append("}" if len(lines) == 1 else "]}")
        return "".join(parts)
    if not re.match(r"^\s*\[\s*\[", data):
        data = "[" + data + "]"
    return "{\"instances\":" + data + "}"


def csv_to_tfs(data: str) -> str:
    needs_quotes = re.match(r"^\s*(\"|[\d.Ee+\-]+.*)", data) is None
    lines = data.strip().splitlines()
    parts = ["{\"instances\":["]
    for i, line in enumerate(lines):
        line = line.strip()
        if line:
            multi = "," in line
            item = line
            if needs_quotes:  # JS String.replace with a string pattern replaces the first match only
                item = "\"" + line.replace("\"", "\\\"", 1).replace(",", "\",\"", 1) + "\""
            parts.append(("[" + item + "]") if multi else item)
            if i != len(lines) - 1:
                parts.append(",")
    parts.append("]}")
    return "".join(parts)


class FrontHandler(_Handler):
    """The SageMaker side: /ping and /invocations, as nginx + python_service.py answer them."""

    models: Models
    handler: Callable[[Any, Context], Any] | None
    default_model: str
    rest_port: int
    grpc_port: int
    channel: Any

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != "/ping":
            return self.reply(404, {"error": "Not Found"})
        if self.handler is not None:
            return self.reply(200, b"")  # python_service's PingResource: always 200
        try:
            status = self.models.status(self.default_model, None)
        except TfsError as err:
            return self.reply(502, {"error": f"failed ping: {err}"})
        ok = any(s["state"] == "AVAILABLE" for s in status["model_version_status"])
        return self.reply(200 if ok else 502, b"")

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != "/invocations":
            self.body()
            return self.reply(404, {"error": "Not Found"})
        body = self.body(MAX_BODY_BYTES)
        if body is None:
            return self.reply(413, {"error": f"request body over {MAX_BODY_BYTES} bytes; SageMaker's InvokeEndpoint "
                                             "accepts at most 6 MB (use batch transform or async inference)"})
        header = self.headers.get(CUSTOM_ATTRIBUTES)
        attributes = parse_custom_attributes(header)
        name = attributes.get("tfs-model-name", self.default_model)
        version = attributes.get("tfs-model-version")
        method = attributes.get("tfs-method", "predict")
        if self.handler is not None:
            return self._python_service(body, header, attributes, name, version, method)
        ctype = self.headers.get("Content-Type")
        if ctype in ("application/json", "application/jsonlines", "application/jsons"):
            data = json_to_tfs(body.decode(errors="replace"))
        elif ctype == "text/csv":
            data = csv_to_tfs(body.decode(errors="replace"))
        else:
            return self.reply(415, f"{{\"error\": \"Unsupported Media Type: {ctype or 'Unknown'}\"}}")
        try:
            status, answer = 200, json.dumps(rest_predict(self.models, name, version, method, data.encode()))
        except TfsError as err:
            status, answer = err.status, json.dumps({"error": str(err)})
        except Exception as err:  # noqa: BLE001
            log.exception("predict failed")
            status, answer = 500, json.dumps({"error": f"{type(err).__name__}: {err}"})
        content_type = "application/json"  # nginx default_type
        accept = self.headers.get("Accept")
        if accept is not None:
            types = accept.strip().replace(" ", "", 1).split(",")
            if "application/jsonlines" in types or "application/json" in types:
                answer = answer.replace("\n", "")
                content_type = types[0]
        return self.reply(status, answer, content_type)

    def _python_service(self, body: bytes, header: str | None, attributes: dict[str, str], name: str,
                        version: str | None, method: str) -> None:
        rest_uri = f"http://localhost:{self.rest_port}/v1/models/{name}"
        if version:
            rest_uri += "/versions/" + version
        rest_uri += ":" + method
        context = Context(
            attributes.get("tfs-model-name"), version, attributes.get("tfs-method"), rest_uri, str(self.grpc_port),
            self.channel, header, self.headers.get("Content-Type") or "application/json",
            self.headers.get("Accept") or "application/json", int(self.headers.get("Content-Length") or 0),
        )
        try:
            result, content_type = self.handler(io.BytesIO(body), context)
        except Exception as err:  # noqa: BLE001 - python_service.py answers every handler error as 500
            log.exception("exception handling request: %s", err)
            return self.reply(500, {"error": str(err)})
        return self.reply(200, result if isinstance(result, bytes | str) else json.dumps(result), content_type)


def load_handler(root: Path) -> Callable[[Any, Context], Any] | None:
    """Import code/inference.py as python_service.py does; None when the archive has none."""
    script = root / "code" / "inference.py"
    if not script.exists():
        return None
    lib = root / "code" / "lib"
    if lib.exists():
        sys.path.insert(0, str(lib))
    spec = importlib.util.spec_from_file_location("inference", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "handler"):
        return module.handler
    if hasattr(module, "input_handler") and hasattr(module, "output_handler"):
        import requests

        def handler(data: Any, context: Context) -> Any:
            processed = module.input_handler(data, context)
            response = requests.post(context.rest_uri, data=processed)
            return module.output_handler(response, context)

        return handler
    raise NotImplementedError("Handlers are not implemented correctly in user script.")


def grpc_server(models: Models, port: int):
    """TFS's PredictionService and ModelService over gRPC, or None without tensorflow-serving-api."""
    try:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import (
            get_model_metadata_pb2,
            get_model_status_pb2,
            model_service_pb2_grpc,
            predict_pb2,
            prediction_service_pb2_grpc,
        )
    except ImportError as err:
        log.warning("gRPC PredictionService not served: %s (pip install --no-deps tensorflow-serving-api)", err)
        return None
    from concurrent import futures

    codes = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND}

    def fail(context, err: TfsError):
        context.abort(codes.get(err.status, grpc.StatusCode.INTERNAL), str(err))

    def version_of(spec) -> int | None:
        return spec.version.value if spec.HasField("version") else None

    class Prediction(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802
            try:
                servable = models.get(request.model_spec.name, version_of(request.model_spec))
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
                outputs = run_signature(servable, request.model_spec.signature_name or None, inputs,
                                        list(request.output_filter) or None)
            except TfsError as err:
                return fail(context, err)
            response = predict_pb2.PredictResponse()
            response.model_spec.name = servable.name
            response.model_spec.version.value = servable.version
            response.model_spec.signature_name = request.model_spec.signature_name or "serving_default"
            for k, v in outputs.items():
                response.outputs[k].CopyFrom(tf.make_tensor_proto(v))
            return response

        def GetModelMetadata(self, request, context):  # noqa: N802
            try:
                servable = models.get(request.model_spec.name, version_of(request.model_spec))
            except TfsError as err:
                return fail(context, err)
            from tensorflow_serving.apis import get_model_metadata_pb2 as meta

            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = servable.name
            response.model_spec.version.value = servable.version
            sig_map = meta.SignatureDefMap()
            for k, v in servable.signature_defs.items():
                sig_map.signature_def[k].CopyFrom(v)
            response.metadata["signature_def"].Pack(sig_map)
            return response

    class Status(model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):  # noqa: N802
            try:
                version = version_of(request.model_spec)
                status = models.status(request.model_spec.name, str(version) if version else None)
            except TfsError as err:
                return fail(context, err)
            response = get_model_status_pb2.GetModelStatusResponse()
            for s in status["model_version_status"]:
                item = response.model_version_status.add()
                item.version = int(s["version"])
                item.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[
        ("grpc.max_receive_message_length", 64 * 1024 * 1024), ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Prediction(), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(Status(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: with 16 clients connecting at once the kernel's accept queue
    # overflows and some connections are reset (seen: 11 of 160). nginx in the container listens with 511.
    request_queue_size = 511


def serve(model_root: Path, port: int, rest_port: int, grpc_port: int) -> None:
    logging.basicConfig(format=f"%(asctime)s [{LABEL}] %(levelname)s %(message)s", level=logging.INFO,
                        stream=sys.stdout, force=True)
    log.info("this is an emulation of the SageMaker TensorFlow Serving container")
    import tensorflow as tf

    inter = int(os.environ.get("SAGEMAKER_TFS_INTER_OP_PARALLELISM", 0))
    intra = int(os.environ.get("SAGEMAKER_TFS_INTRA_OP_PARALLELISM", 0))
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    found = find_models(model_root)
    default = os.environ.get("SAGEMAKER_TFS_DEFAULT_MODEL_NAME") or next(iter(found))
    log.info("loading %s (default model %s)", {k: sorted(v) for k, v in found.items()}, default)
    models = Models(found)
    handler = load_handler(model_root)
    log.info("handler: %s", "code/inference.py" if handler else "none (nginx JSON/CSV conversion)")
    grpc_srv = grpc_server(models, grpc_port)
    channel = None
    if grpc_srv is not None:
        import grpc

        channel = grpc.insecure_channel(f"localhost:{grpc_port}")  # one per process, as python_service.py

    rest = _Server(("127.0.0.1", rest_port), type("Rest", (RestHandler,), {"models": models}))
    front_cls = type("Front", (FrontHandler,), {
        "models": models, "handler": staticmethod(handler) if handler else None, "default_model": default,
        "rest_port": rest_port, "grpc_port": grpc_port, "channel": channel,
    })
    front = _Server(("127.0.0.1", port), front_cls)
    for srv in (rest, front):
        srv.daemon_threads = True
    threading.Thread(target=rest.serve_forever, daemon=True).start()
    log.info("TFS REST API on 127.0.0.1:%d, gRPC on 127.0.0.1:%s, SageMaker /ping and /invocations on 127.0.0.1:%d",
             rest_port, grpc_port if grpc_srv else "(off)", port)
    front.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"servekit {LABEL}")
    parser.add_argument("--model-root", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rest-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.model_root, args.port, args.rest_port, args.grpc_port)


if __name__ == "__main__":
    main()
