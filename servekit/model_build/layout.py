"""What an archive holds, read as a stream (a large archive is never held in memory), and the checks every
server's layout shares. Each server's check.py (servekit/servers/<server>/check.py) reads a Listing."""

from __future__ import annotations

import functools
import json
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


# What a container installs at start is read from code/requirements.txt and code/lib/ (servekit.constructs.isolation).
# In a tar.gz, finding them means decompressing the whole archive (12 s for 2 GB of weights, at every synth), so the
# builder writes them beside the archives it makes, with the archive's size and mtime to know the note is its own.
_INSTALLS_NOTE = ".start-installs.json"


def start_installs(artifact: Path) -> tuple[list[str], bool]:
    """(requirement lines of code/requirements.txt, whether code/lib/ exists) of a model.tar.gz or a layout folder."""
    artifact = Path(artifact)
    if artifact.is_dir():
        requirements = artifact / "code" / "requirements.txt"
        text = requirements.read_text("utf-8", "replace") if requirements.is_file() else ""
        return requirement_lines(text), (artifact / "code" / "lib").exists()
    stat = artifact.stat()
    note = artifact.with_name(artifact.name + _INSTALLS_NOTE)
    if note.is_file():
        recorded = json.loads(note.read_text())
        if (recorded.get("size"), recorded.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
            return recorded["requirements"], recorded["has_lib"]
    return _streamed_installs(str(artifact), stat.st_size, stat.st_mtime_ns)


def record_start_installs(archive: Path, entries: dict) -> None:
    """Write the note start_installs reads, from the entries (archive name -> Path, bytes or None) just archived."""
    content = entries.get("code/requirements.txt")
    text = (content.read_bytes() if isinstance(content, Path) else content or b"").decode("utf-8", "replace")
    has_lib = any(name == "code/lib" or name.startswith("code/lib/") for name in entries)
    stat = archive.stat()
    archive.with_name(archive.name + _INSTALLS_NOTE).write_text(json.dumps(
        {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "requirements": requirement_lines(text),
         "has_lib": has_lib}))


def requirement_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


@functools.lru_cache(maxsize=32)
def _streamed_installs(path: str, _size: int, _mtime_ns: int) -> tuple[list[str], bool]:
    """start_installs of an archive without a note (a user's), read by streaming it; cached per file version."""
    requirements: list[str] = []
    has_lib = False
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if name == "code/lib" or name.startswith("code/lib/"):
                has_lib = True
            elif name == "code/requirements.txt" and member.isfile():
                handle = tar.extractfile(member)
                requirements = requirement_lines(handle.read().decode("utf-8", "replace") if handle else "")
    return requirements, has_lib
