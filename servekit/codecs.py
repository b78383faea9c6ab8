"""Request and response bodies for the three servers: Triton's KServe v2 JSON and binary+json forms, x-npy,
and plain JSON (TorchServe, TFS).

Given the model's signature (a Triton endpoint's config.pbtxt: servekit.servers.triton.signature), a wrong name,
dtype or shape is refused here with a message that says what the signature expects, before the request leaves
the machine. Datatype maps and BYTES serialization are tritonclient's own
(`tritonclient.utils`, present with the `tritonclient[grpc]` install; `tritonclient.http`'s request helpers
need gevent, which servekit does not install, so the few lines of KServe framing live here).

Used by `servekit invoke` (local and `--deployed`), the benchmarks and the tests.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor, triton_to_np_dtype

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
NPY = "application/x-npy"
BINARY_PREFIX = "application/vnd.sagemaker-triton.binary+json;json-header-size="

# Datatypes that KServe JSON cannot carry as numbers; Triton takes them in binary only.
_BINARY_ONLY = {"FP16", "BF16"}


class CodecError(ValueError):
    """A body that cannot be encoded or decoded; the message names the tensor and the fix."""


class InferenceError(RuntimeError):
    """The server answered with an error body ({"error": ...}); `status` is the HTTP status if known."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(message if status is None else f"HTTP {status}: {message}")


def _datatype_of(array: np.ndarray) -> str:
    from tritonclient.utils import np_to_triton_dtype

    kind = np_to_triton_dtype(array.dtype)
    if kind is None:
        raise CodecError(f"numpy dtype {array.dtype} has no Triton datatype")
    return kind


# ---------------------------------------------------------------------------------------------
# KServe v2: JSON and binary+json
# ---------------------------------------------------------------------------------------------
def _prepare(inputs: Mapping[str, Any], signature: Any | None) -> list[tuple[str, str, np.ndarray]]:
    # `signature`: the model's, when known (servekit.servers.triton.signature.TritonSignature): it checks names,
    # dtypes and shapes and gives each input's KServe datatype.
    if not inputs:
        raise CodecError("no input tensors to send")
    arrays = {n: np.asarray(v) for n, v in inputs.items()}
    if signature is not None:
        arrays = signature.check(arrays)
        return [(n, signature.input(n).datatype, a) for n, a in arrays.items()]
    return [(n, _datatype_of(a), a) for n, a in arrays.items()]


def _json_data(array: np.ndarray, datatype: str, name: str) -> list[Any]:
    if datatype in _BINARY_ONLY:
        raise CodecError(f"input {name!r}: {datatype} cannot travel as KServe JSON numbers; use the binary form")
    flat = array.reshape(-1)
    if datatype == "BYTES":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in flat.tolist()]
    return flat.tolist()


def _raw_bytes(array: np.ndarray, datatype: str) -> bytes | np.ndarray:
    """The tensor's wire bytes: `bytes` for BYTES tensors, else a flat uint8 view of the little-endian,
    C-contiguous array (no copy when the array already is one). len() is the byte count either way."""
    if datatype == "BYTES":
        serialized = serialize_byte_tensor(array)
        return serialized.item() if serialized.size > 0 else b""
    contiguous = np.ascontiguousarray(array, dtype=np.dtype(triton_to_np_dtype(datatype)).newbyteorder("<"))
    return contiguous.reshape(-1).view(np.uint8)


def _outputs_json(outputs: Sequence[str] | None, binary: bool) -> list[dict[str, Any]] | None:
    if outputs is None:
        return None
    return [{"name": n, "parameters": {"binary_data": binary}} for n in outputs]


def encode_kserve_json(
    inputs: Mapping[str, Any], *, signature: Any | None = None, outputs: Sequence[str] | None = None
) -> tuple[bytes, str]:
    """`{"inputs": [{"name", "shape", "datatype", "data"}]}` with application/json; the answer comes as JSON."""
    request: dict[str, Any] = {
        "inputs": [
            {"name": n, "shape": list(a.shape), "datatype": dt, "data": _json_data(a, dt, n)}
            for n, dt, a in _prepare(inputs, signature)
        ]
    }
    if outputs is not None:
        request["outputs"] = _outputs_json(outputs, binary=False)
    return json.dumps(request).encode(), JSON


def encode_kserve_binary(
    inputs: Mapping[str, Any],
    *,
    signature: Any | None = None,
    outputs: Sequence[str] | None = None,
    binary_outputs: bool = True,
) -> tuple[bytes, str]:
    """A JSON header of N bytes (each tensor's `binary_data_size`), then the raw little-endian tensor bytes,
    with Content-Type `application/vnd.sagemaker-triton.binary+json;json-header-size=N`. Outputs come back
    in binary too unless `binary_outputs` is False."""
    header_inputs, blobs = [], []
    for name, datatype, array in _prepare(inputs, signature):
        raw = _raw_bytes(array, datatype)
        blobs.append(raw)
        header_inputs.append({
            "name": name, "shape": list(array.shape), "datatype": datatype,
            "parameters": {"binary_data_size": len(raw)},
        })
    header: dict[str, Any] = {"inputs": header_inputs}
    if outputs is not None:
        header["outputs"] = _outputs_json(outputs, binary=binary_outputs)
    elif binary_outputs:
        header["parameters"] = {"binary_data_output": True}
    head = json.dumps(header).encode()
    # One copy of the tensor bytes, straight into the body (join takes any buffer).
    return b"".join([head, *blobs]), f"{BINARY_PREFIX}{len(head)}"


def header_size(content_type: str | None) -> int | None:
    """N of `...binary+json;json-header-size=N`, or None for a plain JSON body."""
    if not content_type:
        return None
    compact = content_type.replace(" ", "")
    if not compact.startswith(BINARY_PREFIX):
        return None
    try:
        size = int(compact[len(BINARY_PREFIX):].split(";")[0])
    except ValueError:
        raise CodecError(f"bad json-header-size in Content-Type {content_type!r}") from None
    if size < 0:
        raise CodecError(f"negative json-header-size in Content-Type {content_type!r}")
    return size


def split_kserve(body: bytes, content_type: str | None) -> tuple[dict[str, Any], memoryview]:
    size = header_size(content_type)
    if size is not None and size > len(body):
        raise CodecError(f"json-header-size {size} exceeds the body's {len(body)} bytes")
    # The tensor part is a view of the body, never a copy: arrays are decoded in place (np.frombuffer).
    head, rest = (body[:size], memoryview(body)[size:]) if size is not None else (body, memoryview(b""))
    try:
        parsed = json.loads(head or b"null")
    except (ValueError, UnicodeDecodeError) as err:
        raise CodecError(f"the JSON part is not valid JSON: {err}") from None
    except RecursionError:
        raise CodecError("the JSON part is nested too deeply to parse (over about 1,000 levels)") from None
    if not isinstance(parsed, dict):
        raise CodecError("the JSON part must be an object")
    return parsed, rest


def _tensors(entries: list[dict[str, Any]], rest: memoryview | bytes, what: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    offset = 0
    for entry in entries:
        name, datatype, shape = entry.get("name"), entry.get("datatype"), entry.get("shape")
        if not isinstance(name, str) or not isinstance(datatype, str) or not isinstance(shape, list):
            raise CodecError(f"{what} tensor {entry!r} lacks name, datatype or shape")
        size = (entry.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            chunk = rest[offset:offset + size]
            if len(chunk) != size:
                raise CodecError(f"{what} {name!r}: binary_data_size {size} but only {len(chunk)} bytes follow")
            offset += size
            if datatype == "BYTES":
                array = deserialize_bytes_tensor(bytes(chunk))
            else:
                array = np.frombuffer(chunk, dtype=np.dtype(triton_to_np_dtype(datatype)).newbyteorder("<"))
        elif "data" in entry:
            if datatype == "BYTES":
                array = np.array([v.encode() if isinstance(v, str) else v for v in np.ravel(entry["data"])],
                                 dtype=np.object_)
            else:
                array = np.asarray(entry["data"], dtype=triton_to_np_dtype(datatype)).reshape(-1)
        else:
            raise CodecError(f"{what} {name!r} has neither data nor binary_data_size")
        try:
            out[name] = array.reshape(shape)
        except ValueError:
            raise CodecError(f"{what} {name!r}: {array.size} values do not fill shape {shape}") from None
    return out


def decode_kserve_response(body: bytes, content_type: str | None) -> dict[str, np.ndarray]:
    """Outputs of a Triton answer (JSON or binary+json), by name; an {"error": ...} body raises InferenceError."""
    parsed, rest = split_kserve(body, content_type)
    if "error" in parsed:
        raise InferenceError(str(parsed["error"]))
    return _tensors(parsed.get("outputs") or [], rest, "output")


def decode_kserve_request(body: bytes, content_type: str | None) -> dict[str, np.ndarray]:
    """Inputs of a KServe request (the inverse of the two encoders)."""
    parsed, rest = split_kserve(body, content_type)
    return _tensors(parsed.get("inputs") or [], rest, "input")


# ---------------------------------------------------------------------------------------------
# x-npy and plain JSON (TorchServe, TFS)
# ---------------------------------------------------------------------------------------------
def encode_npy(array: Any) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue(), NPY


def decode_npy(body: bytes) -> np.ndarray:
    try:
        return np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise CodecError(f"not a .npy body: {err}") from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def encode_json(value: Any) -> tuple[bytes, str]:
    """Plain JSON (numpy arrays become nested lists), e.g. TFS `{"instances": ...}` or a TorchServe body."""
    return json.dumps(_jsonable(value)).encode(), JSON


def decode_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise CodecError(f"not valid JSON: {err}") from None
    except RecursionError:
        raise CodecError("not JSON servekit can parse: nested too deeply (over about 1,000 levels)") from None


def decode_response(body: bytes, content_type: str | None) -> Any:
    """Any server's answer by its Content-Type: KServe outputs (binary+json, or JSON whose "outputs" are KServe
    tensors) as arrays by name, an x-npy array, other JSON as parsed, or the text."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if header_size(content_type) is not None:
        return decode_kserve_response(body, content_type)
    if ctype == NPY:
        return decode_npy(body)
    if ctype == JSON or ctype.endswith("+json"):
        parsed = decode_json(body)
        outputs = parsed.get("outputs") if isinstance(parsed, dict) else None
        if isinstance(outputs, list) and outputs and all(isinstance(o, dict) and "datatype" in o for o in outputs):
            return _tensors(outputs, b"", "output")
        return parsed
    return body.decode(errors="replace")


# ---------------------------------------------------------------------------------------------
# Refusing, before sending, the requests a server would not answer with a 4xx
# ---------------------------------------------------------------------------------------------
# InvokeEndpoint's limit on a real-time request body (botocore's sagemaker-runtime model: Body max 6291456).
MAX_INVOKE_BYTES = 6 * 1024 * 1024


def request_problem(server: Any, body: bytes, content_type: str | None) -> str | None:
    """Why a raw request body should not be sent as it is to an endpoint of `server` (the endpoint's
    servekit.servers.base.Server, handed in by the caller), or None. It checks only what the server would not
    answer with a 4xx itself (each server's own rules are its `request_problem`, in its package):

    - any server: a body over 6 MB (InvokeEndpoint refuses it in the cloud; a local Triton answers it);
    - Triton (2.44 here): an empty body, and a binary+json body whose json-header-size is 0 or not a number,
      take Triton's raw-input path and are answered 200 from bytes that are no tensor; a body that is not
      KServe JSON (invalid JSON, another Content-Type, no "inputs") gets 500;
    - TFS: the container answers every handler error with 500, so what servekit's handler would refuse
      (empty body, unsupported Content-Type, invalid JSON or JSON lines, a bad .npy) is refused here.
    TorchServe's handlers answer their own 4xx, so only the size is checked for them.
    """
    if len(body) > MAX_INVOKE_BYTES:
        return (f"the body is {len(body)} bytes, over the {MAX_INVOKE_BYTES} bytes (6 MB) that SageMaker's "
                "InvokeEndpoint accepts; send fewer items per request (or a binary form: x-npy, Triton binary+json)")
    return server.request_problem(body, content_type)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()
