"""check_artifact: every bad layout named in issue 3 is caught, with a line that names the fix."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from servekit import registry
from servekit.model_build import check_artifact
from servekit.model_build.archive import write_archive

SM = {"saved_model.pb": b"pb", "variables/variables.index": b"i", "variables/variables.data-00000-of-00001": b"d"}
CODE = {"code/inference.py": b"def handler(data, context): ...\n", "code/requirements.txt": b""}
TRITON_OK = (
    'name: "resnet"\nplatform: "pytorch_libtorch"\nmax_batch_size: 8\n'
    'input { name: "input__0" data_type: TYPE_FP32 dims: [3, 224, 224] }\n'
    'output { name: "output__0" data_type: TYPE_FP32 dims: [10] }\n'
    "dynamic_batching { preferred_batch_size: [4, 8] max_queue_delay_microseconds: 100 }\n"
    "instance_group { count: 1 kind: KIND_GPU }\n"
)


def _tfs_model(name: str, version: str = "1", prefix: str = "") -> dict[str, bytes]:
    return {f"{prefix}{name}/{version}/{k}": v for k, v in SM.items()}


def _archive(tmp_path: Path, entries: dict[str, bytes]) -> Path:
    path = tmp_path / "model.tar.gz"
    write_archive(entries, path)
    return path


def _one(problems: list[str], pattern: str) -> str:
    import re

    hits = [p for p in problems if re.search(pattern, p)]
    assert hits, f"no problem matches {pattern!r} in {problems}"
    return hits[0]


# --- TFS ----------------------------------------------------------------------------------------
def test_good_tfs_layout_with_two_models_and_a_default_has_no_problem(tmp_path):
    path = _archive(tmp_path, {**_tfs_model("a"), **_tfs_model("b", "2"), **CODE})
    assert check_artifact(path, registry.get("tfs"), default_model_name="b") == []


def test_tfs_handler_under_a_model_folder_is_reported_with_the_move(tmp_path):
    path = _archive(tmp_path, {**_tfs_model("a"), "a/code/inference.py": b"x"})
    line = _one(check_artifact(path, registry.get("tfs")), r"^a/code/inference.py:")
    assert "move it to code/inference.py" in line


def test_tfs_version_folder_not_numeric_is_reported(tmp_path):
    path = _archive(tmp_path, {**_tfs_model("a", "v1"), **CODE})
    assert "rename it to a/1/" in _one(check_artifact(path, registry.get("tfs")), "is not a number")


def test_tfs_saved_model_without_version_folder_is_reported(tmp_path):
    path = _archive(tmp_path, {**{f"a/{k}": v for k, v in SM.items()}, **CODE})
    assert "a/1/saved_model.pb" in _one(check_artifact(path, registry.get("tfs")), "no version folder")


def test_tfs_several_models_without_default_name_is_reported(tmp_path):
    path = _archive(tmp_path, {**_tfs_model("a"), **_tfs_model("b"), **CODE})
    line = _one(check_artifact(path, registry.get("tfs")), "no default model name")
    assert "SAGEMAKER_TFS_DEFAULT_MODEL_NAME" in line


def test_tfs_default_name_missing_from_archive_is_reported(tmp_path):
    path = _archive(tmp_path, {**_tfs_model("a"), **CODE})
    _one(check_artifact(path, registry.get("tfs"), default_model_name="efficientnetv2"), "'efficientnetv2' is not in the archive")


def test_tfs_top_folder_wrapping_everything_is_reported(tmp_path):
    wrapped = {f"efficientnetv2-s/{k}": v for k, v in {**_tfs_model("m"), **CODE}.items()}
    problems = check_artifact(_archive(tmp_path, wrapped), registry.get("tfs"))
    assert problems == [problems[0]]
    assert "tar -czf model.tar.gz -C efficientnetv2-s ." in _one(problems, "^efficientnetv2-s/: a top folder wraps")


def test_tfs_archive_without_saved_model_is_reported(tmp_path):
    _one(check_artifact(_archive(tmp_path, CODE), registry.get("tfs")), "no saved_model.pb")


def test_unpinned_requirement_is_reported(tmp_path):
    path = _archive(tmp_path, {**_tfs_model("a"), **CODE, "code/requirements.txt": b"pillow\nnumpy==2.0.0\n"})
    problems = check_artifact(path, registry.get("tfs"))
    assert len(problems) == 1
    _one(problems, "'pillow' is not pinned")


# --- TorchServe ---------------------------------------------------------------------------------
def test_good_torchserve_layout_has_no_problem(tmp_path):
    path = _archive(tmp_path, {"model.pt": b"w", **CODE})
    assert check_artifact(path, registry.get("torchserve")) == []


def test_torchserve_without_weights_is_reported(tmp_path):
    _one(check_artifact(_archive(tmp_path, CODE), registry.get("torchserve")), "no model weights at the archive root")


def test_torchserve_weights_only_in_a_subfolder_are_reported(tmp_path):
    path = _archive(tmp_path, {"weights/model.pt": b"w", "weights/x.json": b"{}", **CODE})
    assert "move them to the archive root" in _one(check_artifact(path, registry.get("torchserve")), "weights only below the root")


def test_torchserve_without_handler_is_reported(tmp_path):
    _one(check_artifact(_archive(tmp_path, {"model.pt": b"w"}), registry.get("torchserve")), "no code/inference.py at the archive root")


def test_torchserve_handler_beside_the_weights_is_reported(tmp_path):
    path = _archive(tmp_path, {"model.pt": b"w", "inference.py": b"x"})
    assert "move it to code/inference.py" in _one(check_artifact(path, registry.get("torchserve")), "^inference.py:")


def test_torchserve_top_folder_wrapping_everything_is_reported(tmp_path):
    path = _archive(tmp_path, {"distilbert/model.safetensors": b"w", "distilbert/code/inference.py": b"x"})
    _one(check_artifact(path, registry.get("torchserve")), "^distilbert/: a top folder wraps everything")


# --- Triton -------------------------------------------------------------------------------------
def _triton(config: str = TRITON_OK, model_file: str = "resnet/1/model.pt", **extra: bytes) -> dict[str, bytes]:
    return {"resnet/config.pbtxt": config.encode(), model_file: b"w", **extra}


def test_good_triton_layout_has_no_problem(tmp_path):
    path = _archive(tmp_path, _triton())
    assert check_artifact(path, registry.get("triton"), default_model_name="resnet", instance_type="ml.g5.xlarge") == []


def test_triton_config_at_the_root_is_reported(tmp_path):
    path = _archive(tmp_path, {"config.pbtxt": TRITON_OK.encode(), "1/model.pt": b"w"})
    assert "move it to <model>/config.pbtxt" in _one(check_artifact(path, registry.get("triton")), "^config.pbtxt: at the archive root")


def test_triton_top_folder_wrapping_the_repository_is_reported(tmp_path):
    path = _archive(tmp_path, {f"models/{k}": v for k, v in _triton().items()})
    _one(check_artifact(path, registry.get("triton")), "^models/: a top folder wraps everything")


def test_triton_preferred_batch_size_above_max_is_reported(tmp_path):
    config = TRITON_OK.replace("max_batch_size: 8", "max_batch_size: 4")
    line = _one(check_artifact(_archive(tmp_path, _triton(config)), registry.get("triton")), r"preferred_batch_size \[8\]")
    assert "within 1..max_batch_size (4)" in line


def test_triton_dynamic_batching_with_max_batch_size_zero_is_reported(tmp_path):
    config = TRITON_OK.replace("max_batch_size: 8", "max_batch_size: 0")
    _one(check_artifact(_archive(tmp_path, _triton(config)), registry.get("triton")), "dynamic_batching with max_batch_size 0")


def test_triton_model_file_not_matching_platform_is_reported(tmp_path):
    path = _archive(tmp_path, _triton(model_file="resnet/1/resnet.pt"))
    assert "name the model file model.pt" in _one(check_artifact(path, registry.get("triton")), r"^resnet/1/: no model.pt")


def test_triton_onnx_platform_wants_model_onnx(tmp_path):
    config = TRITON_OK.replace("pytorch_libtorch", "onnxruntime_onnx")
    _one(check_artifact(_archive(tmp_path, _triton(config)), registry.get("triton")), "no model.onnx for platform onnxruntime_onnx")


def test_triton_version_folder_not_numeric_is_reported(tmp_path):
    path = _archive(tmp_path, _triton(model_file="resnet/v1/model.pt"))
    problems = check_artifact(path, registry.get("triton"))
    _one(problems, r"^resnet/v1/: version folder 'v1' is not a number")
    _one(problems, "no numeric version folder")


def test_triton_config_with_unknown_field_fails_the_schema(tmp_path):
    config = TRITON_OK + "max_batch_sizes: 3\n"
    line = _one(check_artifact(_archive(tmp_path, _triton(config)), registry.get("triton")), "not a valid Triton ModelConfig")
    assert "max_batch_sizes" in line


def test_triton_kind_gpu_on_a_cpu_instance_is_reported(tmp_path):
    path = _archive(tmp_path, _triton())
    _one(check_artifact(path, registry.get("triton"), instance_type="ml.m5.xlarge"), "KIND_GPU on ml.m5.xlarge")


def test_triton_config_name_differing_from_folder_is_reported(tmp_path):
    path = _archive(tmp_path, _triton(TRITON_OK.replace('name: "resnet"', 'name: "resnet50"')))
    _one(check_artifact(path, registry.get("triton")), "name 'resnet50' differs from its folder 'resnet'")


def test_triton_several_models_without_default_name_is_reported(tmp_path):
    other = {f"other/{k.split('/', 1)[1]}": v for k, v in _triton(TRITON_OK.replace("resnet", "other")).items()}
    path = _archive(tmp_path, {**_triton(), **other})
    assert check_artifact(path, registry.get("triton"), default_model_name="other") == []
    _one(check_artifact(path, registry.get("triton")), "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME")


# --- any server ---------------------------------------------------------------------------------
def test_a_file_that_is_not_a_tar_gz_is_reported(tmp_path):
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"PK\x03\x04 this is a zip")
    _one(check_artifact(path, registry.get("tfs")), "not a readable tar.gz")


def test_archive_made_by_tar_with_dot_slash_names_is_understood(tmp_path):
    folder = tmp_path / "m"
    for name, data in {**_tfs_model("a"), **CODE}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    path = tmp_path / "by-tar.tar.gz"
    subprocess.run(["tar", "-czf", str(path), "-C", str(folder), "."], check=True)
    assert check_artifact(path, registry.get("tfs")) == []


@pytest.mark.parametrize("server", ["tfs", "torchserve", "triton"])
def test_empty_archive_is_reported(tmp_path, server):
    import tarfile

    path = tmp_path / "empty.tar.gz"
    with tarfile.open(path, "w:gz"):
        pass
    _one(check_artifact(path, registry.get(server)), "the archive is empty")


def test_when_check_artifact_names_an_unknown_server_then_the_cli_lists_the_registered_ones(tmp_path, capsys):
    from servekit import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["check-artifact", str(_archive(tmp_path, CODE)), "--server", "tensorrt"])
    assert exit_.value.code == 2
    assert "invalid choice: 'tensorrt' (choose from 'tfs', 'torchserve', 'triton')" in capsys.readouterr().err
