"""Run the very model.tar.gz that synth uploads in the real model server on this machine.

    start(endpoint, artifact_path, *, workdir, port=None, progress=print) -> LocalEndpoint
        endpoint: a servekit.config endpoint; artifact_path: its built model.tar.gz.
        LocalEndpoint (servekit/local/endpoint.py): .url (http://127.0.0.1:<port>, serving /ping and
        /invocations), .stop(), context manager, .emulated (True where the real server cannot run here),
        .differences (what differs from the cloud container), .startup_seconds.

Each server's local.py (servekit/servers/<server>/local.py): TorchServe runs through the SageMaker PyTorch
toolkit's own entry; Triton is the real tritonserver from nvidia-pytriton with its python backend executing
the same model file; TensorFlow Serving cannot be installed here, so the TFS one emulates its REST and gRPC
APIs with TensorFlow (labelled so). This package holds what they share: process.py (free port, health wait,
clean stop), supervisor.py (the watchdog) and endpoint.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from servekit.local.endpoint import LocalEndpoint
from servekit.local.registry import announce, running_url

__all__ = ["LocalEndpoint", "announce", "running_url", "start"]


def start(
    endpoint: Any, artifact_path: Path, *, workdir: Path, port: int | None = None,
    progress: Callable[[str], None] = print,
) -> LocalEndpoint:
    """Start `endpoint`'s server on `artifact_path` (servekit/servers/<server>/local.py, imported only when used)."""
    return endpoint.plugin.start_local(endpoint, artifact_path, workdir=workdir, port=port, progress=progress)
