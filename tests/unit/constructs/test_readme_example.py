"""The README's "Using the constructs without the YAML" example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

README = Path(__file__).resolve().parents[3] / "README.md"


def test_when_the_readme_library_example_runs_then_it_synthesizes_both_variants_with_their_alarms():
    code = re.search(r"## Using the constructs without the YAML.*?```python\n(.*?)```", README.read_text(), re.S)
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111122223333", region="us-east-1"))
    names = {"stack": stack, "oncall_arn": "arn:aws:sns:us-east-1:111122223333:oncall",
             "my_lambda": iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))}
    exec(code.group(1), names)  # noqa: S102 - the README's own code
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [
        Match.object_like({"VariantName": "AllTraffic"}), Match.object_like({"VariantName": "challenger",
                                                                             "InitialVariantWeight": 0.1})]})
    alarms = template.find_resources("AWS::CloudWatch::Alarm").values()
    assert {a["Properties"]["AlarmName"] for a in alarms} >= {"qa-prod-model-latency-p99",
                                                               "qa-prod-challenger-model-latency-p99"}
    assert all(a["Properties"]["AlarmActions"] == ["arn:aws:sns:us-east-1:111122223333:oncall"] for a in alarms)
