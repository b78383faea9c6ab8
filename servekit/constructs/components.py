"""InferenceComponentEndpoint: one fleet of instances (an EndpointConfig variant without a model, its instances
managed by SageMaker) that hosts several models, each an AWS::SageMaker::InferenceComponent with its own
server, artifact, compute per copy and copies.

Per component: a SageMaker Model (the same one a server's variant makes: its DLC, model data, environment,
network isolation), the InferenceComponent naming it, copy autoscaling (target tracking on invocations or
concurrent requests per copy; with min_copies 0, AWS's step policy on NoCapacityInvocationFailures that wakes it),
a rolling update of its copies that rolls back on the alarms given, and, with `alarms`, its own alarms on its
metrics (servekit.constructs.metrics: by InferenceComponentName; utilization normalized to its reservation).

Per fleet: the EndpointConfig with the execution role, its VPC (also on every Model) and whether all the Models
are isolated, as AWS's SDK writes an inference-component endpoint (servekit.facts.fleets), its data capture
(unconfirmed for components: a warning says so) and its MetricsConfig.

Sources (AWS): realtime-endpoints-deploy-models.html (inference components; the EndpointConfig carries the
execution role, its variant no ModelName), endpoint-auto-scaling-zero-instances.html (scale to zero: min copies 0,
ManagedInstanceScaling MinInstanceCount 0, and the step scaling policy on NoCapacityInvocationFailures),
endpoint-auto-scaling-add-code-define.html (the per-copy predefined metrics).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from servekit import images, naming
from servekit.constructs.alarms import VariantAlarms, add_variant_alarms
from servekit.constructs.data_paths import DataPaths
from servekit.constructs.durations import seconds
from servekit.constructs.endpoint import metrics_config
from servekit.constructs.execution_role import execution_role, grant_describe_alarms
from servekit.constructs.metrics import SageMakerMetrics
from servekit.constructs.network import EndpointNetwork
from servekit.constructs.variant import Variant, add_model, add_type_models, grant_hosting, hosting_properties
from servekit.options import (
    Alarms,
    ContainerOptions,
    DataCapture,
    Hosting,
    InstancePool,
    Observability,
    types_by_priority,
)
from servekit.rules import variants as variant_rules
from servekit.rules.components import capture_problems, fleet_problems, metrics_endpoint_problems
from servekit.spec.components import (
    ComponentCompute,
    ComponentRollout,
    CopyScaling,
    InstanceScaling,
    MetricsEndpoint,
    ScaleIn,
    Scheduling,
)

FLEET = "AllTraffic"  # the one production variant of a component endpoint


@dataclass(frozen=True)
class ComponentProps:
    """One inference component.

    :param name: the component's name in servekit; its InferenceComponentName is `<endpoint_name>-<name>`.
    :param variant: what it serves, from a server's factory (e.g. TorchServeEndpoint.variant(name, model_data=...,
        instance_type=<the fleet's>)): its image, environment and model data.
    :param compute: cores, memory and accelerators one copy reserves.
    :param copies: CopyCount at creation. Default: 1.
    :param copy_scaling: autoscaling of the copies. Default: none (a fixed count).
    :param rollout: the rolling update of its copies. Default: ComponentRollout() (one copy at a time).
    :param rollback_alarms: alarms that roll an update back (DescribeAlarms granted on each). Default: none.
    :param data_cache: DataCacheConfig.EnableCaching: instances keep the image and model data. Default: False.
    :param scheduling: SchedulingConfig: placement (SPREAD or BINPACK) and Availability Zone balance. Default:
        none (SageMaker's placement).
    :param specifications: what a copy reserves on each of the fleet's pool types, where it differs from
        `compute`. Default: none (`compute` everywhere).
    :param metrics_endpoint: Container.ContainerMetricsConfig, the path SageMaker scrapes on port 8080 with the
        fleet's detailed observability; for a server with its own image (AWS's DLCs are found by SageMaker).
        Default: none (SageMaker's).
    """

    name: str
    variant: Variant
    compute: ComponentCompute
    copies: int = 1
    copy_scaling: CopyScaling | None = None
    rollout: ComponentRollout = field(default_factory=ComponentRollout)
    rollback_alarms: Sequence[cloudwatch.IAlarm] = ()
    data_cache: bool = False
    scheduling: Scheduling | None = None
    specifications: Mapping[str, ComponentCompute] | None = None
    metrics_endpoint: MetricsEndpoint | None = None


class InferenceComponentEndpoint(Construct):
    """An endpoint whose instances host inference components.

    :param endpoint_name: the endpoint's name (required: each component is named after it).
    :param instance_type: the fleet's instance type; every component's variant must be made for it.
    :param components: the models it hosts (at least one).
    :param instance_count: instances at creation. Default: 1.
    :param instance_scaling: ManagedInstanceScaling (min 0: no instance while no copy runs). Default: none (a
        fixed count).
    :param hosting: routing, SSM access, core dumps, capacity reservation of the fleet. Default: none set.
    :param container: the model download and start timeouts (each component's StartupParameters) and the volume
        size (the fleet's). Default: SageMaker's.
    :param inference_ami_version: the fleet's InferenceAmiVersion. Default: the one servekit picked for the
        components' images, else the instance family's.
    :param kms_key: encrypts the instances' volumes (not on NVMe types, which SageMaker encrypts itself). Default:
        none.
    :param data_bucket: where a component's uncompressed local layout (ModelData.from_directory) is copied.
        Default: none.
    :param alarms: error, latency and utilization alarms on each component's metrics, named
        `<InferenceComponentName>-<alarm>`. Default: none.
    :param alarm_topic: notified when any of the alarms goes to ALARM and back to OK. Default: none.
    :param observability: the fleet's MetricsConfig, always written. Default: Observability() (all off, 60 s).
    :param instance_pools: the types the fleet may run on, by priority (InstancePools; `instance_type` is the
        priority-1 pool's). Each component is then written as Specifications, one per type, naming the Model of that
        type's image. Default: none.
    :param provision_timeout_seconds: VariantInstanceProvisionTimeoutInSeconds, with instance_pools. Default:
        SageMaker's.
    :param data_capture: request/response capture on the fleet's EndpointConfig (whether SageMaker captures
        components' requests is unconfirmed: a warning says so). Default: none.
    :param vpc: the VPC of the security group servekit creates when none is given. Default: none.
    :param vpc_subnets: run the fleet in these subnets: VpcConfig on the EndpointConfig and on every component's
        Model, as AWS's SDK writes an inference-component endpoint (servekit.facts.fleets). Default: none
        (SageMaker's network).
    :param security_groups: of the fleet's containers. Default: one created in `vpc`.
    :param network_isolation: EnableNetworkIsolation of every component's Model. Default (None): on, unless a
        component's archive installs packages at start (then off for it, with a warning). The EndpointConfig's
        says whether all of them are isolated.
    """

    def __init__(self, scope: Construct, construct_id: str, *, endpoint_name: str, instance_type: str,
                 components: Sequence[ComponentProps], instance_count: int = 1,
                 instance_scaling: InstanceScaling | None = None, hosting: Hosting | None = None,
                 container: ContainerOptions | None = None, inference_ami_version: str | None = None,
                 kms_key: kms.IKey | None = None, data_bucket: s3.IBucket | None = None,
                 alarms: Alarms | None = None, alarm_topic: sns.ITopic | None = None,
                 observability: Observability | None = None, instance_pools: Sequence[InstancePool] = (),
                 provision_timeout_seconds: int | None = None, data_capture: DataCapture | None = None,
                 vpc: ec2.IVpc | None = None, vpc_subnets: Sequence[ec2.ISubnet] | None = None,
                 security_groups: Sequence[ec2.ISecurityGroup] | None = None,
                 network_isolation: bool | None = None) -> None:
        super().__init__(scope, construct_id)
        self._path = self.node.path
        self.observability = observability or Observability()
        self._check(endpoint_name, instance_type, components, instance_count, instance_scaling)
        for p in capture_problems([c.name for c in components], data_capture is not None):
            cdk.Annotations.of(self).add_warning_v2("servekit:component-data-capture", str(p))
        hosting, container = hosting or Hosting(), container or ContainerOptions()
        self.endpoint_name = endpoint_name
        self.role, self.policy = execution_role(self, self._path, endpoint_name)
        self.network: EndpointNetwork | None = None
        if vpc_subnets:
            self.network = EndpointNetwork(self, "Network", subnets=vpc_subnets, security_groups=security_groups or (),
                                           vpc=vpc)
            self.network.grant(self.policy)
        vpc_config = self.network.vpc_config() if self.network else None
        self._connections: ec2.Connections | None = None
        pools = sorted(instance_pools, key=lambda p: p.priority)
        self.instance_types: list[str | None] = types_by_priority(instance_type, pools)
        nvme = any(images.variant_facts(t).nvme for t in self.instance_types if images.variant_facts(t))
        if kms_key is not None and not nvme:
            self.policy.add_statements(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[kms_key.key_arn]))
        self.core_dump_objects: list[str] = []
        fleet = Variant(name=FLEET, server=components[0].variant.server, model_data=components[0].variant.model_data,
                        image=components[0].variant.image, environment={}, instance_type=instance_type,
                        instance_count=instance_count, container=container, hosting=hosting,
                        instance_pools=tuple(pools), provision_timeout_seconds=provision_timeout_seconds)
        grant_hosting(self, self.policy, fleet, self.core_dump_objects, False)
        # What cdk-nag's acknowledgements read, as on ServingEndpoint: the fleet, and servekit's alarms.
        self.production_variants = [fleet]
        self.alarms: list[cloudwatch.Alarm] = []
        self.alarm_topic = alarm_topic
        self._alarm_options = alarms
        self._metrics: dict[str, SageMakerMetrics] = {}
        self.component_accelerators = {c.name: c.compute.accelerators for c in components}
        self.component_variants = [c.variant for c in components]  # their layout copies, for the acknowledgements
        self.models: dict[str, sagemaker.CfnModel] = {}
        # component -> instance type -> the Model its copies run there (another image: another Model)
        self.type_models: dict[str, dict[str, sagemaker.CfnModel]] = {}
        for component in components:
            scope_c = Construct(self, f"Component-{component.name}")
            model, image_uri = add_model(scope_c, component.variant, role=self.role, policy=self.policy,
                                         isolation=network_isolation, vpc_config=vpc_config, data_bucket=data_bucket,
                                         kms_key=kms_key)
            self.models[component.name] = model
            # The Model of each fleet type: the component's own, or one of its own where that type's image differs.
            own_image = add_type_models(scope_c, component.variant, model, image_uri, self.instance_types,
                                        id_prefix="Type",
                                        role=self.role, policy=self.policy, isolation=network_isolation,
                                        vpc_config=vpc_config)
            self.type_models[component.name] = {t: own_image.get(t, model) for t in self.instance_types}
        scaling = instance_scaling
        every_model = [m for models in self.type_models.values() for m in models.values()]
        paths = DataPaths(self, key=endpoint_name, policy=self.policy, bucket=data_bucket, kms_key=kms_key)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self, "EndpointConfig",
            execution_role_arn=self.role.role_arn,
            kms_key_id=kms_key.key_arn if kms_key is not None and not nvme else None,
            # As AWS's SDK writes a fleet (servekit.facts.fleets): its VPC here and on each Model, and here whether
            # all of the Models are isolated.
            vpc_config=sagemaker.CfnEndpointConfig.VpcConfigProperty(
                subnets=vpc_config.subnets, security_group_ids=vpc_config.security_group_ids) if vpc_config else None,
            enable_network_isolation=all(m.enable_network_isolation for m in every_model),
            data_capture_config=paths.data_capture(data_capture) if data_capture is not None else None,
            production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=FLEET, instance_type=None if pools else instance_type,
                instance_pools=[sagemaker.CfnEndpointConfig.InstancePoolProperty(
                    instance_type=p.instance_type, priority=p.priority) for p in pools] or None,
                variant_instance_provision_timeout_in_seconds=provision_timeout_seconds,
                initial_instance_count=instance_count,
                managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                    status="ENABLED", min_instance_count=scaling.min_instances,
                    max_instance_count=scaling.max_instances,
                    scale_in_policy=_scale_in(scaling.scale_in)) if scaling is not None else None,
                volume_size_in_gb=container.volume_size_gb,
                inference_ami_version=inference_ami_version or _picked_ami(components),
                **hosting_properties(hosting),
            )],
            metrics_config=metrics_config(self.observability),
        )
        # The role must be able to read the models before SageMaker starts the fleet.
        self.endpoint_config.node.add_dependency(self.policy)
        self.endpoint = sagemaker.CfnEndpoint(self, "Endpoint", endpoint_name=endpoint_name,
                                              endpoint_config_name=self.endpoint_config.attr_endpoint_config_name)
        self.components: dict[str, sagemaker.CfnInferenceComponent] = {}
        self.scalable_targets: dict[str, appscaling.ScalableTarget] = {}
        described: list[str] = []
        for component in components:
            self._add_component(component, container, described)

    @property
    def connections(self) -> ec2.Connections:
        """Opens ports to the fleet's containers (ec2.IConnectable): its security groups' when it is in a VPC, else
        an empty set that adds nothing to the template."""
        if self._connections is None:
            self._connections = self.network.connections if self.network else ec2.Connections()
        return self._connections

    def metrics(self, name: str) -> SageMakerMetrics:
        """The metric factory of servekit's component `name` (servekit.constructs.metrics)."""
        found = self._metrics.get(name)
        if found is None:
            found = self._metrics[name] = SageMakerMetrics.for_component(self.component_name(name))
        return found

    def component_name(self, name: str) -> str:
        """The InferenceComponentName of servekit's component `name` (what InvokeEndpoint's
        InferenceComponentName takes)."""
        return naming.inference_component_name(self.endpoint_name, name)

    def _add_component(self, component: ComponentProps, container: ContainerOptions, described: list[str]) -> None:
        scope = self.node.find_child(f"Component-{component.name}")
        ic = sagemaker.CfnInferenceComponent
        rollout = component.rollout
        batch = ic.InferenceComponentCapacitySizeProperty
        own = self._add_alarms(scope, component) if self._alarm_options is not None and self._alarm_options.enabled \
            else None
        rollback_own = own is not None and rollout.rollback_on_servekit_alarms
        # servekit's alarms by reference (the component then waits for them), then the named and given ones.
        alarm_names = [*(a.alarm_name for a in own.rollback), *rollout.rollback_alarm_names] if rollback_own \
            else list(rollout.rollback_alarm_names)
        alarm_names += [a.alarm_name for a in component.rollback_alarms]
        # What every specification of the component shares (one per instance type, with instance pools).
        shared = dict(
            startup_parameters=ic.InferenceComponentStartupParametersProperty(
                model_data_download_timeout_in_seconds=container.model_data_download_timeout_seconds,
                container_startup_health_check_timeout_in_seconds=container.startup_health_check_timeout_seconds,
            ) if container.model_data_download_timeout_seconds or container.startup_health_check_timeout_seconds
            else None,
            data_cache_config=ic.InferenceComponentDataCacheConfigProperty(enable_caching=True)
            if component.data_cache else None,
            scheduling_config=_scheduling(component.scheduling),
        )
        metrics = _container_metrics(component.metrics_endpoint)
        made = ic(
            scope, "InferenceComponent",
            endpoint_name=self.endpoint.attr_endpoint_name,
            variant_name=FLEET,
            inference_component_name=self.component_name(component.name),
            specification=None if len(self.instance_types) > 1 else ic.InferenceComponentSpecificationProperty(
                model_name=self.models[component.name].attr_model_name,
                container=ic.InferenceComponentContainerSpecificationProperty(container_metrics_config=metrics)
                if metrics else None,
                compute_resource_requirements=_compute(component.compute), **shared),
            specifications=[ic.InferenceComponentSpecificationForInstanceTypeProperty(
                instance_type=t, model_name=self.type_models[component.name][t].attr_model_name,
                container=ic.InferenceComponentContainerSpecificationForInstanceTypeProperty(
                    container_metrics_config=metrics) if metrics else None,
                compute_resource_requirements=_compute((component.specifications or {}).get(t, component.compute)),
                **shared) for t in self.instance_types] if len(self.instance_types) > 1 else None,
            runtime_config=ic.InferenceComponentRuntimeConfigProperty(copy_count=component.copies),
            deployment_config=ic.InferenceComponentDeploymentConfigProperty(
                rolling_update_policy=ic.InferenceComponentRollingUpdatePolicyProperty(
                    maximum_batch_size=batch(type="COPY_COUNT", value=rollout.batch_copies),
                    rollback_maximum_batch_size=batch(type="COPY_COUNT", value=rollout.rollback_batch_copies)
                    if rollout.rollback_batch_copies else None,
                    wait_interval_in_seconds=rollout.wait_interval_seconds,
                    maximum_execution_timeout_in_seconds=rollout.maximum_execution_timeout_seconds,
                ),
                auto_rollback_configuration=ic.AutoRollbackConfigurationProperty(
                    alarms=[ic.AlarmProperty(alarm_name=n) for n in alarm_names]) if alarm_names else None,
            ),
        )
        made.add_metadata("servekit:server", component.variant.server)  # read back by the synth table
        self.components[component.name] = made
        described_names = [*(own.rollback_names if rollback_own else []), *rollout.rollback_alarm_names]
        grant_describe_alarms(self, self.policy, described_names, component.rollback_alarms, described)
        if component.copy_scaling is not None:
            self.scalable_targets[component.name] = self._add_copy_scaling(scope, component, made)

    def _add_alarms(self, scope: Construct, component: ComponentProps) -> VariantAlarms:
        # A copy sees only the GPUs it reserved (none: no GPU alarm); its utilization is normalized to them.
        facts = dataclasses.replace(component.variant.facts, gpus=component.compute.accelerators)
        made = add_variant_alarms(scope, alarms=self._alarm_options, metrics=self.metrics(component.name),
                                  facts=facts, name_prefix=self.component_name(component.name))
        self.alarms += made.all
        if self.alarm_topic is not None:
            action = cw_actions.SnsAction(self.alarm_topic)
            for alarm in made.all:
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)
        return made

    def _add_copy_scaling(self, scope: Construct, component: ComponentProps,
                          made: sagemaker.CfnInferenceComponent) -> appscaling.ScalableTarget:
        scaling = component.copy_scaling
        assert scaling is not None
        name = self.component_name(component.name)
        target = appscaling.ScalableTarget(
            scope, "CopyScaling",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"inference-component/{name}",
            scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
            min_capacity=scaling.min_copies, max_capacity=scaling.max_copies,
        )
        target.node.add_dependency(made)
        cooldowns = dict(scale_in_cooldown=seconds(scaling.scale_in_cooldown_seconds),
                         scale_out_cooldown=seconds(scaling.scale_out_cooldown_seconds))
        metric = appscaling.PredefinedMetric
        if scaling.target_invocations_per_copy is not None:
            target.scale_to_track_metric(
                "InvocationsPerCopy", target_value=scaling.target_invocations_per_copy,
                predefined_metric=metric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY, **cooldowns)
        if scaling.target_concurrent_requests_per_copy is not None:
            target.scale_to_track_metric(
                "ConcurrentRequestsPerCopy", target_value=scaling.target_concurrent_requests_per_copy,
                predefined_metric=metric.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION,
                **cooldowns)
        if scaling.min_copies == 0:
            # A per-copy metric has no value at zero copies, so target tracking cannot wake the component: AWS's
            # documented companion is a step policy that adds a copy when a request found none.
            target.scale_on_metric(
                "ScaleOutFromZero",
                metric=self.metrics(component.name).no_capacity_invocation_failures(),
                scaling_steps=[appscaling.ScalingInterval(upper=0, change=0),
                               appscaling.ScalingInterval(lower=1, change=1)],
                adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
                cooldown=seconds(scaling.scale_out_cooldown_seconds),
                evaluation_periods=1,
            )
        return target

    def _check(self, endpoint_name: str, instance_type: str, components: Sequence[ComponentProps],
               instance_count: int, instance_scaling: InstanceScaling | None) -> None:
        """What SageMaker would refuse, caught at synth, in the words of `servekit validate`."""
        if not components:
            raise ValueError(f"{self._path}: an inference-component endpoint needs at least one component")
        problems = [str(p) for p in variant_rules.duplicate_names([c.name for c in components])]
        for c in components:
            if c.variant.instance_type != instance_type:
                problems.append(f"components ({c.name}): its variant was made for {c.variant.instance_type}, the fleet "
                                f"is {instance_type}; make it with instance_type={instance_type!r}")
            problems += [str(p) for p in metrics_endpoint_problems(
                f"components ({c.name})", bool(c.variant.plugin and c.variant.plugin.metrics_found_by_sagemaker),
                self.observability.detailed)
                if c.metrics_endpoint is not None]
            full = naming.inference_component_name(endpoint_name, c.name)
            if len(full) > 63:
                problems.append(f"components ({c.name}): InferenceComponentName {full!r} is over SageMaker's 63 "
                                "characters; shorten the endpoint or the component name")
        if problems:
            raise ValueError(f"{self._path}: " + "; ".join(problems))
        found = []
        for t in components[0].variant.instance_types:  # the fleet's types: its pools, made into each variant
            on_type = [dataclasses.replace(c, compute=(c.specifications or {}).get(t, c.compute)) for c in components]
            found += fleet_problems(images.variant_facts(t), on_type, instance_count=instance_count,
                                    instance_scaling=instance_scaling)
        for p in found:
            if p.severity == "warning":
                cdk.Annotations.of(self).add_warning_v2("servekit:component-fit", str(p))
        errors = [str(p) for p in found if p.severity == "error"]
        if errors:
            raise ValueError(f"{self._path}: " + "; ".join(errors))


def _picked_ami(components: Sequence[ComponentProps]) -> str | None:
    """The AMI servekit picked for the components' images (servekit.rules.gpu), when one did; two different picks
    cannot share a fleet."""
    picked = {c.variant.gpu.ami for c in components if c.variant.gpu.ami}
    if len(picked) > 1:
        raise ValueError(f"the components need different inference AMIs ({sorted(picked)}); set inference_ami_version "
                         "on the component endpoint to one that runs them all")
    return next(iter(picked), None)


def _scale_in(scale_in: ScaleIn | None) -> sagemaker.CfnEndpointConfig.ScaleInPolicyProperty | None:
    if scale_in is None:
        return None
    return sagemaker.CfnEndpointConfig.ScaleInPolicyProperty(
        strategy=scale_in.strategy, maximum_step_size=scale_in.max_step_instances,
        cooldown_in_minutes=scale_in.cooldown_minutes)


def _scheduling(scheduling: Scheduling | None) -> sagemaker.CfnInferenceComponent.InferenceComponentSchedulingConfigProperty | None:
    # AvailabilityZoneBalance is written always: the CloudFormation schema (cfn-lint 1.58's) requires it beside
    # PlacementStrategy, where the API (botocore's model) requires only the strategy.
    if scheduling is None:
        return None
    ic = sagemaker.CfnInferenceComponent
    return ic.InferenceComponentSchedulingConfigProperty(
        placement_strategy=scheduling.placement,
        availability_zone_balance=ic.InferenceComponentAvailabilityZoneBalanceProperty(
            enforcement_mode="PERMISSIVE", max_imbalance=scheduling.max_az_imbalance))


def _container_metrics(endpoint: MetricsEndpoint | None) -> sagemaker.CfnInferenceComponent.ContainerMetricsConfigProperty | None:
    if endpoint is None:
        return None
    ic = sagemaker.CfnInferenceComponent
    return ic.ContainerMetricsConfigProperty(metrics_endpoints=[ic.MetricsEndpointProperty(
        metrics_endpoint_path=endpoint.path, metric_publish_frequency_in_seconds=endpoint.publish_frequency_seconds)])


def _compute(compute: ComponentCompute) -> sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty:
    return sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
        number_of_cpu_cores_required=compute.cpu_cores, min_memory_required_in_mb=compute.memory_mb,
        number_of_accelerator_devices_required=compute.accelerators or None)

