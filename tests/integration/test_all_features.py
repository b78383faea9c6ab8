"""tests/fixtures/all-features.yaml, every key servekit has, synthesized by `servekit synth` (cdk-nag runs inside
it): cfn-lint finds nothing in any template, checkov fails nothing (each skip exact, with its reason), and the
properties SageMaker added in 2026 (MetricsConfig, InstancePools, ScaleInPolicy, Specifications, DataCacheConfig,
SchedulingConfig) are checked
by cfn-lint's own CloudFormation schema, which knows them. The IAM evaluation of its roles is
test_execution_roles.py's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "all-features.yaml"
pytestmark = pytest.mark.integration

# (resource type, property path in its schema, where the template carries it): the 2026 properties servekit
# writes. The schema is cfn-lint 1.58's bundled CloudFormation provider schema (us-east-1); botocore 1.44.8's
# SageMaker service model describes the same fields (servekit/facts/observability.py, spec/components.py).
NEW_PROPERTIES = [
    ("AWS::SageMaker::EndpointConfig", ["MetricsConfig", "EnableDetailedObservability"]),
    ("AWS::SageMaker::EndpointConfig", ["MetricsConfig", "EnableEnhancedMetrics"]),
    ("AWS::SageMaker::EndpointConfig", ["MetricsConfig", "MetricPublishFrequencyInSeconds"]),
    ("AWS::SageMaker::EndpointConfig", ["ProductionVariants", "ManagedInstanceScaling", "ScaleInPolicy", "Strategy"]),
    ("AWS::SageMaker::EndpointConfig", ["ProductionVariants", "InstancePools", "ModelNameOverride"]),
    ("AWS::SageMaker::EndpointConfig", ["ProductionVariants", "VariantInstanceProvisionTimeoutInSeconds"]),
    # The fleet of all-features.yaml has instance pools, so its components are written as Specifications.
    ("AWS::SageMaker::InferenceComponent", ["Specifications", "InstanceType"]),
    ("AWS::SageMaker::InferenceComponent", ["Specifications", "DataCacheConfig", "EnableCaching"]),
    ("AWS::SageMaker::InferenceComponent", ["Specifications", "SchedulingConfig", "PlacementStrategy"]),
    ("AWS::SageMaker::InferenceComponent", ["Specifications", "SchedulingConfig", "AvailabilityZoneBalance",
                                            "MaxImbalance"]),
    # The fleet's VPC and capture, on its EndpointConfig (servekit.facts.fleets).
    ("AWS::SageMaker::EndpointConfig", ["VpcConfig", "Subnets"]),
    ("AWS::SageMaker::EndpointConfig", ["EnableNetworkIsolation"]),
    ("AWS::SageMaker::EndpointConfig", ["DataCaptureConfig", "DestinationS3Uri"]),
]
# A component's Container.ContainerMetricsConfig is taken only by a server with its own image (AWS's DLCs are found
# by SageMaker), so all-features.yaml, of servekit's DLC servers, cannot write it: test_plugin_server.py's fleet
# of the echo plug-in does, and cfn-lint checks it there; here its schema path is checked to exist.
SCHEMA_ONLY = [("AWS::SageMaker::InferenceComponent", ["Specifications", "Container", "ContainerMetricsConfig",
                                                       "MetricsEndpoints", "MetricsEndpointPath"]),
               ("AWS::SageMaker::InferenceComponent", ["Specification", "Container", "ContainerMetricsConfig",
                                                       "MetricsEndpoints", "MetricPublishFrequencyInSeconds"])]


@pytest.fixture(scope="module")
def assembly(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("all-features") / "cdk.out"
    result = subprocess.run([sys.executable, "-m", "servekit.cli", "synth", str(FIXTURE), "--output", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def _schema_has(resource_type: str, path: list[str]) -> bool:
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    node: dict = schema
    for key in path:
        while "$ref" in node or node.get("type") == "array":
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node["items"]
        if key not in node.get("properties", {}):
            return False
        node = node["properties"][key]
    return True


def _template_has(templates: list[dict], resource_type: str, path: list[str]) -> bool:
    def walk(value, keys):
        if not keys:
            return True
        if isinstance(value, list):
            return any(walk(v, keys) for v in value)
        return isinstance(value, dict) and keys[0] in value and walk(value[keys[0]], keys[1:])

    return any(walk(r["Properties"], path) for t in templates for r in t["Resources"].values()
               if r["Type"] == resource_type)


def test_when_every_feature_is_synthesized_then_cfn_lint_finds_nothing(assembly):
    templates = sorted(str(p) for p in assembly.glob("*.template.json"))
    assert len(templates) == 8
    result = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates],
                            capture_output=True, text=True, timeout=900)
    assert (result.returncode, result.stdout.strip()) == (0, ""), result.stdout + result.stderr


@pytest.mark.parametrize(("resource_type", "path"), NEW_PROPERTIES, ids=[".".join(p) for _, p in NEW_PROPERTIES])
def test_when_a_2026_property_is_written_then_cfn_lints_schema_checks_it(assembly, resource_type, path):
    templates = [json.loads(p.read_text()) for p in assembly.glob("*.template.json")]
    assert _template_has(templates, resource_type, path), f"all-features.yaml no longer writes {'.'.join(path)}"
    assert _schema_has(resource_type, path), f"cfn-lint's schema does not know {resource_type} {'.'.join(path)}"


def test_when_checkov_scans_every_feature_then_nothing_fails_and_each_skip_gives_its_reason(assembly):
    from servekit_checkov import scan, where

    found = scan(assembly)
    assert found["failed"] == [], [where(r) for r in found["failed"]]
    assert all(r["check_result"].get("suppress_comment") for r in found["skipped"])
    assert len(found["passed"]) > 100


@pytest.mark.parametrize(("resource_type", "path"), SCHEMA_ONLY, ids=[".".join(p) for _, p in SCHEMA_ONLY])
def test_when_a_component_names_its_metrics_endpoint_then_cfn_lints_schema_knows_where_it_goes(resource_type, path):
    assert _schema_has(resource_type, path)


def test_the_schema_check_sees_a_property_the_schema_does_not_have():
    assert not _schema_has("AWS::SageMaker::EndpointConfig", ["MetricsConfig", "EnableEverything"])
    assert _schema_has("AWS::SageMaker::EndpointConfig", ["ProductionVariants", "InstancePools", "Priority"])
