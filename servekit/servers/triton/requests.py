"""Triton requests servekit refuses before sending: those tritonserver answers with 200 from bytes that are no
tensor, or with 500 (servekit.codecs.request_problem asks this through the Server)."""

from __future__ import annotations

from servekit.codecs import BINARY_PREFIX, JSON, CodecError, header_size, media_type, split_kserve


def request_problem(body: bytes, content_type: str | None) -> str | None:
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
    if not binary and media_type(content_type) != JSON:
        return (f"Content-Type {content_type or '(none)'!r}: Triton's /invocations reads every non-binary body as "
                f"KServe JSON and answers 500; send {JSON} or {BINARY_PREFIX}<N>")
    try:
        parsed, _ = split_kserve(body, content_type)
    except CodecError as err:
        return f"not a KServe request ({err}); Triton would answer 500"
    inputs = parsed.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
        return ('no "inputs" list of tensors ({"inputs": [{"name", "shape", "datatype", "data"}]}); '
                "Triton would answer 500")
    return None
