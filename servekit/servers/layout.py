"""What an archive holds, read as a stream (a large archive is never held in memory), and the checks every
server's layout shares. Each server's check.py (servekit/servers/<server>/check.py) reads a Listing."""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".onnx", ".pkl", ".h5", ".msgpack")
_SMALL_FILES = re.compile(r"(^|/)(config\.pbtxt|requirements\.txt)$")
_PINNED = re.compile(r"^[A-Za-z0-9_.\-\[\],]+==[\w.+!-]+$")


@dataclass
class Listing:
    """What an archive holds: its files and folders, links, unsafe names, and the small text files servekit reads."""

    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    small: dict[str, bytes] = field(default_factory=dict)

    @property
    def names(self) -> set[str]:
        return self.files | self.dirs

    def tops(self) -> set[str]:
        return {n.split("/")[0] for n in self.names}


def read(path: Path) -> Listing:
    """The listing of the archive at `path`, or of the folder at `path` (an uncompressed layout); raises
    tarfile.TarError, OSError, EOFError or zlib.error."""
    if Path(path).is_dir():
        return read_folder(Path(path))
    listing = Listing()
    with tarfile.open(path, mode="r|*") as tar:
        for member in tar:
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            name = name.rstrip("/")
            if name in ("", "."):
                continue
            if name.startswith("/") or ".." in name.split("/"):
                listing.unsafe.append(member.name)
                continue
            parts = name.split("/")
            for i in range(1, len(parts)):
                listing.dirs.add("/".join(parts[:i]))
            if member.isdir():
                listing.dirs.add(name)
            elif member.issym() or member.islnk():
                listing.links.append(name)
                listing.files.add(name)
            elif member.isfile():
                listing.files.add(name)
                if _SMALL_FILES.search(name) and member.size <= 1 << 20:
                    f = tar.extractfile(member)
                    listing.small[name] = f.read() if f is not None else b""
    return listing


def read_folder(root: Path) -> Listing:
    """The listing of an uncompressed layout: what an archive made from inside `root` would hold."""
    listing = Listing()
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            listing.links.append(name)
            listing.files.add(name)
        elif path.is_dir():
            listing.dirs.add(name)
        elif path.is_file():
            listing.files.add(name)
            if _SMALL_FILES.search(name) and path.stat().st_size <= 1 << 20:
                listing.small[name] = path.read_bytes()
    return listing


def misplaced_handlers(listing: Listing) -> list[str]:
    out = []
    for f in sorted(listing.files):
        base = f.rsplit("/", 1)[-1]
        if base == "inference.py" and f != "code/inference.py":
            out.append(f"{f}: handler code outside code/ at the archive root is never loaded; move it to "
                       "code/inference.py")
        elif base == "requirements.txt" and f != "code/requirements.txt" and "/code/" in f"/{f}":
            out.append(f"{f}: requirements outside code/ at the archive root are never installed; move it to "
                       "code/requirements.txt")
    return out


def unpinned(listing: Listing) -> list[str]:
    text = listing.small.get("code/requirements.txt")
    if text is None:
        return []
    out = []
    for raw in text.decode(errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-") and not _PINNED.match(line):
            out.append(f"code/requirements.txt: {line!r} is not pinned; write it as name==version so every start "
                       "installs the same thing")
    return out
