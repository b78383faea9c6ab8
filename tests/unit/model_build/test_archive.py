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
        write_archive({"weights.bin": big}, tmp_path / "m.tar.gz", progress=messages.append, compresslevel=1,
                      workers=2)
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


@pytest.mark.parametrize("level", [1, 6])
def test_when_written_by_one_or_many_threads_then_the_bytes_are_the_same(tmp_path, level):
    """The blocks, not the threads, decide the bytes: 1, 2 and 7 workers give one archive."""
    weights = tmp_path / "w.bin"
    weights.write_bytes(os.urandom(3 << 20) + b"servekit" * (400 << 10) + bytes(1 << 20))
    digests = set()
    for workers in (1, 2, 7):
        dest = tmp_path / f"m{workers}.tar.gz"
        write_archive({"w.bin": weights, "code/a.py": b"print(1)\n"}, dest, compresslevel=level, workers=workers)
        digests.add(hashlib.sha256(dest.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_when_blocks_are_compressed_in_parallel_then_gzip_tar_and_the_stdlib_read_the_archive(tmp_path):
    import shutil
    import subprocess

    weights = tmp_path / "w.bin"
    weights.write_bytes(os.urandom(1 << 20) + b"abc" * (1 << 20) + bytes(123_457))
    dest = tmp_path / "m.tar.gz"
    write_archive({"w.bin": weights, "empty.txt": b""}, dest, workers=2)
    with gzip.open(dest) as f:  # the stdlib checks the CRC-32 and size of the trailer
        f.read()
    with tarfile.open(dest) as tar:
        assert tar.extractfile("w.bin").read() == weights.read_bytes()
        assert tar.extractfile("empty.txt").read() == b""
    for tool, args in (("gzip", ["-t", str(dest)]), ("tar", ["-tzf", str(dest)])):
        if shutil.which(tool):  # the base image has both; they are what SageMaker's model download uses
            subprocess.run([tool, *args], check=True, capture_output=True)


def test_when_nothing_is_written_then_the_stream_is_still_valid_gzip():
    import io

    from servekit.model_build.pgzip import ParallelGzipWriter

    out = io.BytesIO()
    ParallelGzipWriter(out, workers=2).close()
    assert gzip.decompress(out.getvalue()) == b""


@pytest.mark.parametrize(("first", "second"), [(12345, 1 << 20), (0, 7), (1, 1), (100, 3_333_333)])
def test_when_block_crcs_are_combined_then_they_equal_the_crc_of_the_whole_stream(first, second):
    import zlib

    from servekit.model_build.pgzip import crc32_combine

    a, b = os.urandom(first), os.urandom(second)
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
