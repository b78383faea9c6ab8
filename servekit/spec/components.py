"""Inference-component endpoints (servekit.yaml `component_endpoints`): one fleet of instances shared by several
models, each an AWS::SageMaker::InferenceComponent with its own server, artifact, compute per copy and copies.

A component is written as an endpoint of its server (`server`, `model`/`models`, `tuning`, `image_version`), so
everything servekit knows of that server (its schema, build, GPU rules, local serving) applies to it unchanged;
the fleet's keys (instance type and count, instance scaling, hosting) belong to the component endpoint, and the
component adds its own: `compute`, `copies`, `copy_scaling`, `rollout`. The component endpoint itself, which
reads each component as an endpoint of its server, is servekit.config.components's (it needs the servers' union).

Sources (AWS): "Inference components" (sagemaker/latest/dg/realtime-endpoints-deploy-models.html), the
AWS::SageMaker::InferenceComponent schema (cfn-lint's), "Scale an endpoint to zero instances"
(sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html) and the Application Auto Scaling dimension
`sagemaker:inference-component:DesiredCopyCount`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from servekit.facts import observability as observability_facts
from servekit.options import PublishFrequencySeconds, Strict
from servekit.spec.endpoint import NAME_PATTERN

# The keys of a component that are its own; the rest is an endpoint of its server.
OWN_KEYS = ("compute", "copies", "copy_scaling", "rollout", "data_cache", "scheduling", "specifications",
            "metrics_endpoint")
# Endpoint keys a component cannot have: the fleet's (on the component endpoint) or what components do not offer.
NOT_FOR_COMPONENTS = {
    "instance_type": "the component endpoint's instance_type is the fleet's",
    "instance_count": "set instance_count on the component endpoint",
    "inference_ami_version": "set inference_ami_version on the component endpoint",
    "hosting": "set hosting on the component endpoint",
    "container": "set container on the component endpoint",
    "scaling": "components scale copies: use copy_scaling (and instance_scaling on the component endpoint)",
    "deployment": "components roll out copies: use rollout",
    "variants": "each model is a component of its own: add another component",
    "shadow_variant": "shadow variants are not offered with inference components",
    "data_capture": "set data_capture on the component endpoint: the fleet's EndpointConfig captures the requests of "
                    "every component",
    "async_inference": "async inference endpoints do not host inference components",
    "serverless": "serverless endpoints do not host inference components",
    "multi_model": "each model is a component of its own: add another component",
    "network": "set network on the component endpoint: every component runs on the fleet's instances, in its VPC "
               "and with its isolation",
    "alarms": "set alarms on the component endpoint: each component gets them, on its own metrics",
    "weight": "components share the fleet by copies, not weights",
    "variant_name": "a component endpoint has one variant, AllTraffic, that every component shares",
}


class ComponentCompute(Strict):
    """What one copy of the component reserves on an instance (ComputeResourceRequirements)."""

    cpu_cores: float = Field(1, gt=0, description="NumberOfCpuCoresRequired per copy (vCPUs, may be fractional).")
    memory_mb: int = Field(ge=128, description="MinMemoryRequiredInMb per copy.")
    accelerators: int = Field(0, ge=0, description="NumberOfAcceleratorDevicesRequired per copy (GPUs); 0: none.")


class CopyScaling(Strict):
    """Application Auto Scaling of the component's copies (sagemaker:inference-component:DesiredCopyCount)."""

    min_copies: int = Field(1, ge=0, description="0: scale to zero copies (with instance_scaling.min_instances 0, the "
                            "fleet follows), woken by a step policy on NoCapacityInvocationFailures.")
    max_copies: int = Field(ge=1)
    target_invocations_per_copy: int | None = Field(
        None, ge=1, description="SageMakerInferenceComponentInvocationsPerCopy target (per minute).")
    target_concurrent_requests_per_copy: float | None = Field(
        None, gt=0, description="SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution target: "
        "requests in flight per copy, a 10-second metric.")
    scale_in_cooldown_seconds: int = Field(300, ge=0)
    scale_out_cooldown_seconds: int = Field(60, ge=0)

    @model_validator(mode="after")
    def _check(self) -> CopyScaling:
        if self.min_copies > self.max_copies:
            raise ValueError(f"min_copies {self.min_copies} > max_copies {self.max_copies}; raise max_copies")
        if self.target_invocations_per_copy is None and self.target_concurrent_requests_per_copy is None:
            raise ValueError("copy_scaling has nothing to scale on; set target_concurrent_requests_per_copy or "
                             "target_invocations_per_copy")
        return self


class ComponentRollout(Strict):
    """How an update replaces the component's copies (DeploymentConfig.RollingUpdatePolicy), rolled back when
    one of servekit's alarms on the component (its 5XX rate and p99 latency, with the component endpoint's
    `alarms`) or of `rollback_alarm_names` fires."""

    batch_copies: int = Field(1, ge=1, description="MaximumBatchSize (COPY_COUNT): copies replaced at a time.")
    rollback_batch_copies: int | None = Field(
        None, ge=1, description="RollbackMaximumBatchSize (COPY_COUNT); unset: SageMaker's (all at once).")
    wait_interval_seconds: int = Field(120, ge=0, le=3600, description="Bake time between batches, seconds.")
    maximum_execution_timeout_seconds: int = Field(3600, ge=600, le=28800)
    rollback_on_servekit_alarms: bool = Field(
        True, description="Roll back when the component's own 5XX or p99 latency alarms fire (not the utilization "
        "ones); they exist while the component endpoint's alarms are enabled.")
    rollback_alarm_names: list[str] = Field(
        default_factory=list, description="CloudWatch alarms (yours) that roll the update back (AutoRollbackConfiguration).")


class ComponentSpecification(Strict):
    """What a copy reserves on one of the fleet's instance types (one entry of the component's Specifications),
    where it differs from `compute`."""

    instance_type: str = Field(description="One of the fleet's instance_pools.")
    compute: ComponentCompute


class MetricsEndpoint(Strict):
    """ContainerMetricsConfig of a component's container (one MetricsEndpoint): where SageMaker scrapes the
    container's Prometheus metrics when the fleet's detailed observability is on. SageMaker scrapes port 8080
    (servekit.facts.observability.CONTAINER_METRICS_PORT); for AWS's Deep Learning Containers it finds the
    endpoint itself, so only a server with its own image takes one."""

    path: str = Field(max_length=256, description="MetricsEndpointPath, e.g. /metrics: where the container serves "
                      "Prometheus text on port 8080.")
    publish_frequency_seconds: PublishFrequencySeconds = Field(
        observability_facts.DEFAULT_PUBLISH_FREQUENCY_SECONDS,
        description="MetricPublishFrequencyInSeconds of the scraped metrics.")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        # Python's re: the pattern looks ahead (no '..'), which pydantic's own regex engine cannot.
        if not re.fullmatch(observability_facts.METRICS_ENDPOINT_PATH_PATTERN, v):
            raise ValueError(f"{v!r} is not a metrics path SageMaker takes: it starts with /, has letters, digits, "
                             "/ _ . - and no '..'; e.g. /metrics")
        return v


class InferenceComponent(Strict):
    """One model of a component endpoint. Beside the keys below, write the keys of an endpoint of its server
    (`server`, `model` or `models`, `tuning`, `image_version`: the endpoints[] tables of that server); the fleet's
    keys (instance type and count, hosting, container, scaling, variants...) are refused there, each with where it
    goes."""

    name: str = Field(pattern=NAME_PATTERN)
    compute: ComponentCompute
    copies: int = Field(1, ge=0, description="RuntimeConfig.CopyCount: copies at creation (within copy_scaling).")
    copy_scaling: CopyScaling | None = Field(None, description="Autoscaling of the copies; unset: fixed copies.")
    rollout: ComponentRollout = Field(default_factory=ComponentRollout, description="Rolling update of the copies.")
    data_cache: bool = Field(False, description="DataCacheConfig.EnableCaching: each instance keeps the image and "
                             "the model data, so new copies start faster when copies or instances scale out.")
    scheduling: Scheduling | None = Field(None, description="SchedulingConfig; unset: SageMaker's placement.")
    specifications: list[ComponentSpecification] | None = Field(
        None, min_length=1, description="Per instance type of the fleet's instance_pools: what a copy reserves there "
        "(a pool without one uses `compute`). With pools the component is written as Specifications, one per type, "
        "each naming the Model of that type's image.")
    metrics_endpoint: MetricsEndpoint | None = Field(
        None, description="Container.ContainerMetricsConfig: the path of the container's Prometheus metrics, for a "
        "server with its own image (AWS's DLCs are found by SageMaker); needs the fleet's observability.detailed. "
        "Unset: SageMaker's (the DLC's endpoint, else /metrics every 60 s).")

    def compute_on(self, instance_type: str | None) -> ComponentCompute:
        """What a copy reserves on `instance_type`: its specification there, else `compute`."""
        return next((s.compute for s in self.specifications or [] if s.instance_type == instance_type), self.compute)
    serve: Any = Field(description="Not written in servekit.yaml: servekit makes it from the component's server keys "
                       "(the endpoint of its server, on the fleet's instance type).")


class ScaleIn(Strict):
    """ManagedInstanceScaling.ScaleInPolicy: how the fleet gives instances back (botocore's service model,
    ProductionVariantManagedInstanceScalingScaleInPolicy)."""

    strategy: Literal["IDLE_RELEASE", "CONSOLIDATION"] = Field(
        description="IDLE_RELEASE: release instances that host no copy. CONSOLIDATION: move copies onto fewer "
        "instances to release more (honouring each component's scheduling).")
    max_step_instances: int | None = Field(
        None, ge=1, le=100, description="MaximumStepSize: instances a consolidation terminates at a time; unset: "
        "SageMaker's 1. CONSOLIDATION only.")
    cooldown_minutes: int | None = Field(
        None, ge=5, le=1440, description="CooldownInMinutes: minutes after the last endpoint operation before "
        "consolidation is considered; unset: SageMaker's 20. CONSOLIDATION only.")

    @model_validator(mode="after")
    def _check(self) -> ScaleIn:
        if self.strategy != "CONSOLIDATION" and (self.max_step_instances or self.cooldown_minutes):
            raise ValueError("max_step_instances and cooldown_minutes apply to consolidation only; set strategy: "
                             "CONSOLIDATION or remove them")
        return self


class Scheduling(Strict):
    """SchedulingConfig of a component: where its copies go among the fleet's instances."""

    placement: Literal["SPREAD", "BINPACK"] = Field(
        description="PlacementStrategy. SPREAD: copies evenly across instances (resilience); BINPACK: onto fewer "
        "instances (utilization, and instances free to scale in).")
    max_az_imbalance: int = Field(
        0, ge=0, le=100, description="AvailabilityZoneBalance.MaxImbalance (EnforcementMode PERMISSIVE): the "
        "largest difference in copies between two Availability Zones SageMaker aims for; it applies only while the "
        "fleet has instances in two or more zones.")


class InstanceScaling(Strict):
    """ManagedInstanceScaling of the fleet (Status ENABLED)."""

    min_instances: int = Field(1, ge=0, description="0: no instance while no copy runs (scale to zero).")
    max_instances: int = Field(ge=1)
    scale_in: ScaleIn | None = Field(None, description="ScaleInPolicy; unset: SageMaker's.")

    @model_validator(mode="after")
    def _check(self) -> InstanceScaling:
        if self.min_instances > self.max_instances:
            raise ValueError(f"min_instances {self.min_instances} > max_instances {self.max_instances}; raise "
                             "max_instances")
        return self
