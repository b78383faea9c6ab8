"""Does a model archive need the network when its container starts? Network isolation
(EnableNetworkIsolation) cuts the container off, so a start that runs `pip install` then fails.

What each container installs at start (docs/operations.md; sagemaker_inference/model_server.py):
- TFS: `code/requirements.txt`, unless `code/lib/` exists (then it puts code/lib on sys.path instead);
- PyTorch toolkit: `code/requirements.txt` whenever it exists (it has no code/lib convention);
- Triton: nothing.
A requirements file that holds only comments installs nothing (pip needs no network for it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servekit.model_build.layout import start_installs


def start_install_reason(archive: Path, server: Any) -> str | None:
    """`archive`: a model.tar.gz or an uncompressed layout's folder. Why the container would need the network at
    start (one sentence naming the fix), or None. `server` (the variant's servekit.servers.base.Server) says what
    its container installs; what the archive holds: servekit.model_build.layout."""
    requirements, has_lib = start_installs(archive)
    return server.start_install_reason(requirements, has_lib)
