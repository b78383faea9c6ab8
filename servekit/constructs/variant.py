"""One variant of an endpoint: its SageMaker Model (image, model data, environment, network) and its
entry in the EndpointConfig (capacity or serverless, weight, start timeouts, volume).

Each server class offers a factory (TfsEndpoint.variant, ...) that fills `image` and `environment` from
its tuning; ServingEndpoint turns a list of them into Models and one EndpointConfig.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from servekit import images
from servekit.constructs.checkov import skip_check
from servekit.constructs.container_image import ContainerImage
from servekit.constructs.isolation import start_install_reason
from servekit.constructs.model_data import ModelData
from servekit.facts import iam as iam_facts
from servekit.options import ContainerOptions, Hosting, InstancePool, Serverless, types_by_priority
from servekit.rules import variants as variant_rules
from servekit.rules.gpu import GpuVerdict

VARIANT_NAME = re.compile(variant_rules.NAME_PATTERN)


@dataclass(frozen=True)
class Variant:
    """A production or shadow variant.

    :param name: VariantName, unique in the endpoint.
    :param server: tfs | torchserve | triton (decides what the container installs at start).
    :param instance_type: e.g. ml.g5.xlarge; None with `serverless`.
    :param weight: production: traffic weight (share = weight / sum); shadow: weight relative to the
        production variant's (1.0 copies every request).
    :param container: start timeouts and volume size. Default: SageMaker's defaults.
    :param hosting: routing among instances, SSM access, core dumps, a capacity reservation. Default: Hosting()
        (none set: SageMaker's defaults).
    :param gpu: servekit.rules.gpu's verdict: the InferenceAmiVersion to set (the user's, or one servekit picked
        because the default driver cannot run the image) and the warnings to annotate. Default: none, the
        instance family's default AMI.
    :param instance_pools: the instance types it may run on, by priority (InstancePools; `instance_type` is then
        the priority-1 type, whose counts the alarms and scaling use). Default: none (`instance_type` alone).
    :param provision_timeout_seconds: VariantInstanceProvisionTimeoutInSeconds (300-3600), with instance_pools.
        Default: SageMaker's.
    :param plugin: the servekit.servers.base.Server that made it (the server constructs' `variant()` set it): it
        says what the container installs at start. Default: none (that check is skipped).
    """

    name: str
    server: str
    model_data: ModelData
    image: ContainerImage
    environment: Mapping[str, str]
    instance_type: str | None = None
    instance_count: int = 1
    weight: float = 1.0
    serverless: Serverless | None = None
    container: ContainerOptions = field(default_factory=ContainerOptions)
    gpu: GpuVerdict = field(default_factory=GpuVerdict)
    hosting: Hosting = field(default_factory=Hosting)
    plugin: Any = None
    instance_pools: Sequence[InstancePool] = ()
    provision_timeout_seconds: int | None = None

    def __post_init__(self) -> None:
        if not VARIANT_NAME.match(self.name):
            raise ValueError(f"variant name {self.name!r} must be 1-63 letters, digits and hyphens")
        if (self.instance_type is None) == (self.serverless is None):
            raise ValueError(f"variant {self.name}: give instance_type or serverless, not both or neither")
        if self.weight < 0:
            raise ValueError(f"variant {self.name}: weight {self.weight} must be >= 0")
        if self.instance_type is not None and images.instance_facts(self.instance_type) is None:
            raise ValueError(f"variant {self.name}: instance_type {self.instance_type!r} is unknown; use a SageMaker "
                             f"type like ml.m5.xlarge{images.suggest_instance_type(self.instance_type)}")
        for problem in variant_rules.pool_problems(self.instance_type, [(p.instance_type, p.priority)
                                                                         for p in self.instance_pools],
                                                   self.provision_timeout_seconds, self.serverless is not None):
            raise ValueError(f"variant {self.name}: {problem}")
        for instance_type in self.instance_types:
            facts = images.variant_facts(instance_type)
            for problem in variant_rules.nvme_volume(instance_type, facts.nvme, self.container.volume_size_gb):
                raise ValueError(f"variant {self.name}: {problem}")

    @property
    def instance_types(self) -> list[str | None]:
        """Every type it may run on: the pools' by priority, else its instance_type (None: serverless)."""
        return types_by_priority(self.instance_type, self.instance_pools)

    @property
    def facts(self) -> images.InstanceFacts:
        return images.variant_facts(self.instance_type)  # type: ignore[return-value]


def add_model(
    scope: Construct,
    variant: Variant,
    *,
    role: iam.IRole,
    policy: iam.ManagedPolicy,
    isolation: bool | None,
    vpc_config: sagemaker.CfnModel.VpcConfigProperty | None,
    data_bucket: s3.IBucket | None = None,
    kms_key: kms.IKey | None = None,
    bound: tuple[str, str] | None = None,
) -> tuple[sagemaker.CfnModel, str]:
    """The variant's SageMaker Model, in `scope`, and its image URI. isolation None: on, unless the archive installs packages
    at start (then off, with a warning annotation); True with such an archive is refused. data_bucket, kms_key: where
    an uncompressed local layout is copied (ModelData.from_directory). `bound`: (model data URL, instance type) for a
    pool's Model: the variant's data, already bound, and the image of that type."""
    off_because = _isolation_off_because(scope, variant, isolation)
    data = variant.model_data
    url = bound[0] if bound else data.bind(scope, policy, data_bucket=data_bucket, kms_key=kms_key)
    image_uri = variant.image.bind(scope, policy, bound[1] if bound else variant.instance_type)
    model = sagemaker.CfnModel(
        scope,
        "Model",
        execution_role_arn=role.role_arn,
        primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
            image=image_uri,
            model_data_url=None if data.uncompressed else url,
            model_data_source=sagemaker.CfnModel.ModelDataSourceProperty(
                s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                    s3_uri=url, s3_data_type="S3Prefix", compression_type="None")) if data.uncompressed else None,
            environment=dict(variant.environment),
            mode="MultiModel" if data.multi_model else None,
        ),
        enable_network_isolation=not off_because,
        vpc_config=vpc_config,
    )
    if off_because:
        skip_check(model, "CKV_AWS_370", f"Network isolation is off: {off_because}.")
    # The model must not be created before its role can read the model data, nor before a layout is copied.
    model.node.add_dependency(policy)
    if data.deployment is not None:
        model.node.add_dependency(data.deployment)
    return model, image_uri


def add_type_models(scope: Construct, variant: Variant, model: sagemaker.CfnModel, image_uri: str,
                    instance_types: Sequence[str | None], *, id_prefix: str,
                    **common: Any) -> dict[str, sagemaker.CfnModel]:
    """One more Model for each of `instance_types` (a variant's pools, a fleet's) whose image differs from
    `image_uri`, the image of `variant`'s own `model` (a CPU type beside GPU ones, an arm64 type): the same model
    data, environment and role, in `scope`/`<id_prefix>-<type>`. `common`: add_model's role, policy, isolation and
    vpc_config."""
    source = model.primary_container
    url = source.model_data_url or source.model_data_source.s3_data_source.s3_uri
    out = {}
    for instance_type in instance_types:
        if instance_type is not None and variant.image.resolve(scope, instance_type) != image_uri:
            type_scope = Construct(scope, f"{id_prefix}-{instance_type.replace('.', '-')}")
            out[instance_type], _ = add_model(type_scope, variant, bound=(url, instance_type), **common)
    return out


def _isolation_off_because(scope: Construct, variant: Variant, wanted: bool | None) -> str | None:
    """Why the model runs without network isolation, or None when it runs isolated."""
    if variant.serverless is not None:
        if wanted:
            raise ValueError(f"{scope.node.path}: serverless endpoints cannot isolate the network; remove isolation")
        return "serverless endpoints cannot isolate the network"
    if wanted is False:
        return "the endpoint's configuration turns it off (network.isolation: false)"
    archive = variant.model_data.archive
    reason = start_install_reason(archive, variant.plugin) if archive is not None and variant.plugin else None
    if reason is None:
        return None
    if wanted:
        raise ValueError(f"{scope.node.path}: network isolation is on but {reason}; vendor the packages (code/lib for "
                         "TFS) or set network.isolation: false")
    cdk.Annotations.of(scope).add_warning_v2(
        "servekit:network-isolation-off",
        f"Network isolation is off for variant {variant.name}: {reason}. Vendor the packages to turn it on.",
    )
    return f"{reason}; vendor the packages to turn it on"


def variant_property(
    variant: Variant, model: sagemaker.CfnModel, pool_models: Mapping[str, sagemaker.CfnModel] | None = None,
) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    """`pool_models`: the Model of each pool whose image differs from the variant's own (its ModelNameOverride)."""
    serverless = variant.serverless
    options = variant.container
    pools = [sagemaker.CfnEndpointConfig.InstancePoolProperty(
        instance_type=p.instance_type, priority=p.priority,
        model_name_override=(pool_models or {})[p.instance_type].attr_model_name
        if p.instance_type in (pool_models or {}) else None)
        for p in sorted(variant.instance_pools, key=lambda p: p.priority)]
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=variant.name,
        model_name=model.attr_model_name,
        initial_variant_weight=variant.weight,
        instance_type=None if pools else variant.instance_type,
        instance_pools=pools or None,
        variant_instance_provision_timeout_in_seconds=variant.provision_timeout_seconds,
        initial_instance_count=variant.instance_count if serverless is None else None,
        serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
            memory_size_in_mb=serverless.memory_size_mb,
            max_concurrency=serverless.max_concurrency,
            provisioned_concurrency=serverless.provisioned_concurrency,
        ) if serverless is not None else None,
        model_data_download_timeout_in_seconds=options.model_data_download_timeout_seconds,
        container_startup_health_check_timeout_in_seconds=options.startup_health_check_timeout_seconds,
        volume_size_in_gb=options.volume_size_gb,
        inference_ami_version=variant.gpu.ami,
        **hosting_properties(variant.hosting),
    )


def hosting_properties(hosting: Hosting) -> dict[str, object]:
    """The ProductionVariant properties of `hosting`, only those set (so a variant without them keeps its
    template bytes)."""
    out: dict[str, object] = {}
    if hosting.routing is not None:
        out["routing_config"] = sagemaker.CfnEndpointConfig.RoutingConfigProperty(
            routing_strategy=hosting.routing.upper())
    if hosting.ssm_access is not None:
        out["enable_ssm_access"] = hosting.ssm_access
    if hosting.core_dump is not None:
        out["core_dump_config"] = sagemaker.CfnEndpointConfig.CoreDumpConfigProperty(
            destination_s3_uri=hosting.core_dump.s3_uri, kms_key_id=hosting.core_dump.kms_key_arn)
    if hosting.capacity_reservation is not None:
        reservation = hosting.capacity_reservation
        out["capacity_reservation_config"] = sagemaker.CfnEndpointConfig.CapacityReservationConfigProperty(
            ml_reservation_arn=reservation.ml_reservation_arn,
            capacity_reservation_preference="capacity-reservations-only")
    return out


def check_variants(path: str, production: Sequence[Variant], shadow: Variant | None) -> None:
    """What the EndpointConfig API refuses, caught at synth."""
    if not production:
        raise ValueError(f"{path}: an endpoint needs at least one production variant")
    for problem in variant_rules.duplicate_names([v.name for v in [*production, *([shadow] if shadow else [])]]):
        raise ValueError(f"{path}: {problem}")


def grant_hosting(scope: Construct, policy: iam.ManagedPolicy, variant: Variant, core_dump_objects: list[str],
                  ssm_granted: bool) -> bool:
    """What the variant's hosting settings make SageMaker do with the execution role (servekit.facts.iam): write
    core dumps under the prefix given (with its key; each prefix once, recorded in `core_dump_objects` for the
    nag acknowledgement), run the SSM agent (once per role, with a warning on `scope`). Returns whether SSM is
    granted now."""
    hosting = variant.hosting
    if hosting.core_dump is not None:
        bucket, _, key = hosting.core_dump.s3_uri.removeprefix("s3://").partition("/")
        objects = f"arn:{cdk.Aws.PARTITION}:s3:::{bucket}/{key.rstrip('/') + '/' if key else ''}*"
        if objects not in core_dump_objects:
            core_dump_objects.append(objects)
            policy.add_statements(iam.PolicyStatement(actions=["s3:PutObject"], resources=[objects]))
        if hosting.core_dump.kms_key_arn is not None:
            policy.add_statements(iam.PolicyStatement(actions=["kms:Encrypt", "kms:GenerateDataKey"],
                                                      resources=[hosting.core_dump.kms_key_arn]))
    if hosting.ssm_access and not ssm_granted:
        # No resource type: '*' is the only resource AWS allows for these actions.
        policy.add_statements(iam.PolicyStatement(actions=list(iam_facts.SSM_MESSAGES), resources=["*"]))
        cdk.Annotations.of(scope).add_warning_v2(
            "servekit:ssm-access",
            f"variant {variant.name} has SSM access (hosting.ssm_access): your account must be allowlisted by AWS "
            "Support, it can slow the endpoint, and SageMaker delays patching and replacing faulty instances by a "
            "day (AWS sagemaker/latest/dg/ssm-access.html); keep it to dev and test endpoints.",
        )
        return True
    return ssm_granted
