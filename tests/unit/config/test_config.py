"""servekit.yaml validation: every rule rejects a bad file with the field, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from servekit import config as cfg
from servekit import naming


def problems_of(data: dict) -> str:
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse(data)
    return "\n".join(info.value.problems)


def endpoint(data: dict, name: str) -> dict:
    return next(e for e in data["endpoints"] if e["name"] == name)


def test_when_the_embedded_default_is_loaded_then_it_has_the_three_servers():
    config = cfg.load(Path(__file__).resolve().parents[3] / "servekit.yaml")
    assert [e.server for e in config.endpoints] == ["tfs", "torchserve", "triton"]


def test_when_an_app_key_is_unknown_then_the_allowed_keys_are_listed(default_config_data):
    default_config_data["app"]["colour"] = "blue"
    with pytest.raises(cfg.ConfigError, match=r"app\.colour: unknown key .*allowed keys: account, env_name"):
        cfg.parse(default_config_data)


def test_when_endpoints_are_missing_then_it_says_add_them():
    with pytest.raises(cfg.ConfigError, match=r"endpoints: none declared; add at least one endpoint \(or component endpoint\)"):
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


def test_when_a_tfs_model_comes_from_a_huggingface_folder_then_the_allowed_sources_are_listed(default_config_data):
    endpoint(default_config_data, "image-classifier")["models"][0]["source"] = {"kind": "huggingface", "path": "x"}
    with pytest.raises(cfg.ConfigError, match=r"source.kind 'huggingface' cannot serve on TFS; use one of"):
        cfg.parse(default_config_data)


def test_when_a_tfs_archive_is_listed_beside_other_models_then_it_is_an_error(default_config_data):
    tfs = endpoint(default_config_data, "image-classifier")
    tfs["models"].append({"name": "other", "source": {"kind": "archive", "path": "model.tar.gz"}})
    with pytest.raises(cfg.ConfigError, match=r"an archive or s3 source is a whole model.tar.gz: list it as the only model"):
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


def test_when_the_tensorrt_opt_batch_exceeds_max_batch_size_then_it_is_rejected(default_config_data):
    model = endpoint(default_config_data, "resnet")["model"]
    model["format"] = "tensorrt"
    model["tensorrt"] = {"opt_batch": 32}
    with pytest.raises(cfg.ConfigError, match=r"tensorrt.opt_batch 32 > max_batch_size 8"):
        cfg.parse(default_config_data)


def test_when_the_region_has_no_image_then_regions_with_one_are_offered(default_config_data):
    default_config_data["app"]["region"] = "xx-north-9"
    problems = problems_of(default_config_data)
    assert "no tensorflow inference image in region xx-north-9; use a region with one" in problems
    assert "no sagemaker-tritonserver inference image in region xx-north-9" in problems


def test_when_the_gpu_margin_is_one_or_more_then_it_is_rejected(default_config_data):
    triton = endpoint(default_config_data, "image-classifier")
    triton["instance_type"] = "ml.g5.xlarge"
    triton["tuning"]["fractional_gpu_mem_margin"] = 1.0
    with pytest.raises(cfg.ConfigError, match=r"fractional_gpu_mem_margin: 1.0: Input should be less than 1"):
        cfg.parse(default_config_data)


def test_when_one_endpoint_breaks_the_schema_then_the_others_image_and_gpu_problems_are_listed_in_the_same_run(
    default_config_data,
):
    endpoint(default_config_data, "question-answering")["tuning"]["max_batch_delay_us"] = 5
    resnet = endpoint(default_config_data, "resnet")
    resnet["instance_type"] = "ml.c5.xlarge"
    resnet["image_version"] = "21.08"
    with pytest.raises(cfg.ConfigError) as raised:
        cfg.parse(default_config_data)
    problems = raised.value.problems
    assert len(problems) == 3, problems
    assert problems[0].startswith("endpoints[1].tuning.max_batch_delay_us: unknown key")
    assert problems[1].startswith("endpoints[2] (resnet).image_version: '21.08': no sagemaker-tritonserver")
    assert problems[2].startswith("endpoints[2] (resnet).model.instance_group.kind: 'KIND_GPU' on ml.c5.xlarge")


def test_when_the_app_block_is_invalid_then_only_the_schema_problems_are_listed(default_config_data):
    default_config_data["app"]["region"] = "mars-1"
    endpoint(default_config_data, "resnet")["instance_type"] = "ml.c5.xlarge"
    with pytest.raises(cfg.ConfigError) as raised:
        cfg.parse(default_config_data)
    assert [p.split(":")[0] for p in raised.value.problems] == ["app.region"]  # no region, no image check yet


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
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "resnet.pt").write_bytes(b"")  # load() checks that local paths exist
    (tmp_path / "servekit.yaml").write_text(yaml.safe_dump(default_config_data))
    config = cfg.load(tmp_path / "servekit.yaml")
    assert config.endpoints[2].model.source.path == tmp_path / "models" / "resnet.pt"


def test_when_the_full_endpoint_name_exceeds_63_characters_then_it_is_rejected(default_config_data):
    default_config_data["app"]["name"] = "a" * 30
    endpoint(default_config_data, "question-answering")["name"] = "q" * 35
    with pytest.raises(cfg.ConfigError, match=r"over SageMaker's 63; shorten the endpoint"):
        cfg.parse(default_config_data)


def test_when_a_handler_is_a_relative_path_then_it_resolves_against_the_config_folder(tmp_path, default_config_data):
    import yaml

    endpoint(default_config_data, "question-answering")["model"]["handler"] = "code/my_inference.py"
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "my_inference.py").write_text("")  # load() checks that local paths exist
    (tmp_path / "servekit.yaml").write_text(yaml.safe_dump(default_config_data))
    config = cfg.load(tmp_path / "servekit.yaml")
    assert config.endpoints[1].model.handler == str(tmp_path / "code" / "my_inference.py")


# --- production blocks (servekit.options) and their combinations ------------------------------------
def test_when_an_async_endpoint_scales_to_zero_then_it_is_valid(default_config_data):
    qa = endpoint(default_config_data, "question-answering")
    qa["scaling"].update(min_instances=0, target_backlog_per_instance=5)
    qa["async_inference"] = {}
    config = cfg.parse(default_config_data)
    assert config.endpoints[1].scaling.min_instances == 0 and config.endpoints[1].uses_shared_bucket


@pytest.mark.parametrize(("schedule", "message"), [
    ({"name": "a", "cron": "0 8 * * *", "min_instances": 2}, r"has 5 fields, AWS cron has 6"),
    ({"name": "a", "cron": "0 8 * * MON *", "min_instances": 2}, r"AWS needs `\?` in day-of-month or day-of-week"),
    ({"name": "a", "cron": "0 8 ? * MON *", "time_zone": "Mars/Base", "min_instances": 2}, r"'Mars/Base' is not an IANA time zone"),
    ({"name": "a", "cron": "0 8 ? * MON *"}, r"schedule 'a' changes nothing"),
    ({"name": "a", "cron": "0 8 ? * MON *", "min_instances": 3, "max_instances": 2}, r"schedule 'a': min_instances 3 > max_instances 2"),
    ({"name": "a", "cron": "0 8 ? * MON *", "max_instances": 9}, r"max_instances 9 > scaling.max_instances 4"),
])
def test_when_a_scheduled_action_is_wrong_then_the_fix_is_named(default_config_data, schedule, message):
    endpoint(default_config_data, "question-answering")["scaling"]["schedules"] = [schedule]
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.parse(default_config_data)


def test_when_two_schedules_share_a_name_then_it_is_rejected(default_config_data):
    schedule = {"name": "a", "cron": "0 8 ? * MON *", "min_instances": 2}
    endpoint(default_config_data, "question-answering")["scaling"]["schedules"] = [schedule, schedule]
    with pytest.raises(cfg.ConfigError, match=r"schedule names \['a'\] appear twice"):
        cfg.parse(default_config_data)


# --- variants -------------------------------------------------------------------------------------------
def test_when_variants_override_blocks_then_each_runs_its_own_and_inherits_the_rest(default_config_data):
    qa = endpoint(default_config_data, "question-answering")
    qa["weight"] = 3
    qa["variants"] = [{"name": "challenger", "weight": 1, "instance_type": "ml.c5.2xlarge",
                       "tuning": {"batch_size": 4, "max_workers": 4}}]
    config = cfg.parse(default_config_data)
    own, challenger = config.endpoints[1].resolved_variants()
    assert (own.name, own.weight, challenger.name, challenger.weight) == ("AllTraffic", 3, "challenger", 1)
    assert challenger.endpoint.instance_type == "ml.c5.2xlarge" and challenger.endpoint.tuning.batch_size == 4
    assert challenger.endpoint.model == own.endpoint.model and challenger.endpoint.image_version == "2.6"
    assert challenger.endpoint.scaling is None and challenger.endpoint.data_capture is None  # endpoint-level blocks
    assert [str(k) for k, _ in naming.artifact_endpoints(config)][1:3] == ["question-answering", "question-answering/challenger"]


def test_when_the_production_weights_sum_to_zero_then_it_is_rejected(default_config_data):
    tfs = endpoint(default_config_data, "image-classifier")
    tfs["weight"] = 0
    tfs["variants"] = [{"name": "b", "weight": 0}]
    with pytest.raises(cfg.ConfigError, match=r"weights: the production variants' weights sum to 0 .*give at least one a positive weight"):
        cfg.parse(default_config_data)


def test_when_a_shadow_joins_several_production_variants_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "image-classifier").update(variants=[{"name": "b"}], shadow_variant={"name": "s"})
    with pytest.raises(cfg.ConfigError, match=r"SageMaker allows one production variant beside a shadow"):
        cfg.parse(default_config_data)


def test_when_a_shadow_samples_half_then_its_weight_is_half_the_production_one(default_config_data):
    endpoint(default_config_data, "image-classifier").update(
        weight=2, shadow_variant={"name": "next", "sampling_percent": 50, "instance_type": "ml.c5.2xlarge"})
    own, shadow = cfg.parse(default_config_data).endpoints[0].resolved_variants()
    assert (shadow.role, shadow.weight, shadow.endpoint.instance_type) == ("shadow", 1.0, "ml.c5.2xlarge")


def test_when_a_multi_variant_endpoint_rolls_then_it_is_rejected(default_config_data):
    qa = endpoint(default_config_data, "question-answering")
    qa.update(instance_count=2, deployment={"strategy": "rolling"}, variants=[{"name": "b", "instance_count": 2}])
    with pytest.raises(cfg.ConfigError, match=r"deployment.strategy: 'rolling': excludes multi-variant endpoints"):
        cfg.parse(default_config_data)


def test_when_variant_sources_are_relative_then_they_resolve_against_the_config_folder(tmp_path, default_config_data):
    import yaml

    endpoint(default_config_data, "resnet")["variants"] = [{"name": "b", "model": {
        **endpoint(default_config_data, "resnet")["model"], "source": {"kind": "torchscript", "path": "b/model.pt"}}}]
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "model.pt").write_bytes(b"")  # load() checks that local paths exist
    (tmp_path / "servekit.yaml").write_text(yaml.safe_dump(default_config_data))
    config = cfg.load(tmp_path / "servekit.yaml")
    assert config.endpoints[2].variants[0].model.source.path == tmp_path / "b" / "model.pt"


# --- data capture and async inference -------------------------------------------------------------------
# --- serverless ------------------------------------------------------------------------------------------
RESERVATION = "arn:aws:sagemaker:us-east-1:123456789012:training-plan/my-plan"


def serverless(data: dict, name: str, **block) -> dict:
    ep = endpoint(data, name)
    for key in ("instance_type", "scaling", "deployment", "data_capture"):
        ep.pop(key, None)
    ep["serverless"] = block
    return ep


def test_when_an_endpoint_is_serverless_then_it_needs_no_instance_type_and_gets_the_cpu_image(default_config_data):
    serverless(default_config_data, "question-answering", memory_size_mb=4096, max_concurrency=10)
    ep = cfg.parse(default_config_data).endpoints[1]
    assert ep.instance_type is None and cfg.facts_of(ep).gpus == 0


def test_when_no_instance_type_and_not_serverless_then_it_asks_for_one(default_config_data):
    endpoint(default_config_data, "image-classifier").pop("instance_type")
    with pytest.raises(cfg.ConfigError, match=r"instance_type: required unless the endpoint is serverless"):
        cfg.parse(default_config_data)


def test_when_serverless_memory_is_not_a_gigabyte_step_then_the_sizes_are_listed(default_config_data):
    serverless(default_config_data, "image-classifier", memory_size_mb=1500)
    with pytest.raises(cfg.ConfigError, match=r"memory_size_mb 1500 is not one of 1024, 2048, 3072, 4096, 5120, 6144"):
        cfg.parse(default_config_data)


def test_when_provisioned_concurrency_exceeds_the_maximum_then_it_is_rejected(default_config_data):
    serverless(default_config_data, "image-classifier", max_concurrency=2, provisioned_concurrency=3)
    with pytest.raises(cfg.ConfigError, match=r"provisioned_concurrency 3 > max_concurrency 2"):
        cfg.parse(default_config_data)


def test_when_a_serverless_triton_endpoint_asks_for_a_gpu_then_it_is_rejected(default_config_data):
    serverless(default_config_data, "resnet")
    with pytest.raises(cfg.ConfigError, match=r"instance_group.kind: 'KIND_GPU' on serverless inference \(CPU only\), which has no GPU"):
        cfg.parse(default_config_data)


@pytest.mark.parametrize(("block", "clash"), [
    ({"instance_type": "ml.g5.xlarge"}, r"instance_type: serverless picks no instance"),
    ({"async_inference": {}}, r"async_inference: async inference needs instances"),
    ({"data_capture": {"shared_bucket": True}}, r"data_capture: serverless endpoints cannot capture data"),
    ({"multi_model": {"s3_prefix": "s3://my-models/mme/"}}, r"multi_model: serverless endpoints cannot be multi-model"),
    ({"variants": [{"name": "b"}]}, r"variants: a serverless endpoint has exactly one variant"),
    ({"scaling": {"max_instances": 2, "target_invocations_per_instance": 5}}, r"scaling: serverless scales itself"),
    ({"network": {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}},
     r"network.subnet_ids: serverless endpoints cannot run in a VPC"),
    ({"network": {"isolation": True}}, r"network.isolation: serverless endpoints cannot isolate the network"),
    ({"container": {"volume_size_gb": 30}}, r"container.volume_size_gb: serverless has no instance volume"),
    ({"deployment": {"strategy": "rolling"}}, r"deployment.strategy: rolling updates exclude serverless endpoints"),
    ({"hosting": {"routing": "least_outstanding_requests"}}, r"hosting.routing: serverless has no instances for it"),
    ({"hosting": {"ssm_access": True}}, r"hosting.ssm_access: serverless has no instances for it"),
    ({"hosting": {"capacity_reservation": {"ml_reservation_arn": RESERVATION}}},
     r"hosting.capacity_reservation: serverless has no instances for it"),
])
def test_when_serverless_meets_what_it_cannot_do_then_the_clash_and_the_fix_are_named(default_config_data, block, clash):
    serverless(default_config_data, "image-classifier").update(block)
    with pytest.raises(cfg.ConfigError, match=r"endpoints\[0\]: serverless: cannot be combined with " + clash):
        cfg.parse(default_config_data)


# --- multi-model -----------------------------------------------------------------------------------------
def test_when_triton_is_multi_model_on_a_single_gpu_then_it_is_valid(default_config_data):
    endpoint(default_config_data, "resnet")["multi_model"] = {"s3_prefix": "s3://my-models/resnets/"}
    config = cfg.parse(default_config_data)
    assert "resnet" not in [str(k) for k, _ in naming.artifact_endpoints(config)]  # nothing to build: the prefix holds them


def test_when_torchserve_is_multi_model_on_a_gpu_then_triton_is_offered(default_config_data):
    qa = endpoint(default_config_data, "question-answering")
    qa.update(multi_model={"s3_prefix": "s3://my-models/qa/"}, instance_type="ml.g5.xlarge", tuning={})
    with pytest.raises(cfg.ConfigError, match=r"GPU multi-model endpoints run only in the Triton container"):
        cfg.parse(default_config_data)


def test_when_triton_is_multi_model_on_a_multi_gpu_instance_then_it_is_rejected(default_config_data):
    endpoint(default_config_data, "resnet").update(multi_model={"s3_prefix": "s3://my-models/r/"},
                                                   instance_type="ml.g5.12xlarge", scaling=None)
    with pytest.raises(cfg.ConfigError, match=r"AWS lists only single-GPU g4dn, g5, p3 instances .*not ml.g5.12xlarge"):
        cfg.parse(default_config_data)


def test_when_multi_model_torchserve_sets_batching_then_the_toolkit_would_ignore_it(default_config_data):
    qa = endpoint(default_config_data, "question-answering")
    qa["multi_model"] = {"s3_prefix": "s3://my-models/qa/"}
    qa["model"]["handler"] = "vision"
    qa["model"]["source"] = {"kind": "example", "name": "resnet"}
    with pytest.raises(cfg.ConfigError, match=r"tuning: batch_size, max_batch_delay_ms, max_workers, min_workers "
                       r"are ignored by the PyTorch toolkit in multi-model mode"):
        cfg.parse(default_config_data)


def test_when_a_multi_model_handler_needs_packages_then_it_is_rejected(default_config_data):
    qa = endpoint(default_config_data, "question-answering")
    qa.update(multi_model={"s3_prefix": "s3://my-models/qa/"}, tuning={})
    with pytest.raises(cfg.ConfigError, match=r"its handler needs transformers==.* which the toolkit never installs in multi-model mode"):
        cfg.parse(default_config_data)


def test_when_a_multi_model_variant_brings_its_own_model_then_it_is_rejected(default_config_data):
    triton = endpoint(default_config_data, "resnet")
    triton["multi_model"] = {"s3_prefix": "s3://my-models/r/"}
    triton["variants"] = [{"name": "b", "model": triton["model"]}]
    with pytest.raises(cfg.ConfigError, match=r"in multi-model mode the models come from multi_model.s3_prefix"):
        cfg.parse(default_config_data)


# --- network and container options -------------------------------------------------------------------------
def test_when_several_combinations_are_wrong_then_each_gets_its_own_line(default_config_data):
    serverless(default_config_data, "image-classifier").update(async_inference={}, data_capture={"shared_bucket": True})
    problems = problems_of(default_config_data).splitlines()
    assert len([p for p in problems if "serverless: cannot be combined" in p]) == 2


# --- one bad value, one clear error: each case sets one key of the default config and names the fix ------
# (endpoint, the key path in it, the value, what the error must say)
BAD_VALUES = {
    "when_a_key_is_misspelt_then_the_error_names_it_and_suggests_the_right_one": (
        "question-answering", ("tuning", "max_batch_delay"), 50,
        r"endpoints\[1\]\.tuning\.max_batch_delay: unknown key .*did you mean 'max_batch_delay_ms'"),
    "when_the_tfs_default_model_is_not_in_the_archive_then_it_names_the_models": (
        "image-classifier", ("default_model",), "resnet",
        r"default_model 'resnet' is none of \['efficientnetv2'\]"),
    "when_the_tfs_handler_protocol_is_unknown_then_the_choices_are_named": (
        "image-classifier", ("tuning", "handler_protocol"), "http2",
        r"endpoints\[0\]\.tuning\.handler_protocol: 'http2': Input should be "
        r"'rest' or 'grpc'"),
    "when_torchserve_omp_num_threads_is_zero_then_the_field_and_value_are_named": (
        "question-answering", ("tuning", "omp_num_threads"), 0,
        r"endpoints\[1\]\.tuning\.omp_num_threads: 0: Input should be greater than or equal to 1"),
    "when_torchserve_min_workers_exceed_max_then_the_fix_is_given": (
        "question-answering", ("tuning", "min_workers"), 4,
        r"min_workers 4 > max_workers 2; raise max_workers or lower min_workers"),
    "when_the_torchserve_batch_delay_is_negative_then_it_is_rejected": (
        "question-answering", ("tuning", "max_batch_delay_ms"), -1,
        r"tuning\.max_batch_delay_ms: -1: Input should be greater than or equal to 0"),
    "when_torchserve_is_given_an_onnx_file_then_the_allowed_sources_are_listed": (
        "question-answering", ("model", "source"), {"kind": "onnx", "path": "m.onnx"},
        r"source.kind 'onnx' cannot serve on TorchServe"),
    "when_a_handler_requirement_is_not_pinned_then_it_asks_for_name_equals_version": (
        "question-answering", ("model", "requirements"), ["transformers>=4"],
        r"requirements line 'transformers>=4' is not pinned; write it as name==version"),
    "when_a_preferred_batch_size_exceeds_max_batch_size_then_it_is_rejected": (
        "resnet", ("model", "dynamic_batching", "preferred_batch_size"), [4, 16],
        r"preferred_batch_size \[16\] outside 1..max_batch_size \(8\)"),
    "when_the_onnx_tensorrt_accelerator_is_set_on_torchscript_then_it_is_rejected": (
        "resnet", ("model", "onnx_tensorrt_accelerator"), {"precision_mode": "FP16"},
        r"onnx_tensorrt_accelerator needs format: onnx"),
    "when_triton_is_given_a_huggingface_folder_then_the_allowed_sources_are_listed": (
        "resnet", ("model", "source"), {"kind": "huggingface", "path": "x"},
        r"source.kind 'huggingface' cannot serve on Triton"),
    "when_an_s3_uri_is_not_a_tarball_then_the_pattern_is_shown": (
        "resnet", ("model", "source"), {"kind": "s3", "uri": "s3://bucket/model.zip"},
        r"source\.uri: 's3://bucket/model.zip' does not match"),
    "when_a_state_dict_class_is_not_module_colon_class_then_it_is_rejected": (
        "resnet", ("model", "source"), {
        "kind": "state_dict", "path": "w.pt", "model_class": "mymodels.ResNet", "example_input_shape": [1, 3, 8, 8],
    },
        r"source\.model_class: 'mymodels.ResNet' does not match"),
    "when_the_instance_type_is_a_typo_then_the_close_one_is_suggested": (
        "image-classifier", ("instance_type",), "ml.c5.xlarg",
        r"instance_type: 'ml.c5.xlarg' is not a SageMaker instance type .*did you mean 'ml.c5.xlarge'"),
    "when_the_image_version_does_not_exist_then_the_newest_versions_are_offered": (
        "image-classifier", ("image_version",), "9.9",
        r"image_version: '9.9': no tensorflow inference image version 9.9; use one of the newest: .*2\.19"),
    "when_fractional_gpu_memory_is_set_on_a_cpu_instance_then_it_is_rejected": (
        "image-classifier", ("tuning", "fractional_gpu_mem_margin"), 0.2,
        r"tuning.fractional_gpu_mem_margin: 0.2 is GPU-only but ml.c5.xlarge has no GPU"),
    "when_triton_asks_for_kind_gpu_on_a_cpu_instance_then_it_is_rejected": (
        "resnet", ("instance_type",), "ml.c5.xlarge",
        r"model.instance_group.kind: 'KIND_GPU' on ml.c5.xlarge, which has no GPU"),
    "when_scaling_min_exceeds_max_then_it_is_rejected": (
        "question-answering", ("scaling", "min_instances"), 5,
        r"min_instances 5 > max_instances 4; raise max_instances"),
    "when_the_instance_count_is_outside_the_scaling_range_then_it_is_rejected": (
        "question-answering", ("instance_count",), 9,
        r"instance_count: 9: outside scaling 1..4"),
    "when_a_burstable_instance_is_scaled_then_it_is_rejected": (
        "question-answering", ("instance_type",), "ml.t2.medium",
        r"scaling: ml.t2.medium is burstable"),
    "when_a_rolling_update_has_one_instance_then_it_suggests_canary": (
        "question-answering", ("deployment", "strategy"), "rolling",
        r"deployment.strategy: 'rolling': needs instance_count >= 2 .*use canary or linear"),
    "when_rollback_relies_on_disabled_alarms_then_it_is_rejected": (
        "question-answering", ("alarms", "enabled"), False,
        r"rollback_on_servekit_alarms: needs alarms.enabled"),
    "when_the_canary_is_over_half_the_fleet_then_it_is_rejected": (
        "question-answering", ("deployment", "canary_percent"), 80,
        r"deployment.canary_percent: 80: Input should be less than or equal to 50"),
    "when_scaling_has_no_target_and_no_schedule_then_it_asks_for_one": (
        "question-answering", ("scaling",), {"max_instances": 3},
        r"scaling: scaling has nothing to scale on; set target_invocations"),
    "when_scaling_goes_to_zero_without_async_then_it_is_rejected": (
        "question-answering", ("scaling", "min_instances"), 0,
        r"min_instances: 0: scale to zero works only for async_inference"),
    "when_a_backlog_target_has_no_async_queue_then_it_is_rejected": (
        "question-answering", ("scaling", "target_backlog_per_instance"), 5,
        r"target_backlog_per_instance: needs async_inference"),
    "when_a_gpu_scaling_target_is_set_on_a_cpu_instance_then_it_is_rejected": (
        "question-answering", ("scaling", "target_gpu_utilization_percent"), 60,
        r"scaling.target_gpu_utilization_percent: ml.m5.xlarge has no GPU"),
    "when_a_cpu_target_is_over_100_percent_per_vcpu_then_it_is_rejected": (
        "question-answering", ("scaling", "target_cpu_utilization_percent"), 250,
        r"target_cpu_utilization_percent: 250: Input should be less than or equal to 100"),
    "when_a_utilization_period_is_not_whole_minutes_then_it_is_rejected": (
        "question-answering", ("alarms", "utilization_period_seconds"), 90,
        r"utilization_period_seconds: 90: Input should be a multiple of 60"),
    "when_two_variants_share_a_name_then_it_is_rejected": (
        "image-classifier", ("variants",), [{"name": "AllTraffic"}],
        r"variant names \['AllTraffic'\] appear twice"),
    "when_a_shadow_has_a_weight_then_sampling_percent_is_asked_for": (
        "image-classifier", ("shadow_variant",), {"name": "s", "weight": 0.5},
        r"shadow_variant \(s\).weight: a shadow variant takes copies, not a share; use sampling_percent"),
    "when_a_production_variant_samples_then_weight_is_asked_for": (
        "image-classifier", ("variants",), [{"name": "b", "sampling_percent": 50}],
        r"variants\[0\] \(b\).sampling_percent: only the shadow variant samples"),
    "when_a_variant_key_is_misspelt_then_the_variant_and_the_key_are_named": (
        "question-answering", ("variants",), [{"name": "b", "tuning": {"batch_sizee": 2}}],
        r"endpoints\[1\]\.variants\[0\]\.tuning\.batch_sizee: unknown key .*did you mean 'batch_size'"),
    "when_a_variant_sets_a_gpu_only_option_on_a_cpu_instance_then_the_variant_is_named": (
        "image-classifier", ("variants",), [
        {"name": "b", "tuning": {"fractional_gpu_mem_margin": 0.2}}],
        r"variants\[0\] \(b\)\.tuning\.fractional_gpu_mem_margin: 0.2 is GPU-only"),
    "when_a_variants_instance_count_is_outside_the_scaling_range_then_it_is_rejected": (
        "question-answering", ("variants",), [{"name": "b", "instance_count": 9}],
        r"variants\[0\]\.instance_count: 9: outside scaling 1..4"),
    "when_data_capture_has_no_destination_then_it_names_both_choices": (
        "image-classifier", ("data_capture",), {"sampling_percent": 10},
        r"data_capture needs exactly one destination: set shared_bucket: true .* or s3_uri"),
    "when_data_capture_has_two_destinations_then_it_is_rejected": (
        "image-classifier", ("data_capture",), {"shared_bucket": True, "s3_uri": "s3://my-capture/x"},
        r"data_capture needs exactly one destination"),
    "when_data_capture_captures_neither_side_then_it_is_rejected": (
        "image-classifier", ("data_capture",), {
        "shared_bucket": True, "capture_input": False, "capture_output": False},
        r"data_capture captures nothing"),
    "when_a_capture_content_type_is_not_a_mime_type_then_it_is_rejected": (
        "image-classifier", ("data_capture",), {"shared_bucket": True, "json_content_types": ["json"]},
        r"content types \['json'\] are not type/subtype"),
    "when_a_capture_uri_is_not_s3_then_it_is_rejected": (
        "image-classifier", ("data_capture",), {"s3_uri": "https://bucket/x"},
        r"s3_uri 'https://bucket/x' is not s3://<bucket>/<prefix>"),
    "when_async_includes_a_response_without_its_topic_then_it_is_rejected": (
        "question-answering", ("async_inference",), {"include_response_in": ["error"]},
        r"include_response_in lists 'error' but error_topic_arn is unset"),
    "when_async_concurrency_is_out_of_range_then_it_is_rejected": (
        "question-answering", ("async_inference",), {"max_concurrent_invocations_per_instance": 0},
        r"max_concurrent_invocations_per_instance: 0: Input should be greater than or equal to 1"),
    "when_tfs_is_multi_model_then_several_models_in_one_archive_are_offered": (
        "image-classifier", ("multi_model",), {"s3_prefix": "s3://my-models/tfs/"},
        r"multi_model: TFS serves several SavedModels from one archive instead"),
    "when_a_multi_model_prefix_lacks_its_slash_then_it_is_rejected": (
        "resnet", ("multi_model",), {"s3_prefix": "s3://my-models/resnets"},
        r"must end with '/': SageMaker appends TargetModel to it"),
    "when_subnets_come_without_groups_or_vpc_then_vpc_id_is_asked_for": (
        "image-classifier", ("network",), {"subnet_ids": ["subnet-0123456789abcdef0"]},
        r"servekit creates a security group and needs vpc_id for it"),
    "when_security_groups_come_without_subnets_then_subnets_are_asked_for": (
        "image-classifier", ("network",), {"security_group_ids": ["sg-0123456789abcdef0"]},
        r"need subnet_ids"),
    "when_a_subnet_id_is_malformed_then_it_is_rejected": (
        "image-classifier", ("network",), {"subnet_ids": ["subnet-xyz"], "vpc_id": "vpc-0123456789abcdef0"},
        r"subnet ids \['subnet-xyz'\] are not subnet-<hex>"),
    "when_a_volume_size_is_set_on_an_nvme_instance_then_it_is_rejected": (
        "resnet", ("container",), {"volume_size_gb": 100},
        r"container.volume_size_gb: ml.g5.xlarge has NVMe instance storage"),
    "when_the_routing_strategy_is_unknown_then_the_two_are_listed": (
        "question-answering", ("hosting",), {"routing": "round_robin"},
        r"hosting\.routing: 'round_robin': Input should be 'least_outstanding_requests' or 'random'"),
    "when_a_core_dump_destination_is_not_s3_then_the_form_is_shown": (
        "question-answering", ("hosting",), {"core_dump": {"s3_uri": "https://my-dumps/qa"}},
        r"hosting\.core_dump\.s3_uri: .*is not s3://<bucket>/<prefix>"),
    "when_a_core_dump_key_is_an_alias_then_the_key_arn_is_asked_for": (
        "question-answering", ("hosting",), {"core_dump": {"s3_uri": "s3://my-dumps/qa", "kms_key_arn": "alias/x"}},
        r"hosting\.core_dump\.kms_key_arn: 'alias/x' does not match"),
    "when_a_capacity_reservation_is_not_an_ml_reservation_arn_then_the_pattern_is_shown": (
        "question-answering", ("hosting",), {"capacity_reservation": {"ml_reservation_arn": "cr-0123"}},
        r"hosting\.capacity_reservation\.ml_reservation_arn: 'cr-0123' does not match"),
    "when_a_start_timeout_is_under_a_minute_then_it_is_rejected": (
        "image-classifier", ("container",), {"startup_health_check_timeout_seconds": 30},
        r"startup_health_check_timeout_seconds: 30: Input should be greater than or equal to 60"),
}


@pytest.mark.parametrize(("endpoint_name", "keys", "value", "message"), list(BAD_VALUES.values()), ids=list(BAD_VALUES))
def test_when_one_value_is_wrong_then_the_error_names_the_field_and_the_fix(default_config_data, endpoint_name, keys,
                                                                          value, message):
    block = endpoint(default_config_data, endpoint_name)
    for key in keys[:-1]:
        block = block[key]
    block[keys[-1]] = value
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.parse(default_config_data)


# --- hosting: the rest of the production variant -----------------------------------------------------------
def test_when_hosting_is_set_on_the_endpoint_then_a_variant_inherits_it_unless_it_sets_its_own(default_config_data):
    qa = endpoint(default_config_data, "question-answering")
    qa["hosting"] = {"routing": "least_outstanding_requests", "core_dump": {"s3_uri": "s3://my-dumps/qa"}}
    qa["variants"] = [{"name": "b"}, {"name": "c", "hosting": {"routing": "random"}}]
    qa.pop("deployment")
    resolved = {r.name: r.endpoint.hosting for r in cfg.parse(default_config_data).endpoints[1].resolved_variants()}
    assert resolved["b"].routing == "least_outstanding_requests" and resolved["b"].core_dump.s3_uri == "s3://my-dumps/qa"
    assert resolved["c"].routing == "random" and resolved["c"].core_dump is None  # a block set replaces it whole


def test_when_an_async_endpoint_scales_on_concurrency_then_the_backlog_is_offered(default_config_data):
    qa = endpoint(default_config_data, "question-answering")
    qa["async_inference"] = {}
    qa["scaling"] = {"max_instances": 4, "target_concurrent_requests_per_model": 4}
    with pytest.raises(cfg.ConfigError, match=r"scaling.target_concurrent_requests_per_model: async endpoints queue "
                                              r"their requests; scale them on target_backlog_per_instance"):
        cfg.parse(default_config_data)


def test_when_scaling_tracks_concurrency_alone_then_it_has_a_target(default_config_data):
    endpoint(default_config_data, "question-answering")["scaling"] = {
        "max_instances": 4, "target_concurrent_requests_per_model": 4}
    assert cfg.parse(default_config_data).endpoints[1].scaling.has_target
