"""Request and response bodies for the three servers: Triton's KServe v2 JSON and binary+json forms, x-npy,
and plain JSON (TorchServe, TFS).

Triton's tensor names, shapes and datatypes come from the endpoint's config.pbtxt (`TritonSignature`), so a
wrong name, dtype or shape is refused here with a message that says what config.pbtxt expects, before the
request leaves the machine. Datatype maps and BYTES serialization are tritonclient's own
(`tritonclient.utils`, present with the `tritonclient[grpc]` install; `tritonclient.http`'s request helpers
need gevent, which servekit does not install, so the few lines of KServe framing live here).

Used by `servekit invoke` (local and `--deployed`), the benchmarks and the tests.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2
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


# ---------------------------------------------------------------------------------------------
# The model's signature, from config.pbtxt
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a Triton model. `dims` excludes the batch dimension when batching."""

    name: str
    datatype: str  # KServe name: FP32, INT64, BYTES, ...
    dims: tuple[int, ...]

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(triton_to_np_dtype(self.datatype))


@dataclass(frozen=True)
class TritonSignature:
    model_name: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @classmethod
    def from_config(cls, config: model_config_pb2.ModelConfig) -> TritonSignature:
        def specs(tensors: Any) -> tuple[TensorSpec, ...]:
            return tuple(TensorSpec(t.name, _kserve_type(t.data_type), tuple(t.dims)) for t in tensors)

        return cls(config.name, config.max_batch_size, specs(config.input), specs(config.output))

    @classmethod
    def from_pbtxt(cls, text: str, source: str = "config.pbtxt") -> TritonSignature:
        try:
            config = text_format.Parse(text, model_config_pb2.ModelConfig())
        except text_format.ParseError as err:
            raise CodecError(f"{source}: not a valid Triton model config: {err}") from None
        return cls.from_config(config)

    @classmethod
    def from_file(cls, path: str | Path) -> TritonSignature:
        path = Path(path)
        return cls.from_pbtxt(path.read_text(), str(path))

    @classmethod
    def from_artifact(cls, artifact_path: str | Path, model_name: str | None = None) -> TritonSignature:
        """Read `<model>/config.pbtxt` from a Triton model.tar.gz or uncompressed layout (the one the endpoint serves)."""
        from servekit.model_build.archive import artifact_files

        configs = {name.split("/")[-2]: read() for name, read in artifact_files(Path(artifact_path))
                   if re.fullmatch(r"[^/]+/config\.pbtxt", name)}
        if not configs:
            raise CodecError(f"{artifact_path}: no <model>/config.pbtxt in the archive")
        if model_name is None:
            if len(configs) > 1:
                raise CodecError(f"{artifact_path}: several models {sorted(configs)}; name the one to call")
            model_name = next(iter(configs))
        if model_name not in configs:
            raise CodecError(f"{artifact_path}: no {model_name}/config.pbtxt (found {sorted(configs)})")
        return cls.from_pbtxt(configs[model_name].decode(), f"{artifact_path}:{model_name}/config.pbtxt")

    def input(self, name: str) -> TensorSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise CodecError(
            f"input {name!r} is not in {self.model_name}'s config.pbtxt; its inputs are "
            f"{[s.name for s in self.inputs]} (names are case-sensitive)"
        )

    def full_shape(self, spec: TensorSpec, batch: int | None) -> tuple[int, ...]:
        return ((batch,) if self.max_batch_size > 0 else ()) + spec.dims

    def check(self, tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Check names, dtypes and shapes against config.pbtxt; returns the arrays (dtype kept: no silent cast)."""
        missing = [s.name for s in self.inputs if s.name not in tensors]
        if missing:
            raise CodecError(f"missing input(s) {missing} for {self.model_name}; config.pbtxt lists "
                             f"{[s.name for s in self.inputs]}")
        out = {}
        for name, value in tensors.items():
            spec = self.input(name)
            array = np.asarray(value)
            if spec.datatype == "BYTES":
                if array.dtype.kind not in "OSU":
                    raise CodecError(f"input {name!r}: config.pbtxt says TYPE_STRING, got {array.dtype}")
            elif array.dtype != spec.numpy_dtype:
                raise CodecError(
                    f"input {name!r}: dtype {array.dtype} but config.pbtxt says {_config_type(spec.datatype)} "
                    f"({spec.numpy_dtype}); convert with .astype(np.{spec.numpy_dtype})"
                )
            _check_shape(self, spec, array.shape)
            out[name] = array
        return out


def _check_shape(sig: TritonSignature, spec: TensorSpec, shape: tuple[int, ...]) -> None:
    expected = ("batch",) + spec.dims if sig.max_batch_size > 0 else spec.dims
    body = shape[1:] if sig.max_batch_size > 0 else shape
    ok = len(shape) == len(expected) and all(d == -1 or d == s for d, s in zip(spec.dims, body, strict=False))
    if ok and sig.max_batch_size > 0 and not 1 <= shape[0] <= sig.max_batch_size:
        raise CodecError(
            f"input {spec.name!r}: batch of {shape[0]} but config.pbtxt allows 1..{sig.max_batch_size} "
            "(max_batch_size); split the request"
        )
    if not ok:
        shown = "[" + ", ".join(str(d) for d in expected) + "]"
        raise CodecError(
            f"input {spec.name!r}: shape {list(shape)} but config.pbtxt expects {shown} (-1 = any size)"
        )


def _kserve_type(config_type: int) -> str:
    name = model_config_pb2.DataType.Name(config_type).removeprefix("TYPE_")
    return "BYTES" if name == "STRING" else name


def _config_type(datatype: str) -> str:
    return "TYPE_STRING" if datatype == "BYTES" else f"TYPE_{datatype}"


def _datatype_of(array: np.ndarray) -> str:
    from tritonclient.utils import np_to_triton_dtype

    kind = np_to_triton_dtype(array.dtype)
    if kind is None:
        raise CodecError(f"numpy dtype {array.dtype} has no Triton datatype")
    return kind


# ---------------------------------------------------------------------------------------------
# KServe v2: JSON and binary+json
# ---------------------------------------------------------------------------------------------
def _prepare(inputs: Mapping[str, Any], signature: TritonSignature | None) -> list[tuple[str, str, np.ndarray]]:
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
    inputs: Mapping[str, Any], *, signature: TritonSignature | None = None, outputs: Sequence[str] | None = None
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
    signature: TritonSignature | None = None,
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


def _split(body: bytes, content_type: str | None) -> tuple[dict[str, Any], memoryview]:
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
    parsed, rest = _split(body, content_type)
    if "error" in parsed:
        raise InferenceError(str(parsed["error"]))
    return _tensors(parsed.get("outputs") or [], rest, "output")


def decode_kserve_request(body: bytes, content_type: str | None) -> dict[str, np.ndarray]:
    """Inputs of a KServe request (the inverse of the two encoders)."""
    parsed, rest = _split(body, content_type)
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
# What servekit's TFS handler (servekit/handlers/tfs_inference.py, the code/inference.py of every built TFS artifact) reads.
TFS_HANDLER_CONTENT_TYPES = (JSON, JSONLINES, CSV, NPY)


def request_problem(server: str, body: bytes, content_type: str | None) -> str | None:
    """Why a raw request body should not be sent as it is to a `server` ("tfs", "torchserve", "triton")
    endpoint, or None. It checks only what the server would not answer with a 4xx itself:

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
    from servekit import servers

    return servers.get(server).request_problem(body, content_type)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def triton_request_problem(body: bytes, content_type: str | None) -> str | None:
    if not body.strip():
        return ("empty body: Triton takes it as a raw input of zero bytes and answers 200 from memory it never "
                "received; send KServe "
                "JSON or binary+json (servekit.codecs.encode_kserve_json / encode_kserve_binary)")
    try:
        size = header_size(content_type)
    except CodecError as err:
        return f"{err}: tritonserver 2.44 reads it as 0 and answers 200 from the raw body (see json-header-size=0)"
    if size == 0:
        return ("json-header-size=0: Triton then reads the whole body as the raw bytes of the model's only input "
                "(its raw binary request path) and answers 200 from bytes that are no tensor; give the size of the "
                "JSON header (servekit.codecs.encode_kserve_binary)")
    binary = size is not None
    if not binary and _media_type(content_type) != JSON:
        return (f"Content-Type {content_type or '(none)'!r}: Triton's /invocations reads every non-binary body as "
                f"KServe JSON and answers 500; send {JSON} or {BINARY_PREFIX}<N>")
    try:
        parsed, _ = _split(body, content_type)
    except CodecError as err:
        return f"not a KServe request ({err}); Triton would answer 500"
    inputs = parsed.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
        return ('no "inputs" list of tensors ({"inputs": [{"name", "shape", "datatype", "data"}]}); '
                "Triton would answer 500")
    return None


def tfs_request_problem(body: bytes, content_type: str | None) -> str | None:
    media_type = _media_type(content_type) or JSON
    why = "the TFS container answers handler errors with 500"
    if media_type not in TFS_HANDLER_CONTENT_TYPES:
        return f"Content-Type {content_type!r} is not one of {', '.join(TFS_HANDLER_CONTENT_TYPES)} ({why})"
    if not body.strip():
        return f"empty body ({why})"
    try:
        if media_type == NPY:
            decode_npy(body)
        elif media_type == JSON:
            decode_json(body)
        elif media_type == JSONLINES:
            for number, line in enumerate(body.splitlines(), 1):
                if line.strip():
                    try:
                        decode_json(line)
                    except CodecError as err:
                        raise CodecError(f"line {number}: {err}") from None
    except CodecError as err:
        return f"{err} ({why})"
    return None
