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

from servekit import servers
from servekit.servers.layout import start_installs


def start_install_reason(archive: Path, server: str) -> str | None:
    """`archive`: a model.tar.gz or an uncompressed layout's folder. Why the container would need the network at
    start (one sentence naming the fix), or None. Each server says what its container installs
    (servekit.servers.<server>.start_install_reason); what the archive holds: servekit.servers.layout."""
    requirements, has_lib = start_installs(archive)
    return servers.get(server).start_install_reason(requirements, has_lib)
