"""What SageMaker checks only at deploy or run time, checked before anything is built: GPU compatibility
(compute capability, driver, InferenceAmiVersion), model-file producers against the image's runtimes, the
rate-based rollback alarms and the role's DescribeAlarms, partitions, tags, local paths."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import tarfile
from pathlib import Path

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Match, Template

from servekit import bench, images, naming, registry
from servekit import config as cfg
from servekit.cdk import ModelData, TorchServeEndpoint, TritonEndpoint
from servekit.facts import all_tables, amis, dlc, gpus, runtimes
from servekit.model_build import BuildError, build, manifest
from servekit.rules import gpu
from servekit.servers.triton import model_config as triton_config
from servekit.stacks import add_serving_stacks

ROOT = Path(__file__).resolve().parents[3]
ENV = cdk.Environment(account="111122223333", region="us-east-1")


def endpoint(data: dict, name: str) -> dict:
    return next(e for e in data["endpoints"] if e["name"] == name)


@pytest.fixture
def tarball(tmp_path) -> Path:
    (tmp_path / "w.bin").write_bytes(b"\0" * 8)
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tmp_path / "w.bin", arcname="w.bin")
    return path


# --- GPU compatibility -----------------------------------------------------------------------------------
def test_when_triton_25_09_is_put_on_a_v100_then_validate_refuses_it_with_the_compute_capability(default_config_data):
    endpoint(default_config_data, "resnet")["instance_type"] = "ml.p3.2xlarge"
    with pytest.raises(cfg.ConfigError, match=r"resnet\)\.instance_type: 'ml.p3.2xlarge': its NVIDIA V100 has compute "
                       r"capability 7\.0, and the triton 25\.09 image needs 7\.5 or later .*or image_version 24\.05"):
        cfg.parse(default_config_data)


def test_when_an_ami_without_compat_mounting_cannot_run_the_image_then_the_working_ami_is_named(default_config_data):
    endpoint(default_config_data, "resnet")["inference_ami_version"] = "al2-ami-sagemaker-inference-gpu-3-1"
    with pytest.raises(cfg.ConfigError, match=r"inference_ami_version: 'al2-ami-sagemaker-inference-gpu-3-1': its "
                       r"driver R550 with CUDA-compat mounting disabled cannot run the triton 25\.09 image .*use "
                       r"inference_ami_version al2-ami-sagemaker-inference-gpu-2"):
        cfg.parse(default_config_data)


def test_when_an_ami_is_set_on_a_cpu_instance_then_it_is_refused(default_config_data):
    endpoint(default_config_data, "question-answering")["inference_ami_version"] = "al2-ami-sagemaker-inference-gpu-2"
    with pytest.raises(cfg.ConfigError, match=r"inference_ami_version: 'al2-ami-sagemaker-inference-gpu-2': "
                       r"ml.m5.xlarge has no GPU servekit knows; remove inference_ami_version"):
        cfg.parse(default_config_data)


def test_when_an_ami_is_not_in_cloudformations_enum_then_the_schema_lists_the_allowed_ones(default_config_data):
    endpoint(default_config_data, "resnet")["inference_ami_version"] = "al2-ami-sagemaker-inference-gpu-9"
    with pytest.raises(cfg.ConfigError, match=r"inference_ami_version: 'al2-ami-sagemaker-inference-gpu-9'"):
        cfg.parse(default_config_data)


def test_when_a_working_ami_is_set_then_the_variant_carries_it(default_config_data, tarball):
    endpoint(default_config_data, "resnet")["inference_ami_version"] = "al2-ami-sagemaker-inference-gpu-2"
    template = synth(default_config_data, tarball)["resnet"]
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [
        Match.object_like({"InferenceAmiVersion": "al2-ami-sagemaker-inference-gpu-2"})]})


def test_when_the_default_driver_cannot_run_the_image_then_servekit_picks_an_ami_that_can_and_says_why():
    needs_535 = dataclasses.replace(dlc.IMAGES[("triton", "25.09")], min_driver=535, forward_compat=())
    verdict = gpu.check("triton", "25.09", "ml.g5.xlarge", None, images={("triton", "25.09"): needs_535})
    assert verdict.ami == "al2-ami-sagemaker-inference-gpu-2"
    assert "default driver of g5 (R470) cannot run the triton 25.09 image's CUDA 13.0" in verdict.picked_because
    assert verdict.problems == []


def test_when_an_ami_is_picked_then_the_template_and_the_synth_table_show_it(monkeypatch, tmp_path, tarball):
    from servekit import synth_table

    needs_535 = dataclasses.replace(dlc.IMAGES[("triton", "25.09")], min_driver=535, forward_compat=())
    monkeypatch.setitem(dlc.IMAGES, ("triton", "25.09"), needs_535)
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "Resnet", env=ENV)
    TritonEndpoint(stack, "Resnet", model_data=ModelData.from_asset(tarball), model_name="resnet",
                   instance_type="ml.g5.xlarge")
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [
        Match.object_like({"InferenceAmiVersion": "al2-ami-sagemaker-inference-gpu-2"})]})
    stack.node.root.synth()
    (row,) = synth_table.endpoint_rows(tmp_path)
    assert row["gpu_ami"].startswith("al2-ami-sagemaker-inference-gpu-2 (picked by servekit: the default driver of g5")


def test_when_no_facts_exist_for_an_image_then_validate_warns_instead_of_failing(default_config_data):
    endpoint(default_config_data, "resnet")["image_version"] = "26.05"
    config = cfg.parse(default_config_data)
    (line,) = cfg.advisories(config)
    assert line.startswith("endpoints[2] (resnet).image_version: '26.05': servekit has no GPU facts for the triton "
                           "26.05 image")


def test_when_the_construct_is_used_without_yaml_then_the_same_gpu_rule_raises(tarball):
    stack = cdk.Stack(cdk.App(), "S", env=ENV)
    with pytest.raises(ValueError, match=r"Resnet: instance_type: 'ml.p3.2xlarge': its NVIDIA V100 has compute"):
        TritonEndpoint(stack, "Resnet", model_data=ModelData.from_asset(tarball), model_name="resnet",
                       instance_type="ml.p3.2xlarge")


def test_when_bench_sweeps_an_image_version_then_it_gets_the_gpu_checks_validate_runs(default_config_data):
    resnet = endpoint(default_config_data, "resnet")
    resnet.update(instance_type="ml.p3.2xlarge", image_version="24.05", scaling=None)
    resnet["model"]["instance_group"]["kind"] = "KIND_GPU"
    ep = cfg.parse(default_config_data).endpoints[2]
    with pytest.raises(bench.BenchError, match=r"--sweep image_version='25.09' is not a valid triton setting: .*"
                       r"compute capability 7\.0"):
        bench.parse_sweep(ep, "image_version='24.05','25.09'", problems_of=cfg.endpoint_problems)


# --- the facts themselves ---------------------------------------------------------------------------------
def test_when_the_ami_facts_are_compared_with_cfn_lints_schema_then_they_name_the_same_values():
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::SageMaker::EndpointConfig").schema
    enum = schema["definitions"]["ProductionVariant"]["properties"]["InferenceAmiVersion"]["enum"]
    assert sorted(amis.AMI_NAMES) == sorted(enum)


def test_when_facts_are_listed_then_each_names_its_source_and_whether_it_was_confirmed():
    count = confirmed = 0
    for table in all_tables().values():
        for fact in table.values():
            assert fact.source.where
            count += 1
            confirmed += fact.source.confirmed
    assert count >= 20 and 0 < confirmed < count  # some facts are unconfirmed, and say so


def test_when_the_rules_run_then_every_fact_table_entry_and_field_is_used():
    """Every entry is reached by a rule over the whole matrix, and every field is read by a rule's code."""

    class Recording(dict):
        def __init__(self, data):
            super().__init__(data)
            self.used = set()

        def get(self, key, default=None):
            self.used.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            self.used.add(key)
            return super().__getitem__(key)

        def items(self):
            self.used.update(self.keys())
            return super().items()

    images_, families, amis_ = Recording(dlc.IMAGES), Recording(gpus.FAMILIES), Recording(amis.AMIS)
    for server, version in dlc.IMAGES:
        for family in gpus.FAMILIES:
            for ami in [None, *amis.AMIS]:
                gpu.check(server, version, f"ml.{family}.xlarge", ami, images=images_, families=families, amis=amis_)
    assert images_.used >= set(dlc.IMAGES) and families.used >= set(gpus.FAMILIES) and amis_.used >= set(amis.AMIS)
    used_runtimes = {f.runtimes.get("onnxruntime") for f in dlc.IMAGES.values()}
    assert set(runtimes.ONNXRUNTIME) <= used_runtimes
    torch_targets = {".".join(f.framework_version.split(".")[:2]) for f in dlc.IMAGES.values() if f.server == "torchserve"}
    torch_targets |= {f.runtimes.get("libtorch") for f in dlc.IMAGES.values()}
    assert set(runtimes.TORCHSCRIPT) <= torch_targets
    # The rules, and each server's answer to them (Server.runtime_version: which runtime of its image reads a file).
    rule_code = "".join((ROOT / "servekit" / "rules" / name).read_text() for name in ("gpu.py", "producers.py"))
    rule_code += "".join(p.read_text() for p in (ROOT / "servekit" / "servers").glob("*/__init__.py"))
    rule_code += (ROOT / "servekit" / "servers" / "base.py").read_text()
    read = {n.attr for n in ast.walk(ast.parse(rule_code)) if isinstance(n, ast.Attribute)}
    read |= {n.value for n in ast.walk(ast.parse(rule_code)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    for cls in (dlc.ImageFacts, gpus.FamilyFacts, amis.AmiFacts, runtimes.OnnxRuntimeFacts, runtimes.TorchScriptReader):
        keys = {"server", "version", "family", "name", "torch", "onnxruntime"}  # the tables' keys
        unused = {f.name for f in dataclasses.fields(cls)} - read - keys
        assert not unused, f"{cls.__name__} fields no rule reads: {unused}"


# --- model-file producers ---------------------------------------------------------------------------------
def test_when_a_torchscript_file_format_is_newer_than_the_images_torch_reads_then_it_fails():
    (problem,) = manifest.problems({"files": {"m/1/model.pt": {"format": "torchscript", "file_format_version": 11,
                                                               "torch": "2.13.0"}}}, registry.get("triton"), "25.09", "ml.g5.xlarge")
    assert problem.severity == "error"
    assert "torch 2.9 in the triton 25.09 image reads up to 10" in str(problem)


def test_when_torchscript_comes_from_a_newer_torch_then_it_warns_naming_both_versions():
    (problem,) = manifest.problems({"files": {"model.pt": {"format": "torchscript", "file_format_version": 3,
                                                           "torch": "2.13.0+cpu"}}}, registry.get("torchserve"), "2.6", "ml.m5.xlarge")
    assert problem.severity == "warning"
    assert "made with torch 2.13.0+cpu" in str(problem) and "runs torch 2.6.0" in str(problem)


def test_when_an_onnx_ir_version_is_too_new_for_tritons_onnxruntime_then_it_is_reported_with_the_export_fix():
    problems = manifest.problems({"files": {"m/1/model.onnx": {"format": "onnx", "ir_version": 13, "opset": 25}}},
                                 registry.get("triton"), "25.09", "ml.g5.xlarge")
    text = " | ".join(str(p) for p in problems)
    assert "ONNX Runtime 1.23 in the triton 25.09 image loads IR up to 11" in text
    assert "export with opset_version <= 23" in text
    assert {p.severity for p in problems} == {"warning"}  # the ONNX Runtime facts are unconfirmed: warn, not fail


def test_when_a_savedmodel_comes_from_a_newer_tensorflow_then_it_warns():
    (problem,) = manifest.problems({"files": {"m/1/saved_model.pb": {"format": "saved_model", "tensorflow": "2.21.0"}}},
                                   registry.get("tfs"), "2.19", "ml.c5.xlarge")
    assert "made with TensorFlow 2.21.0" in str(problem) and "serves TensorFlow 2.19.0" in str(problem)


def triton_plan_archive(tmp_path: Path, record: dict | None) -> Path:
    model = cfg.TritonModel.model_validate({
        "name": "resnet", "source": {"kind": "example", "name": "resnet"}, "format": "tensorrt", "max_batch_size": 8,
        "inputs": [{"name": "input__0", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}],
        "outputs": [{"name": "output__0", "data_type": "TYPE_FP32", "dims": [10]}],
        "instance_group": {"kind": "KIND_GPU"}})
    folder = tmp_path / "repo" / "resnet"
    (folder / "1").mkdir(parents=True)
    (folder / "config.pbtxt").write_text(triton_config.render(model))
    (folder / "1" / "model.plan").write_bytes(b"plan")
    if record is not None:
        (folder / manifest.NAME).write_bytes(manifest.encode({"resnet/1/model.plan": record}))
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname="resnet")
    return path


def plan_endpoint(data: dict, archive: Path, instance_type: str):
    resnet = endpoint(data, "resnet")
    resnet.update(instance_type=instance_type, scaling=None)
    resnet["model"].update(source={"kind": "archive", "path": str(archive)}, format="tensorrt")
    return cfg.parse(data).endpoints[2]


@pytest.mark.parametrize(("built", "instance_type", "message"), [
    ({"compute_capability": "8.6", "tensorrt": "10.13.3"}, "ml.g4dn.xlarge",
     r"built on compute capability 8\.6.*ml\.g4dn\.xlarge's NVIDIA T4 has 7\.5"),
    ({"compute_capability": "8.6", "tensorrt": "10.9.0"}, "ml.g5.xlarge",
     r"built with TensorRT 10\.9\.0.*triton 25\.09 image runs TensorRT 10\.13"),
])
def test_when_a_tensorrt_plan_was_built_on_another_gpu_or_tensorrt_then_the_build_refuses_it(
        default_config_data, tmp_path, built, instance_type, message):
    archive = triton_plan_archive(tmp_path, {"format": "tensorrt_plan", **built})
    ep = plan_endpoint(default_config_data, archive, instance_type)
    with pytest.raises(BuildError, match=message):
        build(ep, cache_dir=tmp_path / "cache")


def test_when_a_tensorrt_plan_matches_the_gpu_and_image_then_it_builds(default_config_data, tmp_path):
    archive = triton_plan_archive(tmp_path, {"format": "tensorrt_plan", "compute_capability": "8.6",
                                             "tensorrt": "10.13.3"})
    assert build(plan_endpoint(default_config_data, archive, "ml.g5.xlarge"), cache_dir=tmp_path / "cache").path == archive


def test_when_servekit_builds_an_artifact_then_its_manifest_records_each_model_files_producer(tmp_path):
    config = cfg.load(ROOT / "servekit.yaml")
    resnet = config.endpoints[2]
    artifact = build(resnet, cache_dir=tmp_path)
    recorded = manifest.read_from_archive(artifact.path)
    assert recorded["files"]["resnet/1/model.pt"]["format"] == "torchscript"
    assert recorded["files"]["resnet/1/model.pt"]["file_format_version"] >= 3
    assert recorded["files"]["resnet/1/model.pt"]["torch"].startswith("2.13")


# --- alarms, role, partitions ---------------------------------------------------------------------------
def synth(data: dict, tarball: Path) -> dict[str, Template]:
    config = cfg.parse(data)
    app = cdk.App()
    stacks = add_serving_stacks(app, config, {k: ModelData.from_asset(tarball) for k, _ in naming.artifact_endpoints(config)})
    return {name: Template.from_stack(s) for name, s in stacks.items()}


def test_when_a_canary_rolls_back_on_alarms_then_the_5xx_alarm_is_a_guarded_rate_on_m_of_n(default_config_data, tarball):
    template = synth(default_config_data, tarball)["question-answering"]
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "servekit-dev-question-answering-invocation-5xx-error-rate",
        "Threshold": 5, "EvaluationPeriods": 3, "DatapointsToAlarm": 2,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "Metrics": Match.array_with([Match.object_like({
            "Expression": "IF(invocations >= 10, 100 * FILL(errors, 0) / invocations, 0)", "ReturnData": True})]),
    })


def test_when_a_deployment_rolls_back_on_alarms_then_the_role_may_describe_exactly_those_alarms(default_config_data,
                                                                                                  tarball):
    qa = endpoint(default_config_data, "question-answering")
    qa["deployment"]["rollback_alarm_names"] = ["team-slo-breach"]
    template = synth(default_config_data, tarball)["question-answering"]
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    (statement,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                    if s["Action"] == "cloudwatch:DescribeAlarms"]
    names = sorted(json.dumps(r).split(":alarm:")[1].split('"')[0] for r in statement["Resource"])
    assert names == ["servekit-dev-question-answering-invocation-5xx-error-rate",
                     "servekit-dev-question-answering-model-latency-p99", "team-slo-breach"]


def test_when_the_old_5xx_count_key_is_used_then_the_error_names_the_rate_keys(default_config_data):
    endpoint(default_config_data, "question-answering")["alarms"] = {"invocation_5xx_errors_per_minute": 3}
    with pytest.raises(cfg.ConfigError, match=r"invocation_5xx_errors_per_minute \(3\) is gone: .*use "
                       r"invocation_5xx_error_rate_percent"):
        cfg.parse(default_config_data)


def test_when_datapoints_exceed_the_evaluation_periods_then_it_is_refused(default_config_data):
    endpoint(default_config_data, "question-answering")["alarms"] = {"datapoints_to_alarm": 4, "evaluation_periods": 3}
    with pytest.raises(cfg.ConfigError, match=r"datapoints_to_alarm 4 > evaluation_periods 3"):
        cfg.parse(default_config_data)


@pytest.mark.parametrize(("region", "partition"), [("us-gov-west-1", "aws-us-gov"), ("cn-north-1", "aws-cn"),
                                                   ("us-east-1", "aws")])
def test_when_an_image_lives_in_a_partition_then_its_repository_arn_is_in_that_partition(region, partition):
    uri = images.image_uri("pytorch", "2.6", region, "ml.m5.xlarge")
    assert images.ecr_repository_arn(uri).startswith(f"arn:{partition}:ecr:{region}:")


def test_when_backlog_metric_options_are_given_then_they_are_kept(tarball):
    stack = cdk.Stack(cdk.App(), "S", env=ENV)
    ep = TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge",
                            endpoint_name="qa")
    metric = ep.metric_backlog_size(period=cdk.Duration.minutes(5), label="queued")
    assert metric.label == "queued" and metric.period.to_minutes() == 5


# --- smaller contract defects ------------------------------------------------------------------------------
def test_when_a_tag_key_uses_the_reserved_aws_prefix_then_it_is_refused(default_config_data):
    default_config_data["app"]["tags"] = {"aws:owner": "ml"}
    with pytest.raises(cfg.ConfigError, match=r"tag key 'aws:owner' starts with the reserved prefix 'aws:'"):
        cfg.parse(default_config_data)


def test_when_a_source_path_or_handler_file_is_missing_then_validate_says_so_before_building(default_config_data,
                                                                                            tmp_path):
    endpoint(default_config_data, "image-classifier")["models"][0]["source"] = {"kind": "saved_model",
                                                                                 "path": "models/effnet"}
    endpoint(default_config_data, "question-answering")["model"]["handler"] = "code/my_inference.py"
    path = tmp_path / "servekit.yaml"
    path.write_text(yaml.safe_dump(default_config_data))
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path)
    assert err.value.problems == [
        f"endpoints[0] (image-classifier).models[0] (efficientnetv2).source.path: '{tmp_path}/models/effnet' is not an "
        "existing folder; give the path of the saved_model folder (relative to servekit.yaml)",
        f"endpoints[1] (question-answering).model.handler: '{tmp_path}/code/my_inference.py' is not an existing file; "
        "give the path of your inference.py (relative to servekit.yaml)",
    ]


def test_when_multi_model_torchserve_sets_a_response_timeout_then_torchserve_gets_it(tarball, default_config_data):
    qa = endpoint(default_config_data, "question-answering")
    qa.update(multi_model={"s3_prefix": "s3://my-models/qa/"}, scaling=None, data_capture=None, deployment=None,
              tuning={"response_timeout_seconds": 120})
    qa["model"].update(handler="vision", source={"kind": "example", "name": "resnet"})
    template = synth(default_config_data, tarball)["question-answering"]
    (model,) = template.find_resources("AWS::SageMaker::Model").values()
    env = model["Properties"]["PrimaryContainer"]["Environment"]
    assert env["TS_DEFAULT_RESPONSE_TIMEOUT"] == "120" and "SAGEMAKER_TS_RESPONSE_TIMEOUT" not in env


def test_when_a_variant_with_a_picked_ami_is_added_later_then_the_template_says_why_for_it_too(monkeypatch, tarball):
    needs_535 = dataclasses.replace(dlc.IMAGES[("triton", "25.09")], min_driver=535, forward_compat=())
    monkeypatch.setitem(dlc.IMAGES, ("triton", "25.09"), needs_535)
    stack = cdk.Stack(cdk.App(), "Resnet", env=ENV)
    endpoint = TritonEndpoint(stack, "Resnet", model_data=ModelData.from_asset(tarball), model_name="resnet",
                              instance_type="ml.g5.xlarge")
    endpoint.add_variant(TritonEndpoint.variant("b", model_data=ModelData.from_asset(tarball), model_name="resnet",
                                                instance_type="ml.g5.xlarge"))
    (config,) = Template.from_stack(stack).find_resources("AWS::SageMaker::EndpointConfig").values()
    picked = config["Metadata"]["servekit:inference-ami-picked"]
    assert set(picked) == {"AllTraffic", "b"} and all(v.startswith("al2-ami-sagemaker-inference-gpu-2:") for v in picked.values())


def test_when_the_instance_table_is_compared_with_botocores_service_model_then_every_type_exists():
    """botocore's SageMaker model (ProductionVariantInstanceType's enum) is AWS's own list of hosting types."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    known = set(model.shape_for("ProductionVariant").members["InstanceType"].enum)
    missing = sorted(t for t in images.INSTANCE_TYPES if t not in known)
    assert missing == []


def test_when_the_gpu_4_1_ami_is_compared_with_botocore_then_its_driver_and_cuda_are_the_api_references():
    import re

    import botocore.session

    doc = botocore.session.get_session().get_service_model("sagemaker").shape_for(
        "ProductionVariant").members["InferenceAmiVersion"].documentation
    text = re.sub(r"<[^>]+>", " ", doc)
    for ami in amis.AMIS.values():
        if ami.accelerator != "gpu":
            continue
        section = re.search(re.escape(ami.name) + r"\s+Accelerator: GPU\s+NVIDIA driver version: (\d+)\s+CUDA version: "
                            r"([\d.]+)", text)
        assert section is not None, ami.name
        assert (int(section.group(1)), section.group(2)) == (ami.driver, ami.cuda), ami.name


# --- new hardware ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("server", "version", "instance_type", "message"), [
    ("torchserve", "2.6", "ml.p6-b200.48xlarge", r"NVIDIA B200 needs CUDA 12\.8 or later, and the torchserve 2\.6 "
                                                 r"image is built on CUDA 12\.4.*no torchserve image servekit knows"),
    ("triton", "24.05", "ml.g7e.2xlarge", r"RTX PRO 6000 Blackwell.* needs CUDA 12\.8.*use image_version 25\.04 or "
                                          r"25\.09"),
])
def test_when_an_image_predates_a_blackwell_gpus_cuda_then_the_rule_names_the_cuda_and_the_fix(
        server, version, instance_type, message):
    verdict = gpu.check(server, version, instance_type, None)
    (problem,) = [p for p in verdict.problems if "CUDA" in str(p)]
    assert re.search(message, str(problem))
    assert problem.severity == "warning"  # the Blackwell facts are unconfirmed: warn, not fail


def test_when_triton_25_09_runs_on_blackwell_then_servekit_picks_the_ami_whose_driver_runs_it():
    verdict = gpu.check("triton", "25.09", "ml.p6-b200.48xlarge", None)
    assert verdict.ami == "al2023-ami-sagemaker-inference-gpu-4-1" and not verdict.problems


@pytest.mark.parametrize(("endpoint_index", "instance_type", "message"), [
    (0, "ml.m8g.xlarge", r"ml\.m8g\.xlarge is arm64 and an x86 image does not start there: no arm64 tensorflow "
                         r"inference image version 2\.19; arm64 versions: .*2\.16\.1"),
    (2, "ml.c8g.xlarge", r"ml\.c8g\.xlarge is arm64 .*AWS publishes no arm64 sagemaker-tritonserver inference image"),
])
def test_when_an_endpoint_runs_on_graviton_without_an_arm64_image_then_validate_refuses_it(
        default_config_data, endpoint_index, instance_type, message):
    ep = default_config_data["endpoints"][endpoint_index]
    ep["instance_type"] = instance_type
    ep.pop("scaling", None)
    if ep["server"] == "triton":
        ep["model"]["instance_group"]["kind"] = "KIND_CPU"
    with pytest.raises(cfg.ConfigError, match=r"image_version: .*" + message):
        cfg.parse(default_config_data)


def test_when_torchserve_runs_on_graviton_then_the_arm64_image_is_the_one_deployed():
    assert images.image_uri("pytorch", "2.6", "us-east-1", "ml.c8g.xlarge").endswith(
        "/pytorch-inference-arm64:2.6-cpu-py312-ubuntu22.04-sagemaker")
    assert images.image_uri("pytorch", "2.6", "us-east-1", "ml.c7i.xlarge").endswith("/pytorch-inference:2.6-cpu-py312")
