"""`servekit bench`'s request for an echo endpoint: one small JSON document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servekit import codecs
from servekit.bench.payloads import Payload


def payloads(endpoint: Any, artifact: Path | None) -> list[Payload]:
    body, content_type = codecs.encode_json({"text": "hello"})
    return [Payload("json", body, content_type, description='{"text": "hello"}')]
