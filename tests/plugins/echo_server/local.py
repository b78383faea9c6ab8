"""`servekit serve` for an echo endpoint: the echo server (serve.py) on this machine, as its container runs it."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from servekit.local.endpoint import LocalEndpoint
from servekit.local.process import ServerProcess, free_port
from servekit.model_build import archive


def start(endpoint: Any, artifact_path: Path, *, workdir: Path, port: int | None = None,
          progress: Callable[[str], None] = print, timeout_seconds: float = 60.0) -> LocalEndpoint:
    workdir = Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    root = workdir / "model"
    root.mkdir(parents=True)
    archive.unpack(Path(artifact_path), root)
    port = port or free_port()
    server = ServerProcess(name=f"echo ({endpoint.name})",
                           command=[sys.executable, "-m", "echo_server.serve", "--model-root", str(root),
                                    "--port", str(port)],
                           log_path=workdir / "echo.log", env=endpoint.tuning.to_environment(), cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    startup = server.start_healthy(f"{url}/ping", timeout_seconds)
    progress(f"[echo] {endpoint.name} ready at {url} in {startup:.1f} s")
    return LocalEndpoint(url=url, server=server, startup_seconds=startup)
