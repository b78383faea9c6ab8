"""Deterministic model.tar.gz writing, and the file hashing the build identity is made of.

Two archives of the same entries are byte-identical: entries sorted by path (a folder before what it
holds), every parent folder present, mtime 0, uid/gid 0, empty user and group names, mode 0644 for
files and 0755 for folders, PAX format, and a gzip header with mtime 0 and no file name, compressed in fixed 1 MiB blocks on every core
(pgzip.py: the blocks, not the threads, decide the bytes). Files are
streamed in 1 MiB chunks, so a 500 MB weights file is never held in memory. The archive is written to
a temporary file beside the destination and renamed over it, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from servekit.model_build.pgzip import ParallelGzipWriter

MTIME = 0
FILE_MODE = 0o644
DIR_MODE = 0o755
CHUNK = 1 << 20
# Level 1: a model's bytes are mostly weights, which deflate shrinks by 7% at any level; on a 500 MB float32 file
# level 1 gives an archive 0.3% bigger than level 6 (gzip's and `tar -czf`'s default) 1.2x faster per core
# (docs/performance.md, bench/bench_packaging.py).
COMPRESS_LEVEL = 1

# An entry's content: a local file, bytes made here, or None for an (empty) folder.
Content = Path | bytes | None


def _sort_key(arcname: str) -> tuple[str, ...]:
    return tuple(arcname.split("/"))


def normalize_entries(entries: Mapping[str, Content]) -> list[tuple[str, Content]]:
    """Every entry, plus each missing parent folder, in archive order. Rejects unsafe names."""
    out: dict[str, Content] = {}
    for name, content in entries.items():
        if not name or name.startswith("/") or ".." in name.split("/") or name != name.strip("/") or "//" in name:
            raise ValueError(f"archive entry name {name!r} must be a relative path without '..'")
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if isinstance(out.get(parent), Path | bytes):
                raise ValueError(f"archive entry {parent!r} is both a file and a folder")
            out.setdefault(parent, None)
        if name in out and out[name] is not None and content is not None:
            raise ValueError(f"archive entry {name!r} given twice")
        if content is not None or name not in out:
            out[name] = content
    return sorted(out.items(), key=lambda item: _sort_key(item[0]))


class _CountingReader(io.RawIOBase):
    def __init__(self, f: io.BufferedReader, on_bytes: Callable[[int], None]):
        self._f = f
        self._on_bytes = on_bytes

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self._on_bytes(len(data))
        return data

    def readable(self) -> bool:
        return True


def write_archive(
    entries: Mapping[str, Content],
    dest: Path,
    *,
    progress: Callable[[str], None] | None = None,
    compresslevel: int = COMPRESS_LEVEL,
    workers: int | None = None,
) -> int:
    """Write `entries` (archive name -> content) as a deterministic tar.gz at `dest`; returns its size.
    `workers`: compressing threads (default: the CPUs this process may use); the bytes do not depend on it."""
    ordered = normalize_entries(entries)
    total = sum(c.stat().st_size if isinstance(c, Path) else len(c) for _, c in ordered if c is not None)
    done = 0
    next_report = 0.1

    def on_bytes(n: int) -> None:
        nonlocal done, next_report
        done += n
        if progress is not None and total >= 32 * CHUNK and n and (done / total >= next_report or done == total):
            progress(f"packaging {dest.name}: {done * 100 // total}% of {total / 1e6:.0f} MB")
            next_report = min(done / total + 0.1, 1.0)

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with ParallelGzipWriter(raw, level=compresslevel, workers=workers) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    tar.copybufsize = CHUNK
                    for name, content in ordered:
                        info = tarfile.TarInfo(name)
                        info.mtime = MTIME
                        info.uid = info.gid = 0
                        info.uname = info.gname = ""
                        if content is None:
                            info.type = tarfile.DIRTYPE
                            info.mode = DIR_MODE
                            tar.addfile(info)
                        elif isinstance(content, bytes):
                            info.mode = FILE_MODE
                            info.size = len(content)
                            tar.addfile(info, io.BytesIO(content))
                            on_bytes(len(content))
                        else:
                            info.mode = FILE_MODE
                            with open(content, "rb") as f:
                                info.size = os.fstat(f.fileno()).st_size
                                tar.addfile(info, _CountingReader(f, on_bytes))
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest.stat().st_size


# S3 has no folders: an empty folder of a layout would not reach /opt/ml/model from a prefix (a Triton ensemble's
# version folder is one), so the uncompressed layout holds this empty file in each (servekit.facts.model_data).
KEEP_FILE = ".servekit-keep"


def write_directory(entries: Mapping[str, Content], dest: Path, *,
                    progress: Callable[[str], None] | None = None) -> int:
    """Write `entries` as the folder `dest`, the layout uncompressed: the files the archive would hold, byte for
    byte, with its modes (0644, 0755) and mtime 0 on every file and folder, and KEEP_FILE in each empty folder.
    Written beside `dest` and renamed over it, so a reader never sees half a layout; returns the bytes written."""
    ordered = normalize_entries(entries)
    parents = {name.rsplit("/", 1)[0] for name, _ in ordered if "/" in name}
    total = sum(c.stat().st_size if isinstance(c, Path) else len(c) for _, c in ordered if c is not None)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    done, next_report = 0, 0.1
    try:
        for name, content in ordered:
            target = tmp / name
            if content is None:
                target.mkdir(mode=DIR_MODE)
                if name not in parents:
                    (target / KEEP_FILE).write_bytes(b"")
                continue
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                shutil.copyfile(content, target)  # the kernel's copy (copy_file_range / sendfile), no Python loop
            done += target.stat().st_size
            if progress is not None and total >= 32 * CHUNK and done / total >= next_report:
                progress(f"copying the layout: {done * 100 // total}% of {total / 1e6:.0f} MB")
                next_report = min(done / total + 0.1, 1.0)
        for path in sorted(tmp.rglob("*"), reverse=True):  # files before their folders: a folder's mtime last
            os.chmod(path, DIR_MODE if path.is_dir() else FILE_MODE)
            os.utime(path, (MTIME, MTIME))
        os.chmod(tmp, DIR_MODE)
        os.utime(tmp, (MTIME, MTIME))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return total


def artifact_files(artifact: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(name, read) of each file of a model.tar.gz, streamed (call read() before taking the next), or of an
    uncompressed layout's folder: the readers of a served artifact need not know which packaging it has."""
    artifact = Path(artifact)
    if artifact.is_dir():
        for path in sorted(p for p in artifact.rglob("*") if p.is_file()):
            yield path.relative_to(artifact).as_posix(), path.read_bytes
        return
    with tarfile.open(artifact, mode="r|*") as tar:
        for member in tar:
            if member.isfile():
                handle = tar.extractfile(member)
                yield member.name.removeprefix("./"), (lambda h=handle: h.read() if h is not None else b"")


def unpack(artifact: Path, dest: Path) -> Path:
    """What SageMaker puts in /opt/ml/model, into the folder `dest`: a model.tar.gz extracted (refusing links and
    paths that leave `dest`), or an uncompressed layout's files copied as they are."""
    dest.mkdir(parents=True, exist_ok=True)
    if Path(artifact).is_dir():
        shutil.copytree(artifact, dest, dirs_exist_ok=True, symlinks=False)
    else:
        with tarfile.open(artifact, "r:*") as tar:
            tar.extractall(dest, filter="data")
    return dest


def tree_entries(root: Path, prefix: str = "") -> dict[str, Content]:
    """Files and folders under `root` as archive entries under `prefix` (symlinks are followed)."""
    out: dict[str, Content] = {}
    for path in iter_tree(root):
        rel = path.relative_to(root).as_posix()
        name = f"{prefix}/{rel}" if prefix else rel
        out[name] = path if path.is_file() else None
    return out


def iter_tree(root: Path) -> Iterator[Path]:
    """Everything under `root`, sorted by path parts; skips __pycache__ and .DS_Store."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        base = Path(dirpath)
        found.extend(base / d for d in dirnames)
        found.extend(base / f for f in filenames if f != ".DS_Store")
    return iter(sorted(found, key=lambda p: p.relative_to(root).parts))


# ---------------------------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class FileHasher:
    """sha256 of files, remembered by (path, size, mtime_ns, inode) in `memo` so that a cached build
    does not re-read a 500 MB weights file at every synth. A changed file changes size or mtime."""

    def __init__(self, memo: Path | None = None):
        self._memo_path = memo
        self._memo: dict[str, list] = {}
        self._dirty = False
        if memo is not None and memo.exists():
            try:
                self._memo = json.loads(memo.read_text())
            except (OSError, ValueError):
                self._memo = {}

    def file(self, path: Path) -> str:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFoundError(f"{path} is not a file")
        key = str(path.resolve())
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = self._memo.get(key)
        if known is not None and known[:3] == stamp:
            return known[3]
        digest = sha256_file(path)
        self._memo[key] = [*stamp, digest]
        self._dirty = True
        return digest

    def tree(self, root: Path) -> str:
        """sha256 over (relative path, kind, file sha256) of everything under `root`, in sorted order."""
        if not root.is_dir():
            raise NotADirectoryError(f"{root} is not a directory")
        h = hashlib.sha256()
        for path in iter_tree(root):
            rel = path.relative_to(root).as_posix()
            if path.is_file():
                h.update(f"f\0{rel}\0{self.file(path)}\n".encode())
            else:
                h.update(f"d\0{rel}\n".encode())
        return h.hexdigest()

    def save(self) -> None:
        if not self._dirty or self._memo_path is None:
            return
        self._memo_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".file-hashes.", dir=self._memo_path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(self._memo, f, sort_keys=True)
        os.replace(tmp, self._memo_path)
        self._dirty = False
