"""Pre/post-processing for the SageMaker TensorFlow Serving container (copied as code/inference.py).

The container's python service (gunicorn + falcon, python_service.py) imports this file and, because it
defines `handler`, calls `handler(data, context)` for every /invocations request: `data` is the request
stream, `context` the container's namedtuple (model_name, model_version, method, rest_uri, grpc_port,
channel, custom_attributes, request_content_type, accept_header, content_length). `input_handler` and
`output_handler` are the REST halves, usable alone (the container then POSTs to context.rest_uri itself).

Protocol: REST to TensorFlow Serving (context.rest_uri) by default; gRPC (PredictionService on
context.grpc_port) when the environment sets SAGEMAKER_TFS_HANDLER_PROTOCOL=grpc. The gRPC channel is the
container's own `context.channel` (one per gunicorn worker and port) or, when absent, one channel per
process and port created on first use and then reused; REST uses one requests.Session per process.

Routing comes from the request, never from this file: model name, version and method from the context
(the container fills them from X-Amzn-SageMaker-Custom-Attributes tfs-model-name / tfs-model-version /
tfs-method, else its default model), the signature from the custom attribute tfs-signature-name
(default: the model's default signature). gRPC discovers input and output names from the signature's
metadata (cached per model, version and signature).

In: application/json (a TFS request body {"instances"|"inputs"|"examples": ...}, passed as it is, or a
bare list = instances), application/jsonlines (one instance per line), text/csv (one numeric instance per
row), application/x-npy (numpy.save bytes, no pickles; the first axis is the batch).
Out: TFS's JSON by default ({"predictions": ...}, or {"outputs": ...} for a columnar "inputs" request, over
REST and gRPC alike); application/x-npy when Accept asks (single-output
predictions), application/jsonlines (one prediction per line).

Errors: `HandlerError` carries an HTTP status and the message (TensorFlow Serving's own error text for its
errors, with TFS's HTTP status or the gRPC code mapped to one). The container answers any exception from a
handler with 500 and {"error": str(exception)}: a handler there cannot choose the status, so str() names
it ("TensorFlow Serving answered 400: ..."). servekit's local emulation answers 500 the same way, so a local run predicts the cloud.
Only the gRPC path needs anything beyond the standard library and numpy: grpc, tensorflow and
tensorflow-serving-api, all in the TFS DLC image.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import threading

import numpy as np

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
NPY = "application/x-npy"
SUPPORTED_CONTENT_TYPES = (JSON, JSONLINES, CSV, NPY)
PROTOCOL_ENV = "SAGEMAKER_TFS_HANDLER_PROTOCOL"
GRPC_TIMEOUT_SECONDS = float(os.environ.get("SAGEMAKER_TFS_HANDLER_GRPC_TIMEOUT_SECONDS", "60"))


class HandlerError(Exception):
    """An error with the HTTP status it should have; str() is what the container puts in its 500 body."""

    def __init__(self, status_code: int, message: str):
        self.status_code = status_code
        self.message = message
        super().__init__(f"{status_code}: {message}")

    def body(self) -> bytes:
        return json.dumps({"error": self.message, "status": self.status_code}).encode("utf-8")


class TfsServingError(HandlerError):
    def __init__(self, status_code: int, message: str):
        super().__init__(status_code, message)
        self.args = (f"TensorFlow Serving answered {status_code}: {message}",)


# ---------------------------------------------------------------------------------------------
# The container's entry points
# ---------------------------------------------------------------------------------------------
def handler(data, context) -> tuple[bytes, str]:
    """Parse, predict over REST or gRPC, format. Raises HandlerError on client or TFS errors."""
    accept = _accept(context)  # fail before calling TFS when the answer could not be given anyway
    if protocol() == "grpc" and (getattr(context, "method", None) or "predict") == "predict":
        request = parse_request(data, context)
        columnar = isinstance(request.payload, dict) and "inputs" in request.payload
        predictions = _grpc_predict(request, context, columnar=columnar)
        if columnar and accept == JSON:  # TFS REST answers a columnar request as {"outputs": ...}: so does gRPC
            return json.dumps({"outputs": predictions}).encode("utf-8"), JSON
        return format_predictions(predictions, accept)
    body = input_handler(data, context)
    import requests

    try:
        response = _session().post(context.rest_uri, data=body, headers={"Content-Type": JSON},
                                   timeout=GRPC_TIMEOUT_SECONDS)
    except requests.RequestException as err:  # str() would name the internal URL and the urllib3 chain
        raise HandlerError(502, f"TensorFlow Serving did not answer over REST ({type(err).__name__})") from None
    return output_handler(response, context)


def input_handler(data, context) -> str:
    """The request as a TFS REST JSON body."""
    request = parse_request(data, context)
    payload = request.payload
    if isinstance(payload, np.ndarray):
        payload = {"instances": payload.tolist()}
    signature = signature_name(context)
    if signature and "signature_name" not in payload:
        payload = {"signature_name": signature, **payload}
    return json.dumps(payload)


def output_handler(response, context) -> tuple[bytes, str]:
    """TFS's REST response as the client asked for it; TFS errors keep their status and text."""
    status = getattr(response, "status_code", 200)
    content = response.content
    if status != 200:
        raise TfsServingError(status, _tfs_error_text(content))
    accept = _accept(context)
    if accept == JSON:
        return content, JSON
    try:
        answer = json.loads(content)
        predictions = answer["predictions"] if "predictions" in answer else answer["outputs"]  # rows or columns
    except (ValueError, KeyError, TypeError) as err:
        raise HandlerError(502, f"TensorFlow Serving's answer has no predictions: {err}") from None
    return format_predictions(predictions, accept)


# ---------------------------------------------------------------------------------------------
# Request parsing
# ---------------------------------------------------------------------------------------------
class ParsedRequest:
    """payload: a JSON-able TFS request dict, or an ndarray of instances (x-npy)."""

    def __init__(self, payload):
        self.payload = payload


def parse_request(data, context) -> ParsedRequest:
    content_type = _media_type(getattr(context, "request_content_type", None) or JSON)
    if content_type not in SUPPORTED_CONTENT_TYPES:
        raise HandlerError(415, f"Content-Type {content_type!r} is not supported; send one of "
                                f"{', '.join(SUPPORTED_CONTENT_TYPES)}")
    raw = data.read() if hasattr(data, "read") else data
    raw = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw or b"")
    if not raw.strip():
        raise HandlerError(400, "empty body")
    if content_type == NPY:
        array = _load_npy(raw)
        if array.ndim == 0:
            raise HandlerError(400, "a .npy scalar is not a batch; the first axis is the batch")
        return ParsedRequest(array)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HandlerError(400, f"body is not UTF-8 text: {err}") from None
    if content_type == CSV:
        return ParsedRequest({"instances": _csv_rows(text)})
    if content_type == JSONLINES:
        instances = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                instances.append(_json(line, f"line {number}"))
        return ParsedRequest({"instances": instances})
    payload = _json(text, "body")
    if isinstance(payload, list):
        return ParsedRequest({"instances": payload})
    if isinstance(payload, dict) and {"instances", "inputs", "examples"} & payload.keys():
        return ParsedRequest(payload)
    raise HandlerError(400, "JSON body must be a list of instances or an object with \"instances\", \"inputs\" "
                            "or \"examples\" (the TensorFlow Serving REST API)")


def _load_npy(body: bytes) -> np.ndarray:
    """An .npy body as an array, never unpickled: object dtypes are refused, and the header's shape is checked
    against the body's size before numpy allocates it (a header claiming terabytes is a MemoryError, not a 400).
    The same check is in handlers/torchserve_vision.py: each container imports its own handler file only."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
        if dtype.hasobject:
            raise ValueError(f"dtype {dtype} holds Python objects, which would need unpickling; send numbers")
        declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        if declared > len(body):
            raise ValueError(f"the header declares shape {list(shape)} of {dtype} ({declared} bytes), "
                             f"but the body has {len(body)} bytes")
        stream.seek(0)
        return np.load(stream, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise HandlerError(400, f"body is not a valid .npy array (numpy.save, no pickles): {err}") from None


def _json(text: str, where: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise HandlerError(400, f"{where} is not valid JSON: {err}") from None
    except RecursionError:  # Python's parser stops at the recursion limit, about 1,000 levels
        raise HandlerError(400, f"{where} is JSON nested too deeply (over about 1,000 levels)") from None


def _csv_rows(text: str) -> list:
    rows = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            values = [_number(cell) for cell in row]
        except ValueError:
            raise HandlerError(400, f"CSV row {number} is not all numbers: {row[:8]}") from None
        rows.append(values if len(values) > 1 else values[0])
    if not rows:
        raise HandlerError(400, "CSV body has no rows")
    return rows


def _number(cell: str) -> int | float:
    cell = cell.strip()
    return int(cell) if re.fullmatch(r"[+-]?\d+", cell) else float(cell)


# ---------------------------------------------------------------------------------------------
# Routing from the context and custom attributes
# ---------------------------------------------------------------------------------------------
def protocol() -> str:
    value = os.environ.get(PROTOCOL_ENV, "rest").strip().lower() or "rest"
    if value not in ("rest", "grpc"):
        raise HandlerError(500, f"{PROTOCOL_ENV}={value!r}: use rest or grpc")
    return value


def custom_attributes(context) -> dict[str, str]:
    header = getattr(context, "custom_attributes", None) or ""
    return dict(match.split("=", 1) for match in re.findall(r"(tfs-[a-z\-]+=[^,]+)", header))


def signature_name(context) -> str | None:
    return custom_attributes(context).get("tfs-signature-name") or None


def model_name(context) -> str:
    """The model this request is for: the context's, else the one in rest_uri (the container's default)."""
    name = getattr(context, "model_name", None)
    if name:
        return name
    match = re.search(r"/v1/models/([^/:]+)", getattr(context, "rest_uri", "") or "")
    if match:
        return match.group(1)
    name = os.environ.get("SAGEMAKER_TFS_DEFAULT_MODEL_NAME") or os.environ.get("TFS_DEFAULT_MODEL_NAME")
    if name and name != "None":
        return name
    raise HandlerError(400, "no model name: set the custom attribute tfs-model-name=<name>")


def model_version(context) -> int | None:
    version = getattr(context, "model_version", None)
    if version in (None, ""):
        return None
    try:
        return int(version)
    except ValueError:
        raise HandlerError(400, f"tfs-model-version={version!r} is not a number") from None


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------
def _accept(context) -> str:
    accept = getattr(context, "accept_header", None) or JSON
    for part in accept.split(","):
        media_type = _media_type(part)
        if media_type in (JSON, NPY, JSONLINES):
            return media_type
        if media_type in ("*/*", "application/*", ""):
            return JSON
    raise HandlerError(406, f"Accept {accept!r} is not supported; ask for {JSON}, {JSONLINES} or {NPY}")


def format_predictions(predictions, accept: str) -> tuple[bytes, str]:
    if accept == NPY:
        if isinstance(predictions, dict) or (
            isinstance(predictions, list) and predictions and isinstance(predictions[0], dict)
        ):
            raise HandlerError(406, "the model has several outputs: application/x-npy holds one; ask for JSON")
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(predictions), allow_pickle=False)
        return buffer.getvalue(), NPY
    if accept == JSONLINES:
        rows = predictions if isinstance(predictions, list) else [predictions]
        return ("\n".join(json.dumps(row) for row in rows) + "\n").encode("utf-8"), JSONLINES
    return json.dumps({"predictions": predictions}).encode("utf-8"), JSON


def _tfs_error_text(content: bytes) -> str:
    try:
        payload = json.loads(content)
        if isinstance(payload, dict) and "error" in payload:
            return str(payload["error"])
    except ValueError:
        pass
    return content.decode("utf-8", errors="replace").strip() or "(no message)"


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


# ---------------------------------------------------------------------------------------------
# Transport: one REST session and one gRPC channel per process
# ---------------------------------------------------------------------------------------------
_LOCK = threading.Lock()
_SESSION = None
_CHANNELS: dict[str, object] = {}
_STUBS: dict[int, object] = {}
_SIGNATURES: dict[tuple, dict] = {}


def _session():
    global _SESSION
    if _SESSION is None:
        import requests

        with _LOCK:
            if _SESSION is None:
                _SESSION = requests.Session()
    return _SESSION


def channel(context):
    """The container's channel when it passes one, else this process's channel for the port."""
    given = getattr(context, "channel", None)
    if given is not None:
        return given
    import grpc

    target = f"localhost:{context.grpc_port}"
    with _LOCK:
        if target not in _CHANNELS:
            _CHANNELS[target] = grpc.insecure_channel(target)
        return _CHANNELS[target]


def _stub(context):
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    chan = channel(context)
    with _LOCK:
        stub = _STUBS.get(id(chan))
        if stub is None:
            stub = _STUBS[id(chan)] = (chan, prediction_service_pb2_grpc.PredictionServiceStub(chan))
    return stub[1]


_GRPC_TO_HTTP = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "UNAUTHENTICATED": 401, "RESOURCE_EXHAUSTED": 429,
    "UNIMPLEMENTED": 501, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504, "CANCELLED": 499,
}


def _rpc(call, request):
    import grpc

    try:
        return call(request, timeout=GRPC_TIMEOUT_SECONDS)
    except grpc.RpcError as err:
        code = err.code().name if hasattr(err, "code") and err.code() else "UNKNOWN"
        details = err.details() if hasattr(err, "details") else str(err)
        raise TfsServingError(_GRPC_TO_HTTP.get(code, 500), f"{details} (gRPC {code})") from None


def _signature(context, name: str, version: int | None, signature: str | None) -> tuple[str, dict, dict]:
    """(signature name, inputs {name: TensorInfo}, outputs) from the model's metadata, cached."""
    key = (id(channel(context)), name, version, signature)
    if key not in _SIGNATURES:
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest()
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        request.metadata_field.append("signature_def")
        response = _rpc(_stub(context).GetModelMetadata, request)
        defs = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(defs)
        chosen = signature or "serving_default"
        if chosen not in defs.signature_def:
            raise HandlerError(400, f"model {name} has no signature {chosen!r}; it has {sorted(defs.signature_def)}")
        sig = defs.signature_def[chosen]
        _SIGNATURES[key] = (chosen, dict(sig.inputs), dict(sig.outputs))
    return _SIGNATURES[key]


def _grpc_predict(request: ParsedRequest, context, columnar: bool = False):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    name, version = model_name(context), model_version(context)
    signature, inputs, outputs = _signature(context, name, version, signature_name(context))
    tensors = _input_tensors(request.payload, inputs)
    grpc_request = predict_pb2.PredictRequest()
    grpc_request.model_spec.name = name
    grpc_request.model_spec.signature_name = signature
    if version is not None:
        grpc_request.model_spec.version.value = version
    for input_name, array in tensors.items():
        dtype = tf.dtypes.as_dtype(inputs[input_name].dtype).as_numpy_dtype
        try:
            grpc_request.inputs[input_name].CopyFrom(tf.make_tensor_proto(np.asarray(array, dtype=dtype)))
        except (ValueError, TypeError) as err:
            raise HandlerError(400, f"input {input_name!r}: cannot make a {np.dtype(dtype).name} tensor: {err}") from None
    response = _rpc(_stub(context).Predict, grpc_request)
    arrays = {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}
    return _columns(arrays, list(outputs)) if columnar else _rows(arrays, list(outputs))


def _input_tensors(payload, inputs: dict) -> dict[str, np.ndarray]:
    names = list(inputs)
    if isinstance(payload, np.ndarray):
        if len(names) != 1:
            raise HandlerError(400, f"application/x-npy holds one tensor; the signature takes {names}")
        return {names[0]: payload}
    if "examples" in payload:
        raise HandlerError(400, "\"examples\" go with tfs-method=classify or regress, not predict")
    if "inputs" in payload:  # columnar
        columns = payload["inputs"]
        if isinstance(columns, dict):
            unknown = sorted(set(columns) - set(names))
            if unknown:
                raise HandlerError(400, f"unknown input(s) {unknown}; the signature takes {names}")
            return {key: _array(value, key) for key, value in columns.items()}
        if len(names) != 1:
            raise HandlerError(400, f"\"inputs\" must name each of {names}")
        return {names[0]: _array(columns, names[0])}
    instances = payload["instances"]
    if not isinstance(instances, list) or not instances:
        raise HandlerError(400, "\"instances\" must be a non-empty list")
    if all(isinstance(row, dict) for row in instances) and not (len(names) == 1 and names[0] not in instances[0]):
        missing = sorted(set(names) - set(instances[0]))
        if missing:
            raise HandlerError(400, f"instances lack input(s) {missing}; the signature takes {names}")
        return {key: _array([row[key] for row in instances], key) for key in names}
    if len(names) != 1:
        raise HandlerError(400, f"instances must be objects naming each of {names}")
    return {names[0]: _array(instances, names[0])}


def _array(value, name: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except ValueError as err:
        raise HandlerError(400, f"input {name!r} is not a rectangular array: {err}") from None
    if array.dtype == object:
        raise HandlerError(400, f"input {name!r} is not a rectangular array of one type")
    return array


def _rows(arrays: dict[str, np.ndarray], order: list[str]):
    """TFS REST's row format: a list per output when there is one, else a list of {output: value}."""
    keys = [key for key in order if key in arrays] or list(arrays)
    if len(keys) == 1:
        return arrays[keys[0]].tolist()
    count = min(array.shape[0] if array.ndim else 1 for array in arrays.values())
    return [{key: arrays[key][i].tolist() for key in keys} for i in range(count)]


def _columns(arrays: dict[str, np.ndarray], order: list[str]):
    """TFS REST's columnar format: the output's value when there is one, else {output: value}."""
    keys = [key for key in order if key in arrays] or list(arrays)
    if len(keys) == 1:
        return arrays[keys[0]].tolist()
    return {key: arrays[key].tolist() for key in keys}
