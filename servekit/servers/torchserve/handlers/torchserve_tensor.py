"""TorchServe handler for any TorchScript model: tensors in, every output out, named (copied into the artifact as
code/inference.py when `handler: tensor`, or when `handler: auto` finds that the model is not a one-output
classifier).

Runs inside the PyTorch DLC under the SageMaker PyTorch inference toolkit; imports only torch, numpy and
sagemaker_inference, which the image provides.

Artifact: `model.pt` (TorchScript) at the root, and `servekit-handler.json`, which servekit writes at build after
running the model: the names of forward()'s inputs and outputs (`model.output_names` in servekit.yaml, else
output__0, output__1, ...).

Request (Content-Type):
- application/x-npy: one tensor (numpy .npy bytes, never unpickled), for a model with one input;
- application/json: KServe v2, `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [...]}, ...]}`
  (one entry per forward() argument, named as servekit-handler.json lists them, or all unnamed in forward()'s
  order); or one tensor as a nested list, bare or under "inputs" / "instances" (float32).
Response (Accept):
- application/json: `{"outputs": [{"name": ..., "shape": [...], "datatype": "FP32", "data": [...flat...]}, ...]}`,
  every output of forward() in order (KServe v2's response shape);
- application/x-npy: the output as .npy bytes, for a model with one output (406 otherwise, naming JSON).

Errors, as application/json {"error": "...", "status": N} with no traceback (code/servekit_torchserve.py): 415
unsupported Content-Type, 406 unsupported Accept, 413 body over SERVEKIT_MAX_REQUEST_BYTES (default 6 MiB, SageMaker's
real-time payload limit), 400 for an empty body, invalid JSON or .npy, a missing or unknown input, data that does not
fill its shape, an unknown datatype, or tensors the model rejects (with the shapes sent).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
from servekit_torchserve import (  # code/servekit_torchserve.py, beside this file
    JSON,
    RequestError,
    bad_request,
    install_clean_errors,
    int_env,
    media_type,
    parse_json,
)

NPY = "application/x-npy"
SIGNATURE = "servekit-handler.json"
MAX_REQUEST_BYTES = int_env("SERVEKIT_MAX_REQUEST_BYTES", 6 * 1024 * 1024)
install_clean_errors()  # the toolkit's error bodies: JSON, no traceback

# KServe v2 datatypes <-> numpy (the v2 protocol's tensor data types).
V2_TO_NUMPY = {"BOOL": np.bool_, "UINT8": np.uint8, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
               "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64}
NUMPY_TO_V2 = {np.dtype(v).str: k for k, v in V2_TO_NUMPY.items()}

_LOADED = None  # output_fn gets no model: the one model_fn loaded last (one model per worker process)


class TensorModel:
    def __init__(self, module, inputs: list[str], outputs: list[str], device: torch.device):
        self.module = module
        self.inputs = inputs
        self.outputs = outputs
        self.device = device


def model_fn(model_dir: str) -> TensorModel:
    root = Path(model_dir)
    signature = json.loads((root / SIGNATURE).read_text())
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    module = torch.jit.load(str(root / "model.pt"), map_location=device).eval()
    global _LOADED
    _LOADED = TensorModel(module, signature["inputs"], signature["outputs"], device)
    return _LOADED


def input_fn(input_data, content_type: str | None) -> list[np.ndarray]:
    kind = media_type(content_type)
    if kind not in (JSON, NPY):
        raise RequestError(415, f"Content-Type {content_type!r} is not supported; send {JSON} or {NPY}")
    body = _body_bytes(input_data)
    names = _LOADED.inputs if _LOADED is not None else ["input__0"]
    if kind == NPY:
        if len(names) != 1:
            raise bad_request(f"the model takes {len(names)} inputs ({', '.join(names)}); send them as KServe v2 "
                              "JSON, one entry each")
        return [_parse_npy(body)]
    return _parse_json(parse_json(body), names)


def predict_fn(arrays: list[np.ndarray], model: TensorModel) -> list[np.ndarray]:
    tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(model.device) for a in arrays]
    try:
        with torch.inference_mode():
            result = model.module(*tensors)
    except RuntimeError as err:
        lines = str(err).strip().splitlines()
        raise bad_request(f"the model rejected inputs of shapes {[list(a.shape) for a in arrays]} "
                          f"({', '.join(str(a.dtype) for a in arrays)}): {lines[-1] if lines else type(err).__name__}"
                          ) from err
    values = list(result) if isinstance(result, tuple | list) else [result]
    return [v.detach().cpu().numpy() for v in values]


def output_fn(prediction: list[np.ndarray], accept: str | None):
    # servekit-handler.json lists no names when the build could not run the model (no model.input_shape)
    names = (_LOADED.outputs if _LOADED is not None else None) or [f"output__{i}" for i in range(len(prediction))]
    kind = _accept(accept)
    if kind == NPY:
        if len(prediction) != 1:
            raise RequestError(406, f"the model has {len(prediction)} outputs ({', '.join(names)}); .npy holds one: "
                               f"ask for {JSON}")
        buffer = io.BytesIO()
        np.save(buffer, prediction[0], allow_pickle=False)
        return buffer.getvalue(), NPY
    outputs = [{"name": name, "shape": list(a.shape), "datatype": NUMPY_TO_V2.get(a.dtype.str, a.dtype.name.upper()),
                "data": a.reshape(-1).tolist()} for name, a in zip(names, prediction, strict=False)]
    return json.dumps({"outputs": outputs}), JSON


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
def _accept(accept: str | None) -> str:
    for part in (accept or JSON).split(","):
        kind = media_type(part)
        if kind in (JSON, NPY):
            return kind
        if kind in ("*/*", "application/*", ""):
            return JSON
    raise RequestError(406, f"Accept {accept!r} is not supported; ask for {JSON} or {NPY}")


def _body_bytes(input_data) -> bytes:
    if input_data is None:
        raise bad_request("empty body; send tensors as KServe v2 JSON or one tensor as application/x-npy")
    body = input_data.encode("utf-8") if isinstance(input_data, str) else bytes(input_data)
    if len(body) > MAX_REQUEST_BYTES:
        raise RequestError(413, f"body of {len(body)} bytes is over the limit of {MAX_REQUEST_BYTES} bytes "
                                "(SERVEKIT_MAX_REQUEST_BYTES)")
    if not body.strip():
        raise bad_request("empty body; send tensors as KServe v2 JSON or one tensor as application/x-npy")
    return body


def _parse_npy(body: bytes) -> np.ndarray:
    """Never unpickled; the header's size is checked against the body before numpy allocates it."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(stream)
        if dtype.hasobject or dtype.str not in NUMPY_TO_V2:
            raise ValueError(f"dtype {dtype} is not a number type the model can take")
        if int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > len(body):
            raise ValueError(f"the header declares shape {list(shape)} of {dtype}, more than the body holds")
        stream.seek(0)
        return np.load(stream, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise bad_request(f"body is not a valid .npy array (numpy.save, no pickles): {err}") from None


def _parse_json(payload, names: list[str]) -> list[np.ndarray]:
    entries = payload.get("inputs") if isinstance(payload, dict) else None
    if isinstance(entries, list) and entries and all(isinstance(e, dict) for e in entries):
        return _v2_inputs(entries, names)
    if isinstance(payload, dict):
        for key in ("inputs", "instances"):
            if key in payload:
                payload = payload[key]
                break
        else:
            raise bad_request(f"JSON object has no \"inputs\" key (keys: {sorted(payload)[:10]}); send KServe v2 "
                              "{\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]}")
    if len(names) != 1:
        raise bad_request(f"the model takes {len(names)} inputs ({', '.join(names)}); send KServe v2 JSON, one entry "
                          "each")
    try:
        array = np.asarray(payload, dtype=np.float32)
    except (ValueError, TypeError) as err:
        raise bad_request(f"JSON tensor must be a rectangular nested list of numbers: {err}") from None
    return [array]


def _v2_inputs(entries: list[dict], names: list[str]) -> list[np.ndarray]:
    by_name = {e.get("name"): e for e in entries}
    if all("name" not in e for e in entries) and len(entries) == len(names):
        ordered = entries  # unnamed entries, in forward()'s order
    else:
        unknown = sorted(str(n) for n in set(by_name) - set(names))
        missing = [n for n in names if n not in by_name]
        if unknown or missing:
            raise bad_request(f"inputs {missing} are missing" + (f" and {unknown} unknown" if unknown else "")
                              + f"; the model takes {', '.join(names)}")
        ordered = [by_name[name] for name in names]
    arrays = []
    for name, entry in zip(names, ordered, strict=True):
        datatype = str(entry.get("datatype", "FP32")).upper()
        if datatype not in V2_TO_NUMPY:
            raise bad_request(f"input {name}: datatype {datatype!r} is not one of {', '.join(V2_TO_NUMPY)}")
        try:
            array = np.asarray(entry.get("data"), dtype=V2_TO_NUMPY[datatype])
            shape = entry.get("shape", list(array.shape))
            arrays.append(array.reshape([int(d) for d in shape]))
        except (ValueError, TypeError) as err:
            raise bad_request(f"input {name}: data does not fill shape {entry.get('shape')}: {err}") from None
    return arrays
