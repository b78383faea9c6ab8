"""Where a project's running local servers answer: `servekit serve` writes `server.json` into the endpoint's serve
folder (servekit.project.Project.serve_dir) while it runs, and `servekit invoke`, `bench` and `verify` read it, so
the port given to serve need not be given again."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FILE = "server.json"


@contextlib.contextmanager
def announce(folder: Path, server: Any) -> Iterator[None]:
    """Record `server`'s address in `folder/server.json` for as long as the block runs (removed after it; a file
    left by a killed serve names a dead process, which `running_url` ignores)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE
    path.write_text(json.dumps({"url": server.url, "pid": os.getpid()}) + "\n")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if json.loads(path.read_text()).get("pid") == os.getpid():  # a later serve may have taken the file over
                path.unlink()


def running_url(folder: Path) -> str | None:
    """The URL of the `servekit serve` recorded in `folder`, when that process still runs; else None."""
    try:
        record = json.loads((folder / FILE).read_text())
        pid, url = int(record["pid"]), str(record["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, owned by someone else
        pass
    return url
