"""build(): the example artifacts of servekit.yaml, reproducibility, cache, and every validation."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from servekit import config, registry
from servekit.model_build import Artifact, BuildError, RemoteArtifact, build, check_artifact, identity_of
from servekit.model_build.archive import write_archive

REPO = Path(__file__).resolve().parents[3]


def _names(artifact: Artifact) -> list[str]:
    with tarfile.open(artifact.path) as tar:
        return tar.getnames()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _with(ep, **model_update):  # noqa: ANN001, ANN202
    return ep.model_copy(update={"model": ep.model.model_copy(update=model_update)})


# --- the three examples -------------------------------------------------------------------------
@pytest.mark.parametrize("server", ["tfs", "torchserve", "triton"])
def test_each_example_artifact_passes_check_artifact(built, endpoints, server):
    ep = endpoints[server]
    default = {"tfs": "efficientnetv2", "torchserve": None, "triton": "resnet"}[server]
    assert check_artifact(built[server].path, registry.get(server), default_model_name=default, instance_type=ep.instance_type) == []


@pytest.mark.parametrize("server", ["tfs", "torchserve", "triton"])
def test_when_built_twice_from_clean_caches_then_bytes_identical(built, rebuilt, server):
    assert built[server].path != rebuilt[server].path
    assert built[server].identity == rebuilt[server].identity
    assert _sha(built[server].path) == _sha(rebuilt[server].path)


def test_artifact_lives_at_cache_identity_and_reports_its_size(built, cache_dir):
    for artifact in built.values():
        assert artifact.path == cache_dir / artifact.identity / "model.tar.gz"
        assert artifact.size_bytes == artifact.path.stat().st_size
        assert len(artifact.identity) == 64 and int(artifact.identity, 16) >= 0


def test_tfs_example_layout_is_model_version_savedmodel_and_root_code(built):
    names = _names(built["tfs"])
    for expected in ("efficientnetv2/1/saved_model.pb", "efficientnetv2/1/variables/variables.index",
                     "code/inference.py", "code/requirements.txt"):
        assert expected in names
    assert {n.split("/")[0] for n in names} == {"code", "efficientnetv2", "servekit-manifest.json"}


def test_torchserve_example_has_weights_tokenizer_and_pinned_transformers_at_root(built):
    names = _names(built["torchserve"])
    for expected in ("model.safetensors", "config.json", "tokenizer.json", "vocab.txt", "code/inference.py",
                     "code/servekit_torchserve.py"):  # the handler imports it from beside itself
        assert expected in names
    with tarfile.open(built["torchserve"].path) as tar:
        reqs = tar.extractfile("code/requirements.txt").read().decode().split()
    assert reqs == ["transformers==4.57.6"]


def test_triton_example_has_config_and_versioned_model_pt(built):
    assert _names(built["triton"]) == ["resnet", "resnet/1", "resnet/1/model.pt", "resnet/config.pbtxt",
                                       "resnet/servekit-manifest.json"]  # in the model folder: not a model


def test_when_rebuilt_unchanged_then_cached_file_returned_without_work(built, endpoints, cache_dir, monkeypatch):
    """No framework step runs (every one goes through run_worker) and the cached archive is not rewritten.
    How fast that is, is bench/'s job (bench_packaging.py), not a timed assertion here."""
    from servekit.model_build import builder

    def no_worker(task, say):  # noqa: ANN001, ANN202
        raise AssertionError(f"a cached build started a worker: {task['task']}")

    monkeypatch.setattr(builder, "run_worker", no_worker)
    before = {s: a.path.stat().st_mtime_ns for s, a in built.items()}
    for server, ep in endpoints.items():
        again = build(ep, cache_dir=cache_dir)
        assert again == built[server]
        assert again.path.stat().st_mtime_ns == before[server]


def test_cached_build_imports_no_framework(built, cache_dir, handlers_dir):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from servekit import config\n"
        "from servekit.model_build import build, handlers\n"
        f"handlers.HANDLERS_DIR = Path({str(handlers_dir)!r})\n"
        f"cfg = config.load({str(REPO / 'servekit.yaml')!r})\n"
        f"ids = [build(ep, cache_dir=Path({str(cache_dir)!r})).identity for ep in cfg.endpoints]\n"
        "print(sorted(m for m in ('torch', 'tensorflow', 'transformers', 'keras', 'onnx') if m in sys.modules))\n"
        "print(' '.join(ids))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1].split() == [built[s].identity for s in ("tfs", "torchserve", "triton")]


def test_progress_callback_hears_each_step(endpoints, built, cache_dir):
    messages: list[str] = []
    build(endpoints["triton"], cache_dir=cache_dir, progress=messages.append)
    assert messages == [f"resnet: cached {built['triton'].path}"]


# --- sources ------------------------------------------------------------------------------------
def test_s3_source_is_returned_as_remote_artifact(endpoints, tmp_path):
    uri = "s3://my-bucket/models/resnet/model.tar.gz"
    ep = _with(endpoints["triton"], source=config.S3Source(kind="s3", uri=uri))
    assert build(ep, cache_dir=tmp_path) == RemoteArtifact(uri=uri)
    assert identity_of(ep, cache_dir=tmp_path) is None


def test_archive_source_is_checked_and_passed_through_with_sha256_identity(endpoints, built, tmp_path):
    copy = tmp_path / "brought.tar.gz"
    shutil.copy(built["triton"].path, copy)
    ep = _with(endpoints["triton"], source=config.ArchiveSource(kind="archive", path=copy))
    artifact = build(ep, cache_dir=tmp_path / "cache")
    assert artifact == Artifact(path=copy, identity=_sha(copy), size_bytes=copy.stat().st_size)


def test_bad_archive_source_fails_with_the_check_lines(endpoints, tmp_path):
    bad = tmp_path / "bad.tar.gz"
    write_archive({"wrap/resnet/config.pbtxt": b'platform: "pytorch_libtorch"', "wrap/resnet/1/model.pt": b"w"}, bad)
    ep = _with(endpoints["triton"], source=config.ArchiveSource(kind="archive", path=bad))
    with pytest.raises(BuildError, match=r"fails check-artifact\n  - wrap/: a top folder wraps everything") as err:
        build(ep, cache_dir=tmp_path / "cache")
    assert len(err.value.problems) == 1


def test_missing_source_file_fails_naming_the_field(endpoints, tmp_path):
    ep = _with(endpoints["triton"], source=config.TorchScriptSource(kind="torchscript", path=tmp_path / "no.pt"))
    with pytest.raises(BuildError, match=r"model.source.path: .*no.pt is not a file"):
        build(ep, cache_dir=tmp_path)


def test_example_on_a_server_it_cannot_serve_fails(endpoints, tmp_path):
    ep = _with(endpoints["triton"], source=config.ExampleSource(kind="example", name="efficientnetv2"))
    with pytest.raises(BuildError, match="example 'efficientnetv2' cannot serve on triton; use resnet"):
        build(ep, cache_dir=tmp_path)


def test_saved_model_folder_without_saved_model_pb_fails(endpoints, tmp_path):
    ep = endpoints["tfs"]
    models = [ep.models[0].model_copy(update={"source": config.SavedModelSource(kind="saved_model", path=tmp_path)})]
    with pytest.raises(BuildError, match="holds no saved_model.pb; point it at the SavedModel folder"):
        build(ep.model_copy(update={"models": models}), cache_dir=tmp_path / "cache")


def test_two_saved_models_from_folders_share_one_archive_with_a_default(endpoints, extracted, tmp_path):
    folder = extracted["tfs"] / "efficientnetv2" / "1"
    ep = endpoints["tfs"]
    src = config.SavedModelSource(kind="saved_model", path=folder)
    models = [config.TfsModel(name="a", source=src), config.TfsModel(name="b", version=3, source=src)]
    two = ep.model_copy(update={"models": models, "default_model": "b"})
    artifact = build(two, cache_dir=tmp_path)
    names = _names(artifact)
    assert "a/1/saved_model.pb" in names and "b/3/saved_model.pb" in names
    assert check_artifact(artifact.path, registry.get("tfs"), default_model_name="b") == []


def test_torchscript_source_for_torchserve_gets_vision_handler_and_labels(endpoints, extracted, tmp_path,
                                                                           handlers_dir):
    ep = endpoints["torchserve"]
    src = config.TorchScriptSource(kind="torchscript", path=extracted["triton"] / "resnet" / "1" / "model.pt")
    vision = _with(ep, source=src, handler="auto", labels=[f"class-{i}" for i in range(10)])
    artifact = build(vision, cache_dir=tmp_path)
    with tarfile.open(artifact.path) as tar:
        assert tar.extractfile("code/inference.py").read() == (handlers_dir / "torchserve" / "handlers" / "torchserve_vision.py").read_bytes()
        assert tar.extractfile("code/servekit_torchserve.py").read() == \
            (handlers_dir / "torchserve" / "handlers" / "servekit_torchserve.py").read_bytes()
        assert tar.extractfile("model.pt").read() == src.path.read_bytes()
        assert tar.extractfile("labels.json").read().startswith(b'["class-0", "class-1"')


def test_question_answering_handler_on_a_torchscript_source_fails(endpoints, extracted, tmp_path):
    src = config.TorchScriptSource(kind="torchscript", path=extracted["triton"] / "resnet" / "1" / "model.pt")
    ep = _with(endpoints["torchserve"], source=src, handler="question-answering")
    with pytest.raises(BuildError, match="question-answering needs a huggingface source"):
        build(ep, cache_dir=tmp_path)


def test_requirement_conflicting_with_the_handler_pin_fails(endpoints, tmp_path):
    ep = _with(endpoints["torchserve"], requirements=["transformers==5.3.0"])
    with pytest.raises(BuildError, match="'transformers==5.3.0' conflicts with 'transformers==4.57.6'"):
        build(ep, cache_dir=tmp_path)


def test_when_the_handler_is_the_users_file_then_it_runs_inside_servekits_wrapper(endpoints, extracted, tmp_path,
                                                                                 handlers_dir):
    own = tmp_path / "my_inference.py"
    own.write_text("def model_fn(model_dir):\n    return None\n")
    src = config.TorchScriptSource(kind="torchscript", path=extracted["triton"] / "resnet" / "1" / "model.pt")
    ep = _with(endpoints["torchserve"], source=src, handler=str(own), requirements=["pillow==11.0.0"])
    artifact = build(ep, cache_dir=tmp_path / "cache")
    with tarfile.open(artifact.path) as tar:
        assert tar.extractfile("code/user_inference.py").read() == own.read_bytes()
        wrapper = handlers_dir / "torchserve" / "handlers" / "torchserve_custom.py"
        assert tar.extractfile("code/inference.py").read() == wrapper.read_bytes()
        assert tar.extractfile("code/servekit_torchserve.py").read()  # the wrapper's error handling
        assert tar.extractfile("code/requirements.txt").read() == b"pillow==11.0.0\n"


def test_own_handler_path_that_does_not_exist_fails(endpoints, tmp_path):
    ep = _with(endpoints["torchserve"], handler=str(tmp_path / "nope.py"))
    with pytest.raises(BuildError, match="nope.py' does not exist"):
        build(ep, cache_dir=tmp_path)


def test_huggingface_folder_is_loaded_offline_and_laid_out_at_the_root(endpoints, extracted, tmp_path):
    folder = tmp_path / "hf"
    shutil.copytree(extracted["torchserve"], folder, ignore=shutil.ignore_patterns("code"))
    ep = _with(endpoints["torchserve"], source=config.HuggingFaceSource(kind="huggingface", path=folder),
               handler="auto")
    artifact = build(ep, cache_dir=tmp_path / "cache")
    assert sorted(n for n in _names(artifact) if not n.startswith("code")) == sorted(p.name for p in folder.iterdir())


def test_huggingface_folder_that_does_not_load_fails_with_the_loader_error(endpoints, tmp_path):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    ep = _with(endpoints["torchserve"], source=config.HuggingFaceSource(kind="huggingface", path=folder))
    with pytest.raises(BuildError, match="verify_huggingface step failed: .*"):
        build(ep, cache_dir=tmp_path / "cache")
