"""The metric factory: one variant's or one inference component's SageMaker metrics, named as AWS's metric pages
name them, the same object each time they are asked for."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

from servekit.constructs.metrics import SageMakerMetrics


def rendered(metric: cloudwatch.Metric) -> tuple[str, str, dict, str]:
    stack = cdk.Stack(cdk.App(), "S")
    alarm = metric.create_alarm(stack, "A", threshold=1, evaluation_periods=1)
    props = stack.resolve(alarm.node.default_child._cfn_properties)
    dims = {d["name"]: d["value"] for d in props["dimensions"]}
    return props["namespace"], props["metricName"], dims, props.get("statistic") or props.get("extendedStatistic")


def test_when_a_metric_is_asked_for_twice_then_it_is_the_same_object():
    metrics = SageMakerMetrics.for_variant("ep", "AllTraffic")
    assert metrics.model_latency() is metrics.model_latency()
    assert metrics.model_latency("p50") is not metrics.model_latency()


def test_when_a_variants_utilization_is_asked_for_then_it_is_the_endpoints_summed_metric():
    metrics = SageMakerMetrics.for_variant("ep", "blue")
    assert rendered(metrics.utilization("gpu")) == (
        "/aws/sagemaker/Endpoints", "GPUUtilization", {"EndpointName": "ep", "VariantName": "blue"}, "Average")
    assert not metrics.normalized


def test_when_a_components_utilization_is_asked_for_then_it_is_the_normalized_component_metric():
    metrics = SageMakerMetrics.for_component("ep-qa")
    assert rendered(metrics.utilization("memory")) == (
        "/aws/sagemaker/InferenceComponents", "MemoryUtilizationNormalized", {"InferenceComponentName": "ep-qa"},
        "Average")
    assert rendered(metrics.invocations()) == ("AWS/SageMaker", "Invocations", {"InferenceComponentName": "ep-qa"},
                                               "Sum")
    assert metrics.normalized


def test_when_an_existing_endpoint_is_imported_by_name_then_it_grants_invoke_and_gives_its_metrics():
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    from servekit.constructs import ServingEndpoint

    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    endpoint = ServingEndpoint.from_endpoint_name(stack, "Existing", "team-ranker")
    role = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(role)
    arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:eu-west-1:111122223333:endpoint/team-ranker"]]}
    assert stack.resolve(endpoint.endpoint_arn) == arn
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == arn
    assert "sagemaker:InvokeEndpoint" in statement["Action"]
    assert rendered(endpoint.metrics().invocations())[2] == {"EndpointName": "team-ranker", "VariantName": "AllTraffic"}
    assert Template.from_stack(stack).find_resources("AWS::SageMaker::Endpoint") == {}
