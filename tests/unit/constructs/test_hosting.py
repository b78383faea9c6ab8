"""The rest of the production variant (hosting: routing, SSM access, core dumps, a capacity reservation) and
concurrency-based scaling: what lands on the variant, what the execution role may then do, what is refused."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template

from servekit import config as cfg
from servekit.cdk import ModelData, TorchServeEndpoint

ENV = cdk.Environment(account="111122223333", region="us-east-1")
KEY = "arn:aws:kms:us-east-1:111122223333:key/0123abcd-12ab-34cd-56ef-1234567890ab"
RESERVATION = "arn:aws:sagemaker:us-east-1:111122223333:training-plan/my-plan"


def endpoint(archives, **props) -> tuple[cdk.Stack, TorchServeEndpoint]:
    stack = cdk.Stack(cdk.App(), "Svc", env=ENV)
    props.setdefault("instance_type", "ml.m5.xlarge")
    made = TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                              endpoint_name="svc-qa", network_isolation=False, **props)
    return stack, made


def variant_of(stack) -> dict:
    (config,) = Template.from_stack(stack).find_resources("AWS::SageMaker::EndpointConfig").values()
    (variant,) = config["Properties"]["ProductionVariants"]
    return variant


def statements(stack) -> list[dict]:
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def actions_on(stack, resource) -> set[str]:
    out = set()
    for s in statements(stack):
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if resource in resources:
            out |= set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    return out


def test_when_hosting_is_set_then_the_production_variant_carries_each_setting(archives):
    stack, _ = endpoint(archives, hosting=cfg.Hosting(
        routing="least_outstanding_requests", ssm_access=True,
        core_dump=cfg.CoreDump(s3_uri="s3://team-dumps/qa", kms_key_arn=KEY),
        capacity_reservation=cfg.CapacityReservation(ml_reservation_arn=RESERVATION)))
    variant = variant_of(stack)
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert variant["EnableSSMAccess"] is True
    assert variant["CoreDumpConfig"] == {"DestinationS3Uri": "s3://team-dumps/qa", "KmsKeyId": KEY}
    assert variant["CapacityReservationConfig"] == {"MlReservationArn": RESERVATION,
                                                    "CapacityReservationPreference": "capacity-reservations-only"}


def test_when_hosting_is_unset_then_the_variant_has_none_of_its_properties_and_the_role_no_extra_grant(archives):
    stack, _ = endpoint(archives)
    variant = variant_of(stack)
    assert not {"RoutingConfig", "EnableSSMAccess", "CoreDumpConfig", "CapacityReservationConfig"} & set(variant)
    granted = {a for s in statements(stack) for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert not {a for a in granted if a.startswith("ssmmessages:") or a == "kms:Encrypt"}


def test_when_core_dumps_go_to_a_prefix_with_a_key_then_the_role_may_write_there_and_encrypt_with_that_key(archives):
    stack, made = endpoint(archives, hosting=cfg.Hosting(core_dump=cfg.CoreDump(s3_uri="s3://team-dumps/qa/",
                                                                                 kms_key_arn=KEY)))
    objects = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::team-dumps/qa/*"]]}
    assert actions_on(stack, objects) == {"s3:PutObject"}
    assert actions_on(stack, KEY) == {"kms:Encrypt", "kms:GenerateDataKey"}
    assert len(made.core_dump_objects) == 1


def test_when_ssm_access_is_on_then_the_agent_may_open_its_channels_and_the_synth_warns(archives):
    stack, _ = endpoint(archives, hosting=cfg.Hosting(ssm_access=True))
    assert actions_on(stack, "*") >= {"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                                      "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"}
    Annotations.from_stack(stack).has_warning("/Svc/Qa", Match.string_like_regexp(
        r"SSM access .*allowlisted by AWS Support.*delays patching and replacing faulty instances by a day"))


def test_when_a_serverless_construct_is_given_instance_routing_then_it_refuses_with_the_fix(archives):
    with pytest.raises(ValueError, match=r"Svc/Qa: serverless: cannot be combined with hosting.routing: serverless has "
                                         r"no instances for it; remove hosting.routing"):
        endpoint(archives, instance_type=None, serverless=cfg.Serverless(),
                 hosting=cfg.Hosting(routing="random"))


def test_when_scaling_tracks_concurrency_then_the_high_resolution_predefined_metric_is_used(archives):
    stack, _ = endpoint(archives, scaling=cfg.Scaling(max_instances=4, target_concurrent_requests_per_model=3))
    Template.from_stack(stack).has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantConcurrentRequestsPerModelHighResolution"},
            "TargetValue": 3})})
