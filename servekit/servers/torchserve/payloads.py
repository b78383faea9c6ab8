"""`servekit bench`'s requests for a TorchServe endpoint: its example as JSON, and as .npy for the vision handler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servekit import codecs
from servekit.bench.payloads import (
    BenchError,
    Payload,
    example_array,
    example_file,
    image,
    image_payloads,
    vision_shape,
)


def payloads(endpoint: Any, artifact: Path | None) -> list[Payload]:
    from servekit.model_build import handlers

    handler = handlers.torchserve_handler(endpoint.model)
    signature = handler_signature(artifact) if handler in ("auto", "tensor") and artifact is not None else None
    if handler == "auto":  # the build chose by running the model: the tensor handler's signature says which
        handler = "tensor" if signature is not None else "vision"
    example = example_file(endpoint, handler)
    if handler == "tensor" and example is None:
        return tensor_payloads(endpoint, signature)
    if handler == "vision":
        if example is None:
            return image_payloads(image(vision_shape(endpoint)))
        body = example.read_bytes()
        array = example_array(body, "inputs")
        if array is None:
            return [Payload("json", body, codecs.JSON, description=example.name)]
        npy, npy_type = codecs.encode_npy(array)
        return [Payload("json", body, codecs.JSON, description=example.name),
                Payload("x-npy", npy, npy_type, description=f"{example.name} as numpy .npy bytes")]
    if example is None:
        raise BenchError(f"{endpoint.name}: no examples/{endpoint.name}.json; pass --data FILE (and --content-type)")
    return [Payload("json", example.read_bytes(), codecs.JSON, description=example.name)]


def handler_signature(artifact: Path) -> dict | None:
    """servekit-handler.json of a built artifact (the tensor handler's inputs and outputs), or None."""
    import json

    from servekit.model_build.archive import artifact_files
    from servekit.servers.torchserve.build import SIGNATURE

    for name, read in artifact_files(artifact):
        if name == SIGNATURE:
            return json.loads(read())
    return None


def tensor_payloads(endpoint: Any, signature: dict | None) -> list[Payload]:
    """A seeded random float32 tensor of the shape the build ran the model on, as KServe v2 JSON and as .npy."""
    import json

    import numpy as np

    from servekit.servers.torchserve.build import probe_shape

    shape = probe_shape(endpoint.model, "tensor")
    inputs = (signature or {}).get("inputs") or ["input__0"]
    if shape is None or len(inputs) != 1:
        raise BenchError(f"{endpoint.name}: no example request: set model.input_shape, add "
                         f"examples/{endpoint.name}.json, or pass --data FILE (and --content-type)")
    array = np.random.default_rng(0).random(shape, dtype=np.float32)
    body = json.dumps({"inputs": [{"name": inputs[0], "shape": list(array.shape), "datatype": "FP32",
                                   "data": array.reshape(-1).tolist()}]}).encode()
    npy, npy_type = codecs.encode_npy(array)
    return [Payload("kserve-json", body, codecs.JSON, description=f"random {list(array.shape)} as KServe v2 JSON"),
            Payload("x-npy", npy, npy_type, description=f"random {list(array.shape)} as numpy .npy bytes")]
