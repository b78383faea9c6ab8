"""`servekit bench`'s requests for a Triton endpoint: KServe v2 JSON and binary+json, shaped by config.pbtxt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servekit import codecs
from servekit.bench.payloads import BenchError, Payload, example_file, triton_payloads


def payloads(endpoint: Any, artifact: Path | None) -> list[Payload]:
    if artifact is None:
        raise BenchError(f"{endpoint.name}: the model is in S3 and no config.pbtxt is at hand; pass --data FILE")
    signature = codecs.TritonSignature.from_artifact(artifact, endpoint.served_model_name)
    example = example_file(endpoint, None)
    if example is None:
        return triton_payloads(signature)
    try:
        inputs = codecs.decode_kserve_request(example.read_bytes(), codecs.JSON)
    except codecs.CodecError as err:
        raise BenchError(f"{example}: not a KServe request ({err}); fix it or pass --data") from None
    return triton_payloads(signature, inputs=inputs, source=example.name)
