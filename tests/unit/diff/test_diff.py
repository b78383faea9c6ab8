"""`servekit diff` on small hand-made templates shaped like servekit's: each kind of change gets the impact a
reviewer needs, with its root cause, and the replacement rules agree with CloudFormation's resource schemas."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from servekit import diff

ASSET = "s3://cdk-hnb659fds-assets-${AWS::AccountId}-us-east-1/%s.gz"
HASH_A = "1722055ed4a44bc70bf35c774966c17608b04ce992c805ce9181bb6ff223c32b"
HASH_B = "8230eea929b854a3f5d5944c5d3ec3453c20b560ad32512fde0ce6c06034cbb0"
CANARY = {
    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": {"Ref": "Alarm5xx"}}]},
    "BlueGreenUpdatePolicy": {
        "MaximumExecutionTimeoutInSeconds": 3600, "TerminationWaitInSeconds": 120,
        "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 300,
                                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}},
}


def serving_template(name: str, *, env: dict | None = None, model_hash: str = HASH_A, instance_type: str = "ml.m5.xlarge",
                     tags: dict | None = None, deployment: dict | None = CANARY, threshold: int = 1,
                     max_capacity: int = 4, model_id: str = "EndpointModel0F230181") -> dict:
    tag_list = [{"Key": k, "Value": v} for k, v in (tags or {"servekit:env": "dev"}).items()]
    endpoint = {"EndpointName": name, "Tags": tag_list,
                "EndpointConfigName": {"Fn::GetAtt": ["EndpointConfig", "EndpointConfigName"]}}
    if deployment is not None:
        endpoint["DeploymentConfig"] = deployment
    return {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
            model_id: {"Type": "AWS::SageMaker::Model", "Properties": {
                "ExecutionRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "PrimaryContainer": {
                    "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
                    "ModelDataUrl": {"Fn::Sub": ASSET % model_hash},
                    "Environment": env or {"SAGEMAKER_TS_BATCH_SIZE": "1", "SAGEMAKER_TS_MAX_BATCH_DELAY": "50"}},
                "Tags": tag_list}},
            "EndpointConfig": {"Type": "AWS::SageMaker::EndpointConfig", "Properties": {
                "KmsKeyId": {"Fn::ImportValue": "servekit-dev-shared:ExportsOutputKeyArn"},
                "ProductionVariants": [{"InitialInstanceCount": 1, "InitialVariantWeight": 1, "InstanceType": instance_type,
                                        "ModelName": {"Fn::GetAtt": [model_id, "ModelName"]}, "VariantName": "AllTraffic"}],
                "Tags": tag_list}},
            "Endpoint": {"Type": "AWS::SageMaker::Endpoint", "Properties": endpoint},
            "Alarm5xx": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Threshold": threshold, "EvaluationPeriods": 3}},
            "ScalableTarget": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {
                "MaxCapacity": max_capacity, "MinCapacity": 1, "ResourceId": f"endpoint/{name}/variant/AllTraffic",
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount", "ServiceNamespace": "sagemaker"}},
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:abc"}},
        },
        "Outputs": {"EndpointName": {"Value": name}, "Server": {"Value": "torchserve"}},
    }


def shared_template(key_id: str = "VolumeKey", description: str = "volumes") -> dict:
    return {
        "Resources": {key_id: {"Type": "AWS::KMS::Key", "Properties": {"Description": description, "KeyPolicy": {}}}},
        "Outputs": {"ExportsOutputKeyArn": {"Value": {"Fn::GetAtt": [key_id, "Arn"]},
                                            "Export": {"Name": "servekit-dev-shared:ExportsOutputKeyArn"}}},
    }


def assembly(**templates: dict) -> dict[str, diff.StackTemplate]:
    return {name: diff.StackTemplate(name, name, template) for name, template in templates.items()}


def default(**changes) -> dict[str, diff.StackTemplate]:
    """The shared stack and two endpoint stacks; keyword arguments change the question-answering one."""
    shared = changes.pop("shared", shared_template())
    return assembly(**{
        "servekit-dev-shared": shared,
        "servekit-dev-question-answering": serving_template("servekit-dev-question-answering", **changes),
        "servekit-dev-resnet": serving_template("servekit-dev-resnet"),
    })


def impacts(old, new) -> dict[str, diff.EndpointImpact]:
    report = diff.compare(old, new)
    return {e.endpoint: e for e in report.endpoints}


def test_when_nothing_changes_then_every_endpoint_and_stack_says_no_change():
    report = diff.compare(default(), default())
    assert {e.endpoint: e.headline for e in report.endpoints} == {
        "servekit-dev-question-answering": "no change", "servekit-dev-resnet": "no change"}
    assert [s.headline for s in report.others] == ["no change"]
    assert "property diff: none" in diff.render_text(report)


def test_when_one_env_var_changes_then_only_that_endpoint_gets_a_new_fleet_because_of_it():
    new = default(env={"SAGEMAKER_TS_BATCH_SIZE": "4", "SAGEMAKER_TS_MAX_BATCH_DELAY": "50"})
    result = impacts(default(), new)
    qa = result["servekit-dev-question-answering"]
    assert qa.impact == "fleet replaced"
    assert qa.headline == "fleet replaced — new EndpointConfig, because SAGEMAKER_TS_BATCH_SIZE 1→4"
    assert qa.traffic.startswith("blue/green canary: 10% of capacity first, bake 300 s, then the rest; old fleet kept 120 s.")
    assert "Auto-rollback on 1 alarm(s)" in qa.traffic
    assert qa.in_place == []
    assert result["servekit-dev-resnet"].impact == "no change"


def test_the_replacement_chain_model_config_endpoint_is_in_the_raw_diff():
    report = diff.compare(default(), default(env={"SAGEMAKER_TS_BATCH_SIZE": "4", "SAGEMAKER_TS_MAX_BATCH_DELAY": "50"}))
    text = diff.render_text(report)
    assert "± EndpointModel0F230181 AWS::SageMaker::Model: REPLACED" in text
    assert 'PrimaryContainer.Environment.SAGEMAKER_TS_BATCH_SIZE: "1" → "4"' in text
    assert "± EndpointConfig AWS::SageMaker::EndpointConfig: REPLACED" in text
    assert "ProductionVariants[0].ModelName: new value because EndpointModel0F230181 is replaced" in text
    assert "~ Endpoint AWS::SageMaker::Endpoint: updated in place" in text
    assert "EndpointConfigName: new value because EndpointConfig is replaced" in text


def test_when_the_model_artifact_changes_then_the_reason_names_both_asset_hashes():
    qa = impacts(default(), default(model_hash=HASH_B))["servekit-dev-question-answering"]
    assert qa.because == [f"model artifact changed ({HASH_A[:12]} → {HASH_B[:12]})"]


def test_when_a_model_switches_to_uncompressed_model_data_then_the_reason_says_which_packaging_replaced_which():
    new = default()
    container = new["servekit-dev-question-answering"].template["Resources"]["EndpointModel0F230181"]["Properties"][
        "PrimaryContainer"]
    del container["ModelDataUrl"]
    container["ModelDataSource"] = {"S3DataSource": {"CompressionType": "None", "S3DataType": "S3Prefix", "S3Uri": {
        "Fn::Join": ["", ["s3://", {"Fn::ImportValue": "servekit-dev-shared-DataBucketName"}, f"/models/{HASH_B}/"]]}}}
    qa = impacts(default(), new)["servekit-dev-question-answering"]
    assert qa.impact == "fleet replaced"
    assert set(qa.because) == {f"model.tar.gz removed (was {HASH_A[:12]})", f"uncompressed model data added ({HASH_B[:12]})"}
    assert "uncompressed model data added" in diff.render_text(diff.compare(default(), new))


def with_metrics(stacks: dict, **metrics) -> dict:
    config = stacks["servekit-dev-question-answering"].template["Resources"]["EndpointConfig"]["Properties"]
    config["MetricsConfig"] = {"EnableDetailedObservability": False, "EnableEnhancedMetrics": False,
                               "MetricPublishFrequencyInSeconds": 60, **metrics}
    return stacks


def test_when_detailed_observability_is_turned_on_then_the_fleet_is_replaced_because_of_it():
    qa = impacts(with_metrics(default()), with_metrics(default(), EnableDetailedObservability=True))[
        "servekit-dev-question-answering"]
    assert qa.headline == "fleet replaced — new EndpointConfig, because detailed observability false→true"


def test_when_servekit_starts_stating_metrics_config_then_the_diff_says_it_was_added():
    qa = impacts(default(), with_metrics(default()))["servekit-dev-question-answering"]
    assert qa.impact == "fleet replaced" and qa.because == ["MetricsConfig added"]


def test_when_the_instance_type_changes_then_the_fleet_is_replaced_because_of_it():
    qa = impacts(default(), default(instance_type="ml.g5.xlarge"))["servekit-dev-question-answering"]
    assert qa.headline == "fleet replaced — new EndpointConfig, because instance type ml.m5.xlarge→ml.g5.xlarge"


def test_when_a_variable_is_added_and_one_removed_then_both_are_named():
    new = default(env={"SAGEMAKER_TS_BATCH_SIZE": "1", "SAGEMAKER_TS_RESPONSE_TIMEOUT": "30"})
    qa = impacts(default(), new)["servekit-dev-question-answering"]
    assert qa.because == ["SAGEMAKER_TS_MAX_BATCH_DELAY 50→unset", "SAGEMAKER_TS_RESPONSE_TIMEOUT unset→30"]


def test_when_only_tags_alarms_and_scaling_change_then_the_endpoint_changes_in_place():
    new = default(tags={"servekit:env": "dev", "team": "ml"}, threshold=5, max_capacity=8)
    qa = impacts(default(), new)["servekit-dev-question-answering"]
    assert qa.impact == "in place"
    assert qa.headline == "in place (tags, alarms, scaling)"
    assert qa.traffic is None


def test_when_only_the_deployment_policy_changes_then_it_is_in_place():
    linear = copy.deepcopy(CANARY)
    linear["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] = {
        "Type": "LINEAR", "WaitIntervalInSeconds": 180, "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50}}
    qa = impacts(default(), default(deployment=linear))["servekit-dev-question-answering"]
    assert qa.headline == "in place (deployment policy)"


def test_a_fleet_change_together_with_a_new_policy_shifts_traffic_as_the_new_policy_says():
    linear = copy.deepcopy(CANARY)
    linear["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] = {
        "Type": "LINEAR", "WaitIntervalInSeconds": 180, "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50}}
    qa = impacts(default(), default(deployment=linear, instance_type="ml.c5.xlarge"))["servekit-dev-question-answering"]
    assert qa.impact == "fleet replaced"
    assert qa.traffic.startswith("blue/green linear: 50% of capacity per step, 180 s between steps")
    assert qa.in_place == ["deployment policy"]


def test_without_a_deployment_policy_the_traffic_line_says_what_sagemaker_does_by_default():
    old, new = default(deployment=None), default(deployment=None, model_hash=HASH_B)
    qa = impacts(old, new)["servekit-dev-question-answering"]
    assert qa.traffic.startswith("SageMaker's default: blue/green, all traffic at once")


def test_when_the_endpoint_name_changes_then_the_endpoint_itself_is_replaced():
    old = default()
    new = copy.deepcopy(old)
    new["servekit-dev-resnet"].template["Resources"]["Endpoint"]["Properties"]["EndpointName"] = "servekit-dev-resnet2"
    resnet = impacts(old, new)["servekit-dev-resnet2"]
    assert resnet.impact == "endpoint replaced"
    assert "endpoint name servekit-dev-resnet→servekit-dev-resnet2" in resnet.headline


def test_when_cdk_renames_the_model_then_the_fleet_is_replaced_and_the_reason_says_so():
    qa = impacts(default(), default(model_id="EndpointModelRenamed1234"))["servekit-dev-question-answering"]
    assert qa.impact == "fleet replaced"
    assert qa.because == ["Model EndpointModelRenamed1234 has a new logical id (was EndpointModel0F230181)"]


def test_when_the_shared_key_is_replaced_then_every_endpoint_that_imports_it_gets_a_new_fleet():
    new = default(shared=shared_template(key_id="VolumeKeyV2"))
    report = diff.compare(default(), new)
    result = {e.endpoint: e for e in report.endpoints}
    for name in ("servekit-dev-question-answering", "servekit-dev-resnet"):
        assert result[name].impact == "fleet replaced"
        assert result[name].because == ["KmsKeyId comes from export servekit-dev-shared:ExportsOutputKeyArn, which "
                                        "changes (servekit-dev-shared: VolumeKeyV2 replaced)"]
    assert report.others[0].headline == "resources replaced (VolumeKeyV2 (AWS::KMS::Key) replaced)"


def test_an_in_place_change_of_the_shared_key_changes_no_endpoint():
    report = diff.compare(default(), default(shared=shared_template(description="volumes, rotated yearly")))
    assert all(e.impact == "no change" for e in report.endpoints)
    assert report.others[0].headline == "in place (Key.Description)"


def test_cdk_metadata_changes_alone_are_no_change():
    new = default()
    new["servekit-dev-resnet"].template["Resources"]["CDKMetadata"]["Properties"]["Analytics"] = "v2:deflate64:xyz"
    assert impacts(default(), new)["servekit-dev-resnet"].impact == "no change"


def test_new_and_removed_endpoint_stacks():
    old = default()
    new = default()
    del new["servekit-dev-resnet"]
    new["servekit-dev-qa2"] = diff.StackTemplate("servekit-dev-qa2", "servekit-dev-qa2", serving_template("servekit-dev-qa2"))
    result = impacts(old, new)
    assert result["servekit-dev-resnet"].impact == "endpoint removed"
    assert result["servekit-dev-qa2"].impact == "new endpoint"


def test_a_type_without_a_known_schema_is_updated_but_marked_unknown():
    old = assembly(other={"Resources": {"X": {"Type": "AWS::NoSuch::Thing", "Properties": {"A": 1}}}})
    new = assembly(other={"Resources": {"X": {"Type": "AWS::NoSuch::Thing", "Properties": {"A": 2}}}})
    report = diff.compare(old, new)
    assert report.stacks[0].resources[0].replace_unknown
    assert "replacement unknown" in diff.render_text(report)


def test_markdown_has_a_table_row_per_endpoint_and_the_raw_diff_folded():
    report = diff.compare(default(), default(env={"SAGEMAKER_TS_BATCH_SIZE": "4", "SAGEMAKER_TS_MAX_BATCH_DELAY": "50"}))
    text = diff.render_markdown(report)
    assert "| `servekit-dev-question-answering` | **fleet replaced — new EndpointConfig, because SAGEMAKER_TS_BATCH_SIZE 1→4** |" in text
    assert "| `servekit-dev-resnet` | no change |  |" in text
    assert "<details><summary>property diff</summary>" in text and text.rstrip().endswith("</details>")


def test_assemblies_are_read_through_their_manifest_including_nested_stage_assemblies(tmp_path):
    stage = tmp_path / "assembly-pipeline-prod"
    stage.mkdir()
    (stage / "prod-qa.template.json").write_text(json.dumps(serving_template("servekit-prod-qa")))
    (stage / "manifest.json").write_text(json.dumps({"artifacts": {"pipelineprodqa": {
        "type": "aws:cloudformation:stack", "displayName": "pipeline/prod/servekit-prod-qa",
        "properties": {"templateFile": "prod-qa.template.json", "stackName": "servekit-prod-qa"}}}}))
    (tmp_path / "pipeline.template.json").write_text(json.dumps({"Resources": {}}))
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {
        "pipeline": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "pipeline.template.json"}},
        "assembly-pipeline-prod": {"type": "cdk:cloud-assembly",
                                   "properties": {"directoryName": "assembly-pipeline-prod", "displayName": "pipeline/prod"}},
        "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}}}))
    stacks = diff.load_assembly(tmp_path)
    assert set(stacks) == {"pipeline", "pipeline/prod/servekit-prod-qa"}
    assert stacks["pipeline/prod/servekit-prod-qa"].stack_name == "servekit-prod-qa"
    with pytest.raises(diff.DiffError, match="not a cloud assembly"):
        diff.load_assembly(stage / "nowhere")


@pytest.mark.parametrize("resource_type", sorted(diff.CREATE_ONLY))
def test_the_replacement_table_matches_the_cloudformation_resource_schemas(resource_type):
    """servekit's table of create-only properties is what cfn-lint's copy of the AWS schemas says."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    expected = {p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.startswith("/properties/")}
    assert diff.CREATE_ONLY[resource_type] == expected


def test_not_a_ref_nor_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(diff.DiffError, match="neither a cloud assembly folder"):
        diff.resolve("no-such-ref-xyz", config="servekit.yaml", workdir=tmp_path, cwd=Path(__file__).parent)


def component_template(*, qa_env: dict | None = None, instance_type: str = "ml.g5.12xlarge",
                       memory_mb: int = 4096) -> dict:
    """A component endpoint's stack: the fleet, and two components each naming its own Model."""
    def model(env):
        return {"Type": "AWS::SageMaker::Model", "Properties": {
            "ExecutionRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            "PrimaryContainer": {"Image": "pytorch-inference:2.6-gpu-py312", "ModelDataUrl": {"Fn::Sub": ASSET % HASH_A},
                                 "Environment": env}}}

    def component(name, model_id, memory):
        return {"Type": "AWS::SageMaker::InferenceComponent", "Properties": {
            "EndpointName": {"Fn::GetAtt": ["Endpoint", "EndpointName"]}, "VariantName": "AllTraffic",
            "InferenceComponentName": f"servekit-dev-fleet-{name}",
            "Specification": {"ModelName": {"Fn::GetAtt": [model_id, "ModelName"]},
                              "ComputeResourceRequirements": {"MinMemoryRequiredInMb": memory,
                                                              "NumberOfCpuCoresRequired": 2}},
            "RuntimeConfig": {"CopyCount": 1},
            "DeploymentConfig": {"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
                                                         "WaitIntervalInSeconds": 120},
                                 "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "team-qa-errors"}]}}}}

    return {"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
        "QaModel": model(qa_env or {"SAGEMAKER_TS_MAX_WORKERS": "1"}),
        "ResnetModel": model({"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "resnet"}),
        "EndpointConfig": {"Type": "AWS::SageMaker::EndpointConfig", "Properties": {
            "ExecutionRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            "ProductionVariants": [{"InitialInstanceCount": 1, "InstanceType": instance_type, "VariantName": "AllTraffic"}]}},
        "Endpoint": {"Type": "AWS::SageMaker::Endpoint", "Properties": {
            "EndpointName": "servekit-dev-fleet",
            "EndpointConfigName": {"Fn::GetAtt": ["EndpointConfig", "EndpointConfigName"]}}},
        "QaComponent": component("qa", "QaModel", memory_mb),
        "ResnetComponent": component("resnet", "ResnetModel", 16384),
    }, "Outputs": {"EndpointName": {"Value": "servekit-dev-fleet"}}}


def test_when_a_components_model_changes_then_it_rolls_copy_by_copy_and_the_fleet_stays():
    old = assembly(**{"servekit-dev-fleet": component_template()})
    new = assembly(**{"servekit-dev-fleet": component_template(qa_env={"SAGEMAKER_TS_MAX_WORKERS": "2"})})
    fleet = impacts(old, new)["servekit-dev-fleet"]
    assert fleet.impact == "components rolled"
    assert fleet.because == ["servekit-dev-fleet-qa: SAGEMAKER_TS_MAX_WORKERS 1→2"]
    assert fleet.traffic == "servekit-dev-fleet-qa: 1 copy at a time, 120 s apart, rolled back by 1 alarm(s)"
    assert fleet.headline.startswith("components rolled — copy by copy on the same fleet, no new EndpointConfig")


def test_when_a_components_compute_changes_then_that_component_alone_rolls():
    old = assembly(**{"servekit-dev-fleet": component_template()})
    new = assembly(**{"servekit-dev-fleet": component_template(memory_mb=8192)})
    fleet = impacts(old, new)["servekit-dev-fleet"]
    assert fleet.impact == "components rolled" and len(fleet.because) == 1
    assert fleet.because[0].startswith("servekit-dev-fleet-qa: ") and "MinMemoryRequiredInMb" in fleet.because[0]


def test_when_the_fleets_instance_type_changes_then_it_is_a_fleet_replacement_not_a_component_rollout():
    old = assembly(**{"servekit-dev-fleet": component_template()})
    new = assembly(**{"servekit-dev-fleet": component_template(instance_type="ml.g5.48xlarge")})
    assert impacts(old, new)["servekit-dev-fleet"].impact == "fleet replaced"


def test_when_an_instance_pool_is_added_then_the_fleet_is_replaced_because_of_it():
    new = default()
    variant = new["servekit-dev-question-answering"].template["Resources"]["EndpointConfig"]["Properties"][
        "ProductionVariants"][0]
    variant.pop("InstanceType")
    variant["InstancePools"] = [{"InstanceType": "ml.m5.xlarge", "Priority": 1}, {"InstanceType": "ml.c5.xlarge",
                                                                                   "Priority": 2}]
    qa = impacts(default(), new)["servekit-dev-question-answering"]
    assert qa.impact == "fleet replaced"
    assert "instance pools added" in qa.because
