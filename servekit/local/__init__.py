"""Run the very model.tar.gz that synth uploads in the real model server on this machine.

    start(endpoint, artifact_path, *, workdir, port=None, progress=print) -> LocalEndpoint
        endpoint: a servekit.config endpoint; artifact_path: its built model.tar.gz.
        LocalEndpoint (servekit/local/endpoint.py): .url (http://127.0.0.1:<port>, serving /ping and
        /invocations), .stop(), context manager, .emulated (True where the real server cannot run here),
        .differences (what differs from the cloud container), .startup_seconds.

TorchServe runs through the SageMaker PyTorch toolkit's own entry (torchserve.py); Triton is the real
tritonserver from nvidia-pytriton with its python backend executing the same model file (triton.py);
TensorFlow Serving cannot be installed here, so tfs.py emulates its REST API with TensorFlow (labelled so).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from servekit.local.endpoint import LocalEndpoint

__all__ = ["LocalEndpoint", "start"]


def start(
    endpoint: Any, artifact_path: Path, *, workdir: Path, port: int | None = None,
    progress: Callable[[str], None] = print,
) -> LocalEndpoint:
    """Start `endpoint`'s server on `artifact_path`; the module per server is imported only when used."""
    module = importlib.import_module(f"servekit.local.{endpoint.server}")
    return module.start(endpoint, artifact_path, workdir=workdir, port=port, progress=progress)
