"""Serverless inference (memory, concurrency, CPU image) and SageMaker multi-model mode."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from servekit import config as cfg
from servekit.cdk import ModelData, TfsEndpoint, TorchServeEndpoint, TritonEndpoint


def only(template: Template, kind: str) -> dict:
    (resource,) = template.find_resources(kind).values()
    return resource["Properties"]


def test_when_serverless_then_the_variant_has_memory_and_concurrency_and_no_instances(stack, archives):
    TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                serverless=cfg.Serverless(memory_size_mb=3072, max_concurrency=20, provisioned_concurrency=2))
    template = Template.from_stack(stack)
    (variant,) = only(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 20, "ProvisionedConcurrency": 2}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    model = only(template, "AWS::SageMaker::Model")
    assert model["PrimaryContainer"]["Image"].endswith("/tensorflow-inference:2.19-cpu")
    assert model["EnableNetworkIsolation"] is False  # AWS: serverless does not support network isolation


def test_when_serverless_triton_is_built_then_it_runs_the_cpu_image(stack, archives):
    TritonEndpoint(stack, "Rn", model_data=ModelData.from_asset(archives["triton"]), model_name="m",
                   serverless=cfg.Serverless())
    image = only(Template.from_stack(stack), "AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    assert image.endswith("/sagemaker-tritonserver:25.09-py3-cpu")


def test_when_serverless_meets_a_gpu_only_setting_then_the_construct_refuses(stack, archives):
    with pytest.raises(ValueError, match=r"tuning.model_load_gpu_limit: 0.5 is GPU-only but serverless inference has no GPU"):
        TritonEndpoint(stack, "Rn", model_data=ModelData.from_asset(archives["triton"]), model_name="m",
                       serverless=cfg.Serverless(), tuning=cfg.TritonTuning(model_load_gpu_limit=0.5))


def test_when_serverless_asks_for_network_isolation_then_the_construct_refuses(stack, archives):
    with pytest.raises(ValueError, match=r"serverless: cannot be combined with network.isolation"):
        TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                    serverless=cfg.Serverless(), network_isolation=True)


def test_when_serverless_meets_async_then_the_construct_refuses(stack, archives):
    with pytest.raises(ValueError, match=r"serverless: cannot be combined with async_inference"):
        TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                    serverless=cfg.Serverless(), async_inference=cfg.AsyncInference(
                        input_s3_uri="s3://in-bucket/q", output_s3_uri="s3://out-bucket/r",
                        failure_s3_uri="s3://out-bucket/f"))


def test_when_serverless_has_alarms_then_only_errors_and_latency_are_watched(stack, archives):
    TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                serverless=cfg.Serverless(), alarms=cfg.Alarms(), endpoint_name="svc-ic")
    metrics = {alarm_metric(a) for a in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()}
    assert metrics == {"Invocation5XXErrors/Invocations", "Invocation4XXErrors", "ModelLatency"}  # no instance metrics


def test_when_triton_is_multi_model_then_the_container_loads_models_from_the_prefix(stack, archives):
    TritonEndpoint(stack, "Rn", model_data=ModelData.from_s3_prefix("s3://my-models/resnets/"), model_name="resnet",
                   instance_type="ml.g5.xlarge")
    template = Template.from_stack(stack)
    container = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]
    assert (container["Mode"], container["ModelDataUrl"]) == ("MultiModel", "s3://my-models/resnets/")
    assert container["Environment"]["SAGEMAKER_MULTI_MODEL"] == "true"
    assert "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME" not in container["Environment"]  # TargetModel chooses
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    reads = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "s3:GetObject"]
    assert reads[0]["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::my-models/resnets/*"]]}


def test_when_torchserve_is_multi_model_then_single_model_settings_are_left_out(stack, archives):
    TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_s3_prefix("s3://my-models/vision/"),
                       instance_type="ml.c5.xlarge")
    env = only(Template.from_stack(stack), "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert env["SAGEMAKER_MULTI_MODEL"] == "true" and env["TS_ENABLE_MODEL_API"] == "true"
    assert not [k for k in env if k.startswith("SAGEMAKER_TS_")]


def test_when_torchserve_is_multi_model_on_a_gpu_then_the_construct_refuses(stack, archives):
    with pytest.raises(ValueError, match=r"GPU multi-model endpoints run only in the Triton container"):
        TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_s3_prefix("s3://my-models/vision/"),
                           instance_type="ml.g5.xlarge")


def test_when_tfs_is_given_a_multi_model_prefix_then_it_points_to_several_models_per_archive(stack, archives):
    with pytest.raises(ValueError, match=r"TFS serves several SavedModels from one archive instead"):
        TfsEndpoint(stack, "Ic", model_data=ModelData.from_s3_prefix("s3://my-models/tfs/"), model_names=["m"],
                    instance_type="ml.c5.xlarge")


def test_when_a_multi_model_prefix_has_no_trailing_slash_then_it_is_refused():
    with pytest.raises(ValueError, match=r"is not s3://<bucket>/<prefix>/ \(with the trailing '/'\)"):
        ModelData.from_s3_prefix("s3://my-models/vision")


def test_when_a_tfs_archive_holds_several_models_then_the_default_is_named_and_the_rest_routed(stack, archives):
    TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["a", "b"],
                default_model_name="b", instance_type="ml.c5.xlarge")
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::Model", {"PrimaryContainer": Match.object_like({
        "Environment": Match.object_like({"SAGEMAKER_TFS_DEFAULT_MODEL_NAME": "b"}), "Mode": Match.absent()})})


def alarm_metric(alarm: dict) -> str:
    """The metric an alarm watches: its MetricName, or the metrics of its math expression joined with '/'."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return props["MetricName"]
    return "/".join(m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m)
