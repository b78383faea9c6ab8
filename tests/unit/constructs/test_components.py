"""InferenceComponentEndpoint: the fleet (an EndpointConfig variant without a model, with the execution role),
one Model and InferenceComponent per component, copy autoscaling with the wake-up from zero, the rolling update
with rollback, and the refusals a construct user gets without servekit.yaml."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Annotations, Match, Template
from component_fixtures import component_endpoint

from servekit import config as cfg
from servekit import naming
from servekit.cdk import ModelData, TorchServeEndpoint, TritonEndpoint
from servekit.constructs.components import ComponentProps, InferenceComponentEndpoint
from servekit.spec.components import MetricsEndpoint

ENV = cdk.Environment(account="111122223333", region="us-east-1")
FLEET = "ml.g5.12xlarge"


def fleet(archives, *, components=None, in_vpc=False, **props) -> tuple[cdk.Stack, InferenceComponentEndpoint]:
    stack = cdk.Stack(cdk.App(), "Svc", env=ENV)
    if in_vpc:
        props.update(vpc=ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0",
                                                     availability_zones=["us-east-1a"]),
                     vpc_subnets=[ec2.Subnet.from_subnet_id(stack, f"S{i}", f"subnet-0123456789abcdef{i}")
                                  for i in range(2)])
    qa = TorchServeEndpoint.variant("qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                                    instance_type=FLEET)
    resnet = TritonEndpoint.variant("resnet", model_data=ModelData.from_asset(archives["triton"]), model_name="m",
                                    instance_type=FLEET)
    alarm = cloudwatch.Alarm.from_alarm_name(stack, "TeamAlarm", "team-qa-errors")
    components = components or [
        ComponentProps("qa", qa, cfg.ComponentCompute(cpu_cores=2, memory_mb=4096), copies=1,
                       copy_scaling=cfg.CopyScaling(min_copies=0, max_copies=4, target_concurrent_requests_per_copy=4),
                       rollback_alarms=[alarm]),
        ComponentProps("resnet", resnet, cfg.ComponentCompute(cpu_cores=4, memory_mb=16384, accelerators=1), copies=2,
                       copy_scaling=cfg.CopyScaling(min_copies=1, max_copies=4, target_invocations_per_copy=600)),
    ]
    made = InferenceComponentEndpoint(stack, "Fleet", endpoint_name="svc-fleet", instance_type=FLEET,
                                      components=components, **props)
    return stack, made


def resources(stack, kind) -> list[dict]:
    return [r["Properties"] for r in Template.from_stack(stack).find_resources(kind).values()]


def test_when_components_share_a_fleet_then_its_variant_has_no_model_and_the_config_carries_the_role(archives):
    stack, made = fleet(archives, instance_scaling=cfg.InstanceScaling(min_instances=0, max_instances=2))
    (config,) = resources(stack, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert "ModelName" not in variant and variant["VariantName"] == "AllTraffic"
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2}
    assert config["ExecutionRoleArn"] == {"Fn::GetAtt": [Template.from_stack(stack).find_resources(
        "AWS::IAM::Role", {"Properties": {"AssumeRolePolicyDocument": Match.object_like({"Statement": [
            Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]})}}).popitem()[0], "Arn"]}
    assert len(resources(stack, "AWS::SageMaker::Model")) == 2


def test_when_a_component_is_declared_then_it_names_its_model_compute_copies_and_rollout(archives):
    stack, made = fleet(archives)
    components = {c["InferenceComponentName"]: c for c in resources(stack, "AWS::SageMaker::InferenceComponent")}
    assert set(components) == {"svc-fleet-qa", "svc-fleet-resnet"} and made.component_name("qa") == "svc-fleet-qa"
    resnet = components["svc-fleet-resnet"]
    assert resnet["Specification"]["ComputeResourceRequirements"] == {
        "NumberOfCpuCoresRequired": 4, "MinMemoryRequiredInMb": 16384, "NumberOfAcceleratorDevicesRequired": 1}
    assert resnet["RuntimeConfig"] == {"CopyCount": 2} and resnet["VariantName"] == "AllTraffic"
    assert "Fn::GetAtt" in resnet["Specification"]["ModelName"]
    assert components["svc-fleet-qa"]["DeploymentConfig"] == {
        "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1}, "WaitIntervalInSeconds": 120,
                                "MaximumExecutionTimeoutInSeconds": 3600},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "team-qa-errors"}]}}


def test_when_a_rollback_alarm_is_given_then_the_role_may_describe_exactly_it(archives):
    stack, _ = fleet(archives)
    (policy,) = resources(stack, "AWS::IAM::ManagedPolicy")
    (statement,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "cloudwatch:DescribeAlarms"]
    assert json.dumps(statement["Resource"]).endswith(':alarm:team-qa-errors"]]}')


def test_when_copies_scale_then_each_component_has_its_target_and_the_per_copy_metric(archives):
    stack, _ = fleet(archives)
    targets = {t["ResourceId"]: t for t in resources(stack, "AWS::ApplicationAutoScaling::ScalableTarget")}
    assert set(targets) == {"inference-component/svc-fleet-qa", "inference-component/svc-fleet-resnet"}
    assert {t["ScalableDimension"] for t in targets.values()} == {"sagemaker:inference-component:DesiredCopyCount"}
    assert (targets["inference-component/svc-fleet-qa"]["MinCapacity"],
            targets["inference-component/svc-fleet-qa"]["MaxCapacity"]) == (0, 4)
    tracked = {p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"]
               for p in resources(stack, "AWS::ApplicationAutoScaling::ScalingPolicy")
               if p["PolicyType"] == "TargetTrackingScaling"}
    assert tracked == {"SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution",
                       "SageMakerInferenceComponentInvocationsPerCopy"}


def test_when_a_component_scales_to_zero_copies_then_a_request_without_capacity_wakes_it(archives):
    stack, _ = fleet(archives)
    (step,) = [p for p in resources(stack, "AWS::ApplicationAutoScaling::ScalingPolicy")
               if p["PolicyType"] == "StepScaling"]
    assert step["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ChangeInCapacity"
    (alarm,) = resources(stack, "AWS::CloudWatch::Alarm")
    assert alarm["MetricName"] == "NoCapacityInvocationFailures"
    assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": "svc-fleet-qa"}]


def test_when_the_copies_do_not_fit_then_the_construct_refuses_with_validates_words(archives):
    with pytest.raises(ValueError, match=r"Svc/Fleet: components\.copies: the copies need 5 accelerators, and 1 x "
                                         r"ml\.g5\.12xlarge has 4"):
        stack = cdk.Stack(cdk.App(), "Svc", env=ENV)
        v = TritonEndpoint.variant("r", model_data=ModelData.from_asset(archives["triton"]), model_name="m",
                                   instance_type=FLEET)
        InferenceComponentEndpoint(stack, "Fleet", endpoint_name="svc-fleet", instance_type=FLEET, components=[
            ComponentProps("r", v, cfg.ComponentCompute(memory_mb=1024, accelerators=1), copies=5)])


def test_when_a_components_variant_is_made_for_another_instance_type_then_it_is_refused(archives):
    stack = cdk.Stack(cdk.App(), "Svc", env=ENV)
    v = TorchServeEndpoint.variant("qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                                   instance_type="ml.m5.xlarge")
    with pytest.raises(ValueError, match=r"components \(qa\): its variant was made for ml\.m5\.xlarge, the fleet is "
                                         r"ml\.g5\.12xlarge; make it with instance_type='ml\.g5\.12xlarge'"):
        InferenceComponentEndpoint(stack, "Fleet", endpoint_name="svc-fleet", instance_type=FLEET,
                                   components=[ComponentProps("qa", v, cfg.ComponentCompute(memory_mb=1024))])


def test_when_servekit_yaml_has_a_component_endpoint_then_nag_passes_and_cfn_lint_finds_nothing(tmp_path,
                                                                                               default_config_data):
    """The whole app (nag packs on) with the default's models as components; cfn-lint reads the template."""
    from servekit.constructs.nag import add_nag_packs
    from servekit.stacks import add_serving_stacks

    component_endpoint(default_config_data)
    config = cfg.parse(default_config_data)
    context = json.loads((Path(__file__).resolve().parents[3] / "cdk.json").read_text())["context"]
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=context)
    archive = tmp_path / "m.tar.gz"
    import tarfile
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("m/config.pbtxt")
        tar.addfile(info)
    stacks = add_serving_stacks(app, config, {k: ModelData.from_asset(archive) for k, _ in
                                              naming.artifact_endpoints(config)})
    add_nag_packs(app)
    app.synth()  # raises on any unacknowledged finding
    assert "gpu-fleet" in stacks
    template = tmp_path / "cdk.out" / "servekit-dev-gpu-fleet.template.json"
    lint = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(template)], capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout


# --- per-component alarms and the dashboard, from the metric factory ------------------------------------------
def alarms_by_name(stack) -> dict[str, dict]:
    return {a["AlarmName"]: a for a in resources(stack, "AWS::CloudWatch::Alarm") if "AlarmName" in a}


def test_when_alarms_are_given_then_each_component_gets_its_own_on_its_inference_component_metrics(archives):
    stack, made = fleet(archives, alarms=cfg.Alarms(model_latency_p99_ms=250))
    alarms = alarms_by_name(stack)
    latency = alarms["svc-fleet-resnet-model-latency-p99"]
    assert (latency["Namespace"], latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == (
        "AWS/SageMaker", "ModelLatency", "p99", 250_000)
    assert latency["Dimensions"] == [{"Name": "InferenceComponentName", "Value": "svc-fleet-resnet"}]
    rate = alarms["svc-fleet-qa-invocation-5xx-error-rate"]
    dimensions = {json.dumps(q["MetricStat"]["Metric"]["Dimensions"]) for q in rate["Metrics"] if "MetricStat" in q}
    assert dimensions == {json.dumps([{"Name": "InferenceComponentName", "Value": "svc-fleet-qa"}])}
    assert len(made.alarms) == len(alarms)


def test_when_a_component_alarms_on_utilization_then_the_metric_is_normalized_to_its_reservation(archives):
    stack, _ = fleet(archives, alarms=cfg.Alarms(cpu_utilization_percent=80, gpu_utilization_percent=70))
    alarms = alarms_by_name(stack)
    cpu = alarms["svc-fleet-resnet-cpu-utilization"]
    # 0-100 of what a copy reserved: the threshold is not multiplied by the instance's 48 vCPUs as a variant's is.
    assert (cpu["Namespace"], cpu["MetricName"], cpu["Threshold"]) == (
        "/aws/sagemaker/InferenceComponents", "CPUUtilizationNormalized", 80)
    assert alarms["svc-fleet-resnet-gpu-utilization"]["MetricName"] == "GPUUtilizationNormalized"
    # qa reserves no accelerator, so its copies have no GPU to watch
    assert "svc-fleet-qa-gpu-utilization" not in alarms and "svc-fleet-qa-cpu-utilization" in alarms


def test_when_no_alarms_are_given_then_a_component_endpoint_makes_none_of_its_own(archives):
    stack, made = fleet(archives)
    assert made.alarms == [] and alarms_by_name(stack) == {}


def test_when_the_component_dashboard_is_added_then_it_graphs_each_components_metrics(archives):
    from servekit.constructs.dashboards import component_dashboard

    stack, made = fleet(archives)
    component_dashboard(stack, "Dashboard", made, "svc-fleet")
    (dashboard,) = resources(stack, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"])
    for name in ("svc-fleet-qa", "svc-fleet-resnet"):
        assert f'\\"InferenceComponentName\\",\\"{name}\\"' in body
    assert "GPUUtilizationNormalized" in body and "CPUUtilizationNormalized" in body


def test_when_components_have_alarms_then_their_own_error_and_latency_alarms_roll_an_update_back(archives):
    stack, _ = fleet(archives, alarms=cfg.Alarms())
    components = {c["InferenceComponentName"]: c for c in resources(stack, "AWS::SageMaker::InferenceComponent")}
    rollback = components["svc-fleet-qa"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    names = [stack.resolve(a["AlarmName"]) for a in rollback]
    refs = [n["Ref"] for n in names[:2]]  # servekit's own, by reference: the component waits for them
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    assert [alarms[r]["Properties"]["AlarmName"] for r in refs] == [
        "svc-fleet-qa-invocation-5xx-error-rate", "svc-fleet-qa-model-latency-p99"]
    assert names[2] == "team-qa-errors"
    (policy,) = resources(stack, "AWS::IAM::ManagedPolicy")
    described = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "cloudwatch:DescribeAlarms"]
    assert "svc-fleet-qa-model-latency-p99" in json.dumps(described)


def test_when_the_fleet_has_instance_pools_then_each_component_has_a_specification_per_type(archives):
    stack = cdk.Stack(cdk.App(), "Svc", env=ENV)
    pools = [cfg.InstancePool(instance_type=FLEET, priority=1),
             cfg.InstancePool(instance_type="ml.c5.18xlarge", priority=2)]
    qa = TorchServeEndpoint.variant("qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                                    instance_pools=pools)
    made = InferenceComponentEndpoint(
        stack, "Fleet", endpoint_name="svc-fleet", instance_type=FLEET, instance_pools=pools,
        provision_timeout_seconds=600,
        components=[ComponentProps("qa", qa, cfg.ComponentCompute(cpu_cores=2, memory_mb=4096),
                                   specifications={"ml.c5.18xlarge": cfg.ComponentCompute(cpu_cores=4, memory_mb=8192)})])
    (config,) = resources(stack, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert "InstanceType" not in variant and [p["InstanceType"] for p in variant["InstancePools"]] == [
        FLEET, "ml.c5.18xlarge"]
    (component,) = resources(stack, "AWS::SageMaker::InferenceComponent")
    assert "Specification" not in component
    specs = {s["InstanceType"]: s for s in component["Specifications"]}
    assert specs["ml.c5.18xlarge"]["ComputeResourceRequirements"] == {"NumberOfCpuCoresRequired": 4,
                                                                      "MinMemoryRequiredInMb": 8192}
    models = Template.from_stack(stack).find_resources("AWS::SageMaker::Model")
    image = {t: models[s["ModelName"]["Fn::GetAtt"][0]]["Properties"]["PrimaryContainer"]["Image"]
             for t, s in specs.items()}
    assert image[FLEET].endswith("-gpu-py312") and image["ml.c5.18xlarge"].endswith("-cpu-py312")
    assert made.type_models["qa"]["ml.c5.18xlarge"] is not made.models["qa"]


def test_when_enhanced_metrics_are_on_then_the_dashboard_graphs_each_copy_and_gpu(archives):
    from servekit.constructs.dashboards import component_dashboard

    stack, made = fleet(archives, observability=cfg.Observability(enhanced_metrics=True, publish_frequency_seconds=10))
    component_dashboard(stack, "Dashboard", made, "svc-fleet")
    (dashboard,) = resources(stack, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"])
    assert 'CPUUtilizationNormalized\\\\\\" InferenceComponentName=\\\\\\"svc-fleet-qa\\\\\\" ContainerId' in body
    assert "AcceleratorId" in body and "'Average', 10)" in body
    assert (resources(stack, "AWS::SageMaker::EndpointConfig")[0]["MetricsConfig"]
            == {"EnableDetailedObservability": False, "EnableEnhancedMetrics": True, "MetricPublishFrequencyInSeconds": 10})


def test_when_enhanced_metrics_are_off_then_the_dashboard_has_no_per_copy_rows(archives):
    from servekit.constructs.dashboards import component_dashboard

    stack, made = fleet(archives)
    component_dashboard(stack, "Dashboard", made, "svc-fleet")
    (dashboard,) = resources(stack, "AWS::CloudWatch::Dashboard")
    assert "SEARCH" not in json.dumps(dashboard["DashboardBody"])


def test_when_the_fleet_is_in_a_vpc_then_its_endpoint_config_and_every_model_carry_it_and_the_role_may_make_enis(
        archives):
    stack, made = fleet(archives, in_vpc=True)
    caller = ec2.SecurityGroup.from_security_group_id(stack, "Caller", "sg-0123456789abcdef9")
    made.connections.allow_from(caller, ec2.Port.tcp(8080))
    (config,) = resources(stack, "AWS::SageMaker::EndpointConfig")
    subnets = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    assert config["VpcConfig"]["Subnets"] == subnets
    (group,) = config["VpcConfig"]["SecurityGroupIds"]
    assert "Fn::GetAtt" in group  # the security group servekit made in the VPC
    models = resources(stack, "AWS::SageMaker::Model")
    assert len(models) == 2 and all(m["VpcConfig"] == config["VpcConfig"] for m in models)
    (policy,) = resources(stack, "AWS::IAM::ManagedPolicy")
    assert any(s["Action"] == "ec2:CreateNetworkInterface" for s in policy["PolicyDocument"]["Statement"])
    (ingress,) = resources(stack, "AWS::EC2::SecurityGroupIngress")
    assert ingress["SourceSecurityGroupId"] == "sg-0123456789abcdef9" and ingress["FromPort"] == 8080


def test_when_one_component_installs_packages_at_start_then_the_fleet_says_not_all_its_models_are_isolated(archives):
    stack, _ = fleet(archives)  # qa's archive pip-installs at start; resnet's does not
    (config,) = resources(stack, "AWS::SageMaker::EndpointConfig")
    assert config["EnableNetworkIsolation"] is False
    assert sorted(m["EnableNetworkIsolation"] for m in resources(stack, "AWS::SageMaker::Model")) == [False, True]


def test_when_every_component_is_isolated_then_the_fleets_endpoint_config_isolates_all_containers(archives):
    stack = cdk.Stack(cdk.App(), "Svc", env=ENV)
    resnet = TritonEndpoint.variant("resnet", model_data=ModelData.from_asset(archives["triton"]), model_name="m",
                                    instance_type=FLEET)
    InferenceComponentEndpoint(stack, "Fleet", endpoint_name="svc-fleet", instance_type=FLEET, components=[
        ComponentProps("resnet", resnet, cfg.ComponentCompute(memory_mb=1024, accelerators=1))])
    (config,) = resources(stack, "AWS::SageMaker::EndpointConfig")
    assert config["EnableNetworkIsolation"] is True


def test_when_isolation_is_required_and_a_component_installs_at_start_then_the_fleet_is_refused(archives):
    with pytest.raises(ValueError, match=r"network isolation is on but .*requirements\.txt.*set network\.isolation: "
                                         r"false"):
        fleet(archives, network_isolation=True)


def test_when_the_fleet_captures_data_then_its_endpoint_config_captures_and_the_role_may_write_only_there(archives):
    stack, _ = fleet(archives, data_capture=cfg.DataCapture(s3_uri="s3://captures/fleet", sampling_percent=10))
    (config,) = resources(stack, "AWS::SageMaker::EndpointConfig")
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == "s3://captures/fleet"
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 10
    (policy,) = resources(stack, "AWS::IAM::ManagedPolicy")
    (put,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "s3:PutObject"]
    assert put["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::captures/fleet/*"]]}
    Annotations.from_stack(stack).has_warning("/Svc/Fleet", Match.string_like_regexp(
        r"unconfirmed that SageMaker captures inference components' requests.*the 2 components \(qa, resnet\) "
        r"share the variant AllTraffic"))


def test_when_a_dlc_component_is_given_a_metrics_endpoint_then_the_construct_refuses_it(archives):
    stack = cdk.Stack(cdk.App(), "Svc", env=ENV)
    resnet = TritonEndpoint.variant("resnet", model_data=ModelData.from_asset(archives["triton"]), model_name="m",
                                    instance_type=FLEET)
    with pytest.raises(ValueError, match=r"components \(resnet\)\.metrics_endpoint: the component runs an AWS Deep "
                                         r"Learning Container"):
        InferenceComponentEndpoint(
            stack, "Fleet", endpoint_name="svc-fleet", instance_type=FLEET,
            observability=cfg.Observability(detailed=True), components=[ComponentProps(
                "resnet", resnet, cfg.ComponentCompute(memory_mb=1024, accelerators=1),
                metrics_endpoint=MetricsEndpoint(path="/metrics"))])


def test_when_a_component_of_its_own_image_names_a_metrics_endpoint_then_each_specification_carries_it(archives):
    stack = cdk.Stack(cdk.App(), "Svc", env=ENV)
    resnet = TritonEndpoint.variant("resnet", model_data=ModelData.from_asset(archives["triton"]), model_name="m",
                                    instance_type=FLEET)
    own = dataclasses.replace(resnet, plugin=None)  # a Variant a construct user made, of an image servekit cannot tell
    InferenceComponentEndpoint(
        stack, "Fleet", endpoint_name="svc-fleet", instance_type=FLEET, observability=cfg.Observability(detailed=True),
        components=[ComponentProps("resnet", own, cfg.ComponentCompute(memory_mb=1024, accelerators=1),
                                   metrics_endpoint=MetricsEndpoint(path="/server/metrics",
                                                                    publish_frequency_seconds=10))])
    (component,) = resources(stack, "AWS::SageMaker::InferenceComponent")
    assert component["Specification"]["Container"] == {"ContainerMetricsConfig": {"MetricsEndpoints": [
        {"MetricsEndpointPath": "/server/metrics", "MetricPublishFrequencyInSeconds": 10}]}}
