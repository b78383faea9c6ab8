"""Inference-component endpoints in servekit.yaml (component_endpoints): each component validated as an endpoint
of its server, the fleet's keys kept on the fleet, and the fit of the copies on the instances checked before
anything is built."""

from __future__ import annotations

import re

import pytest
from component_fixtures import component_endpoint

from servekit import config as cfg
from servekit import naming


def test_when_a_component_endpoint_is_valid_then_each_component_is_an_endpoint_of_its_server(default_config_data):
    component_endpoint(default_config_data)
    config = cfg.parse(default_config_data)
    (fleet,) = config.component_endpoints
    assert [(c.name, c.serve.server, c.serve.instance_type) for c in fleet.components] == [
        ("qa", "torchserve", "ml.g5.12xlarge"), ("resnet", "triton", "ml.g5.12xlarge")]
    keys = [str(k) for k, _ in naming.artifact_endpoints(config)]
    assert keys[-2:] == ["gpu-fleet/qa", "gpu-fleet/resnet"]  # each component's artifact is built like an endpoint's


def test_when_the_config_has_only_component_endpoints_then_it_is_valid(default_config_data):
    component_endpoint(default_config_data)
    default_config_data["endpoints"] = []
    assert [e.name for e in cfg.parse(default_config_data).component_endpoints] == ["gpu-fleet"]


def test_when_nothing_is_declared_then_it_asks_for_an_endpoint(default_config_data):
    default_config_data["endpoints"] = []
    with pytest.raises(cfg.ConfigError, match=r"endpoints: none declared; add at least one endpoint"):
        cfg.parse(default_config_data)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("scaling", {"max_instances": 2}, r"components\[0\]\.scaling: components scale copies: use copy_scaling"),
    ("instance_type", "ml.m5.xlarge", r"components\[0\]\.instance_type: the component endpoint's instance_type is the "
                                      r"fleet's"),
    ("variants", [{"name": "b"}], r"components\[0\]\.variants: each model is a component of its own"),
    ("serverless", {}, r"components\[0\]\.serverless: serverless endpoints do not host inference components"),
    ("network", {"isolation": False}, r"components\[0\]\.network: set network on the component endpoint"),
    ("data_capture", {"shared_bucket": True}, r"components\[0\]\.data_capture: set data_capture on the component "
                                              r"endpoint"),
])
def test_when_a_component_has_a_key_of_the_fleet_or_one_not_offered_then_it_says_where_it_goes(
        default_config_data, key, value, message):
    component_endpoint(default_config_data)["components"][0][key] = value
    with pytest.raises(cfg.ConfigError, match=r"component_endpoints\[0\]: " + message):
        cfg.parse(default_config_data)


def test_when_a_components_server_schema_refuses_a_key_then_the_component_and_the_key_are_named(default_config_data):
    component_endpoint(default_config_data)["components"][0]["tuning"]["batch_sizee"] = 2
    with pytest.raises(cfg.ConfigError, match=r"components\[0\] \(qa\)\.tuning\.batch_sizee: unknown key .*did you "
                                              r"mean 'batch_size'"):
        cfg.parse(default_config_data)


@pytest.mark.parametrize(("change", "message"), [
    (lambda e: e["components"][0]["compute"].update(memory_mb=300_000),
     r"components \(qa\)\.compute\.memory_mb: 300000: ml\.g5\.12xlarge has 196608 MB; ask for less"),
    (lambda e: e["components"][1]["compute"].update(accelerators=5),
     r"components \(resnet\)\.compute\.accelerators: 5: ml\.g5\.12xlarge has 4 GPU\(s\)"),
    (lambda e: e["components"][1].update(copies=4) or e.update(instance_scaling=None),
     None),  # 4 copies x 1 GPU on 4 GPUs fit
    (lambda e: e["components"][1].update(copies=5, copy_scaling=None),
     r"components\.copies: the copies need 5 accelerators, and 1 x ml\.g5\.12xlarge has 4; raise instance_count"),
    (lambda e: e["components"][1]["copy_scaling"].update(max_copies=9),
     r"components\.copy_scaling\.max_copies: the copies need 9 accelerators, and 2 x ml\.g5\.12xlarge has 8; raise "
     r"instance_scaling\.max_instances"),
])
def test_when_the_copies_do_not_fit_the_fleet_then_the_resource_and_the_fix_are_named(default_config_data, change,
                                                                                      message):
    change(component_endpoint(default_config_data))
    if message is None:
        assert cfg.parse(default_config_data).component_endpoints[0].fit() == []
        return
    with pytest.raises(cfg.ConfigError, match=r"component_endpoints\[0\] \(gpu-fleet\)\." + message):
        cfg.parse(default_config_data)


def test_when_a_copy_asks_for_nearly_all_the_memory_then_validate_warns_of_the_headroom(default_config_data):
    component_endpoint(default_config_data)["components"][0]["compute"]["memory_mb"] = 190_000
    config = cfg.parse(default_config_data)
    (warning,) = [w for w in cfg.advisories(config) if w.startswith("component_endpoints")]
    assert "over 90% of ml.g5.12xlarge's 196608 MB" in warning and "leave headroom" in warning


@pytest.mark.parametrize(("change", "message"), [
    (lambda e: e["components"][0].update(copies=9), r"components\[0\] \(qa\)\.copies: 9 is outside copy_scaling 0\.\.4"),
    (lambda e: e.update(instance_count=3), r"instance_count: 3 is outside instance_scaling 0\.\.2"),
    (lambda e: e["components"][1].update(name="qa"), r"components: names \['qa'\] appear twice"),
    (lambda e: e["components"][0]["copy_scaling"].pop("target_concurrent_requests_per_copy"),
     r"copy_scaling has nothing to scale on; set target_concurrent_requests_per_copy"),
])
def test_when_copies_or_instances_leave_their_ranges_then_it_is_refused(default_config_data, change, message):
    change(component_endpoint(default_config_data))
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.parse(default_config_data)


@pytest.mark.parametrize(("name", "message"), [
    ("shared", r"endpoint name 'shared' is taken by the shared stack \(servekit-dev-shared\)"),
    ("resnet", r"endpoint names \['resnet'\] appear twice"),
])
def test_when_a_component_endpoint_name_is_taken_then_it_is_refused(default_config_data, name, message):
    component_endpoint(default_config_data, name=name)
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.parse(default_config_data)


def test_when_a_triton_component_asks_for_kind_gpu_without_accelerators_then_validate_refuses(default_config_data):
    """Its copies get no GPU (NumberOfAcceleratorDevicesRequired unset: none allocated), so Triton's KIND_GPU instance
    has nothing to be created on."""
    fleet = component_endpoint(default_config_data)
    fleet["components"][1]["compute"].pop("accelerators")  # the default's resnet: instance_group KIND_GPU
    with pytest.raises(cfg.ConfigError, match=r"components\[1\] \(resnet\)\.model resnet: instance_group\.kind "
                                              r"KIND_GPU, but compute\.accelerators is 0.*reserve compute\.accelerators"):
        cfg.parse(default_config_data)


def test_when_a_triton_component_is_kind_auto_on_a_gpu_fleet_without_accelerators_then_validate_warns(
        default_config_data):
    fleet = component_endpoint(default_config_data)
    fleet["components"][1]["compute"].pop("accelerators")
    fleet["components"][1]["model"]["instance_group"]["kind"] = "KIND_AUTO"
    warnings = cfg.advisories(cfg.parse(default_config_data))
    assert any("(resnet).model resnet: instance_group.kind KIND_AUTO with compute.accelerators 0 runs on the CPU"
               in line for line in warnings), warnings


def test_when_an_inference_component_name_runs_past_63_characters_then_validate_refuses(default_config_data):
    fleet = component_endpoint(default_config_data, name="gpu-fleet-two")
    fleet["components"][0]["name"] = "q" * 40  # the longest name a component may have: 27 + 40 characters in all
    with pytest.raises(cfg.ConfigError, match=r"components\[0\] \(q+\)\.name: the InferenceComponentName would be "
                                              r"'servekit-dev-gpu-fleet-two-q+' \(67 characters\), over SageMaker's 63"):
        cfg.parse(default_config_data)


# --- fleet instance pools and per-type specifications -------------------------------------------------------------
def pooled(default_config_data, **fleet) -> dict:
    endpoint = component_endpoint(default_config_data, **fleet)
    endpoint.pop("instance_type")
    endpoint["instance_pools"] = [{"instance_type": "ml.g5.12xlarge", "priority": 1},
                                  {"instance_type": "ml.g6.12xlarge", "priority": 2}]
    return endpoint


def test_when_a_specification_names_a_type_the_fleet_cannot_have_then_it_is_refused(default_config_data):
    pooled(default_config_data)["components"][1]["specifications"] = [
        {"instance_type": "ml.g6e.12xlarge", "compute": {"cpu_cores": 4, "memory_mb": 8192, "accelerators": 1}}]
    with pytest.raises(cfg.ConfigError, match=r"components\[1\] \(resnet\)\.specifications: \['ml\.g6e\.12xlarge'\] are "
                                              r"not instance types of the fleet \(ml\.g5\.12xlarge, ml\.g6\.12xlarge\)"):
        cfg.parse(default_config_data)


def test_when_the_fleet_has_pools_then_each_component_is_checked_on_each_pool(default_config_data):
    endpoint = pooled(default_config_data)
    endpoint["instance_pools"][1]["instance_type"] = "ml.c5.18xlarge"  # no GPU: resnet's KIND_GPU cannot run there
    with pytest.raises(cfg.ConfigError, match=r"components\[1\] \(resnet\)\.instance_pools\[priority 2\] "
                                              r"\(ml\.c5\.18xlarge\): model\.instance_group\.kind: 'KIND_GPU'"):
        cfg.parse(default_config_data)


def test_when_copies_do_not_fit_one_pool_type_then_the_fit_names_that_type(default_config_data):
    pooled(default_config_data)["components"][1]["specifications"] = [
        {"instance_type": "ml.g6.12xlarge", "compute": {"cpu_cores": 4, "memory_mb": 400000, "accelerators": 1}}]
    with pytest.raises(cfg.ConfigError, match=r"instance_pools \(ml\.g6\.12xlarge\)"):
        cfg.parse(default_config_data)


def test_when_the_fleet_has_pools_then_its_instance_type_is_the_first_pools(default_config_data):
    pooled(default_config_data)
    (fleet,) = cfg.parse(default_config_data).component_endpoints
    assert fleet.instance_type == "ml.g5.12xlarge"
    assert fleet.instance_types == ["ml.g5.12xlarge", "ml.g6.12xlarge"]


def test_when_the_fleet_is_placed_in_a_vpc_then_its_network_is_the_fleets(default_config_data):
    component_endpoint(default_config_data, network={"vpc_id": "vpc-0123456789abcdef0",
                                                     "subnet_ids": ["subnet-0123456789abcdef0"]})
    (fleet,) = cfg.parse(default_config_data).component_endpoints
    assert fleet.network.in_vpc and fleet.network.isolation is None


def test_when_the_fleets_network_names_subnets_without_a_group_or_vpc_then_it_says_what_to_add(default_config_data):
    component_endpoint(default_config_data, network={"subnet_ids": ["subnet-0123456789abcdef0"]})
    with pytest.raises(cfg.ConfigError, match=r"component_endpoints\[0\]\.network: .*network\.subnet_ids without "
                                              r"security_group_ids: servekit creates a security group and needs vpc_id"):
        cfg.parse(default_config_data)


def test_when_the_fleet_captures_data_then_validate_says_it_is_unconfirmed_and_the_components_share_a_prefix(
        default_config_data):
    component_endpoint(default_config_data, data_capture={"shared_bucket": True, "sampling_percent": 10})
    config = cfg.parse(default_config_data)
    (fleet,) = config.component_endpoints
    assert fleet.uses_shared_bucket
    (warning,) = [w for w in cfg.advisories(config) if ".data_capture" in w]
    assert warning.startswith("component_endpoints[0] (gpu-fleet).data_capture: written on the fleet's EndpointConfig, "
                              "the API's only place for it; unconfirmed that SageMaker captures inference components' "
                              "requests")
    assert "the 2 components (qa, resnet) share the variant AllTraffic" in warning


def test_when_the_fleet_captures_nothing_then_it_needs_no_shared_bucket_and_says_nothing(default_config_data):
    component_endpoint(default_config_data)
    config = cfg.parse(default_config_data)
    assert not config.component_endpoints[0].uses_shared_bucket
    assert not [w for w in cfg.advisories(config) if ".data_capture" in w]


@pytest.mark.parametrize(("detailed", "messages"), [
    (True, [r"components\[0\] \(qa\)\.metrics_endpoint: the component runs an AWS Deep Learning Container, whose "
            r"metrics endpoint SageMaker finds itself; a path is scraped on port 8080"]),
    (False, [r"metrics_endpoint: the component runs an AWS Deep Learning Container",
             r"components\[0\] \(qa\)\.metrics_endpoint: SageMaker scrapes it only with detailed observability; set "
             r"observability\.detailed: true on the component endpoint"]),
])
def test_when_a_dlc_component_names_a_metrics_endpoint_then_it_is_refused_with_why(default_config_data, detailed,
                                                                                  messages):
    endpoint = component_endpoint(default_config_data, observability={"detailed": detailed})
    endpoint["components"][0]["metrics_endpoint"] = {"path": "/metrics"}
    with pytest.raises(cfg.ConfigError) as refused:
        cfg.parse(default_config_data)
    for message in messages:
        assert re.search(message, str(refused.value)), str(refused.value)


@pytest.mark.parametrize(("change", "message"), [
    ({"path": "/a/../metrics"}, r"metrics_endpoint\.path: .*'/a/\.\./metrics' is not a metrics path SageMaker takes"),
    ({"path": "metrics"}, r"metrics_endpoint\.path: .*'metrics' is not a metrics path SageMaker takes: it starts with /"),
    ({"path": "/metrics", "publish_frequency_seconds": 45}, r"metrics_endpoint\.publish_frequency_seconds: .*45"),
])
def test_when_a_metrics_endpoint_is_not_one_sagemaker_takes_then_the_field_is_named(default_config_data, change,
                                                                                   message):
    component_endpoint(default_config_data)["components"][0]["metrics_endpoint"] = change
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.parse(default_config_data)
