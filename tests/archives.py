"""model.tar.gz files made in tests: {member name: bytes} written as a gzipped tar (what the servers and servekit's
checks read is the listing and the members, so no model need be real)."""

from __future__ import annotations

import io
import tarfile


def write_archive(path, files: dict[str, bytes]):  # noqa: ANN001, ANN201
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
