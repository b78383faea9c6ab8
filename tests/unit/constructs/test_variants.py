"""Production variants for A/B tests (each with its own model, tuning and capacity) and shadow variants."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from servekit import config as cfg
from servekit import naming
from servekit.cdk import ModelData, TfsEndpoint, TorchServeEndpoint


def ab_endpoint(stack, archives, **kwargs):
    challenger = TorchServeEndpoint.variant(
        "challenger", model_data=ModelData.from_asset(archives["torchserve_pip"], identity="cd" * 32),
        instance_type="ml.c5.2xlarge", instance_count=2, weight=1, tuning=cfg.TorchServeTuning(batch_size=8))
    return TorchServeEndpoint(
        stack, "Qa", model_data=ModelData.from_asset(archives["torchserve_pip"], identity="ab" * 32),
        instance_type="ml.m5.xlarge", weight=3, endpoint_name="svc-qa", variants=[challenger], **kwargs)


def models_by_variant(template: Template) -> dict[str, dict]:
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    models = template.find_resources("AWS::SageMaker::Model")
    return {v["VariantName"]: models[v["ModelName"]["Fn::GetAtt"][0]]["Properties"]
            for v in config["Properties"]["ProductionVariants"]}


def test_when_variants_are_added_then_traffic_splits_by_weight_and_each_runs_its_own_model(stack, archives):
    ab_endpoint(stack, archives)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [
        Match.object_like({"VariantName": "AllTraffic", "InitialVariantWeight": 3, "InstanceType": "ml.m5.xlarge",
                           "InitialInstanceCount": 1}),
        Match.object_like({"VariantName": "challenger", "InitialVariantWeight": 1, "InstanceType": "ml.c5.2xlarge",
                           "InitialInstanceCount": 2}),
    ]})
    models = models_by_variant(template)
    own, challenger = models["AllTraffic"]["PrimaryContainer"], models["challenger"]["PrimaryContainer"]
    assert own["Environment"]["SAGEMAKER_TS_BATCH_SIZE"] == "1" and challenger["Environment"]["SAGEMAKER_TS_BATCH_SIZE"] == "8"
    assert own["ModelDataUrl"] != challenger["ModelDataUrl"]  # asset keys follow the identities ab.., cd..


def test_when_variants_are_added_then_the_endpoints_own_variant_keeps_its_logical_ids(stack, archives):
    ab_endpoint(stack, archives)
    ids = Template.from_stack(stack).to_json()["Resources"].keys()
    assert any(i.startswith("QaModel") for i in ids)  # unchanged from a single-variant endpoint
    assert any(i.startswith("QaVariantchallengerModel") for i in ids)


def test_when_variants_scale_then_each_has_its_target_and_alarms_name_their_variant(stack, archives):
    ab_endpoint(stack, archives, alarms=cfg.Alarms(), scaling=cfg.Scaling(max_instances=4, target_invocations_per_instance=100),
                deployment=cfg.Deployment())
    template = Template.from_stack(stack)
    targets = {t["Properties"]["ResourceId"] for t in template.find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values()}
    assert targets == {"endpoint/svc-qa/variant/AllTraffic", "endpoint/svc-qa/variant/challenger"}
    names = {a["Properties"]["AlarmName"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()}
    assert {"svc-qa-invocation-5xx-error-rate", "svc-qa-challenger-invocation-5xx-error-rate",
            "svc-qa-challenger-model-latency-p99"} <= names
    (endpoint,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    assert len(endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]) == 4


def test_when_a_shadow_variant_is_set_then_it_takes_copies_beside_the_single_production_variant(stack, archives):
    shadow = TfsEndpoint.variant("next", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                                 instance_type="ml.c5.2xlarge", weight=0.5, image_version="2.18")
    TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                instance_type="ml.c5.xlarge", shadow_variant=shadow)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "ProductionVariants": [Match.object_like({"VariantName": "AllTraffic", "InitialVariantWeight": 1})],
        "ShadowProductionVariants": [Match.object_like({"VariantName": "next", "InitialVariantWeight": 0.5,
                                                        "InstanceType": "ml.c5.2xlarge"})],
    })
    template.has_resource_properties("AWS::SageMaker::Model", {"PrimaryContainer": Match.object_like({
        "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.18-cpu"})})


def test_when_weights_sum_to_zero_then_the_construct_refuses(stack, archives):
    other = TfsEndpoint.variant("b", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                                instance_type="ml.c5.xlarge", weight=0)
    with pytest.raises(ValueError, match=r"weights sum to 0"):
        TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                    instance_type="ml.c5.xlarge", weight=0, variants=[other])


def test_when_two_variants_share_a_name_then_the_construct_refuses(stack, archives):
    other = TfsEndpoint.variant("AllTraffic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                                instance_type="ml.c5.xlarge")
    with pytest.raises(ValueError, match=r"variant names \['AllTraffic'\] appear twice"):
        TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                    instance_type="ml.c5.xlarge", variants=[other])


def test_when_the_config_has_variants_then_the_stack_builds_each_from_its_own_artifact(archives, default_config_data):
    import aws_cdk as cdk

    from servekit.stacks import add_serving_stacks

    default_config_data["endpoints"][1]["variants"] = [{"name": "challenger", "weight": 0.25,
                                                        "tuning": {"batch_size": 4, "max_workers": 4}}]
    config = cfg.parse(default_config_data)
    data = {key: ModelData.from_asset(archives["tfs"] if "image" in key.endpoint else archives["torchserve_pip"],
                                      identity=str(abs(hash(str(key)))).rjust(64, "0"))
            for key, _ in naming.artifact_endpoints(config)}
    stacks = add_serving_stacks(cdk.App(), config, data)
    models = models_by_variant(Template.from_stack(stacks["question-answering"]))
    assert models["challenger"]["PrimaryContainer"]["Environment"]["SAGEMAKER_TS_MAX_WORKERS"] == "4"
    assert models["challenger"]["PrimaryContainer"]["ModelDataUrl"] != models["AllTraffic"]["PrimaryContainer"]["ModelDataUrl"]


# --- add_variant: the same endpoint, built in steps ---------------------------------------------------------
def _challenger(archives, name="challenger"):
    return TorchServeEndpoint.variant(
        name, model_data=ModelData.from_asset(archives["torchserve_pip"], identity="cd" * 32),
        instance_type="ml.c5.2xlarge", instance_count=2, weight=1, tuning=cfg.TorchServeTuning(batch_size=8))


def _grants(policy: dict) -> set[tuple[str, str, str]]:
    """(effect, action, resource) of each statement of a policy resource, as JSON text: what it allows."""
    import json

    out = set()
    for st in policy["Properties"]["PolicyDocument"]["Statement"]:
        for key in ("Action", "Resource"):
            st = {**st, key: st[key] if isinstance(st[key], list) else [st[key]]}
        extra = json.dumps({k: v for k, v in st.items() if k not in ("Action", "Resource")}, sort_keys=True)
        out |= {(extra, a, json.dumps(r, sort_keys=True)) for a in st["Action"] for r in st["Resource"]}
    return out


def _production_props():
    return dict(alarms=cfg.Alarms(), scaling=cfg.Scaling(max_instances=4, target_invocations_per_instance=100),
                deployment=cfg.Deployment())


def test_when_a_variant_is_added_later_then_the_template_is_the_one_of_passing_it_at_construction(archives):
    env = cdk.Environment(account="111122223333", region="us-east-1")
    at_once = cdk.Stack(cdk.App(), "S", env=env)
    ab_endpoint(at_once, archives, **_production_props())
    later = cdk.Stack(cdk.App(), "S", env=env)
    endpoint = TorchServeEndpoint(
        later, "Qa", model_data=ModelData.from_asset(archives["torchserve_pip"], identity="ab" * 32),
        instance_type="ml.m5.xlarge", weight=3, endpoint_name="svc-qa", **_production_props())
    endpoint.add_variant(_challenger(archives))
    expected, got = Template.from_stack(at_once).to_json()["Resources"], Template.from_stack(later).to_json()["Resources"]
    assert got.keys() == expected.keys()
    policy = "QaExecutionPolicy415A6FBD"
    assert {k: v for k, v in got.items() if k != policy} == {k: v for k, v in expected.items() if k != policy}
    # The execution policy grants the same: its statements come in another order, DescribeAlarms in two.
    assert _grants(got[policy]) == _grants(expected[policy])
    assert [v.name for v in endpoint.production_variants] == ["AllTraffic", "challenger"]


def test_when_a_shadow_variant_is_added_later_then_it_takes_copies_of_the_traffic(stack, archives):
    endpoint = TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                                  instance_type="ml.m5.xlarge", endpoint_name="svc-qa")
    endpoint.add_variant(_challenger(archives, "shadow"), shadow=True)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "ShadowProductionVariants": [Match.object_like({"VariantName": "shadow", "InstanceType": "ml.c5.2xlarge"})]})
    assert endpoint.shadow_variant.name == "shadow"


@pytest.mark.parametrize(("first", "second", "message"), [
    ("challenger", "challenger", r"variant names \['challenger'\] appear twice"),
    ("shadow", "shadow-2", r"has a shadow variant already \(shadow\); SageMaker allows one"),
])
def test_when_add_variant_breaks_a_rule_then_it_fails_naming_it(stack, archives, first, second, message):
    endpoint = TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                                  instance_type="ml.m5.xlarge", endpoint_name="svc-qa")
    shadow = first.startswith("shadow")
    endpoint.add_variant(_challenger(archives, first), shadow=shadow)
    with pytest.raises(ValueError, match=message):
        endpoint.add_variant(_challenger(archives, second), shadow=shadow)


def test_when_a_variant_joins_a_rolling_deployment_then_the_rule_that_excludes_it_holds(stack, archives):
    endpoint = TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                                  instance_type="ml.m5.xlarge", instance_count=2, endpoint_name="svc-qa",
                                  alarms=cfg.Alarms(), deployment=cfg.Deployment(strategy="rolling"))
    with pytest.raises(ValueError, match=r"deployment.strategy: 'rolling': excludes multi-variant endpoints"):
        endpoint.add_variant(_challenger(archives))
