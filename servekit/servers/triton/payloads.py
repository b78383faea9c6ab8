"""`servekit bench`'s requests for a Triton endpoint: KServe v2 JSON and binary+json, shaped by config.pbtxt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from servekit import codecs
from servekit.bench.payloads import BenchError, Payload, example_file, image
from servekit.servers.triton.signature import TritonSignature


def payloads(endpoint: Any, artifact: Path | None) -> list[Payload]:
    if artifact is None:
        raise BenchError(f"{endpoint.name}: the model is in S3 and no config.pbtxt is at hand; pass --data FILE")
    signature = TritonSignature.from_artifact(artifact, endpoint.served_model_name)
    example = example_file(endpoint, None)
    if example is None:
        return triton_payloads(signature)
    try:
        inputs = codecs.decode_kserve_request(example.read_bytes(), codecs.JSON)
    except codecs.CodecError as err:
        raise BenchError(f"{example}: not a KServe request ({err}); fix it or pass --data") from None
    return triton_payloads(signature, inputs=inputs, source=example.name)


def triton_payloads(signature: TritonSignature, *, inputs: dict[str, np.ndarray] | None = None,
                    batch: int = 1, source: str = "") -> list[Payload]:
    """KServe JSON and binary+json of the same tensors: `inputs` (e.g. the example file's), or deterministic ones of
    one request of `batch` items (-1 dims become 16)."""
    if inputs is None:
        inputs = {
            spec.name: image([16 if d == -1 else d for d in signature.full_shape(spec, batch)],
                             object if spec.datatype == "BYTES" else spec.numpy_dtype)
            for spec in signature.inputs
        }
    shapes = ", ".join(f"{n} {'x'.join(map(str, a.shape))} {signature.input(n).datatype}" for n, a in inputs.items())
    shapes += f" from {source}" if source else ""
    payloads = []
    try:
        body, ctype = codecs.encode_kserve_json(inputs, signature=signature)
        payloads.append(Payload("kserve-json", body, ctype, description=f"{shapes}, KServe v2 JSON"))
    except codecs.CodecError:
        pass  # FP16/BF16 inputs travel in binary only
    body, ctype = codecs.encode_kserve_binary(inputs, signature=signature)
    payloads.append(Payload("binary+json", body, ctype, description=f"{shapes}, Triton binary+json"))
    return payloads
