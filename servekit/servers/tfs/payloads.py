"""`servekit bench`'s requests for a TFS endpoint: {"instances": ...} JSON, and the same instances as .npy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servekit import codecs
from servekit.bench.payloads import BenchError, Payload, example_array, example_file, image_payloads, tfs_input


def payloads(endpoint: Any, artifact: Path | None) -> list[Payload]:
    example = example_file(endpoint, None)
    if example is None:
        if artifact is None:
            raise BenchError(f"{endpoint.name}: the model is in S3; pass --data FILE")
        return image_payloads(tfs_input(artifact, endpoint.default_model_name), json_key="instances")
    body = example.read_bytes()
    payloads = [Payload("json", body, codecs.JSON, description=example.name)]
    array = example_array(body, "instances")
    if array is not None:  # the handler takes the same instances as .npy (first axis: the batch)
        npy, npy_type = codecs.encode_npy(array)
        payloads.append(Payload("x-npy", npy, npy_type, description=f"{example.name} instances as .npy float32"))
    return payloads
