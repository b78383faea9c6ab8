"""VPC placement, network isolation decided from the archive, and per-variant container options."""

from __future__ import annotations

import pytest
from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Annotations, Match, Template

from servekit import config as cfg
from servekit import naming
from servekit.cdk import ModelData, TfsEndpoint, TorchServeEndpoint, TritonEndpoint


def model(template: Template) -> dict:
    (resource,) = template.find_resources("AWS::SageMaker::Model").values()
    return resource["Properties"]


def checkov_skips(template: Template) -> list[dict]:
    """The checkov skips in the Model's CloudFormation Metadata, where checkov reads them."""
    (resource,) = template.find_resources("AWS::SageMaker::Model").values()
    return resource.get("Metadata", {}).get("checkov", {}).get("skip", [])


def in_vpc(stack, archives, **kwargs):
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["us-east-1a"])
    subnets = [ec2.Subnet.from_subnet_id(stack, f"S{i}", f"subnet-0123456789abcdef{i}") for i in range(2)]
    return TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                       instance_type="ml.c5.xlarge", vpc=vpc, vpc_subnets=subnets, **kwargs)


def test_when_subnets_are_given_without_groups_then_a_group_is_created_and_connections_exposed(stack, archives):
    endpoint = in_vpc(stack, archives)
    caller = ec2.SecurityGroup.from_security_group_id(stack, "Caller", "sg-0123456789abcdef9")
    endpoint.connections.allow_from(caller, ec2.Port.tcp(8080))
    template = Template.from_stack(stack)
    (group_id,) = template.find_resources("AWS::EC2::SecurityGroup", {"Properties": {"VpcId": "vpc-0123456789abcdef0"}})
    assert model(template)["VpcConfig"] == {
        "Subnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        "SecurityGroupIds": [{"Fn::GetAtt": [group_id, "GroupId"]}],
    }
    template.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "FromPort": 8080, "ToPort": 8080, "SourceSecurityGroupId": "sg-0123456789abcdef9"})


def test_when_groups_are_given_then_none_is_created_and_the_role_may_manage_enis_there(stack, archives):
    group = ec2.SecurityGroup.from_security_group_id(stack, "G", "sg-0123456789abcdef0")
    in_vpc(stack, archives, security_groups=[group])
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::SecurityGroup", 0)
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    create = next(s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                  if s["Action"] == "ec2:CreateNetworkInterface")
    joined = str(create["Resource"])
    assert ":network-interface/*" in joined and "subnet/subnet-0123456789abcdef1" in joined
    assert "security-group/sg-0123456789abcdef0" in joined


def test_when_subnets_come_without_groups_or_vpc_then_the_construct_asks_for_one(stack, archives):
    subnets = [ec2.Subnet.from_subnet_id(stack, "S", "subnet-0123456789abcdef0")]
    with pytest.raises(ValueError, match=r"without security_groups servekit creates one and needs the vpc"):
        TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                    instance_type="ml.c5.xlarge", vpc_subnets=subnets)


def test_when_the_archive_installs_nothing_at_start_then_network_isolation_is_on(stack, archives):
    TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                instance_type="ml.c5.xlarge")
    template = Template.from_stack(stack)
    assert model(template)["EnableNetworkIsolation"] is True  # checkov CKV_AWS_370
    assert checkov_skips(template) == []


def test_when_tfs_vendors_its_packages_in_code_lib_then_network_isolation_stays_on(stack, archives):
    TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs_vendored"]), model_names=["m"],
                instance_type="ml.c5.xlarge")
    assert model(Template.from_stack(stack))["EnableNetworkIsolation"] is True


def test_when_triton_serves_then_network_isolation_is_on(stack, archives):
    TritonEndpoint(stack, "Rn", model_data=ModelData.from_asset(archives["triton"]), model_name="m",
                   instance_type="ml.g5.xlarge")
    assert model(Template.from_stack(stack))["EnableNetworkIsolation"] is True


def test_when_the_archive_pip_installs_at_start_then_isolation_is_off_with_a_warning(stack, archives):
    TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                       instance_type="ml.m5.xlarge")
    template = Template.from_stack(stack)
    assert model(template)["EnableNetworkIsolation"] is False
    Annotations.from_stack(stack).has_warning("/Svc/Qa", Match.string_like_regexp(
        "Network isolation is off for variant AllTraffic: code/requirements.txt lists transformers==4.57.6"))
    assert checkov_skips(template) == [{"id": "CKV_AWS_370", "comment": (
        "Network isolation is off: code/requirements.txt lists transformers==4.57.6, which the PyTorch toolkit "
        "pip-installs at every start; vendor the packages to turn it on.")}]


def test_when_isolation_is_demanded_of_an_archive_that_pip_installs_then_the_synth_fails(stack, archives):
    with pytest.raises(ValueError, match=r"network isolation is on but code/requirements.txt lists pillow==11.0.0, "
                       r"which TFS pip-installs at start unless code/lib/ vendors the packages"):
        TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs_pip"]), model_names=["m"],
                    instance_type="ml.c5.xlarge", network_isolation=True)


def test_when_isolation_is_turned_off_then_it_is_off_without_a_warning(stack, archives):
    TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                instance_type="ml.c5.xlarge", network_isolation=False)
    template = Template.from_stack(stack)
    assert model(template)["EnableNetworkIsolation"] is False
    assert not Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("Network isolation"))
    assert checkov_skips(template) == [{"id": "CKV_AWS_370", "comment": (
        "Network isolation is off: the endpoint's configuration turns it off (network.isolation: false).")}]


def test_when_container_options_are_set_then_they_land_on_the_production_variant(stack, archives):
    TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                instance_type="ml.c5.xlarge", container=cfg.ContainerOptions(
                    model_data_download_timeout_seconds=900, startup_health_check_timeout_seconds=600,
                    volume_size_gb=64))
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [
        Match.object_like({"ModelDataDownloadTimeoutInSeconds": 900,
                           "ContainerStartupHealthCheckTimeoutInSeconds": 600, "VolumeSizeInGB": 64})]})


def test_when_container_timeouts_are_durations_then_the_variant_carries_their_seconds(stack, archives):
    TfsEndpoint(stack, "Ic", model_data=ModelData.from_asset(archives["tfs"]), model_names=["m"],
                instance_type="ml.c5.xlarge", container=cfg.ContainerOptions(
                    model_data_download_timeout_seconds=Duration.minutes(15),
                    startup_health_check_timeout_seconds=Duration.seconds(600)))
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [
        Match.object_like({"ModelDataDownloadTimeoutInSeconds": 900,
                           "ContainerStartupHealthCheckTimeoutInSeconds": 600})]})


@pytest.mark.parametrize(("duration", "message"), [
    (Duration.millis(61_500), r"model_data_download_timeout_seconds: '61500 millis' cannot be converted into a whole "
                              r"number of seconds\. Use a whole number of seconds"),
    (Duration.seconds(30), r"model_data_download_timeout_seconds\n.*greater than or equal to 60"),
])
def test_when_a_timeout_duration_is_not_whole_seconds_or_too_short_then_the_option_names_it(duration, message):
    with pytest.raises(ValueError, match=message):
        cfg.ContainerOptions(model_data_download_timeout_seconds=duration)


def test_when_a_volume_size_meets_nvme_storage_then_the_construct_refuses(stack, archives):
    with pytest.raises(ValueError, match=r"ml.g5.xlarge has NVMe instance storage, where SageMaker refuses VolumeSizeInGB"):
        TritonEndpoint(stack, "Rn", model_data=ModelData.from_asset(archives["triton"]), model_name="m",
                       instance_type="ml.g5.xlarge", container=cfg.ContainerOptions(volume_size_gb=64))


def test_when_the_config_names_subnets_then_the_stack_places_the_endpoint_in_them(default_config_data, archives):
    import aws_cdk as cdk

    from servekit.stacks import add_serving_stacks

    default_config_data["endpoints"][0]["network"] = {
        "subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}
    config = cfg.parse(default_config_data)
    stacks = add_serving_stacks(cdk.App(), config, {k: ModelData.from_asset(archives["tfs"])
                                                    for k, _ in naming.artifact_endpoints(config)})
    template = Template.from_stack(stacks["image-classifier"])
    assert model(template)["VpcConfig"] == {"Subnets": ["subnet-0123456789abcdef0"],
                                            "SecurityGroupIds": ["sg-0123456789abcdef0"]}
    assert model(template)["EnableNetworkIsolation"] is True
