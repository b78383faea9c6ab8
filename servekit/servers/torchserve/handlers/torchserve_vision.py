"""TorchServe handler for a TorchScript image model (copied into the artifact as code/inference.py).

Runs inside the PyTorch DLC under the SageMaker PyTorch inference toolkit; imports only torch, numpy and
sagemaker_inference, which the image provides.

Artifact: `model.pt` (TorchScript) at the root (else the single *.pt / *.pth there), optional `labels.json`
at the root (a JSON list of names, index = class, or an object {"0": "cat", ...}); without it the labels
are the class indices as strings.

Request: Content-Type application/x-npy (numpy .npy bytes, no pickles) or application/json (nested lists,
or {"inputs": ...} / {"instances": ...}); one CHW image or an NCHW batch, numbers only.
Response: the top-k classes of each image, k from SERVEKIT_TOP_K (default 5). Accept application/json:
`{"predictions": [[{"label": "cat", "index": 3, "probability": 0.91}, ...], ...]}` (one list per image);
Accept application/x-npy: a structured array of shape (images, k) with fields label, index, probability.
The model's output is taken as probabilities when every row is non-negative and sums to 1, else softmaxed.

Errors, as application/json {"error": "...", "status": N} with no traceback (code/servekit_torchserve.py):
415 unsupported Content-Type, 406 unsupported Accept, 413 body over SERVEKIT_MAX_REQUEST_BYTES (default
6 MiB, SageMaker's real-time payload limit) or more images than SERVEKIT_MAX_BATCH (default 64), 400 for an
empty body, invalid JSON (or JSON nested too deeply to parse) / npy, an .npy of objects (never unpickled),
a missing key, non-numeric, NaN or ragged data, or a shape the model rejects (SERVEKIT_INPUT_SHAPE, e.g.
"3,224,224", makes the shape check exact before the model runs).

Two entry points share the code:
- model_fn/input_fn/predict_fn/output_fn: what the toolkit calls, once per request even when TorchServe
  batches (SAGEMAKER_TS_BATCH_SIZE > 1);
- handle(data, context): a TorchServe handler that runs ONE forward pass for the whole batch TorchServe
  hands over, with per-request status and content type. Select it with TorchServe's env override
  TS_DEFAULT_SERVICE_HANDLER=inference:handle (see docs/torchserve.md).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import torch
from servekit_torchserve import (  # code/servekit_torchserve.py, beside this file
    JSON,
    RequestError,
    error_response,
    headers,
    install_clean_errors,
    int_env,
    media_type,
    parse_json,
    request_body,
)
from servekit_torchserve import bad_request as _bad_request

NPY = "application/x-npy"
SUPPORTED_CONTENT_TYPES = (JSON, NPY)

TOP_K = int_env("SERVEKIT_TOP_K", 5)
MAX_REQUEST_BYTES = int_env("SERVEKIT_MAX_REQUEST_BYTES", 6 * 1024 * 1024)
MAX_BATCH = int_env("SERVEKIT_MAX_BATCH", 64)
_LOG_BATCHES = os.environ.get("SERVEKIT_LOG_BATCHES", "") == "1"
install_clean_errors()  # the toolkit's error bodies: JSON, no traceback


# The toolkit calls output_fn(prediction, accept) without the model: the labels come from the model that
# model_fn loaded last (one model per worker process).
_LOADED = None


class VisionModel:
    def __init__(self, module: torch.jit.ScriptModule, labels: list[str] | None, device: torch.device,
                 input_shape: tuple[int, ...] | None):
        self.module = module
        self.labels = labels
        self.device = device
        self.input_shape = input_shape

    def label(self, index: int) -> str:
        if self.labels is not None and 0 <= index < len(self.labels):
            return self.labels[index]
        return str(index)


# ---------------------------------------------------------------------------------------------
# The toolkit's four functions
# ---------------------------------------------------------------------------------------------
def model_fn(model_dir: str) -> VisionModel:
    root = Path(model_dir)
    path = root / "model.pt"
    if not path.is_file():
        candidates = sorted(list(root.glob("*.pt")) + list(root.glob("*.pth")))
        if len(candidates) != 1:
            raise FileNotFoundError(f"expected model.pt (or exactly one *.pt/*.pth) in {root}, found {candidates}")
        path = candidates[0]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    module = torch.jit.load(str(path), map_location=device).eval()
    global _LOADED
    _LOADED = VisionModel(module, _load_labels(root / "labels.json"), device, _input_shape())
    return _LOADED


def input_fn(input_data: bytes | bytearray | str | None, content_type: str | None) -> torch.Tensor:
    kind = media_type(content_type)
    if kind not in SUPPORTED_CONTENT_TYPES:
        raise RequestError(415, f"Content-Type {content_type!r} is not supported; send {' or '.join(SUPPORTED_CONTENT_TYPES)}")
    body = _body_bytes(input_data)
    if kind == NPY:
        array = _parse_npy(body)
    else:
        array = _parse_json(body)
    return _to_tensor(array)


def predict_fn(data: torch.Tensor, model: VisionModel) -> torch.Tensor:
    _check_shape(data, model)
    try:
        with torch.inference_mode():
            output = model.module(data.to(model.device))
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = first[-1] if first else type(err).__name__
        raise _bad_request(f"the model rejected an input of shape {list(data.shape)}: {detail}") from err
    if isinstance(output, tuple | list):
        output = output[0]
    return _probabilities(output.float().cpu())


def output_fn(prediction: torch.Tensor, accept: str | None) -> tuple[bytes | str, str]:
    return encode(prediction, accept, _LOADED)


def encode(prediction: torch.Tensor, accept: str | None, model: VisionModel | None) -> tuple[bytes | str, str]:
    """Top-k of each row of `prediction` as JSON or .npy (see the module docstring)."""
    kind = _accept_media_type(accept)
    k = max(1, min(TOP_K, prediction.shape[-1]))
    probabilities, indices = torch.topk(prediction, k, dim=-1)

    def label(index: int) -> str:
        return model.label(index) if model is not None else str(index)

    if kind == NPY:
        names = [[label(int(i)) for i in row] for row in indices.tolist()]
        width = max([len(n) for row in names for n in row] + [1])
        out = np.zeros(tuple(indices.shape), dtype=[("label", f"U{width}"), ("index", "<i8"), ("probability", "<f4")])
        out["label"] = np.array(names, dtype=f"U{width}").reshape(tuple(indices.shape))
        out["index"] = indices.numpy()
        out["probability"] = probabilities.numpy()
        buffer = io.BytesIO()
        np.save(buffer, out, allow_pickle=False)
        return buffer.getvalue(), NPY
    predictions = [
        [{"label": label(int(i)), "index": int(i), "probability": float(p)} for i, p in zip(irow, prow, strict=True)]
        for irow, prow in zip(indices.tolist(), probabilities.tolist(), strict=True)
    ]
    return json.dumps({"predictions": predictions}), JSON


# ---------------------------------------------------------------------------------------------
# A TorchServe handler with a real batched forward pass
# ---------------------------------------------------------------------------------------------
_HANDLE_MODEL: VisionModel | None = None


def handle(data: list[dict] | None, context) -> list | None:
    """TorchServe function entry point: one forward pass over every well-formed request in the batch."""
    global _HANDLE_MODEL
    if _HANDLE_MODEL is None:
        _HANDLE_MODEL = model_fn(context.system_properties.get("model_dir"))
    if data is None:  # TorchServe's initialisation call
        return None
    if _LOG_BATCHES:
        print(f"servekit handle: batch of {len(data)} request(s)", flush=True)
    default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
    responses: list = [None] * len(data)
    tensors: dict[int, torch.Tensor] = {}
    for idx, request in enumerate(data):
        try:
            tensor = input_fn(request_body(request), headers(context, idx).get("content-type"))
            _check_shape(tensor, _HANDLE_MODEL)
            tensors[idx] = tensor
        except Exception as err:  # noqa: BLE001 - every request gets its own JSON answer
            responses[idx] = error_response(context, idx, err)
    # One forward pass per distinct image shape (normally one).
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for idx, tensor in tensors.items():
        by_shape.setdefault(tuple(tensor.shape[1:]), []).append(idx)
    for members in by_shape.values():
        batch = torch.cat([tensors[i] for i in members])
        try:
            probabilities = predict_fn(batch, _HANDLE_MODEL)
        except Exception as err:  # noqa: BLE001 - the batch failed: each of its requests says so
            for i in members:
                responses[i] = error_response(context, i, err)
            continue
        offset = 0
        for i in members:
            n = tensors[i].shape[0]
            accept = headers(context, i).get("accept") or default_accept
            if accept == "*/*":
                accept = default_accept
            try:
                body, content_type = encode(probabilities[offset:offset + n], accept, _HANDLE_MODEL)
                context.set_response_content_type(i, content_type)
                responses[i] = body
            except Exception as err:  # noqa: BLE001
                responses[i] = error_response(context, i, err)
            offset += n
    return responses


# ---------------------------------------------------------------------------------------------
# Parsing and checks
# ---------------------------------------------------------------------------------------------
def _accept_media_type(accept: str | None) -> str:
    wanted = [media_type(part) for part in (accept or JSON).split(",")]
    for kind in wanted:
        if kind in (JSON, NPY):
            return kind
        if kind in ("*/*", "application/*", ""):
            return JSON
    raise RequestError(406, f"Accept {accept!r} is not supported; ask for {JSON} or {NPY}")


def _body_bytes(input_data) -> bytes:
    if input_data is None:
        raise _bad_request("empty body; send a tensor as application/x-npy or application/json")
    body = input_data.encode("utf-8") if isinstance(input_data, str) else bytes(input_data)
    if len(body) > MAX_REQUEST_BYTES:
        raise RequestError(413, f"body of {len(body)} bytes is over the limit of {MAX_REQUEST_BYTES} bytes "
                                "(SERVEKIT_MAX_REQUEST_BYTES); send fewer images per request")
    if not body.strip():
        raise _bad_request("empty body; send a tensor as application/x-npy or application/json")
    return body


def _parse_npy(body: bytes) -> np.ndarray:
    """An .npy body as an array, never unpickled: object dtypes are refused, and the header's shape is checked
    against the body's size before numpy allocates it (a header claiming terabytes is a MemoryError, not a 400).
    The same check is in handlers/tfs_inference.py: each container imports its own handler file only."""
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
        raise _bad_request(f"body is not a valid .npy array (numpy.save, no pickles): {err}") from None


def _parse_json(body: bytes) -> np.ndarray:
    payload = parse_json(body)
    if isinstance(payload, dict):
        for key in ("inputs", "instances"):
            if key in payload:
                payload = payload[key]
                break
        else:
            raise _bad_request(f"JSON object has no \"inputs\" key (keys: {sorted(payload)[:10]}); "
                               "send {\"inputs\": [...]} or a bare nested list")
    try:
        return np.asarray(payload, dtype=np.float32)
    except (ValueError, TypeError) as err:
        raise _bad_request(f"JSON tensor must be a rectangular nested list of numbers: {err}") from None


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    if array.dtype.kind not in "biuf":
        raise _bad_request(f"tensor dtype {array.dtype} is not numeric")
    if array.ndim == 3:
        array = array[np.newaxis]
    if array.ndim != 4:
        raise _bad_request(f"tensor of shape {list(array.shape)}: expected one image (C, H, W) or a batch (N, C, H, W)")
    if array.shape[0] == 0 or 0 in array.shape:
        raise _bad_request(f"tensor of shape {list(array.shape)} is empty")
    if array.shape[0] > MAX_BATCH:
        raise RequestError(413, f"{array.shape[0]} images in one request; the limit is {MAX_BATCH} (SERVEKIT_MAX_BATCH)")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise _bad_request("tensor holds NaN or infinity")
    return torch.from_numpy(np.ascontiguousarray(array))


def _check_shape(data: torch.Tensor, model: VisionModel) -> None:
    if model.input_shape is not None and tuple(data.shape[1:]) != model.input_shape:
        raise _bad_request(f"tensor of shape {list(data.shape)}: each image must be {list(model.input_shape)} "
                           "(SERVEKIT_INPUT_SHAPE)")


def _probabilities(output: torch.Tensor) -> torch.Tensor:
    if output.ndim == 1:
        output = output.unsqueeze(0)
    output = output.reshape(output.shape[0], -1)
    sums = output.sum(dim=-1)
    if bool((output >= 0).all()) and bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-3)):
        return output
    return torch.softmax(output, dim=-1)


def _load_labels(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    labels = json.loads(path.read_text())
    if isinstance(labels, dict):
        size = max((int(k) for k in labels), default=-1) + 1
        names = [str(i) for i in range(size)]
        for key, value in labels.items():
            names[int(key)] = str(value)
        return names
    return [str(label) for label in labels]


def _input_shape() -> tuple[int, ...] | None:
    raw = os.environ.get("SERVEKIT_INPUT_SHAPE", "").strip()
    if not raw:
        return None
    return tuple(int(part) for part in raw.replace("x", ",").split(",") if part.strip())
