"""Request bodies: each server's example in every encoding it takes (servekit/servers/<server>/payloads.py
chooses), deterministic images, and a user's own file."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from servekit import codecs
from servekit.bench.common import (
    DEFAULT_IMAGE_SHAPE,
    EXAMPLES_DIR,
    BenchError,
)
from servekit.model_build.archive import artifact_files


@dataclass(frozen=True)
class Payload:
    """One request body and its headers. `name` is the encoding (json, x-npy, kserve-json, binary+json)."""

    name: str
    body: bytes
    content_type: str
    accept: str = codecs.JSON
    description: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "Accept": self.accept}


def image(shape: Sequence[int] = DEFAULT_IMAGE_SHAPE, dtype: Any = np.float32, seed: int = 0) -> np.ndarray:
    """A deterministic input of `shape`: uniform [0, 1) floats, small integers, or b"servekit" strings."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.random(tuple(shape), dtype=np.float64).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 100, tuple(shape)).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, tuple(shape)).astype(bool)
    return np.full(tuple(shape), b"servekit", dtype=object)


def image_payloads(array: np.ndarray, *, json_key: str | None = None) -> list[Payload]:
    """JSON (nested lists, optionally under `json_key`, as the reference chapter sends images) and x-npy."""
    value = {json_key: array} if json_key else array
    body, ctype = codecs.encode_json(value)
    npy, npy_type = codecs.encode_npy(array)
    shape = "x".join(str(d) for d in array.shape)
    return [
        Payload("json", body, ctype, description=f"{shape} {array.dtype} as nested JSON lists"),
        Payload("x-npy", npy, npy_type, description=f"{shape} {array.dtype} as numpy .npy bytes"),
    ]


def example_array(body: bytes, key: str | None) -> np.ndarray | None:
    """The numeric tensor of a JSON example (nested lists, or under `key`) as float32, or None when it is not one."""
    try:
        value = json.loads(body)
        if key is not None and isinstance(value, dict):
            value = value.get(key)
        array = np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError):
        return None
    return array if array.ndim >= 1 and array.size > 0 else None


def example_file(endpoint: Any, handler: str | None) -> Path | None:
    candidates = [EXAMPLES_DIR / f"{endpoint.name}.json"]
    if handler == "question-answering":
        candidates.append(EXAMPLES_DIR / "question-answering.json")
    return next((p for p in candidates if p.is_file()), None)


def tfs_input(artifact: Path, model_name: str) -> np.ndarray:
    """One instance for `model_name`'s serving_default signature, read from saved_model.pb in the artifact
    (TensorFlow's protos: imports TensorFlow, a few seconds)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    versions = {}  # version -> saved_model.pb bytes
    for name, read in artifact_files(Path(artifact)):
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == model_name and parts[2] == "saved_model.pb":
            versions[int(parts[1]) if parts[1].isdigit() else 0] = read()
    if not versions:
        raise BenchError(f"{artifact}: no {model_name}/<version>/saved_model.pb; pass --data with a request body")
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(versions[max(versions)])
    signature = proto.meta_graphs[0].signature_def.get("serving_default")
    if signature is None or len(signature.inputs) != 1:
        raise BenchError(f"{model_name}: serving_default is missing or takes several inputs; pass --data")
    (tensor,) = signature.inputs.values()
    dims = [d.size for d in tensor.tensor_shape.dim]
    shape = [1 if i == 0 and d == -1 else (16 if d == -1 else d) for i, d in enumerate(dims)]
    return image(shape, tf.dtypes.as_dtype(tensor.dtype).as_numpy_dtype)


def payloads_for(endpoint: Any, artifact: Path | None) -> list[Payload]:
    """The endpoint's example request in every encoding its server takes (see the module docstring): the example
    file examples/<endpoint>.json when there is one, else a deterministic input of the model's signature. Each
    server's payloads.py says which (servekit/servers/<server>/payloads.py)."""
    return endpoint.plugin.payloads(endpoint, artifact)


def vision_shape(endpoint: Any) -> tuple[int, ...]:
    shape = os.environ.get("SERVEKIT_INPUT_SHAPE")
    if shape:
        return (1, *[int(d) for d in shape.split(",")])
    return DEFAULT_IMAGE_SHAPE


def custom_payload(path: Path, content_type: str, accept: str) -> Payload:
    try:
        body = path.read_bytes()
    except OSError as err:
        raise BenchError(f"--data {path}: {err.strerror}") from None
    return Payload("custom", body, content_type, accept, description=str(path))
