"""archive.py: deterministic, streaming tar.gz writing, and the file hashes the identity is made of."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from servekit.model_build.archive import FileHasher, tree_entries, write_archive


def _tree(root: Path) -> Path:
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "b" / "deep" / "z.bin").write_bytes(bytes(range(256)) * 10)
    (root / "b" / "c.txt").write_text("gamma")
    return root


def test_when_written_twice_from_files_with_other_mtimes_and_modes_then_bytes_identical(tmp_path):
    src = _tree(tmp_path / "src")
    first = tmp_path / "one.tar.gz"
    write_archive(tree_entries(src), first)
    for i, path in enumerate(sorted(src.rglob("*"))):
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
        if path.is_file():
            path.chmod(0o600 if i % 2 else 0o755)
    second = tmp_path / "two.tar.gz"
    write_archive(tree_entries(src), second)
    assert first.read_bytes() == second.read_bytes()


def test_entries_are_sorted_with_parents_and_normalized_owner_time_and_mode(tmp_path):
    dest = tmp_path / "m.tar.gz"
    write_archive({"z/1/model.pt": b"w", "a.txt": b"x", "code/inference.py": b"y"}, dest)
    with tarfile.open(dest) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["a.txt", "code", "code/inference.py", "z", "z/1", "z/1/model.pt"]
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
        assert m.mode == (0o755 if m.isdir() else 0o644)


def test_gzip_header_has_zero_mtime_and_no_file_name(tmp_path):
    dest = tmp_path / "named-like-this.tar.gz"
    write_archive({"a": b"x"}, dest)
    header = dest.read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] & 0x08 == 0, "FNAME flag set: the temp file name would leak into the bytes"
    assert header[4:8] == b"\0\0\0\0"
    with gzip.open(dest) as f:
        assert f.read(512)[:1] == b"a"


def test_a_large_file_is_streamed_in_chunks_not_held_in_memory(tmp_path):
    big = tmp_path / "weights.bin"
    with open(big, "wb") as f:
        for _ in range(48):
            f.write(os.urandom(1 << 20))
    messages: list[str] = []
    tracemalloc.start()
    try:
        write_archive({"weights.bin": big}, tmp_path / "m.tar.gz", progress=messages.append, compresslevel=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 * (1 << 20), f"peak {peak / 2**20:.1f} MiB for a 48 MiB file"
    with tarfile.open(tmp_path / "m.tar.gz") as tar:
        data = tar.extractfile("weights.bin").read()
    assert hashlib.sha256(data).digest() == hashlib.sha256(big.read_bytes()).digest()
    assert messages and messages[-1].startswith("packaging m.tar.gz: 100%")


@pytest.mark.parametrize("name", ["/etc/passwd", "../up", "a/../b", "a//b", "a/"])
def test_unsafe_entry_name_is_rejected(tmp_path, name):
    with pytest.raises(ValueError, match="must be a relative path"):
        write_archive({name: b"x"}, tmp_path / "m.tar.gz")


def test_a_name_used_as_file_and_folder_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="both a file and a folder"):
        write_archive({"a": b"x", "a/b": b"y"}, tmp_path / "m.tar.gz")


def test_when_writing_fails_then_no_partial_file_is_left(tmp_path):
    dest = tmp_path / "out" / "m.tar.gz"
    dest.parent.mkdir()
    with pytest.raises(FileNotFoundError):
        write_archive({"ok": b"x", "missing": tmp_path / "does-not-exist"}, dest)
    assert list(dest.parent.iterdir()) == []


def test_tree_hash_changes_with_content_and_names_but_not_with_location(tmp_path):
    hasher = FileHasher()
    one = _tree(tmp_path / "one")
    two = _tree(tmp_path / "elsewhere" / "two")
    assert hasher.tree(one) == hasher.tree(two)
    (two / "b" / "c.txt").write_text("gamma!")
    assert hasher.tree(one) != hasher.tree(two)
    three = _tree(tmp_path / "three")
    (three / "a.txt").rename(three / "a2.txt")
    assert hasher.tree(one) != hasher.tree(three)


def test_file_hash_memo_is_used_while_size_and_mtime_are_unchanged(tmp_path):
    memo = tmp_path / "memo.json"
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    hasher = FileHasher(memo)
    real = hasher.file(f)
    assert real == hashlib.sha256(b"weights").hexdigest()
    hasher.save()
    data = json.loads(memo.read_text())
    data[str(f.resolve())][3] = "remembered"
    memo.write_text(json.dumps(data))
    assert FileHasher(memo).file(f) == "remembered"  # not re-read
    f.write_bytes(b"weights, retrained")
    assert FileHasher(memo).file(f) == hashlib.sha256(b"weights, retrained").hexdigest()
