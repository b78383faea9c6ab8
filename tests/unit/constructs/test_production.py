"""Scaling, safe deployments and alarms: the production part of an endpoint."""

from __future__ import annotations

import tarfile

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from servekit import config as cfg
from servekit.cdk import ModelData, TorchServeEndpoint

ENV = cdk.Environment(account="111122223333", region="us-east-1")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    folder = tmp_path_factory.mktemp("artifact")
    (folder / "w.bin").write_bytes(b"\x02" * 16)
    path = folder / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder / "w.bin", arcname="w.bin")
    return path


def template_for(tarball, with_stack=None, **kwargs) -> Template:
    """The template of a TorchServe endpoint named svc-prod-qa; `with_stack(stack)` returns more props made in
    the stack (an imported topic or alarm)."""
    stack = cdk.Stack(cdk.App(), "Prod", env=ENV)
    kwargs.update(with_stack(stack) if with_stack else {})
    TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge",
                       endpoint_name="svc-prod-qa", **kwargs)
    return Template.from_stack(stack)


def test_when_scaling_is_on_then_the_variant_tracks_invocations_and_deployments_keep_the_scaled_count(tarball):
    template = template_for(tarball, scaling=cfg.Scaling(min_instances=2, max_instances=6,
                                                         target_invocations_per_instance=750), instance_count=2)
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
        "ResourceId": "endpoint/svc-prod-qa/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "ServiceNamespace": "sagemaker", "MinCapacity": 2, "MaxCapacity": 6,
    })
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 750,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
        },
    })
    template.has_resource_properties("AWS::SageMaker::Endpoint", {
        "RetainAllVariantProperties": True,
        "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DesiredWeight"},
                                             {"VariantPropertyType": "DataCaptureConfig"}],
    })


def test_when_scaling_is_off_then_variant_properties_follow_the_config(tarball):
    template = template_for(tarball)
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    (endpoint,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    assert "RetainAllVariantProperties" not in endpoint["Properties"]


def test_when_a_canary_deployment_is_set_then_traffic_shifts_and_rolls_back_on_the_endpoint_alarms(tarball):
    template = template_for(
        tarball, alarms=cfg.Alarms(),
        deployment=cfg.Deployment(strategy="canary", canary_percent=10, wait_interval_seconds=600),
        with_stack=lambda s: {"rollback_alarms": [cloudwatch.Alarm.from_alarm_name(s, "Slo", "team-slo-breach")]})
    template.has_resource_properties("AWS::SageMaker::Endpoint", {
        "EndpointName": "svc-prod-qa",
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 600,
                                                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
                "TerminationWaitInSeconds": 120, "MaximumExecutionTimeoutInSeconds": 3600,
            },
            "AutoRollbackConfiguration": {"Alarms": [
                {"AlarmName": {"Ref": Match.string_like_regexp("QaInvocation5XXErrorRateAlarm")}},
                {"AlarmName": {"Ref": Match.string_like_regexp("QaModelLatencyP99Alarm")}},
                {"AlarmName": "team-slo-breach"},
            ]},
        },
    })
    names = {a["Properties"]["AlarmName"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()}
    # Only errors and latency roll back; client errors and utilization are load, not a bad release.
    assert names == {"svc-prod-qa-invocation-5xx-error-rate", "svc-prod-qa-model-latency-p99",
                     "svc-prod-qa-invocation-4xx-errors", "svc-prod-qa-cpu-utilization",
                     "svc-prod-qa-memory-utilization"}


def test_when_a_rolling_update_is_set_then_instances_update_in_batches(tarball):
    template = template_for(tarball, instance_count=4, alarms=cfg.Alarms(),
                            deployment=cfg.Deployment(strategy="rolling", rolling_batch_percent=25))
    template.has_resource_properties("AWS::SageMaker::Endpoint", {"DeploymentConfig": {
        "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
                                "WaitIntervalInSeconds": 300},
        "BlueGreenUpdatePolicy": Match.absent(),
    }})


def test_when_alarms_are_on_then_latency_is_watched_in_microseconds_and_errors_as_a_rate(tarball):
    template = template_for(tarball, alarms=cfg.Alarms(model_latency_p99_ms=250, invocation_5xx_error_rate_percent=3,
                                                       min_invocations_per_minute=20))
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "svc-prod-qa-model-latency-p99", "MetricName": "ModelLatency", "Namespace": "AWS/SageMaker",
        "ExtendedStatistic": "p99", "Threshold": 250000, "ComparisonOperator": "GreaterThanThreshold",
        "Dimensions": [{"Name": "EndpointName", "Value": "svc-prod-qa"}, {"Name": "VariantName", "Value": "AllTraffic"}],
    })
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "Threshold": 3, "TreatMissingData": "notBreaching",
        "Metrics": Match.array_with([
            Match.object_like({"Expression": "IF(invocations >= 20, 100 * FILL(errors, 0) / invocations, 0)"}),
            Match.object_like({"Id": "errors", "MetricStat": Match.object_like({
                "Metric": Match.object_like({"MetricName": "Invocation5XXErrors"}), "Period": 60, "Stat": "Sum"})}),
        ]),
    })


def test_when_an_sns_topic_is_given_then_alarms_notify_it_on_alarm_and_ok(tarball):
    arn = "arn:aws:sns:us-east-1:111122223333:oncall"
    template = template_for(tarball, alarms=cfg.Alarms(),
                            with_stack=lambda s: {"alarm_topic": sns.Topic.from_topic_arn(s, "Oncall", arn)})
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [arn]
        assert alarm["Properties"]["OKActions"] == [arn]


def test_when_rollback_alarms_are_wanted_without_an_endpoint_name_then_the_construct_explains_why(tarball):
    stack = cdk.Stack(cdk.App(), "P", env=ENV)
    with pytest.raises(ValueError, match=r"rollback on servekit's alarms needs endpoint_name and alarms"):
        TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(tarball), instance_type="ml.m5.xlarge",
                           alarms=cfg.Alarms(), deployment=cfg.Deployment())


def test_when_the_endpoint_is_named_then_its_role_writes_only_that_endpoints_log_group(tarball):
    template = template_for(tarball)
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    logs = next(s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "logs:PutLogEvents" in s["Action"])
    group = logs["Resource"][0]["Fn::Join"][1][-1]
    assert group.endswith(":log-group:/aws/sagemaker/Endpoints/svc-prod-qa")


def test_when_a_rollback_alarm_is_given_then_the_execution_role_may_describe_exactly_it(tarball):
    template = template_for(
        tarball, alarms=cfg.Alarms(), deployment=cfg.Deployment(strategy="canary"),
        with_stack=lambda s: {"rollback_alarms": [cloudwatch.Alarm.from_alarm_name(s, "Slo", "team-slo-breach")]})
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    described = [st for st in policy["Properties"]["PolicyDocument"]["Statement"]
                 if st["Action"] == "cloudwatch:DescribeAlarms"]
    resources = [r for st in described for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])]
    assert any("team-slo-breach" in str(r) for r in resources)
    assert len(resources) == 3  # servekit's two rollback alarms and the given one, nothing wider


@pytest.mark.parametrize(("props", "message"), [
    ({"alarms": cfg.Alarms(sns_topic_arn="arn:aws:sns:us-east-1:111122223333:oncall")},
     r"alarms.sns_topic_arn is servekit.yaml's; pass the topic itself as alarm_topic="),
    ({"alarms": cfg.Alarms(), "deployment": cfg.Deployment(rollback_alarm_names=["x"])},
     r"deployment.rollback_alarm_names is servekit.yaml's; pass the alarms themselves as rollback_alarms="),
])
def test_when_the_construct_gets_yaml_strings_for_cdk_objects_then_it_names_the_typed_prop(tarball, props, message):
    with pytest.raises(ValueError, match=message):
        template_for(tarball, **props)


# --- MetricsConfig: always stated, so no deploy depends on the date SageMaker's default flipped -------------------
def test_when_no_observability_is_given_then_the_config_states_all_three_metrics_settings_off(tarball):
    template_for(tarball).has_resource_properties("AWS::SageMaker::EndpointConfig", {"MetricsConfig": {
        "EnableDetailedObservability": False, "EnableEnhancedMetrics": False, "MetricPublishFrequencyInSeconds": 60}})


def test_when_observability_is_set_then_the_config_carries_it(tarball):
    template = template_for(tarball, observability=cfg.Observability(detailed=True, enhanced_metrics=True,
                                                                      publish_frequency_seconds=10))
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"MetricsConfig": {
        "EnableDetailedObservability": True, "EnableEnhancedMetrics": True, "MetricPublishFrequencyInSeconds": 10}})


def test_when_the_endpoint_is_serverless_then_no_metrics_config_is_written(tarball):
    stack = cdk.Stack(cdk.App(), "Prod", env=ENV)
    TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(tarball), endpoint_name="svc-prod-qa",
                       serverless=cfg.Serverless(memory_size_mb=2048, max_concurrency=5))
    (config,) = Template.from_stack(stack).find_resources("AWS::SageMaker::EndpointConfig").values()
    assert "MetricsConfig" not in config["Properties"]


def test_when_servekit_yaml_sets_an_interval_sagemaker_refuses_then_validate_names_the_allowed_ones(default_config_data):
    default_config_data["endpoints"][0]["observability"] = {"publish_frequency_seconds": 15}
    with pytest.raises(cfg.ConfigError, match=r"observability\.publish_frequency_seconds.*10, 30, 60, 120, 180, 240"):
        cfg.parse(default_config_data)


def test_when_a_serverless_endpoint_sets_observability_then_validate_refuses_it(default_config_data):
    qa = default_config_data["endpoints"][1]
    qa.pop("instance_type"), qa.pop("scaling", None), qa.pop("deployment", None)
    qa["serverless"] = {"memory_size_mb": 2048, "max_concurrency": 5}
    qa["observability"] = {"detailed": True}
    with pytest.raises(cfg.ConfigError, match=r"observability: serverless endpoints publish no instance or container "
                                              r"metrics.*remove observability or use instance_type"):
        cfg.parse(default_config_data)


# --- instance pools: capacity fallback, every instance-type rule per pool ---------------------------------------
POOLS = [cfg.InstancePool(instance_type="ml.g5.xlarge", priority=1), cfg.InstancePool(instance_type="ml.g6.xlarge",
                                                                                       priority=2),
         cfg.InstancePool(instance_type="ml.c5.2xlarge", priority=3)]


def test_when_a_variant_has_instance_pools_then_they_replace_its_instance_type_and_a_cpu_pool_gets_its_own_model(
        tarball):
    stack = cdk.Stack(cdk.App(), "Prod", env=ENV)
    TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(tarball), endpoint_name="svc-prod-qa",
                       instance_pools=POOLS, provision_timeout_seconds=900)
    template = Template.from_stack(stack)
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    (variant,) = config["Properties"]["ProductionVariants"]
    assert "InstanceType" not in variant and variant["VariantInstanceProvisionTimeoutInSeconds"] == 900
    pools = {p["InstanceType"]: p for p in variant["InstancePools"]}
    assert [p["Priority"] for p in variant["InstancePools"]] == [1, 2, 3]
    images = {k: r["Properties"]["PrimaryContainer"]["Image"] for k, r in
              template.find_resources("AWS::SageMaker::Model").items()}
    cpu_model = pools["ml.c5.2xlarge"]["ModelNameOverride"]["Fn::GetAtt"][0]
    assert images[cpu_model].endswith("/pytorch-inference:2.6-cpu-py312")
    assert images[variant["ModelName"]["Fn::GetAtt"][0]].endswith("/pytorch-inference:2.6-gpu-py312")
    assert "ModelNameOverride" not in pools["ml.g6.xlarge"]  # the same GPU image: the variant's own Model


def test_when_pools_repeat_a_priority_then_the_construct_refuses_it(tarball):
    stack = cdk.Stack(cdk.App(), "Prod", env=ENV)
    with pytest.raises(ValueError, match=r"instance_pools\[\]\.priority: \[1\]: appears in more than one pool"):
        TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(tarball), instance_pools=[
            cfg.InstancePool(instance_type="ml.c5.xlarge", priority=1),
            cfg.InstancePool(instance_type="ml.c6i.xlarge", priority=1)])


@pytest.mark.parametrize(("change", "message"), [
    ({"instance_pools": [{"instance_type": "ml.g5.xlarge", "priority": 1},
                         {"instance_type": "ml.c5.xlarge", "priority": 2}]},
     r"endpoints\[2\] \(resnet\)\.instance_pools\[priority 2\] \(ml\.c5\.xlarge\): model\.instance_group\.kind: "
     r"'KIND_GPU' on ml\.c5\.xlarge, which has no GPU"),
    ({"instance_type": "ml.g6.xlarge", "instance_pools": [{"instance_type": "ml.g5.xlarge", "priority": 1}]},
     r"instance_type: 'ml\.g6\.xlarge': instance_pools replaces it; the priority-1 pool \(ml\.g5\.xlarge\)"),
    ({"instance_pools": [{"instance_type": "ml.g5.xlarge", "priority": 1}], "provision_timeout_seconds": 60},
     r"provision_timeout_seconds: 60: must be 300 to 3600 seconds"),
    ({"instance_pools": [{"instance_type": "ml.g5.xlarge", "priority": 1},
                         {"instance_type": "ml.c8g.xlarge", "priority": 2}]},
     r"instance_pools\[priority 2\] \(ml\.c8g\.xlarge\): image_version: .*arm64"),
])
def test_when_a_pool_breaks_a_rule_of_its_instance_type_then_validate_names_the_pool(default_config_data, change,
                                                                                       message):
    resnet = default_config_data["endpoints"][2]
    resnet.pop("instance_type")
    resnet.update(change)
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.parse(default_config_data)
