"""Data capture and async inference: where the endpoint writes, encrypted with the app's key, and the
execution role's access to exactly those prefixes; the shared stack's data bucket."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from servekit import config as cfg
from servekit import naming
from servekit.cdk import ModelData, TfsEndpoint


def tfs(stack, archives, **kwargs):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    return TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                       instance_type="ml.c5.xlarge", endpoint_name="svc-ic", kms_key=key, **kwargs)


def statements(template: Template) -> list[dict]:
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def with_action(template: Template, action: str) -> list[dict]:
    return [s for s in statements(template) if action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]


def test_when_capture_goes_to_the_shared_bucket_then_it_is_encrypted_sampled_and_typed(stack, archives):
    bucket = s3.Bucket(stack, "Data")
    tfs(stack, archives, data_bucket=bucket, data_capture=cfg.DataCapture(
        shared_bucket=True, sampling_percent=35, capture_output=False, csv_content_types=[]))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"DataCaptureConfig": {
        "EnableCapture": True,
        "InitialSamplingPercentage": 35,
        "CaptureOptions": [{"CaptureMode": "Input"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        "DestinationS3Uri": {"Fn::Join": ["", ["s3://", {"Ref": Match.string_like_regexp("Data")}, "/data-capture/svc-ic"]]},
        "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("Key"), "Arn"]},
    }})


def test_when_capture_is_on_then_the_role_may_only_put_objects_under_its_prefix_and_use_the_key(stack, archives):
    bucket = s3.Bucket(stack, "Data")
    tfs(stack, archives, data_bucket=bucket, data_capture=cfg.DataCapture(shared_bucket=True))
    template = Template.from_stack(stack)
    (put,) = with_action(template, "s3:PutObject")
    assert put["Action"] == "s3:PutObject"
    assert put["Resource"]["Fn::Join"][1][-1] == "/data-capture/svc-ic/*"
    (encrypt,) = with_action(template, "kms:GenerateDataKey")
    assert sorted(encrypt["Action"]) == ["kms:Encrypt", "kms:GenerateDataKey"]
    assert not with_action(template, "s3:GetObject")[1:], "capture must not read anything beyond the model"


def test_when_capture_goes_to_a_given_uri_then_the_grant_names_that_prefix(stack, archives):
    tfs(stack, archives, data_capture=cfg.DataCapture(s3_uri="s3://team-capture/image-classifier/"))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"DataCaptureConfig": Match.object_like({
        "DestinationS3Uri": "s3://team-capture/image-classifier"})})
    (put,) = with_action(template, "s3:PutObject")
    assert put["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::team-capture/image-classifier/*"]]}


def test_when_the_shared_bucket_is_wanted_but_not_given_then_the_construct_says_so(stack, archives):
    with pytest.raises(ValueError, match=r"data_capture uses the shared bucket, and none was given; pass data_bucket"):
        tfs(stack, archives, data_capture=cfg.DataCapture(shared_bucket=True))


def test_when_async_inference_is_on_then_results_paths_topics_and_concurrency_are_set(stack, archives):
    tfs(stack, archives, data_bucket=s3.Bucket(stack, "Data"), async_inference=cfg.AsyncInference(
        failure_s3_uri="s3://team-errors/ic", success_topic_arn="arn:aws:sns:us-east-1:111122223333:done",
        error_topic_arn="arn:aws:sns:us-east-1:111122223333:failed", include_response_in=["success"],
        max_concurrent_invocations_per_instance=4))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"AsyncInferenceConfig": {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
        "OutputConfig": {
            "S3OutputPath": {"Fn::Join": ["", ["s3://", {"Ref": Match.string_like_regexp("Data")},
                                               "/async-inference/svc-ic/output"]]},
            "S3FailurePath": "s3://team-errors/ic",
            "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("Key"), "Arn"]},
            "NotificationConfig": {"SuccessTopic": "arn:aws:sns:us-east-1:111122223333:done",
                                   "ErrorTopic": "arn:aws:sns:us-east-1:111122223333:failed",
                                   "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"]},
        },
    }})


def test_when_async_inference_is_on_then_the_role_reads_inputs_writes_results_and_publishes_only_there(stack, archives):
    tfs(stack, archives, data_bucket=s3.Bucket(stack, "Data"), async_inference=cfg.AsyncInference(
        success_topic_arn="arn:aws:sns:us-east-1:111122223333:done"))
    template = Template.from_stack(stack)
    (publish,) = with_action(template, "sns:Publish")
    assert publish["Resource"] == "arn:aws:sns:us-east-1:111122223333:done"
    (write,) = with_action(template, "s3:PutObject")
    assert sorted(r["Fn::Join"][1][-1] for r in write["Resource"]) == [
        "/async-inference/svc-ic/failure/*", "/async-inference/svc-ic/output/*"]
    reads = [s for s in with_action(template, "s3:GetObject") if "Fn::Join" in json.dumps(s["Resource"])
             and "async-inference" in json.dumps(s["Resource"])]
    assert reads[0]["Resource"]["Fn::Join"][1][-1] == "/async-inference/svc-ic/input/*"
    assert "kms:Decrypt" in with_action(template, "kms:GenerateDataKey")[0]["Action"]


def shared_template(default_config_data, tarball) -> tuple[Template, Template]:
    from servekit.stacks import add_serving_stacks

    config = cfg.parse(default_config_data)
    app = cdk.App()
    stacks = add_serving_stacks(app, config, {k: ModelData.from_asset(tarball) for k, _ in naming.artifact_endpoints(config)})
    shared = next(s for s in app.node.children if isinstance(s, cdk.Stack) and s.stack_name.endswith("-shared"))
    return Template.from_stack(shared), Template.from_stack(stacks["question-answering"])


def test_when_an_endpoint_captures_to_the_shared_bucket_then_the_bucket_is_kms_logged_and_tls_only(default_config_data, archives):
    shared, _ = shared_template(default_config_data, archives["tfs"])
    shared.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                              "KMSMasterKeyID": {"Fn::GetAtt": [Match.string_like_regexp("VolumeKey"), "Arn"]}},
            "BucketKeyEnabled": True}]},
        "LoggingConfiguration": {"DestinationBucketName": {"Ref": Match.string_like_regexp("AccessLogsBucket")},
                                 "LogFilePrefix": "data-bucket/"},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "VersioningConfiguration": {"Status": "Enabled"},
    })
    policies = shared.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        assert any(st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for st in policy["Properties"]["PolicyDocument"]["Statement"]), "TLS-only (enforce_ssl)"


def test_when_the_default_app_is_built_then_question_answering_captures_to_the_shared_bucket(default_config_data, archives):
    _, qa = shared_template(default_config_data, archives["torchserve_pip"])
    qa.has_resource_properties("AWS::SageMaker::EndpointConfig", {"DataCaptureConfig": Match.object_like({
        "DestinationS3Uri": {"Fn::Join": ["", ["s3://", {"Fn::ImportValue": "servekit-dev-shared-DataBucketName"},
                                               "/data-capture/servekit-dev-question-answering"]]},
        "InitialSamplingPercentage": 20})})


def test_when_no_endpoint_needs_the_shared_bucket_then_none_is_made(default_config_data, archives):
    del default_config_data["endpoints"][1]["data_capture"]
    shared, _ = shared_template(default_config_data, archives["tfs"])
    shared.resource_count_is("AWS::S3::Bucket", 0)
