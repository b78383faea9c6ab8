"""servekit.yaml -> construct props: the one place that turns a validated endpoint into what the constructs take.

The constructs know no YAML: they take CDK types (sns.ITopic, cloudwatch.IAlarm, ec2.ISubnet, ...) and the
Variants a server's `variant(...)` factory makes. Here the config's strings become those objects (a topic
ARN becomes an imported topic, an alarm name an imported alarm, subnet ids imported subnets), each variant's
model data is found by its ArtifactKey, and the names come from servekit.naming.

Variants go to the constructor, not add_variant(): the constructor creates every variant's Model before the
EndpointConfig, so the template keeps its resource order whatever the number of variants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from servekit.constructs import ModelData, ServingEndpoint
from servekit.constructs.components import ComponentProps, InferenceComponentEndpoint
from servekit.constructs.variant import Variant
from servekit.naming import ArtifactKey
from servekit.spec.endpoint import ResolvedVariant


def make_endpoint(
    scope: Construct,
    construct_id: str,
    endpoint: Any,
    model_data: Mapping[ArtifactKey, ModelData],
    kms_key: kms.IKey | None,
    endpoint_name: str | None = None,
    data_bucket: s3.IBucket | None = None,
) -> ServingEndpoint:
    """The construct for one servekit.yaml endpoint: its own variant, its A/B and shadow variants, and the
    production blocks, turned from config into construct props."""
    resolved = endpoint.resolved_variants()
    variants = [_variant(r, _model_data(endpoint, r.name, model_data)) for r in resolved]
    production = [v for v, r in zip(variants, resolved, strict=True) if r.role == "production"]
    shadow = next((v for v, r in zip(variants, resolved, strict=True) if r.role == "shadow"), None)
    network = endpoint.network
    imported = _network(scope, network)  # before the alarms: the construct tree's order is the template's metadata
    alarms, topic = _alarms_and_topic(scope, construct_id, endpoint.alarms)
    deployment = endpoint.deployment
    rollback: list[cloudwatch.IAlarm] = []
    if deployment is not None and deployment.rollback_alarm_names:
        rollback = [cloudwatch.Alarm.from_alarm_name(scope, f"{construct_id}RollbackAlarm{i}", name)
                    for i, name in enumerate(deployment.rollback_alarm_names)]
        deployment = deployment.model_copy(update={"rollback_alarm_names": []})
    return ServingEndpoint(
        scope, construct_id, production_variants=production, shadow_variant=shadow,
        endpoint_name=endpoint_name, kms_key=kms_key, data_bucket=data_bucket,
        scaling=endpoint.scaling, deployment=deployment, alarms=alarms, alarm_topic=topic, rollback_alarms=rollback,
        data_capture=endpoint.data_capture, async_inference=endpoint.async_inference,
        network_isolation=network.isolation, observability=endpoint.observability, **imported,
    )


def _network(scope: Construct, network: Any) -> dict[str, Any]:
    """servekit.yaml's `network` as the constructs take it: imported subnets, security groups and VPC."""
    if not network.in_vpc:
        return {"vpc": None, "vpc_subnets": None, "security_groups": None}
    vpc = None
    if network.vpc_id is not None:
        # Only the id is used (for the security group servekit creates); the AZs are the region's.
        vpc = ec2.Vpc.from_vpc_attributes(scope, "Vpc", vpc_id=network.vpc_id, availability_zones=cdk.Fn.get_azs())
    return {
        "vpc": vpc,
        "vpc_subnets": [ec2.Subnet.from_subnet_id(scope, f"Subnet{i}", s) for i, s in enumerate(network.subnet_ids)],
        "security_groups": [ec2.SecurityGroup.from_security_group_id(scope, f"SecurityGroup{i}", g)
                            for i, g in enumerate(network.security_group_ids)],
    }


def _alarms_and_topic(scope: Construct, construct_id: str, alarms: Any) -> tuple[Any, sns.ITopic | None]:
    """servekit.yaml's alarms as the constructs take them: None when disabled, and the topic apart."""
    if not alarms.enabled:
        return None, None
    if not alarms.sns_topic_arn:
        return alarms, None
    topic = sns.Topic.from_topic_arn(scope, f"{construct_id}AlarmTopic", alarms.sns_topic_arn)
    return alarms.model_copy(update={"sns_topic_arn": None}), topic


def _model_data(endpoint: Any, variant_name: str, model_data: Mapping[ArtifactKey, ModelData]) -> ModelData:
    if endpoint.multi_model is not None:
        return ModelData.from_s3_prefix(endpoint.multi_model.s3_prefix)
    key = ArtifactKey.of(endpoint, variant_name)
    if key not in model_data:
        raise ValueError(f"no model data for {str(key)!r}; build it (servekit.synth.build_model_data builds every "
                         "variant)")
    return model_data[key]


def _variant(resolved: Any, model_data: ModelData) -> Variant:
    ep = resolved.endpoint
    common = dict(
        instance_type=ep.instance_type, instance_count=ep.instance_count,
        weight=resolved.weight, image_version=ep.image_version, tuning=ep.tuning, serverless=ep.serverless,
        container=ep.container, hosting=ep.hosting, where=f"{ep.name}/{resolved.name}",
        inference_ami_version=ep.inference_ami_version, instance_pools=ep.instance_pools,
        provision_timeout_seconds=ep.provision_timeout_seconds,
    )
    return ep.plugin.variant(ep, resolved.name, model_data, **common)


def make_component_endpoint(scope: Construct, construct_id: str, endpoint: Any,
                            model_data: Mapping[ArtifactKey, ModelData], kms_key: kms.IKey | None,
                            endpoint_name: str, data_bucket: s3.IBucket | None = None) -> InferenceComponentEndpoint:
    """The construct of one servekit.yaml component endpoint: each component's variant made by its server, as
    for an endpoint of that server on the fleet's instance type."""
    components = []
    for c in endpoint.components:
        key = ArtifactKey(endpoint.name, c.name)
        if key not in model_data:
            raise ValueError(f"no model data for {str(key)!r}; build it (servekit.synth.build_model_data builds every "
                             "component)")
        variant = _variant(ResolvedVariant(c.name, "production", 1.0, c.serve), model_data[key])
        rollback = [cloudwatch.Alarm.from_alarm_name(scope, f"{construct_id}{c.name}RollbackAlarm{i}", name)
                    for i, name in enumerate(c.rollout.rollback_alarm_names)]
        components.append(ComponentProps(
            name=c.name, variant=variant, compute=c.compute, copies=c.copies, copy_scaling=c.copy_scaling,
            rollout=c.rollout.model_copy(update={"rollback_alarm_names": []}), rollback_alarms=rollback,
            data_cache=c.data_cache, scheduling=c.scheduling, metrics_endpoint=c.metrics_endpoint,
            specifications={s.instance_type: s.compute for s in c.specifications or []} or None))
    imported = _network(scope, endpoint.network)
    alarms, topic = _alarms_and_topic(scope, construct_id, endpoint.alarms)
    return InferenceComponentEndpoint(
        scope, construct_id, endpoint_name=endpoint_name, instance_type=endpoint.instance_type,
        components=components, instance_count=endpoint.instance_count, instance_scaling=endpoint.instance_scaling,
        hosting=endpoint.hosting, container=endpoint.container, inference_ami_version=endpoint.inference_ami_version,
        kms_key=kms_key, data_bucket=data_bucket, alarms=alarms, alarm_topic=topic,
        observability=endpoint.observability, instance_pools=endpoint.instance_pools or (),
        provision_timeout_seconds=endpoint.provision_timeout_seconds, data_capture=endpoint.data_capture,
        network_isolation=endpoint.network.isolation, **imported,
    )
