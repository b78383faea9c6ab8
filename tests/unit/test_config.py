"""servekit.yaml validation: every rule rejects a bad file with the field, the value and the fix."""

from __future__ import annotations

import pytest

from servekit import config as cfg


def problems_of(data: dict) -> str:
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse(data)
    return "\n".join(info.value.problems)


def endpoint(data: dict, name: str) -> dict:
    return next(e for e in data["endpoints"] if e["name"] == name)


def test_when_the_embedded_default_is_loaded_then_it_has_the_three_servers():
    config = cfg.load(cfg.Path(__file__).resolve().parents[2] / "servekit.yaml")
    assert [e.server for e in config.endpoints] == ["tfs", "torchserve", "triton"]


def test_when_a_key_is_misspelt_then_the_error_names_it_and_suggests_the_right_one(default_config_data):
    endpoint(default_config_data, "question-answering")["tuning"]["max_batch_delay"] = 50
    with pytest.raises(cfg.ConfigError, match=r"endpoints\[1\]\.tuning\.max_batch_delay: unknown key .*did you mean 'max_batch_delay_ms'"):
        cfg.parse(default_config_data)


def test_when_an_app_key_is_unknown_then_the_allowed_keys_are_listed(default_config_data):
    default_config_data["app"]["colour"] = "blue"
    with pytest.raises(cfg.ConfigError, match=r"app\.colour: unknown key .*allowed keys: account, env_name"):
        cfg.parse(default_config_data)


def test_when_endpoints_are_missing_then_it_says_add_them():
    with pytest.raises(cfg.ConfigError, match=r"endpoints: required and missing; add it"):
        cfg.parse({"app": {}})


def test_when_the_file_is_not_a_mapping_then_it_says_what_it_expects():
    with pytest.raises(cfg.ConfigError, match=r"expected a mapping with `app` and `endpoints`"):
        cfg.parse(["not", "a", "mapping"])


def test_when_the_server_is_unknown_then_the_three_servers_are_named(default_config_data):
    default_config_data["endpoints"][0]["server"] = "tgi"
    with pytest.raises(cfg.ConfigError, match=r"endpoints\[0\]: 'tgi' is not one of 'tfs', 'torchserve', 'triton'"):
        cfg.parse(default_config_data)


def test_when_an_endpoint_name_has_capitals_then_the_pattern_is_shown(default_config_data):
    default_config_data["endpoints"][0]["name"] = "Image_Classifier"
    with pytest.raises(cfg.ConfigError, match=r"endpoints\[0\]\.name: 'Image_Classifier' does not match"):
        cfg.parse(default_config_data)


def test_when_two_endpoints_share_a_name_then_it_is_an_error(default_config_data):
    default_config_data["endpoints"][1]["name"] = "image-classifier"
    with pytest.raises(cfg.ConfigError, match=r"endpoint names \['image-classifier'\] appear twice"):
        cfg.parse(default_config_data)


def test_when_two_tfs_models_share_a_name_then_it_is_an_error(default_config_data):
    tfs = endpoint(default_config_data, "image-classifier")
    tfs["models"].append(dict(tfs["models"][0]))
    with pytest.raises(cfg.ConfigError, match=r"model names \['efficientnetv2'\] appear twice"):
        cfg.parse(default_config_data)


def test_when_the_tfs_default_model_is_not_in_the_archive_then_it_names_the_models(default_config_data):
    endpoint(default_config_data, "image-classifier")["default_model"] = "resnet"
    with pytest.raises(cfg.ConfigError, match=r"default_model 'resnet' is none of \['efficientnetv2'\]"):
        cfg.parse(default_config_data)


def test_when_a_tfs_model_comes_from_a_huggingface_folder_then_the_allowed_sources_are_listed(default_config_data):
    endpoint(default_config_data, "image-classifier")["models"][0]["source"] = {"kind": "huggingface", "path": "x"}
    with pytest.raises(cfg.ConfigError, match=r"source.kind 'huggingface' cannot serve on TFS; use one of"):
        cfg.parse(default_config_data)


def test_when_a_tfs_archive_is_listed_beside_other_models_then_it_is_an_error(default_config_data):
    tfs = endpoint(default_config_data, "image-classifier")
    tfs["models"].append({"name": "other", "source": {"kind": "archive", "path": "model.tar.gz"}})
    with pytest.raises(cfg.ConfigError, match=r"an archive or s3 source is a whole model.tar.gz: list it as the only model"):
        cfg.parse(default_config_data)


def test_when_torchserve_min_workers_exceed_max_then_the_fix_is_given(default_config_data):
    endpoint(default_config_data, "question-answering")["tuning"]["min_workers"] = 4
    with pytest.raises(cfg.ConfigError, match=r"min_workers 4 > max_workers 2; raise max_workers or lower min_workers"):
        cfg.parse(default_config_data)


def test_when_the_torchserve_batch_delay_is_negative_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "question-answering")["tuning"]["max_batch_delay_ms"] = -1
    with pytest.raises(cfg.ConfigError, match=r"tuning\.max_batch_delay_ms: -1: Input should be greater than or equal to 0"):
        cfg.parse(default_config_data)


def test_when_torchserve_is_given_an_onnx_file_then_the_allowed_sources_are_listed(default_config_data):
    endpoint(default_config_data, "question-answering")["model"]["source"] = {"kind": "onnx", "path": "m.onnx"}
    with pytest.raises(cfg.ConfigError, match=r"source.kind 'onnx' cannot serve on TorchServe"):
        cfg.parse(default_config_data)


def test_when_a_handler_requirement_is_not_pinned_then_it_asks_for_name_equals_version(default_config_data):
    endpoint(default_config_data, "question-answering")["model"]["requirements"] = ["transformers>=4"]
    with pytest.raises(cfg.ConfigError, match=r"requirements line 'transformers>=4' is not pinned; write it as name==version"):
        cfg.parse(default_config_data)


def test_when_a_triton_data_type_lacks_its_prefix_then_the_types_are_listed(default_config_data):
    endpoint(default_config_data, "resnet")["model"]["inputs"][0]["data_type"] = "FP32"
    with pytest.raises(cfg.ConfigError, match=r"unknown Triton data type 'FP32'; use one of TYPE_BOOL"):
        cfg.parse(default_config_data)


def test_when_a_triton_dim_is_zero_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "resnet")["model"]["inputs"][0]["dims"] = [3, 0, 224]
    with pytest.raises(cfg.ConfigError, match=r"dims \[3, 0, 224\] must be positive or -1"):
        cfg.parse(default_config_data)


def test_when_dynamic_batching_has_max_batch_size_zero_then_triton_would_refuse_it(default_config_data):
    model = endpoint(default_config_data, "resnet")["model"]
    model["max_batch_size"] = 0
    with pytest.raises(cfg.ConfigError, match=r"dynamic_batching needs max_batch_size > 0"):
        cfg.parse(default_config_data)


def test_when_a_preferred_batch_size_exceeds_max_batch_size_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "resnet")["model"]["dynamic_batching"]["preferred_batch_size"] = [4, 16]
    with pytest.raises(cfg.ConfigError, match=r"preferred_batch_size \[16\] outside 1..max_batch_size \(8\)"):
        cfg.parse(default_config_data)


def test_when_the_onnx_tensorrt_accelerator_is_set_on_torchscript_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "resnet")["model"]["onnx_tensorrt_accelerator"] = {"precision_mode": "FP16"}
    with pytest.raises(cfg.ConfigError, match=r"onnx_tensorrt_accelerator needs format: onnx"):
        cfg.parse(default_config_data)


def test_when_the_tensorrt_opt_batch_exceeds_max_batch_size_then_it_is_rejected(default_config_data):
    model = endpoint(default_config_data, "resnet")["model"]
    model["format"] = "tensorrt"
    model["tensorrt"] = {"opt_batch": 32}
    with pytest.raises(cfg.ConfigError, match=r"tensorrt.opt_batch 32 > max_batch_size 8"):
        cfg.parse(default_config_data)


def test_when_triton_is_given_a_huggingface_folder_then_the_allowed_sources_are_listed(default_config_data):
    endpoint(default_config_data, "resnet")["model"]["source"] = {"kind": "huggingface", "path": "x"}
    with pytest.raises(cfg.ConfigError, match=r"source.kind 'huggingface' cannot serve on Triton"):
        cfg.parse(default_config_data)


def test_when_an_s3_uri_is_not_a_tarball_then_the_pattern_is_shown(default_config_data):
    endpoint(default_config_data, "resnet")["model"]["source"] = {"kind": "s3", "uri": "s3://bucket/model.zip"}
    with pytest.raises(cfg.ConfigError, match=r"source\.uri: 's3://bucket/model.zip' does not match"):
        cfg.parse(default_config_data)


def test_when_a_state_dict_class_is_not_module_colon_class_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "resnet")["model"]["source"] = {
        "kind": "state_dict", "path": "w.pt", "model_class": "mymodels.ResNet", "example_input_shape": [1, 3, 8, 8],
    }
    with pytest.raises(cfg.ConfigError, match=r"source\.model_class: 'mymodels.ResNet' does not match"):
        cfg.parse(default_config_data)


def test_when_the_instance_type_is_a_typo_then_the_close_one_is_suggested(default_config_data):
    endpoint(default_config_data, "image-classifier")["instance_type"] = "ml.c5.xlarg"
    with pytest.raises(cfg.ConfigError, match=r"instance_type: 'ml.c5.xlarg' is not a SageMaker instance type .*did you mean 'ml.c5.xlarge'"):
        cfg.parse(default_config_data)


def test_when_the_image_version_does_not_exist_then_the_newest_versions_are_offered(default_config_data):
    endpoint(default_config_data, "image-classifier")["image_version"] = "9.9"
    with pytest.raises(cfg.ConfigError, match=r"image_version: '9.9': no tensorflow inference image version 9.9; use one of the newest: .*2\.19"):
        cfg.parse(default_config_data)


def test_when_the_region_has_no_image_then_regions_with_one_are_offered(default_config_data):
    default_config_data["app"]["region"] = "xx-north-9"
    problems = problems_of(default_config_data)
    assert "no tensorflow inference image in region xx-north-9; use a region with one" in problems
    assert "no sagemaker-tritonserver inference image in region xx-north-9" in problems


def test_when_fractional_gpu_memory_is_set_on_a_cpu_instance_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "image-classifier")["tuning"]["fractional_gpu_mem_margin"] = 0.2
    with pytest.raises(cfg.ConfigError, match=r"tuning.fractional_gpu_mem_margin: 0.2 is GPU-only but ml.c5.xlarge has no GPU"):
        cfg.parse(default_config_data)


def test_when_the_gpu_margin_is_one_or_more_then_it_is_rejected(default_config_data):
    triton = endpoint(default_config_data, "image-classifier")
    triton["instance_type"] = "ml.g5.xlarge"
    triton["tuning"]["fractional_gpu_mem_margin"] = 1.0
    with pytest.raises(cfg.ConfigError, match=r"fractional_gpu_mem_margin: 1.0: Input should be less than 1"):
        cfg.parse(default_config_data)


def test_when_triton_asks_for_kind_gpu_on_a_cpu_instance_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "resnet")["instance_type"] = "ml.c5.xlarge"
    with pytest.raises(cfg.ConfigError, match=r"model.instance_group.kind: 'KIND_GPU' on ml.c5.xlarge, which has no GPU"):
        cfg.parse(default_config_data)


def test_when_a_tensorrt_plan_targets_a_cpu_instance_then_it_is_rejected(default_config_data):
    triton = endpoint(default_config_data, "resnet")
    triton["instance_type"] = "ml.m5.xlarge"
    triton["model"]["instance_group"]["kind"] = "KIND_CPU"
    triton["model"]["format"] = "tensorrt"
    with pytest.raises(cfg.ConfigError, match=r"model.format: 'tensorrt' plans run only on GPUs"):
        cfg.parse(default_config_data)


def test_when_onnx_tensorrt_acceleration_targets_a_cpu_instance_then_it_is_rejected(default_config_data):
    triton = endpoint(default_config_data, "resnet")
    triton["instance_type"] = "ml.m5.xlarge"
    triton["model"].update(format="onnx", instance_group={"kind": "KIND_CPU"}, onnx_tensorrt_accelerator={})
    with pytest.raises(cfg.ConfigError, match=r"model.onnx_tensorrt_accelerator: set on ml.m5.xlarge, which has no GPU"):
        cfg.parse(default_config_data)


def test_when_a_triton_gpu_load_limit_targets_a_cpu_instance_then_it_is_rejected(default_config_data):
    triton = endpoint(default_config_data, "resnet")
    triton["instance_type"] = "ml.m5.xlarge"
    triton["model"]["instance_group"]["kind"] = "KIND_CPU"
    triton["tuning"]["model_load_gpu_limit"] = 0.5
    with pytest.raises(cfg.ConfigError, match=r"tuning.model_load_gpu_limit: 0.5 is GPU-only"):
        cfg.parse(default_config_data)


def test_when_several_problems_exist_then_each_gets_its_own_line(default_config_data):
    default_config_data["app"]["regon"] = "us-east-1"
    endpoint(default_config_data, "resnet")["model"]["max_batch_size"] = -1
    endpoint(default_config_data, "question-answering")["tuning"]["batch_size"] = 0
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse(default_config_data)
    assert len(info.value.problems) == 3


def test_when_the_yaml_is_broken_then_the_line_is_named(tmp_path):
    path = tmp_path / "servekit.yaml"
    path.write_text("app:\n  name: x\nendpoints: [\n")
    with pytest.raises(cfg.ConfigError, match=r"\(yaml\): not valid YAML at line \d+, column \d+"):
        cfg.load(path)


def test_when_the_file_does_not_exist_then_it_asks_for_the_right_path(tmp_path):
    with pytest.raises(cfg.ConfigError, match=r"cannot read it .*pass the path of your servekit.yaml"):
        cfg.load(tmp_path / "missing.yaml")


def test_when_loaded_from_a_file_then_relative_model_paths_resolve_against_its_folder(tmp_path, default_config_data):
    import yaml

    endpoint(default_config_data, "resnet")["model"]["source"] = {"kind": "torchscript", "path": "models/resnet.pt"}
    (tmp_path / "servekit.yaml").write_text(yaml.safe_dump(default_config_data))
    config = cfg.load(tmp_path / "servekit.yaml")
    assert config.endpoints[2].model.source.path == tmp_path / "models" / "resnet.pt"


def test_when_scaling_min_exceeds_max_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "question-answering")["scaling"]["min_instances"] = 5
    with pytest.raises(cfg.ConfigError, match=r"min_instances 5 > max_instances 4; raise max_instances"):
        cfg.parse(default_config_data)


def test_when_the_instance_count_is_outside_the_scaling_range_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "question-answering")["instance_count"] = 9
    with pytest.raises(cfg.ConfigError, match=r"instance_count 9 is outside scaling 1..4"):
        cfg.parse(default_config_data)


def test_when_a_burstable_instance_is_scaled_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "question-answering")["instance_type"] = "ml.t2.medium"
    with pytest.raises(cfg.ConfigError, match=r"scaling: ml.t2.medium is burstable"):
        cfg.parse(default_config_data)


def test_when_a_rolling_update_has_one_instance_then_it_suggests_canary(default_config_data):
    endpoint(default_config_data, "question-answering")["deployment"]["strategy"] = "rolling"
    with pytest.raises(cfg.ConfigError, match=r"rolling needs instance_count >= 2 .*use canary or linear"):
        cfg.parse(default_config_data)


def test_when_rollback_relies_on_disabled_alarms_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "question-answering")["alarms"]["enabled"] = False
    with pytest.raises(cfg.ConfigError, match=r"rollback_on_servekit_alarms needs alarms.enabled"):
        cfg.parse(default_config_data)


def test_when_the_full_endpoint_name_exceeds_63_characters_then_it_is_rejected(default_config_data):
    default_config_data["app"]["name"] = "a" * 30
    endpoint(default_config_data, "question-answering")["name"] = "q" * 35
    with pytest.raises(cfg.ConfigError, match=r"over SageMaker's 63; shorten the endpoint"):
        cfg.parse(default_config_data)


def test_when_the_canary_is_over_half_the_fleet_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "question-answering")["deployment"]["canary_percent"] = 80
    with pytest.raises(cfg.ConfigError, match=r"deployment.canary_percent: 80: Input should be less than or equal to 50"):
        cfg.parse(default_config_data)


def test_when_a_handler_is_a_relative_path_then_it_resolves_against_the_config_folder(tmp_path, default_config_data):
    import yaml

    endpoint(default_config_data, "question-answering")["model"]["handler"] = "code/my_inference.py"
    (tmp_path / "servekit.yaml").write_text(yaml.safe_dump(default_config_data))
    config = cfg.load(tmp_path / "servekit.yaml")
    assert config.endpoints[1].model.handler == str(tmp_path / "code" / "my_inference.py")
