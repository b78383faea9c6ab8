"""Does a model archive need the network when its container starts? Network isolation
(EnableNetworkIsolation) cuts the container off, so a start that runs `pip install` then fails.

What each container installs at start (docs/operations.md; sagemaker_inference/model_server.py):
- TFS: `code/requirements.txt`, unless `code/lib/` exists (then it puts code/lib on sys.path instead);
- PyTorch toolkit: `code/requirements.txt` whenever it exists (it has no code/lib convention);
- Triton: nothing.
A requirements file that holds only comments installs nothing (pip needs no network for it).
"""

from __future__ import annotations

import functools
import tarfile
from pathlib import Path

from servekit import servers


def start_install_reason(archive: Path, server: str) -> str | None:
    """`archive`: a model.tar.gz or an uncompressed layout's folder. Why the container would need the network at start (one sentence naming the fix), or None. Each server
    says what its container installs (servekit.servers.<server>.start_install_reason)."""
    if archive.is_dir():  # an uncompressed layout
        requirements_file = archive / "code" / "requirements.txt"
        text = requirements_file.read_text("utf-8", "replace") if requirements_file.is_file() else ""
        requirements, has_lib = _requirements(text), (archive / "code" / "lib").exists()
    else:
        stat = archive.stat()
        requirements, has_lib = _listing(str(archive), stat.st_size, stat.st_mtime_ns)
    return servers.get(server).start_install_reason(requirements, has_lib)


def _requirements(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


@functools.lru_cache(maxsize=32)
def _listing(path: str, _size: int, _mtime_ns: int) -> tuple[list[str], bool]:
    """(requirement lines of code/requirements.txt, whether code/lib/ exists); cached per file version."""
    requirements: list[str] = []
    has_lib = False
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if name == "code/lib" or name.startswith("code/lib/"):
                has_lib = True
            elif name == "code/requirements.txt" and member.isfile():
                handle = tar.extractfile(member)
                requirements = _requirements(handle.read().decode("utf-8", "replace") if handle else "")
    return requirements, has_lib
