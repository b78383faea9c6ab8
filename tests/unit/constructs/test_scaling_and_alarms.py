"""Scaling on CPU, GPU and async backlog, scheduled actions, and the alarms beyond errors and latency."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from servekit import config as cfg
from servekit.cdk import ModelData, TorchServeEndpoint, TritonEndpoint


def triton(stack, archives, **kwargs):
    return TritonEndpoint(stack, "Rn", model_data=ModelData.from_asset(archives["triton"]), model_name="m",
                          endpoint_name="svc-rn", **{"instance_type": "ml.g5.12xlarge", **kwargs})


def torchserve(stack, archives, **kwargs):
    return TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                              endpoint_name="svc-qa", **{"instance_type": "ml.c5.2xlarge", **kwargs})


def policies(template: Template) -> dict[str, dict]:
    return {p["Properties"]["PolicyName"]: p["Properties"]
            for p in template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()}


def test_when_scaling_tracks_cpu_then_the_per_vcpu_target_is_multiplied_by_the_vcpus(stack, archives):
    torchserve(stack, archives, scaling=cfg.Scaling(max_instances=4, target_cpu_utilization_percent=70))
    Template.from_stack(stack).has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 560,  # 70% x 8 vCPUs of ml.c5.2xlarge: CPUUtilization is summed over them
            "CustomizedMetricSpecification": {
                "MetricName": "CPUUtilization", "Namespace": "/aws/sagemaker/Endpoints", "Statistic": "Average",
                "Dimensions": [{"Name": "EndpointName", "Value": "svc-qa"}, {"Name": "VariantName", "Value": "AllTraffic"}],
            },
        },
    })


def test_when_scaling_tracks_gpu_then_the_per_gpu_target_is_multiplied_by_the_gpus(stack, archives):
    triton(stack, archives, scaling=cfg.Scaling(max_instances=2, target_gpu_utilization_percent=60))
    Template.from_stack(stack).has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 240,  # 60% x 4 GPUs of ml.g5.12xlarge
            "CustomizedMetricSpecification": Match.object_like({"MetricName": "GPUUtilization"}),
        },
    })


def test_when_a_gpu_target_meets_a_cpu_instance_then_the_construct_refuses(stack, archives):
    with pytest.raises(ValueError, match=r"scaling.target_gpu_utilization_percent: ml.c5.2xlarge has no GPU; remove it"):
        torchserve(stack, archives, scaling=cfg.Scaling(max_instances=2, target_gpu_utilization_percent=60))


def test_when_a_burstable_instance_is_scaled_without_the_yaml_then_the_construct_refuses_as_validate_does(stack,
                                                                                                       archives):
    """The same rule as `servekit validate` (servekit.rules.variants.scaled_instance), with the same words."""
    with pytest.raises(ValueError, match=r"scaling: ml.t2.medium is burstable \(CPU credits\), which makes scaling on "
                                         r"load unreliable; use an m5/c5 or GPU type, or remove scaling"):
        torchserve(stack, archives, instance_type="ml.t2.medium",
                   scaling=cfg.Scaling(max_instances=2, target_invocations_per_instance=100))


def test_when_schedules_are_set_then_each_becomes_a_scheduled_action_in_its_time_zone(stack, archives):
    torchserve(stack, archives, instance_count=2, scaling=cfg.Scaling(
        min_instances=2, max_instances=6, target_invocations_per_instance=100, schedules=[
            cfg.ScheduledScaling(name="business-hours", cron="0 8 ? * MON-FRI *", time_zone="Europe/Paris",
                                 min_instances=4),
            cfg.ScheduledScaling(name="night", cron="0 20 ? * * *", min_instances=2, max_instances=3)]))
    Template.from_stack(stack).has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
        "ScheduledActions": [
            {"ScheduledActionName": "Schedule-business-hours", "Schedule": "cron(0 8 ? * MON-FRI *)",
             "Timezone": "Europe/Paris", "ScalableTargetAction": {"MinCapacity": 4}},
            {"ScheduledActionName": "Schedule-night", "Schedule": "cron(0 20 ? * * *)", "Timezone": "UTC",
             "ScalableTargetAction": {"MinCapacity": 2, "MaxCapacity": 3}},
        ],
    })


def test_when_an_async_endpoint_scales_to_zero_then_backlog_tracks_and_a_step_policy_wakes_it(stack, archives):
    torchserve(stack, archives, async_inference=cfg.AsyncInference(
        output_s3_uri="s3://my-results/out", failure_s3_uri="s3://my-results/failed", input_s3_uri="s3://my-in/q"),
        scaling=cfg.Scaling(min_instances=0, max_instances=3, target_backlog_per_instance=5))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 0, "MaxCapacity": 3})
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 5,
            "CustomizedMetricSpecification": {
                "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker", "Statistic": "Average",
                "Dimensions": [{"Name": "EndpointName", "Value": "svc-qa"}]}},
    })
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": Match.object_like({
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]}),
    })
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "HasBacklogWithoutCapacity", "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": [Match.object_like({"Ref": Match.string_like_regexp("ScaleOutFromZeroUpperPolicy")})],
    })


def test_when_scale_to_zero_is_asked_of_a_real_time_endpoint_then_the_construct_refuses(stack, archives):
    with pytest.raises(ValueError, match=r"min_instances: 0: scale to zero works only for async_inference"):
        torchserve(stack, archives, scaling=cfg.Scaling(min_instances=0, max_instances=3, target_invocations_per_instance=5))


def alarm(template: Template, metric: str) -> dict:
    (found,) = [a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("MetricName") == metric]
    return found


def test_when_alarms_are_on_a_gpu_instance_then_utilization_thresholds_scale_with_vcpus_and_gpus(stack, archives):
    triton(stack, archives, alarms=cfg.Alarms(cpu_utilization_percent=80, gpu_utilization_percent=95,
                                              gpu_memory_utilization_percent=85, utilization_period_seconds=600))
    template = Template.from_stack(stack)
    assert alarm(template, "CPUUtilization")["Threshold"] == 80 * 48  # ml.g5.12xlarge: 48 vCPUs
    assert alarm(template, "GPUUtilization")["Threshold"] == 95 * 4
    gpu_memory = alarm(template, "GPUMemoryUtilization")
    assert (gpu_memory["Threshold"], gpu_memory["Period"], gpu_memory["Namespace"]) == (85 * 4, 600, "/aws/sagemaker/Endpoints")
    assert alarm(template, "MemoryUtilization")["Threshold"] == 90
    assert alarm(template, "Invocation4XXErrors")["Threshold"] == 10


def test_when_the_instance_has_no_gpu_then_no_gpu_alarm_is_made(stack, archives):
    torchserve(stack, archives, alarms=cfg.Alarms())
    metrics = {alarm_metric(a) for a in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()}
    assert metrics == {"Invocation5XXErrors/Invocations", "ModelLatency", "Invocation4XXErrors", "CPUUtilization", "MemoryUtilization"}


def test_when_a_threshold_is_null_then_that_alarm_is_dropped(stack, archives):
    torchserve(stack, archives, alarms=cfg.Alarms(invocation_4xx_errors_per_minute=None, cpu_utilization_percent=None,
                                                   memory_utilization_percent=None))
    metrics = {alarm_metric(a) for a in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()}
    assert metrics == {"Invocation5XXErrors/Invocations", "ModelLatency"}


def test_when_utilization_alarms_fire_then_they_do_not_roll_a_deployment_back(stack, archives):
    endpoint = torchserve(stack, archives, alarms=cfg.Alarms(), deployment=cfg.Deployment())
    rollback = Template.from_stack(stack).find_resources("AWS::SageMaker::Endpoint")
    (props,) = [r["Properties"] for r in rollback.values()]
    assert len(props["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]) == 2
    assert len(endpoint.alarms) == 5 and len(endpoint.rollback_alarms) == 2


def alarm_metric(alarm: dict) -> str:
    """The metric an alarm watches: its MetricName, or the metrics of its math expression joined with '/'."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return props["MetricName"]
    return "/".join(m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m)
