"""Uncompressed model data: a layout folder copied into the data bucket by CDK's BucketDeployment, or a user's S3
prefix; the Model reads it through ModelDataSource (S3Prefix, CompressionType None)."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from servekit.cdk import ModelData, TorchServeEndpoint, TritonEndpoint
from servekit.rules import model_data as rules

IDENTITY = "ab" * 32


@pytest.fixture
def layout(tmp_path):
    folder = tmp_path / "model"
    (folder / "code").mkdir(parents=True)
    (folder / "model.pt").write_bytes(b"pt" * 1000)
    (folder / "code" / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    return folder


@pytest.fixture
def bucket_and_key(stack):
    key = kms.Key(stack, "Key")
    return s3.Bucket(stack, "Data", encryption=s3.BucketEncryption.KMS, encryption_key=key), key


def served_from_layout(stack, layout, bucket_and_key) -> TorchServeEndpoint:  # noqa: ANN001
    bucket, key = bucket_and_key
    return TorchServeEndpoint(stack, "Qa", instance_type="ml.m5.xlarge", data_bucket=bucket, kms_key=key,
                              model_data=ModelData.from_directory(layout, identity=IDENTITY))


def model_of(template: Template) -> dict:
    (model,) = template.find_resources("AWS::SageMaker::Model").values()
    return model


def execution_statements(template: Template) -> list[dict]:
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_when_a_layout_folder_is_the_model_data_then_the_model_reads_an_uncompressed_prefix(stack, layout,
                                                                                          bucket_and_key):
    served_from_layout(stack, layout, bucket_and_key)
    template = Template.from_stack(stack)
    model = model_of(template)
    container = model["Properties"]["PrimaryContainer"]
    assert "ModelDataUrl" not in container
    source = container["ModelDataSource"]["S3DataSource"]
    assert source["CompressionType"] == "None" and source["S3DataType"] == "S3Prefix"
    (copy_id, copy), = template.find_resources("Custom::CDKBucketDeployment").items()
    props = copy["Properties"]
    (zip_key,) = props["SourceObjectKeys"]
    assert props["DestinationBucketKeyPrefix"] == f"models/{zip_key.removesuffix('.zip')}/"  # CDK's asset hash
    assert source["S3Uri"]["Fn::Join"][1][-1] == f"/{props['DestinationBucketKeyPrefix']}"
    # Kept on update and delete: otherwise the handler removes the old prefix while the endpoint still needs it.
    assert props["RetainOnDelete"] is True and props["Prune"] is False
    assert copy_id in model["DependsOn"]  # the files are in place before the Model exists


def test_when_a_layout_is_copied_then_the_role_lists_and_reads_only_its_prefix(stack, layout, bucket_and_key):
    served_from_layout(stack, layout, bucket_and_key)
    template = Template.from_stack(stack)
    (copy,) = template.find_resources("Custom::CDKBucketDeployment").values()
    prefix = copy["Properties"]["DestinationBucketKeyPrefix"]
    statements = execution_statements(template)
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
    reads = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert [json.dumps(s["Resource"]).endswith(f'"/{prefix}*"]]}}') for s in reads] == [True]
    assert any(s["Action"] == "kms:Decrypt" for s in statements)


def test_when_the_same_build_is_a_tarball_or_a_layout_then_both_carry_one_hash(layout, archives):
    """The prefix is CDK's asset hash of the build identity, the one the model.tar.gz's key has: `servekit diff` of a
    switch between the two packagings shows the same hash on both sides."""
    env = cdk.Environment(account="111122223333", region="us-east-1")
    app = cdk.App()
    tarball, folder = cdk.Stack(app, "Tar", env=env), cdk.Stack(app, "Dir", env=env)
    TorchServeEndpoint(tarball, "Qa", instance_type="ml.m5.xlarge",
                       model_data=ModelData.from_asset(archives["torchserve_pip"], identity=IDENTITY))
    key = kms.Key(folder, "Key")
    TorchServeEndpoint(folder, "Qa", instance_type="ml.m5.xlarge", data_bucket=s3.Bucket(folder, "Data"),
                       kms_key=key, model_data=ModelData.from_directory(layout, identity=IDENTITY))
    url = json.dumps(model_of(Template.from_stack(tarball))["Properties"]["PrimaryContainer"]["ModelDataUrl"])
    (copy,) = Template.from_stack(folder).find_resources("Custom::CDKBucketDeployment").values()
    asset_hash = copy["Properties"]["DestinationBucketKeyPrefix"].split("/")[1]
    assert len(asset_hash) == 64 and f"/{asset_hash}." in url


def test_when_a_layout_is_copied_then_the_copying_function_may_use_the_buckets_key(stack, layout, bucket_and_key):
    served_from_layout(stack, layout, bucket_and_key)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": ["kms:Encrypt", "kms:GenerateDataKey"]})])}})
    (function,) = [f for f in template.find_resources("AWS::Lambda::Function").values()
                   if "EphemeralStorage" in f["Properties"]]
    assert function["Properties"]["EphemeralStorage"] == {"Size": rules.deployment_storage_mib(2000 + 40)}
    skipped = {s["id"] for s in function["Metadata"]["checkov"]["skip"]}
    assert skipped == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"}


def test_when_a_layout_has_no_data_bucket_then_the_construct_says_where_it_would_go(stack, layout):
    with pytest.raises(ValueError, match=r"an uncompressed layout is copied into the endpoint's data bucket, and none "
                                         r"was given; pass data_bucket"):
        TorchServeEndpoint(stack, "Qa", instance_type="ml.m5.xlarge",
                           model_data=ModelData.from_directory(layout, identity=IDENTITY))


def test_when_a_layout_path_is_a_file_then_model_data_refuses_it(tmp_path):
    (tmp_path / "model.tar.gz").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"is not a folder; build it first"):
        ModelData.from_directory(tmp_path / "model.tar.gz", identity=IDENTITY)


def test_when_the_layout_installs_packages_at_start_then_network_isolation_is_off(stack, layout, bucket_and_key):
    (layout / "code" / "requirements.txt").write_text("transformers==4.57.6\n")
    served_from_layout(stack, layout, bucket_and_key)
    assert model_of(Template.from_stack(stack))["Properties"]["EnableNetworkIsolation"] is False


def test_when_a_users_prefix_is_the_model_data_then_nothing_is_copied_and_the_grant_is_that_prefix(stack):
    TritonEndpoint(stack, "Rn", model_data=ModelData.from_s3_layout_prefix("s3://team-models/resnet/v3/"),
                   model_name="resnet", instance_type="ml.g5.xlarge")
    template = Template.from_stack(stack)
    source = model_of(template)["Properties"]["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert source == {"CompressionType": "None", "S3DataType": "S3Prefix", "S3Uri": "s3://team-models/resnet/v3/"}
    assert template.find_resources("Custom::CDKBucketDeployment") == {}
    statements = execution_statements(template)
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert listing["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::team-models"]]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["resnet/v3/*"]}}


@pytest.mark.parametrize("uri", ["s3://team-models/resnet/v3", "team-models/resnet/", "s3://team-models/"])
def test_when_a_layout_prefix_is_not_a_prefix_then_model_data_refuses_it(uri):
    with pytest.raises(ValueError, match=r"is not s3://<bucket>/<prefix>/ \(with the trailing '/'\)"):
        ModelData.from_s3_layout_prefix(uri)


def test_when_a_layout_is_too_big_for_the_copying_function_then_the_fix_is_to_upload_it_yourself():
    assert rules.deployment_problem(1 << 30, "x") is None  # 1 GiB: 2 x 1,024 + 256 MiB fits
    problem = rules.deployment_problem(6 << 30, "endpoints[0] (llm)")
    assert problem is not None
    assert "12,544 MiB, over Lambda's 10,240" in str(problem)
    assert "aws s3 sync <folder> s3://<bucket>/<prefix>/" in str(problem)
    assert rules.deployment_storage_mib(0) == 512  # Lambda's minimum


def test_when_a_layout_file_is_over_2_gib_then_the_cdk_cli_could_not_zip_it_and_the_fix_is_shards_or_a_prefix():
    assert rules.deployment_problem(2**31 - 1, "x", largest_file_bytes=2**31 - 1) is None
    problem = rules.deployment_problem(3 << 30, "endpoints[0] (llm)", largest_file_bytes=(5 << 30) // 2)
    assert "'a 2.50 GiB file': the CDK CLI zips a folder asset at publish and cannot read a file over 2 GiB" in str(problem)
    assert "shard the weights" in str(problem) and "s3://<bucket>/<prefix>/" in str(problem)


def test_when_a_layout_name_cannot_be_an_s3_key_part_then_the_layout_check_names_it():
    long_name = "w" * 256
    problems = rules.layout_problems({f"m/1/{long_name}", "m/config.pbtxt"}, {"m", "m/1"})
    assert problems == [f"m/1/{long_name}: SageMaker refuses this name in an S3 prefix (empty, '.', '..', a null byte "
                        "or over 255 bytes); rename it"]


def test_when_an_app_uses_the_shared_stack_then_an_uncompressed_endpoint_gets_the_data_bucket(tmp_path):
    """Through servekit.yaml: model_data: uncompressed makes the shared stack create its data bucket."""
    from servekit import config as cfg

    data = {"app": {"name": "svc", "region": "us-east-1"}, "endpoints": [{
        "name": "qa", "server": "torchserve", "instance_type": "ml.m5.xlarge", "model_data": "uncompressed",
        "model": {"source": {"kind": "torchscript", "path": str(tmp_path / "m.pt")}}}]}
    (tmp_path / "m.pt").write_bytes(b"pt")
    config = cfg.parse(data)
    assert config.endpoints[0].copies_layout and config.endpoints[0].uses_shared_bucket
    data["endpoints"][0]["model"]["source"] = {"kind": "s3", "uri": "s3://team-models/qa/"}
    assert not cfg.parse(data).endpoints[0].uses_shared_bucket  # a user's prefix needs no copy


def test_when_the_stack_is_synthesized_then_cdk_nag_acknowledges_only_the_copying_functions_findings(layout):
    from servekit.constructs.nag import acknowledge_endpoint_findings, add_nag_packs

    app = cdk.App()
    stack = cdk.Stack(app, "Svc", env=cdk.Environment(account="111122223333", region="us-east-1"))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket.from_bucket_attributes(stack, "Data", bucket_arn="arn:aws:s3:::data-bucket")
    endpoint = TorchServeEndpoint(stack, "Qa", instance_type="ml.m5.xlarge",
                       model_data=ModelData.from_directory(layout, identity=IDENTITY),
                                  data_bucket=bucket, kms_key=key, endpoint_name="svc-qa")
    acknowledge_endpoint_findings(endpoint)
    add_nag_packs(app)
    app.synth()  # raises on any finding left unacknowledged


def test_when_a_component_is_uncompressed_then_its_model_reads_the_prefix_and_the_stack_passes_cdk_nag(
        default_config_data, layout, archives):
    """Through servekit.yaml: a component endpoint whose resnet component is uncompressed; its copy goes to the
    shared data bucket, its Model reads the prefix, and every cdk-nag finding is acknowledged (the synth raises)."""
    from component_fixtures import component_endpoint

    from servekit import config as cfg
    from servekit import naming
    from servekit.constructs.nag import add_nag_packs
    from servekit.stacks import add_serving_stacks

    component_endpoint(default_config_data)["components"][1]["model_data"] = "uncompressed"
    default_config_data["endpoints"] = []
    config = cfg.parse(default_config_data)
    model_data = {key: ModelData.from_directory(layout, identity=IDENTITY) if ep.copies_layout
                  else ModelData.from_asset(archives["torchserve_pip"]) for key, ep in naming.artifact_endpoints(config)}
    app = cdk.App()
    stacks = add_serving_stacks(app, config, model_data)
    add_nag_packs(app)
    assembly = app.synth()
    template = assembly.get_stack_by_name(stacks["gpu-fleet"].stack_name).template
    models = {k: v["Properties"]["PrimaryContainer"] for k, v in template["Resources"].items()
              if v["Type"] == "AWS::SageMaker::Model"}
    assert sorted("ModelDataSource" in c for c in models.values()) == [False, True]
    assert [v["Type"] for v in template["Resources"].values()].count("Custom::CDKBucketDeployment") == 1
    shared = assembly.get_stack_by_name("servekit-dev-shared").template
    assert any("DataBucket" in k and v["Type"] == "AWS::S3::Bucket" for k, v in shared["Resources"].items())
