"""The emulated TensorFlow Serving: the artifact's SavedModels behind TFS's REST API and, when
tensorflow-serving-api is importable, its gRPC PredictionService and ModelService (see local.py)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from servekit.servers.tfs.local import log


class Timings:
    """Where the emulation's time goes, per kind: "handler" (code/inference.py, from input to output, the call to
    TensorFlow Serving included), "tfs" (a predict request as TFS handles it: decode, run, encode) and "model"
    (the signature's run alone). Counts and sums since the process started; `GET /servekit/timings` returns
    them (an emulation-only route), and `servekit bench` subtracts one step's start from its end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, list[float]] = {}

    @contextmanager
    def measure(self, kind: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - start
            with self._lock:
                count_seconds = self._totals.setdefault(kind, [0, 0.0])
                count_seconds[0] += 1
                count_seconds[1] += took

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {kind: {"count": c, "seconds": round(s, 6)} for kind, (c, s) in self._totals.items()}


TIMINGS = Timings()


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
        with TIMINGS.measure("model"):
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


class BaseHandler(BaseHTTPRequestHandler):
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


class RestHandler(BaseHandler):
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
            with TIMINGS.measure("tfs"):
                answer = rest_predict(self.models, name, version, method, body)
            return self.reply(200, answer)
        except TfsError as err:
            return self.reply(err.status, {"error": str(err)})
        except Exception as err:  # noqa: BLE001 - TFS answers internal errors as 500 with the message
            log.exception("predict failed")
            return self.reply(500, {"error": f"{type(err).__name__}: {err}"})




def grpc_server(models: Models, port: int):
    """TFS's PredictionService and ModelService over gRPC, or None without tensorflow-serving-api."""
    # Long on purpose: the two servicer classes are defined here, after the optional gRPC imports succeed.
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
            with TIMINGS.measure("tfs"):
                return self._predict(request, context)

        def _predict(self, request, context):
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
