"""The identity: what changes it (source bytes, handler, build options, generator code) and what does not."""

from __future__ import annotations

import shutil

import pytest

from servekit import config
from servekit.model_build import identity, identity_of


@pytest.fixture
def torchscript_ep(endpoints, extracted, tmp_path):
    path = tmp_path / "model.pt"
    shutil.copy(extracted["triton"] / "resnet" / "1" / "model.pt", path)
    ep = endpoints["triton"]
    return ep.model_copy(update={"model": ep.model.model_copy(
        update={"source": config.TorchScriptSource(kind="torchscript", path=path)})})


def _model(ep, **update):  # noqa: ANN001, ANN202
    return ep.model_copy(update={"model": ep.model.model_copy(update=update)})


def test_when_source_bytes_change_then_identity_changes(torchscript_ep, tmp_path):
    before = identity_of(torchscript_ep, cache_dir=tmp_path)
    path = torchscript_ep.model.source.path
    path.write_bytes(path.read_bytes() + b"\0")
    assert identity_of(torchscript_ep, cache_dir=tmp_path) != before


def test_when_only_the_source_location_changes_then_identity_is_the_same(torchscript_ep, tmp_path):
    moved = tmp_path / "elsewhere" / "renamed.pt"
    moved.parent.mkdir()
    shutil.copy(torchscript_ep.model.source.path, moved)
    other = _model(torchscript_ep, source=config.TorchScriptSource(kind="torchscript", path=moved))
    assert identity_of(other, cache_dir=tmp_path) == identity_of(torchscript_ep, cache_dir=tmp_path)


def test_when_tuning_name_or_instance_change_then_identity_is_the_same(endpoints, tmp_path):
    ep = endpoints["triton"]
    other = ep.model_copy(update={"name": "other", "instance_type": "ml.g5.2xlarge", "instance_count": 3,
                                  "tuning": config.TritonTuning(thread_count=2)})
    assert identity_of(other, cache_dir=tmp_path) == identity_of(ep, cache_dir=tmp_path)


@pytest.mark.parametrize("update", [
    {"max_batch_size": 16},
    {"dynamic_batching": config.DynamicBatching(preferred_batch_size=[2], max_queue_delay_microseconds=5)},
    {"instance_group": config.InstanceGroup(count=2, kind="KIND_GPU")},
    {"format": "onnx"},
    {"version": 2},
])
def test_when_a_build_option_changes_then_identity_changes(endpoints, tmp_path, update):
    ep = endpoints["triton"]
    assert identity_of(_model(ep, **update), cache_dir=tmp_path) != identity_of(ep, cache_dir=tmp_path)


def test_when_handler_code_changes_then_identity_changes(endpoints, tmp_path, monkeypatch, handlers_dir):
    ep = endpoints["tfs"]
    before = identity_of(ep, cache_dir=tmp_path)
    copy = tmp_path / "handlers"
    shutil.copytree(handlers_dir, copy)
    handler = copy / "tfs" / "handlers" / "tfs_inference.py"
    handler.write_bytes(handler.read_bytes() + b"\n# changed\n")
    from servekit.model_build import handlers

    monkeypatch.setattr(handlers, "HANDLERS_DIR", copy)
    assert identity_of(ep, cache_dir=tmp_path) != before


def test_when_example_generator_code_changes_then_identity_changes(endpoints, tmp_path, monkeypatch):
    ep = endpoints["triton"]
    before = identity_of(ep, cache_dir=tmp_path)
    copy = tmp_path / "pkg"
    shutil.copytree(identity.PACKAGE_DIR, copy)
    (copy / "examples.py").write_text((copy / "examples.py").read_text().replace("SEED = 0", "SEED = 1"))
    monkeypatch.setattr(identity, "PACKAGE_DIR", copy)
    assert identity_of(ep, cache_dir=tmp_path) != before


def test_identity_covers_the_format_version(endpoints, tmp_path, monkeypatch):
    before = identity_of(endpoints["triton"], cache_dir=tmp_path)
    monkeypatch.setattr(identity, "FORMAT_VERSION", identity.FORMAT_VERSION + "-next")
    assert identity_of(endpoints["triton"], cache_dir=tmp_path) != before


def test_state_dict_identity_covers_the_module_source(tmp_path, monkeypatch):
    module = tmp_path / "mynet.py"
    module.write_text("class Net: pass\n")
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"w")
    monkeypatch.chdir(tmp_path)
    src = config.StateDictSource(kind="state_dict", path=weights, model_class="mynet:Net", example_input_shape=[1, 3])
    hasher = identity.FileHasher()
    before = identity.source_fingerprint(src, hasher)
    assert before["module_file"] is not None
    module.write_text("class Net:\n    changed = True\n")
    assert identity.source_fingerprint(src, hasher)["module_file"] != before["module_file"]
