"""TFS requests servekit refuses before sending: what servekit's handler (handlers/tfs_inference.py, the
code/inference.py of every built TFS artifact) would refuse, because the TFS container answers every handler
error with 500 (servekit.codecs.request_problem asks this through the Server)."""

from __future__ import annotations

from servekit.codecs import CSV, JSON, JSONLINES, NPY, CodecError, decode_json, decode_npy, media_type

# What servekit's TFS handler reads.
HANDLER_CONTENT_TYPES = (JSON, JSONLINES, CSV, NPY)


def request_problem(body: bytes, content_type: str | None) -> str | None:
    kind = media_type(content_type) or JSON
    why = "the TFS container answers handler errors with 500"
    if kind not in HANDLER_CONTENT_TYPES:
        return f"Content-Type {content_type!r} is not one of {', '.join(HANDLER_CONTENT_TYPES)} ({why})"
    if not body.strip():
        return f"empty body ({why})"
    try:
        if kind == NPY:
            decode_npy(body)
        elif kind == JSON:
            decode_json(body)
        elif kind == JSONLINES:
            for number, line in enumerate(body.splitlines(), 1):
                if line.strip():
                    try:
                        decode_json(line)
                    except CodecError as err:
                        raise CodecError(f"line {number}: {err}") from None
    except CodecError as err:
        return f"{err} ({why})"
    return None
