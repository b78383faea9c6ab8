"""model_data: uncompressed: the same layout as the archive, written as a folder under the same identity, byte for
byte reproducible, checked by the same layout checks, and what an S3 prefix cannot carry named."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from servekit import config, registry
from servekit.model_build import build, check_artifact, identity_of
from servekit.model_build.archive import KEEP_FILE, write_directory


def tree(root: Path) -> dict[str, tuple[bytes | None, int, int]]:
    """Every path under `root`: (bytes or None for a folder, mode, mtime)."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.stat()
        out[path.relative_to(root).as_posix()] = (path.read_bytes() if path.is_file() else None, st.st_mode & 0o777,
                                                 int(st.st_mtime))
    return out


@pytest.fixture
def triton_torchscript(endpoints, extracted):
    ep = endpoints["triton"]
    source = config.TorchScriptSource(kind="torchscript", path=extracted["triton"] / "resnet" / "1" / "model.pt")
    return ep.model_copy(update={"model": ep.model.model_copy(update={"source": source})})


def uncompressed(ep):  # noqa: ANN001, ANN201
    return type(ep).model_validate({**ep.model_dump(), "model_data": "uncompressed"})


def test_when_a_model_is_uncompressed_then_its_folder_holds_exactly_the_archives_files(triton_torchscript, tmp_path):
    archived = build(triton_torchscript, cache_dir=tmp_path)
    layout = build(uncompressed(triton_torchscript), cache_dir=tmp_path)
    assert layout.identity == archived.identity == identity_of(triton_torchscript, cache_dir=tmp_path)
    assert layout.path == tmp_path / archived.identity / "model" and layout.path.is_dir()
    with tarfile.open(archived.path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    files = {name: data for name, (data, _, _) in tree(layout.path).items() if data is not None}
    assert files == members
    assert layout.size_bytes == sum(len(b) for b in members.values())
    assert check_artifact(layout.path, registry.get("triton"), default_model_name="resnet", instance_type="ml.g5.xlarge") == []


def test_when_a_layout_is_built_twice_from_clean_caches_then_the_trees_are_identical(triton_torchscript, tmp_path):
    first = build(uncompressed(triton_torchscript), cache_dir=tmp_path / "a")
    second = build(uncompressed(triton_torchscript), cache_dir=tmp_path / "b")
    assert tree(first.path) == tree(second.path)
    assert {mode for _, mode, _ in tree(first.path).values()} == {0o644, 0o755}
    assert {mtime for _, _, mtime in tree(first.path).values()} == {0}


def test_when_a_layout_is_cached_then_the_second_build_returns_it_untouched(triton_torchscript, tmp_path):
    first = build(uncompressed(triton_torchscript), cache_dir=tmp_path)
    marker = first.path / "resnet" / "config.pbtxt"
    inode = marker.stat().st_ino
    messages = []
    again = build(uncompressed(triton_torchscript), cache_dir=tmp_path, progress=messages.append)
    assert again.path == first.path and marker.stat().st_ino == inode
    assert any("cached" in m for m in messages)


def test_when_a_folder_of_the_layout_is_empty_then_it_keeps_a_marker_file_for_s3(tmp_path):
    """S3 has no folders: a Triton ensemble's empty version folder would not reach /opt/ml/model from a prefix."""
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"\1" * 10)
    dest = tmp_path / "layout"
    written = write_directory({"pipeline/config.pbtxt": b"platform: \"ensemble\"\n", "pipeline/1": None,
                               "m/1/model.pt": weights}, dest)
    assert written == len(b"platform: \"ensemble\"\n") + 10
    assert (dest / "pipeline" / "1" / KEEP_FILE).read_bytes() == b""
    assert not (dest / "m" / "1" / KEEP_FILE).exists()  # a folder with files needs none
    assert (dest / "m" / "1" / "model.pt").read_bytes() == weights.read_bytes()


def test_when_a_layout_is_rewritten_then_no_half_written_folder_is_left(tmp_path):
    dest = tmp_path / "layout"
    write_directory({"a.txt": b"old"}, dest)
    with pytest.raises(ValueError, match=r"must be a relative path without '\.\.'"):
        write_directory({"../escape.txt": b"x"}, dest)
    assert (dest / "a.txt").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["layout"]
    write_directory({"b.txt": b"new"}, dest)
    assert sorted(os.listdir(dest)) == ["b.txt"]


def test_when_a_layout_folder_misplaces_the_handler_then_the_check_says_so_as_for_an_archive(tmp_path):
    (tmp_path / "nested").mkdir()
    (tmp_path / "model.pt").write_bytes(b"pt")
    (tmp_path / "nested" / "inference.py").write_text("")
    problems = check_artifact(tmp_path, registry.get("torchserve"))
    assert any("nested/inference.py: handler code outside code/" in p for p in problems)



def test_when_servekit_builds_an_archive_then_synth_learns_its_start_installs_without_decompressing_it(
        endpoints, built, monkeypatch):
    """The note beside a built model.tar.gz answers what code/requirements.txt installs at start; reading the
    archive itself would decompress all of it (seconds per GB, at every synth)."""
    from servekit.model_build import layout as layout_module

    archive = built["torchserve"].path
    assert archive.with_name(archive.name + ".start-installs.json").is_file()
    monkeypatch.setattr(layout_module.tarfile, "open", lambda *a, **k: pytest.fail("the archive was opened"))
    requirements, has_lib = layout_module.start_installs(archive)
    assert requirements == ["transformers==4.57.6"] and not has_lib


def test_when_an_archive_changed_after_its_note_then_the_note_is_not_believed(tmp_path):
    from servekit.model_build.layout import record_start_installs, start_installs

    archive = tmp_path / "model.tar.gz"
    from servekit.model_build.archive import write_archive

    write_archive({"code/requirements.txt": b"pillow==11.0.0\n", "m/1/saved_model.pb": b"pb"}, archive)
    record_start_installs(archive, {"code/requirements.txt": b"pillow==11.0.0\n"})
    write_archive({"m/1/saved_model.pb": b"pb2"}, archive)  # replaced: another size and mtime
    assert start_installs(archive) == ([], False)
