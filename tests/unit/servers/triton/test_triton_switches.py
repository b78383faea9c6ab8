"""What a Triton endpoint asks of the container beyond the model: model_warmup and response_cache in config.pbtxt,
and the serve script's SAGEMAKER_TRITON_* switches (docker/sagemaker/serve in triton-inference-server/server),
including ADDITIONAL_ARGS and the local server's flags from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from servekit.servers.triton import local as triton_local
from servekit.servers.triton import model_config as triton_config


def _with(ep, *, model=None, tuning=None):  # noqa: ANN001, ANN202
    data = ep.model_dump()
    data["model"].update(model or {})
    data["tuning"].update(tuning or {})
    return type(ep).model_validate(data)


def test_when_warmup_and_the_response_cache_are_set_then_config_pbtxt_carries_them_for_every_input(endpoints):
    ep = _with(endpoints["triton"], model={"warmup": {"batch_size": 4, "count": 2, "data": "random"},
                                           "response_cache": True}, tuning={"response_cache_bytes": 1 << 24})
    mc = triton_config.parse(triton_config.render(ep.model))
    (warmup,) = mc.model_warmup
    assert (warmup.batch_size, warmup.count) == (4, 2)
    assert list(warmup.inputs) == ["input__0"] and warmup.inputs["input__0"].random_data
    assert list(warmup.inputs["input__0"].dims) == [3, 224, 224]
    assert mc.response_cache.enable
    assert ep.tuning.to_environment("resnet")["SAGEMAKER_TRITON_ADDITIONAL_ARGS"] == "--cache-config=local,size=16777216"


def test_when_the_model_is_unchanged_then_new_keys_left_unset_keep_the_artifacts_identity(endpoints):
    """Keys added after identity format 3 enter the identity only when set: upgrading rebuilds nothing."""
    from servekit.model_build.archive import FileHasher
    from servekit.servers.triton import build as triton_build

    ep = endpoints["triton"]
    identities = [triton_build.plan(e, FileHasher()).identity for e in (
        ep, _with(ep, model={"warmup": None, "response_cache": False}), _with(ep, model={"warmup": {"batch_size": 1}}))]
    assert identities[0] == identities[1] != identities[2]


@pytest.mark.parametrize(("change", "message"), [
    ({"model": {"response_cache": True}}, r"model\.response_cache needs a server cache: set tuning\.response_cache_bytes"),
    ({"model": {"warmup": {"batch_size": 16}}}, r"warmup\.batch_size 16 > max_batch_size 8"),
    ({"tuning": {"metrics_port": 9000}}, r"metrics_port 9000 without allow_metrics: true opens nothing"),
    ({"tuning": {"additional_args": ["--load-model=other"]}}, r"--load-model is set by the container's serve script"),
    ({"tuning": {"additional_args": ["--exit-timeout-secs 10"]}}, r"is not one --name=value flag without spaces"),
    ({"tuning": {"inference_type": "stream"}}, r"inference_type\n.*'infer', 'generate' or 'generate_stream'"),
])
def test_when_a_triton_setting_cannot_work_then_it_is_refused_with_the_fix(endpoints, change, message):
    with pytest.raises(ValueError, match=message):
        _with(endpoints["triton"], **change)


def test_when_the_switches_are_set_then_each_becomes_the_variable_the_serve_script_reads(endpoints):
    ep = _with(endpoints["triton"], tuning={
        "log_info": False, "log_warning": True, "log_error": True, "allow_metrics": True, "metrics_port": 8010,
        "allow_grpc": True, "grpc_port": 8011, "inference_type": "generate",
        "additional_args": ["--exit-timeout-secs=10", "--strict-readiness=true"]})
    env = ep.tuning.to_environment("resnet")
    assert {k: env[k] for k in env if k not in endpoints["triton"].tuning.to_environment("resnet")} == {
        "SAGEMAKER_TRITON_LOG_INFO": "false", "SAGEMAKER_TRITON_LOG_WARNING": "true",
        "SAGEMAKER_TRITON_LOG_ERROR": "true", "SAGEMAKER_TRITON_ALLOW_METRICS": "true",
        "SAGEMAKER_TRITON_METRICS_PORT": "8010", "SAGEMAKER_TRITON_ALLOW_GRPC": "true",
        "SAGEMAKER_TRITON_GRPC_PORT": "8011", "SAGEMAKER_TRITON_INFERENCE_TYPE": "generate",
        "SAGEMAKER_TRITON_ADDITIONAL_ARGS": "--exit-timeout-secs=10 --strict-readiness=true"}


def test_when_additional_args_are_set_then_the_local_server_gets_them_after_the_scripts_own(tmp_path):
    (tmp_path / "repo" / "m").mkdir(parents=True)
    env = {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "m",
           "SAGEMAKER_TRITON_ADDITIONAL_ARGS": "--cache-config=local,size=1024 --exit-timeout-secs=10"}
    args = triton_local.server_args(env, repo=tmp_path / "repo", backends=tmp_path / "b", port=9,
                                    caches=Path("/x/caches"))
    assert args[-3:] == ["--cache-directory=/x/caches", "--cache-config=local,size=1024", "--exit-timeout-secs=10"]
    assert "--allow-grpc=false" in args and "--allow-metrics=false" in args  # one loopback port only, locally


@pytest.mark.parametrize(("model", "message"), [
    ({"more_versions": [{"version": 1, "source": {"kind": "example", "name": "resnet"}}]},
     r"versions \[1, 1\] repeat a number"),
    ({"version_policy_latest": 2}, r"version_policy_latest 2 > the 1 version\(s\) built"),
    ({"version_policy_specific": [2]}, r"version_policy_specific names versions \[2\] that are not built"),
    ({"version_policy_latest": 1, "version_policy_specific": [1]}, r"two policies; keep one"),
])
def test_when_versions_or_their_policy_cannot_load_then_it_is_refused(endpoints, model, message):
    with pytest.raises(ValueError, match=message):
        _with(endpoints["triton"], model=model)


def test_when_a_model_has_two_versions_then_the_archive_holds_both_under_one_config(endpoints, extracted, tmp_path):
    import tarfile

    from servekit.model_build import build

    second = extracted["triton"] / "resnet" / "1" / "model.pt"
    ep = _with(endpoints["triton"], model={
        "more_versions": [{"version": 2, "source": {"kind": "torchscript", "path": str(second)}}],
        "version_policy_specific": [1, 2]})
    artifact = build(ep, cache_dir=tmp_path / "cache")
    with tarfile.open(artifact.path) as tar:
        names = sorted(n for n in tar.getnames() if n.endswith((".pt", ".pbtxt")))
        text = tar.extractfile("resnet/config.pbtxt").read().decode()
    assert names == ["resnet/1/model.pt", "resnet/2/model.pt", "resnet/config.pbtxt"]
    assert list(triton_config.parse(text).version_policy.specific.versions) == [1, 2]
    assert artifact.identity != build(endpoints["triton"], cache_dir=tmp_path / "cache").identity


def test_when_an_archives_policy_names_a_version_without_a_folder_then_check_artifact_says_so():
    mc = triton_config.parse('name: "m"\nplatform: "pytorch_libtorch"\nversion_policy { specific { versions: [1, 3] } }\n')
    problems = triton_config.config_problems(mc, "m/config.pbtxt", folder="m", version_files={"1": ["model.pt"]})
    assert ("m/config.pbtxt: version_policy specific [3] has no version folder; Triton fails to load the model: add "
            "the folders or change the policy") in problems
    assert not any("version_policy" in p for p in triton_config.config_problems(
        mc, "m/config.pbtxt", folder="m", version_files={"1": ["model.pt"], "3": ["model.pt"]}))
