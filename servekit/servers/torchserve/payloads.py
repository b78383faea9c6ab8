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
    example = example_file(endpoint, handler)
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
