"""Template assertions on the three endpoint constructs: environment, image, names, policies, KMS."""

from __future__ import annotations

import tarfile

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template

from servekit import config as cfg
from servekit.cdk import ContainerImage, ModelData, TfsEndpoint, TorchServeEndpoint, TritonEndpoint

US_EAST_1 = cdk.Environment(account="111122223333", region="us-east-1")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    folder = tmp_path_factory.mktemp("artifact")
    (folder / "weights.bin").write_bytes(b"\x00" * 64)
    path = folder / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder / "weights.bin", arcname="weights.bin")
    return path


def stack(env: cdk.Environment = US_EAST_1) -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Test", env=env)


def model_environment(template: Template) -> dict[str, str]:
    models = template.find_resources("AWS::SageMaker::Model")
    (model,) = models.values()
    return model["Properties"]["PrimaryContainer"]["Environment"]


def policy_statements(template: Template) -> list[dict]:
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_when_tfs_batching_is_on_then_every_batching_variable_is_set_in_its_unit(tarball):
    s = stack()
    tuning = cfg.TfsTuning(enable_batching=True, max_batch_size=16, batch_timeout_micros=2500, num_batch_threads=4)
    TfsEndpoint(s, "Tfs", model_data=ModelData.from_asset(tarball), model_names=["efficientnetv2"],
                instance_type="ml.c5.xlarge", tuning=tuning)
    env = model_environment(Template.from_stack(s))
    assert env["SAGEMAKER_TFS_ENABLE_BATCHING"] == "true"
    assert env["SAGEMAKER_TFS_MAX_BATCH_SIZE"] == "16"
    assert env["SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS"] == "2500"
    assert env["SAGEMAKER_TFS_NUM_BATCH_THREADS"] == "4"
    assert env["SAGEMAKER_TFS_DEFAULT_MODEL_NAME"] == "efficientnetv2"
    assert env["SAGEMAKER_TFS_INSTANCE_COUNT"] == "1"


def test_when_tfs_batching_is_off_then_no_batching_variable_pretends_to_matter(tarball):
    s = stack()
    TfsEndpoint(s, "Tfs", model_data=ModelData.from_asset(tarball), model_names=["a"], instance_type="ml.c5.xlarge")
    env = model_environment(Template.from_stack(s))
    assert env["SAGEMAKER_TFS_ENABLE_BATCHING"] == "false"
    assert not {"SAGEMAKER_TFS_MAX_BATCH_SIZE", "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS"} & set(env)


def test_when_the_tfs_handler_protocol_is_grpc_then_the_model_tells_servekits_handler_and_rest_sets_nothing(tarball):
    s = stack()
    TfsEndpoint(s, "Tfs", model_data=ModelData.from_asset(tarball), model_names=["a"], instance_type="ml.c5.xlarge",
                tuning=cfg.TfsTuning(handler_protocol="grpc"))
    assert model_environment(Template.from_stack(s))["SAGEMAKER_TFS_HANDLER_PROTOCOL"] == "grpc"
    assert "SAGEMAKER_TFS_HANDLER_PROTOCOL" not in cfg.TfsTuning().to_environment("a")  # rest: the handler's default


def test_when_a_tfs_archive_holds_several_models_then_the_default_model_is_always_named(tarball):
    s = stack()
    TfsEndpoint(s, "Tfs", model_data=ModelData.from_asset(tarball), model_names=["zeta", "alpha"],
                instance_type="ml.c5.xlarge")
    assert model_environment(Template.from_stack(s))["SAGEMAKER_TFS_DEFAULT_MODEL_NAME"] == "zeta"


def test_when_tfs_runs_several_processes_on_a_gpu_then_the_memory_margin_is_passed(tarball):
    s = stack()
    tuning = cfg.TfsTuning(server_processes=4, fractional_gpu_mem_margin=0.1, intra_op_parallelism=2)
    TfsEndpoint(s, "Tfs", model_data=ModelData.from_asset(tarball), model_names=["m"], instance_type="ml.g5.12xlarge",
                tuning=tuning)
    env = model_environment(Template.from_stack(s))
    assert env["SAGEMAKER_TFS_INSTANCE_COUNT"] == "4"
    assert env["SAGEMAKER_TFS_FRACTIONAL_GPU_MEM_MARGIN"] == "0.1"
    assert env["SAGEMAKER_TFS_INTRA_OP_PARALLELISM"] == "2"
    assert "SAGEMAKER_TFS_INTER_OP_PARALLELISM" not in env  # 0 = let TF decide: the container passes it only when non-zero


def test_when_torchserve_is_tuned_then_the_delay_is_in_milliseconds_and_the_lost_properties_are_restored(tarball):
    s = stack()
    tuning = cfg.TorchServeTuning(batch_size=8, max_batch_delay_ms=25, min_workers=2, max_workers=4,
                                  response_timeout_seconds=120)
    TorchServeEndpoint(s, "Ts", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge", tuning=tuning)
    env = model_environment(Template.from_stack(s))
    assert env == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_TS_BATCH_SIZE": "8",
        "SAGEMAKER_TS_MAX_BATCH_DELAY": "25",
        "SAGEMAKER_TS_MIN_WORKERS": "2",
        "SAGEMAKER_TS_MAX_WORKERS": "4",
        "SAGEMAKER_TS_RESPONSE_TIMEOUT": "120",
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json",
        "TS_ENABLE_MODEL_API": "true",
        "TS_DEFAULT_RESPONSE_TIMEOUT": "120",
    }


def test_when_triton_serves_a_model_then_the_default_model_and_server_variables_are_set(tarball):
    s = stack()
    TritonEndpoint(s, "Triton", model_data=ModelData.from_asset(tarball), model_name="resnet",
                   instance_type="ml.g5.xlarge", tuning=cfg.TritonTuning(thread_count=16, model_load_gpu_limit=0.8))
    env = model_environment(Template.from_stack(s))
    assert env["SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"] == "resnet"
    assert env["SAGEMAKER_TRITON_THREAD_COUNT"] == "16"
    assert env["SAGEMAKER_TRITON_MODEL_LOAD_GPU_LIMIT"] == "0.8"
    assert env["SAGEMAKER_TRITON_SHM_DEFAULT_BYTE_SIZE"] == "16777216"


@pytest.mark.parametrize(
    ("construct", "kwargs", "instance_type", "image"),
    [
        (TfsEndpoint, {"model_names": ["m"]}, "ml.c5.xlarge", "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.19-cpu"),
        (TfsEndpoint, {"model_names": ["m"]}, "ml.g5.xlarge", "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.19-gpu"),
        (TorchServeEndpoint, {}, "ml.m5.xlarge", "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312"),
        (TritonEndpoint, {"model_name": "m"}, "ml.g5.xlarge", "763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:25.09-py3"),
        (TritonEndpoint, {"model_name": "m"}, "ml.c5.xlarge", "763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:25.09-py3-cpu"),
    ],
)
def test_when_the_instance_type_has_a_gpu_then_the_gpu_image_is_chosen(tarball, construct, kwargs, instance_type, image):
    s = stack()
    construct(s, "E", model_data=ModelData.from_asset(tarball), instance_type=instance_type, **kwargs)
    template = Template.from_stack(s)
    template.has_resource_properties("AWS::SageMaker::Model", {"PrimaryContainer": {"Image": image}})
    repository = image.split("/")[1].split(":")[0]
    ecr = [st for st in policy_statements(template) if "ecr:BatchGetImage" in st["Action"]]
    assert ecr[0]["Resource"] == f"arn:aws:ecr:us-east-1:763104351884:repository/{repository}"


def test_when_the_region_uses_another_dlc_account_then_the_image_and_its_policy_use_it(tarball):
    s = stack(cdk.Environment(account="111122223333", region="ap-east-1"))
    TorchServeEndpoint(s, "Ts", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge")
    template = Template.from_stack(s)
    template.has_resource_properties("AWS::SageMaker::Model", {
        "PrimaryContainer": {"Image": "871362719292.dkr.ecr.ap-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312"}})


def test_when_synthesized_then_no_sagemaker_resource_has_a_fixed_name(tarball):
    s = stack()
    TorchServeEndpoint(s, "Ts", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge")
    template = Template.from_stack(s)
    for kind, name in [("AWS::SageMaker::Model", "ModelName"), ("AWS::SageMaker::EndpointConfig", "EndpointConfigName"),
                       ("AWS::SageMaker::Endpoint", "EndpointName")]:
        (resource,) = template.find_resources(kind).values()
        assert name not in resource["Properties"], f"{kind} has a fixed {name}: EndpointConfig is immutable"


def test_when_the_role_is_made_then_it_has_no_aws_managed_policy_and_reads_only_its_model_object(tarball):
    s = stack()
    TorchServeEndpoint(s, "Ts", model_data=ModelData.from_asset(tarball, identity="ab" * 32), instance_type="ml.m5.xlarge")
    template = Template.from_stack(s)
    (role,) = template.find_resources("AWS::IAM::Role").values()
    assert "ManagedPolicyArns" not in role["Properties"]
    assert "Policies" not in role["Properties"]
    template.resource_count_is("AWS::IAM::Policy", 0)  # no inline policy (HIPAA/NIST IAMNoInlinePolicy)
    s3 = [st for st in policy_statements(template) if "s3:GetObject" in st["Action"]]
    assert len(s3) == 1 and s3[0]["Action"] == "s3:GetObject"
    object_arn = s3[0]["Resource"]["Fn::Join"][1][-1]
    (model,) = template.find_resources("AWS::SageMaker::Model").values()
    key = model["Properties"]["PrimaryContainer"]["ModelDataUrl"].rsplit("/", 1)[1]
    assert object_arn.endswith("/" + key), "the grant must name the one object, not the bucket"
    actions = {a for st in policy_statements(template) for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    assert not any(a.endswith("*") for a in actions)


def test_when_the_model_data_is_an_s3_uri_then_the_role_reads_exactly_that_key(tarball):
    s = stack()
    TorchServeEndpoint(s, "Ts", model_data=ModelData.from_s3_uri("s3://my-models/qa/v3/model.tar.gz"),
                       instance_type="ml.m5.xlarge")
    template = Template.from_stack(s)
    template.has_resource_properties("AWS::SageMaker::Model", {
        "PrimaryContainer": {"ModelDataUrl": "s3://my-models/qa/v3/model.tar.gz"}})
    s3 = [st for st in policy_statements(template) if st["Action"] == "s3:GetObject"]
    assert s3[0]["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::my-models/qa/v3/model.tar.gz"]]}


def model_data_url(tarball, identity: str | None) -> str:
    s = stack()
    TorchServeEndpoint(s, "Ts", model_data=ModelData.from_asset(tarball, identity=identity), instance_type="ml.m5.xlarge")
    (model,) = Template.from_stack(s).find_resources("AWS::SageMaker::Model").values()
    return model["Properties"]["PrimaryContainer"]["ModelDataUrl"]


def test_when_the_asset_identity_is_given_then_it_alone_decides_the_object_key(tarball, tmp_path):
    other = tmp_path / "other.tar.gz"
    other.write_bytes(tarball.read_bytes() + b"rebuilt with other bytes")
    assert model_data_url(tarball, "cd" * 32) == model_data_url(other, "cd" * 32)
    assert model_data_url(tarball, "cd" * 32) != model_data_url(tarball, "ef" * 32)


def test_when_no_identity_is_given_then_the_file_bytes_decide_the_object_key(tarball, tmp_path):
    other = tmp_path / "other.tar.gz"
    other.write_bytes(tarball.read_bytes() + b"x")
    assert model_data_url(tarball, None) != model_data_url(other, None)


def test_when_a_kms_key_is_given_on_an_ebs_instance_then_the_endpoint_config_uses_it(tarball):
    s = stack()
    key = kms.Key(s, "Key", enable_key_rotation=True)
    TorchServeEndpoint(s, "Ts", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge", kms_key=key)
    template = Template.from_stack(s)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("Key"), "Arn"]}})
    decrypt = [st for st in policy_statements(template) if st["Action"] == "kms:Decrypt"]
    assert len(decrypt) == 1


def test_when_the_instance_has_nvme_storage_then_the_volume_key_is_left_out_with_a_warning(tarball):
    s = stack()
    key = kms.Key(s, "Key", enable_key_rotation=True)
    TritonEndpoint(s, "Triton", model_data=ModelData.from_asset(tarball), model_name="m", instance_type="ml.g5.xlarge",
                   kms_key=key)
    template = Template.from_stack(s)
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    assert "KmsKeyId" not in config["Properties"]
    Annotations.from_stack(s).has_warning("/Test/Triton", Match.string_like_regexp("NVMe instance storage"))


def test_when_grant_invoke_is_called_then_the_grantee_may_invoke_only_this_endpoint(tarball):
    s = stack()
    endpoint = TorchServeEndpoint(s, "Ts", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge")
    caller = iam.Role(s, "Caller", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(caller)
    template = Template.from_stack(s)
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == [
        "sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync", "sagemaker:InvokeEndpointWithResponseStream"]
    (endpoint_id,) = template.find_resources("AWS::SageMaker::Endpoint")
    assert statement["Resource"] == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":sagemaker:us-east-1:111122223333:endpoint/",
        {"Fn::GetAtt": [endpoint_id, "EndpointName"]}]]}


def test_when_metrics_are_asked_for_then_they_carry_the_official_names_units_and_dimensions(tarball):
    s = stack()
    endpoint = TritonEndpoint(s, "Triton", model_data=ModelData.from_asset(tarball), model_name="m",
                              instance_type="ml.g5.xlarge")
    latency = endpoint.metric_model_latency()
    assert (latency.namespace, latency.metric_name, latency.statistic) == ("AWS/SageMaker", "ModelLatency", "p99")
    assert set(latency.dimensions) == {"EndpointName", "VariantName"}
    gpu = endpoint.metric_gpu_utilization()
    assert (gpu.namespace, gpu.metric_name) == ("/aws/sagemaker/Endpoints", "GPUUtilization")
    assert endpoint.metric_invocation5xx_errors().metric_name == "Invocation5XXErrors"
    assert endpoint.metric_invocations().statistic == "Sum"
    assert endpoint.metric_cpu_utilization().metric_name == "CPUUtilization"


def test_when_the_instance_type_is_unknown_then_the_construct_suggests_one(tarball):
    with pytest.raises(ValueError, match=r"instance_type 'ml.g5.xlage' is unknown; .*did you mean 'ml.g5.xlarge'"):
        TorchServeEndpoint(stack(), "Ts", model_data=ModelData.from_asset(tarball), instance_type="ml.g5.xlage")


def test_when_a_gpu_only_setting_meets_a_cpu_instance_then_the_construct_refuses(tarball):
    with pytest.raises(ValueError, match=r"tuning.model_load_gpu_limit: 0.5 is GPU-only but ml.c5.xlarge has no GPU"):
        TritonEndpoint(stack(), "T", model_data=ModelData.from_asset(tarball), model_name="m", instance_type="ml.c5.xlarge",
                       tuning=cfg.TritonTuning(model_load_gpu_limit=0.5))


def test_when_the_tfs_default_model_is_not_in_the_archive_then_the_construct_refuses(tarball):
    with pytest.raises(ValueError, match=r"default_model_name 'b' is none of \['a'\]"):
        TfsEndpoint(stack(), "T", model_data=ModelData.from_asset(tarball), model_names=["a"],
                    default_model_name="b", instance_type="ml.c5.xlarge")


def test_when_the_stack_has_no_region_then_the_dlc_image_asks_for_one(tarball):
    with pytest.raises(ValueError, match=r"the DLC image depends on the region, and this stack has none"):
        TorchServeEndpoint(cdk.Stack(cdk.App(), "Agnostic"), "Ts", model_data=ModelData.from_asset(tarball),
                           instance_type="ml.m5.xlarge")


def test_when_an_image_uri_is_not_ecr_then_it_is_refused():
    with pytest.raises(ValueError, match=r"is not an ECR image URI"):
        ContainerImage.from_uri("docker.io/library/python:3.11")


def test_when_an_own_image_is_given_then_it_is_used_and_only_its_repository_pulled(tarball):
    s = stack()
    uri = "111122223333.dkr.ecr.us-east-1.amazonaws.com/my-torchserve:1.4"
    TorchServeEndpoint(s, "Ts", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge",
                       image=ContainerImage.from_uri(uri))
    template = Template.from_stack(s)
    template.has_resource_properties("AWS::SageMaker::Model", {"PrimaryContainer": {"Image": uri}})
    ecr = [st for st in policy_statements(template) if "ecr:BatchGetImage" in st["Action"]]
    assert ecr[0]["Resource"] == "arn:aws:ecr:us-east-1:111122223333:repository/my-torchserve"


def test_when_model_data_is_missing_or_not_s3_then_the_fix_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"is not a file; build it first"):
        ModelData.from_asset(tmp_path / "nope.tar.gz")
    with pytest.raises(ValueError, match=r"is not s3://<bucket>/<key>"):
        ModelData.from_s3_uri("https://bucket.s3.amazonaws.com/model.tar.gz")


def test_when_torchserve_omp_num_threads_is_set_then_the_workers_get_it_on_single_and_multi_model(tarball):
    s = stack()
    tuning = cfg.TorchServeTuning(max_workers=2, omp_num_threads=2)
    TorchServeEndpoint(s, "Ts", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge", tuning=tuning)
    assert model_environment(Template.from_stack(s))["OMP_NUM_THREADS"] == "2"
    multi = cfg.TorchServeTuning(omp_num_threads=1).to_environment("inference.py", multi_model=True)
    assert multi["OMP_NUM_THREADS"] == "1"  # not a SAGEMAKER_TS_* variable: it applies in multi-model mode too


def test_when_batched_forward_is_on_then_torchserve_batches_go_to_the_handlers_handle(tarball):
    s = stack()
    TorchServeEndpoint(s, "Ts", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge",
                       tuning=cfg.TorchServeTuning(batch_size=8, batched_forward=True))
    assert model_environment(Template.from_stack(s))["TS_DEFAULT_SERVICE_HANDLER"] == "inference:handle"
