"""servekit.yaml's model_data: which sources an uncompressed endpoint may have, each refusal with the fix."""

from __future__ import annotations

import pytest

from servekit import config as cfg


def endpoint(data: dict, name: str) -> dict:
    return next(e for e in data["endpoints"] if e["name"] == name)


def test_when_model_data_is_unset_then_every_endpoint_is_an_archive(default_config_data):
    config = cfg.parse(default_config_data)
    assert {e.model_data for e in config.endpoints} == {"archive"}
    assert not any(e.copies_layout for e in config.endpoints)


def test_when_a_built_model_is_uncompressed_then_it_is_valid_and_copied_through_the_data_bucket(default_config_data):
    endpoint(default_config_data, "resnet")["model_data"] = "uncompressed"
    resnet = next(e for e in cfg.parse(default_config_data).endpoints if e.name == "resnet")
    assert resnet.copies_layout and resnet.uses_shared_bucket


def test_when_an_uncompressed_endpoint_names_a_prefix_then_it_is_used_as_it_is(default_config_data):
    resnet = endpoint(default_config_data, "resnet")
    resnet.update(model_data="uncompressed")
    resnet["model"]["source"] = {"kind": "s3", "uri": "s3://team-models/resnet/v3/"}
    parsed = next(e for e in cfg.parse(default_config_data).endpoints if e.name == "resnet")
    assert not parsed.copies_layout and not parsed.uses_shared_bucket


def test_when_an_uncompressed_endpoint_names_a_tarball_in_s3_then_the_fix_is_the_prefix(default_config_data):
    resnet = endpoint(default_config_data, "resnet")
    resnet.update(model_data="uncompressed")
    resnet["model"]["source"] = {"kind": "s3", "uri": "s3://team-models/resnet.tar.gz"}
    with pytest.raises(cfg.ConfigError, match=r"model.source.uri: 's3://team-models/resnet.tar.gz': model_data: "
                                              r"uncompressed reads an S3 prefix; give the prefix .* ending in '/'"):
        cfg.parse(default_config_data)


def test_when_an_archive_endpoint_names_a_prefix_then_the_fix_is_uncompressed_or_the_tarball(default_config_data):
    endpoint(default_config_data, "resnet")["model"]["source"] = {"kind": "s3", "uri": "s3://team-models/resnet/"}
    with pytest.raises(cfg.ConfigError, match=r"model.source.uri: 's3://team-models/resnet/': a prefix holds an "
                                              r"uncompressed model; set model_data: uncompressed"):
        cfg.parse(default_config_data)


def test_when_an_uncompressed_endpoint_brings_a_tarball_then_the_fix_is_its_files(default_config_data, tmp_path):
    (tmp_path / "model.tar.gz").write_bytes(b"")
    qa = endpoint(default_config_data, "question-answering")
    qa.update(model_data="uncompressed")
    qa["model"] = {"source": {"kind": "archive", "path": str(tmp_path / "model.tar.gz")}}
    with pytest.raises(cfg.ConfigError, match=r"model.source: '.*model.tar.gz': an uncompressed layout is built from "
                                              r"the model's files, not from a model.tar.gz"):
        cfg.parse(default_config_data)


def test_when_a_multi_model_endpoint_is_uncompressed_then_it_is_refused(default_config_data):
    endpoint(default_config_data, "resnet").update(model_data="uncompressed",
                                                   multi_model={"s3_prefix": "s3://my-models/resnets/"})
    with pytest.raises(cfg.ConfigError, match=r"model_data: 'uncompressed': a multi-model endpoint loads model.tar.gz "
                                              r"files from its prefix on demand; remove model_data: uncompressed"):
        cfg.parse(default_config_data)


@pytest.mark.parametrize("value", ["gzip", "none", True])
def test_when_model_data_is_not_a_known_packaging_then_both_are_named(default_config_data, value):
    endpoint(default_config_data, "resnet")["model_data"] = value
    with pytest.raises(cfg.ConfigError, match=r"model_data: .*'archive' or 'uncompressed'"):
        cfg.parse(default_config_data)


def test_when_a_component_is_uncompressed_then_the_shared_stack_gets_the_data_bucket_for_its_copy(default_config_data):
    from component_fixtures import component_endpoint

    component_endpoint(default_config_data)["components"][1]["model_data"] = "uncompressed"
    (fleet,) = cfg.parse(default_config_data).component_endpoints
    assert fleet.copies_layout
    assert [c.serve.model_data for c in fleet.components] == ["archive", "uncompressed"]


def test_when_a_component_is_uncompressed_from_a_tarball_in_s3_then_the_fix_is_the_prefix(default_config_data):
    from component_fixtures import component_endpoint

    resnet = component_endpoint(default_config_data)["components"][1]
    resnet.update(model_data="uncompressed")
    resnet["model"]["source"] = {"kind": "s3", "uri": "s3://team-models/resnet.tar.gz"}
    with pytest.raises(cfg.ConfigError, match=r"component_endpoints\[0\] \(gpu-fleet\)\.components\[1\] \(resnet\)\."
                                              r"model.source.uri: .*model_data: uncompressed reads an S3 prefix"):
        cfg.parse(default_config_data)
