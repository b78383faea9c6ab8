"""The production blocks of an endpoint in servekit.yaml: scaling, deployments, alarms, data capture,
asynchronous and serverless inference, multi-model mode, network and container options.

Each block validates what it can see alone; rules that combine blocks (serverless with async, scale to
zero without async, ...) live in servekit.rules.combinations, and rules that need instance facts in
servekit.rules. Names carry their units; every default is documented in docs/configuration.md (generated from
here). A construct user may give any `*_seconds` field an aws_cdk.Duration (whole seconds); YAML gives numbers.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from servekit.facts import observability as observability_facts

S3_PREFIX_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$"
SNS_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$"
CONTENT_TYPE_PATTERN = r"^[\w.+-]+/[\w.+*-]+$"


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _durations_to_seconds(cls, data: object) -> object:
        """`Deployment(wait_interval_seconds=Duration.minutes(5))`, as CDK users write time: a Duration given to a
        `*_seconds` field becomes its whole seconds (Duration.to_seconds refuses a fraction, naming it). Duck-typed,
        so validating servekit.yaml never loads aws_cdk."""
        if not isinstance(data, dict):
            return data
        return {k: _seconds(k, v) if k.endswith("_seconds") and callable(getattr(v, "to_seconds", None)) else v
                for k, v in data.items()}


def _seconds(field: str, duration: object) -> int:
    try:
        return int(duration.to_seconds())  # type: ignore[attr-defined]
    except Exception as err:  # jsii raises a RuntimeError with CDK's message, which names the Duration
        raise ValueError(f"{field}: {str(err).split(': ', 1)[-1]} Use a whole number of seconds, e.g. "
                         "Duration.seconds(62)") from None


# ---------------------------------------------------------------------------------------------
# Scaling
# ---------------------------------------------------------------------------------------------
class ScheduledScaling(Strict):
    """A scheduled change of the scaling range (an Application Auto Scaling scheduled action)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    cron: str = Field(
        description="The six fields of an AWS cron expression: minutes hours day-of-month month day-of-week year, "
        "e.g. `0 8 ? * MON-FRI *` (one of the day fields must be `?`)."
    )
    time_zone: str = Field("UTC", description="IANA time zone of `cron`, e.g. Europe/Paris.")
    min_instances: int | None = Field(None, ge=0, description="New minimum; unset = unchanged.")
    max_instances: int | None = Field(None, ge=1, description="New maximum; unset = unchanged.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        fields = v.split()
        if len(fields) != 6:
            raise ValueError(f"cron {v!r} has {len(fields)} fields, AWS cron has 6 (minutes hours day-of-month "
                             "month day-of-week year), e.g. '0 8 ? * MON-FRI *'")
        if "?" not in (fields[2], fields[4]):
            raise ValueError(f"cron {v!r}: AWS needs `?` in day-of-month or day-of-week; e.g. '0 8 ? * MON-FRI *'")
        return v

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone {v!r} is not an IANA time zone; use one like UTC or Europe/Paris") from None
        return v

    @model_validator(mode="after")
    def _check(self) -> ScheduledScaling:
        if self.min_instances is None and self.max_instances is None:
            raise ValueError(f"schedule {self.name!r} changes nothing; set min_instances and/or max_instances")
        if self.min_instances is not None and self.max_instances is not None and self.min_instances > self.max_instances:
            raise ValueError(f"schedule {self.name!r}: min_instances {self.min_instances} > max_instances "
                             f"{self.max_instances}; raise max_instances")
        return self


class Scaling(Strict):
    """Application Auto Scaling of each production variant's instance count: target tracking on invocations
    per instance, CPU or GPU utilization or (async) backlog, plus scheduled range changes."""

    min_instances: int = Field(1, ge=0, description="0 (scale to zero) only with async_inference.")
    max_instances: int = Field(ge=1)
    target_invocations_per_instance: int | None = Field(
        None, ge=1, description="SageMakerVariantInvocationsPerInstance target (invocations per instance per minute)."
    )
    target_cpu_utilization_percent: float | None = Field(
        None, gt=0, le=100,
        description="Average CPU use per vCPU, percent (servekit multiplies by the vCPUs: SageMaker's "
        "CPUUtilization is summed over them).",
    )
    target_gpu_utilization_percent: float | None = Field(
        None, gt=0, le=100,
        description="Average use per GPU, percent (multiplied by the GPUs, as GPUUtilization is summed); GPU only.",
    )
    target_backlog_per_instance: float | None = Field(
        None, gt=0, description="Async only: ApproximateBacklogSizePerInstance target (queued requests per instance)."
    )
    target_concurrent_requests_per_model: float | None = Field(
        None, gt=0,
        description="SageMakerVariantConcurrentRequestsPerModelHighResolution target: requests in flight (queued "
        "included) per model container, a 10-second metric, so scaling out reacts in seconds rather than minutes; "
        "AWS's recommended signal for model servers whose latency varies. Real-time only.",
    )
    scale_in_cooldown_seconds: int = Field(300, ge=0)
    scale_out_cooldown_seconds: int = Field(60, ge=0)
    schedules: list[ScheduledScaling] = Field(default_factory=list, description="Scheduled range changes.")

    @property
    def has_target(self) -> bool:
        return any(t is not None for t in (self.target_invocations_per_instance, self.target_cpu_utilization_percent,
                                           self.target_gpu_utilization_percent, self.target_backlog_per_instance,
                                           self.target_concurrent_requests_per_model))

    @model_validator(mode="after")
    def _check(self) -> Scaling:
        if self.min_instances > self.max_instances:
            raise ValueError(
                f"min_instances {self.min_instances} > max_instances {self.max_instances}; raise max_instances"
            )
        if not self.has_target and not self.schedules:
            raise ValueError("scaling has nothing to scale on; set target_invocations_per_instance (or a concurrency, "
                             "CPU, GPU or backlog target, or schedules)")
        names = [s.name for s in self.schedules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"schedule names {dupes} appear twice; give each schedule its own name")
        for s in self.schedules:
            if s.max_instances is not None and s.max_instances > self.max_instances:
                raise ValueError(f"schedule {s.name!r}: max_instances {s.max_instances} > scaling.max_instances "
                                 f"{self.max_instances}; raise scaling.max_instances")
        return self


# ---------------------------------------------------------------------------------------------
# Safe deployments and alarms
# ---------------------------------------------------------------------------------------------
class Deployment(Strict):
    """How an update shifts traffic (AWS::SageMaker::Endpoint DeploymentConfig), rolled back on the alarms."""

    strategy: Literal["all_at_once", "canary", "linear", "rolling"] = "canary"
    canary_percent: int = Field(10, ge=1, le=50, description="canary: share of capacity that takes traffic first.")
    linear_step_percent: int = Field(20, ge=1, le=50, description="linear: share of capacity shifted per step.")
    rolling_batch_percent: int = Field(25, ge=5, le=50, description="rolling: share of instances updated per batch.")
    wait_interval_seconds: int = Field(300, ge=0, le=3600, description="Bake time between steps, seconds.")
    termination_wait_seconds: int = Field(120, ge=0, le=3600, description="Old fleet kept after the shift, seconds.")
    maximum_execution_timeout_seconds: int = Field(3600, ge=600, le=14400)
    rollback_on_servekit_alarms: bool = Field(
        True, description="Roll back when this endpoint's 5XX or p99 latency alarms fire (not the utilization ones)."
    )
    rollback_alarm_names: list[str] = Field(default_factory=list, description="More CloudWatch alarms to roll back on.")


class Alarms(Strict):
    """CloudWatch alarms on each production variant's metrics. Latency in milliseconds (SageMaker reports
    microseconds); utilization per vCPU or per GPU (SageMaker sums over them). A threshold left unset
    (null) drops that alarm; the GPU alarms exist only on GPU instances.

    The 5XX alarm measures a rate, as AWS's deployment-guardrails page recommends for rollback alarms: 5XX
    errors as a share of invocations (metric math), only in minutes with at least `min_invocations_per_minute`
    invocations, firing when `datapoints_to_alarm` of the last `evaluation_periods` minutes breach. A count
    would roll a canary back for three malformed requests a minute, and miss a 2% error rate at low traffic."""

    enabled: bool = True
    invocation_5xx_error_rate_percent: float = Field(
        5, gt=0, le=100,
        description="Alarm when 5XX errors reach this share of the minute's invocations, percent.",
    )
    min_invocations_per_minute: int = Field(
        10, ge=1, description="Minimum-traffic guard of the 5XX rate: quieter minutes never breach."
    )
    invocation_4xx_errors_per_minute: int | None = Field(
        10, ge=1, description="Alarm when client errors (4XX) reach this per minute."
    )
    model_latency_p99_ms: int = Field(1000, ge=1, description="Alarm when p99 ModelLatency exceeds this.")
    cpu_utilization_percent: float | None = Field(90, gt=0, le=100, description="Average CPU use per vCPU, percent.")
    memory_utilization_percent: float | None = Field(90, gt=0, le=100, description="MemoryUtilization, percent.")
    gpu_utilization_percent: float | None = Field(90, gt=0, le=100, description="Average use per GPU, percent.")
    gpu_memory_utilization_percent: float | None = Field(
        90, gt=0, le=100, description="Average GPU memory use per GPU, percent."
    )
    evaluation_periods: int = Field(3, ge=1, description="Periods an alarm looks at (the N of M-of-N).")
    datapoints_to_alarm: int = Field(
        2, ge=1, description="Breaching periods among evaluation_periods before an alarm fires (the M of M-of-N)."
    )
    utilization_period_seconds: int = Field(
        300, ge=60, le=3600, multiple_of=60, description="Period of the utilization alarms (errors and latency: 60)."
    )
    sns_topic_arn: str | None = Field(None, pattern=SNS_ARN_PATTERN, description="Notify this topic on alarm and OK.")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data):
        if isinstance(data, dict) and "invocation_5xx_errors_per_minute" in data:
            raise ValueError(
                f"invocation_5xx_errors_per_minute ({data['invocation_5xx_errors_per_minute']!r}) is gone: the 5XX "
                "alarm now measures a rate; use invocation_5xx_error_rate_percent (default 5) and "
                "min_invocations_per_minute (default 10)"
            )
        return data

    @model_validator(mode="after")
    def _check(self) -> Alarms:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError(f"datapoints_to_alarm {self.datapoints_to_alarm} > evaluation_periods "
                             f"{self.evaluation_periods}; lower datapoints_to_alarm or raise evaluation_periods")
        return self


# ---------------------------------------------------------------------------------------------
# Data capture and asynchronous inference
# ---------------------------------------------------------------------------------------------
def _s3_prefix(value: str | None, field: str) -> str | None:
    if value is not None and not re.match(S3_PREFIX_PATTERN, value):
        raise ValueError(f"{field} {value!r} is not s3://<bucket>/<prefix>; give a bucket and an optional prefix")
    return value


class InstancePool(Strict):
    """One instance type a variant may run on (ProductionVariant.InstancePools): SageMaker provisions from the
    lowest priority number first and falls back to the next on insufficient capacity (AWS,
    sagemaker/latest/dg/realtime-endpoints-heterogeneous.html)."""

    instance_type: str = Field(description="e.g. ml.g6.2xlarge.")
    priority: int = Field(ge=1, le=5, description="1 (tried first) to 5.")


def types_by_priority(instance_type: str | None, pools: Sequence[InstancePool] | None) -> list[str | None]:
    """The instance types a variant or fleet may run on: its pools' by priority, else its one `instance_type`."""
    return [p.instance_type for p in sorted(pools or (), key=lambda p: p.priority)] or [instance_type]


# MetricPublishFrequencyInSeconds, of MetricsConfig and of a container's MetricsEndpoint alike.
PublishFrequencySeconds = Literal[observability_facts.PUBLISH_FREQUENCIES_SECONDS]  # type: ignore[valid-type]


class Observability(Strict):
    """The endpoint configuration's MetricsConfig, always written: SageMaker turns detailed observability on for
    every endpoint configuration created after June 17, 2026 that leaves it out (docs/operations.md), so what a
    deploy publishes, and costs, never depends on the day its configuration was made. The defaults are what
    servekit deployed before that date: no detailed observability, no enhanced metrics, one-minute metrics."""

    detailed: bool = Field(
        False, description="EnableDetailedObservability: per-container Prometheus metrics, per-GPU and per-instance "
        "host metrics, component placement metrics (CloudWatch cost per metric). SageMaker's own default since "
        "2026-06-17 is true; servekit's is false until you set it.")
    enhanced_metrics: bool = Field(
        False, description="EnableEnhancedMetrics: utilization and invocation metrics per instance (InstanceId), "
        "per container (ContainerId, inference components) and per GPU (AcceleratorId).")
    publish_frequency_seconds: PublishFrequencySeconds = Field(
        observability_facts.DEFAULT_PUBLISH_FREQUENCY_SECONDS, description="MetricPublishFrequencyInSeconds: utilization metrics (and, with enhanced_metrics, invocation "
        "metrics; with detailed, the detailed ones) every this many seconds.")


class DataCapture(Strict):
    """Request/response capture (EndpointConfig DataCaptureConfig), encrypted with the app's KMS key, to the
    shared stack's bucket (KMS-encrypted, access-logged, TLS-only) or to an S3 prefix of yours."""

    enabled: bool = Field(True, description="false keeps the block but stops capturing (EnableCapture).")
    shared_bucket: bool = Field(
        False, description="Capture to the shared stack's bucket, under data-capture/<endpoint name>/."
    )
    s3_uri: str | None = Field(None, description="Or capture to this s3://bucket/prefix of yours.")
    sampling_percent: int = Field(20, ge=1, le=100, description="Share of requests captured (InitialSamplingPercentage).")
    capture_input: bool = Field(True, description="Capture request payloads.")
    capture_output: bool = Field(True, description="Capture response payloads.")
    json_content_types: list[str] = Field(
        default_factory=lambda: ["application/json"], max_length=10,
        description="Content types stored as JSON text (CaptureContentTypeHeader); others are base64.",
    )
    csv_content_types: list[str] = Field(
        default_factory=lambda: ["text/csv"], max_length=10, description="Content types stored as CSV text."
    )

    @field_validator("s3_uri")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        return _s3_prefix(v, "s3_uri")

    @field_validator("json_content_types", "csv_content_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if not re.match(CONTENT_TYPE_PATTERN, t)]
        if bad:
            raise ValueError(f"content types {bad} are not type/subtype; write them like application/json")
        return v

    @model_validator(mode="after")
    def _check(self) -> DataCapture:
        if self.shared_bucket == (self.s3_uri is not None):
            raise ValueError("data_capture needs exactly one destination: set shared_bucket: true (the bucket "
                             "servekit creates) or s3_uri: s3://<bucket>/<prefix>")
        if not (self.capture_input or self.capture_output):
            raise ValueError("data_capture captures nothing; set capture_input and/or capture_output")
        return self


class AsyncInference(Strict):
    """Asynchronous inference (EndpointConfig AsyncInferenceConfig): requests are queued, results written to
    S3 and announced on SNS. Unset S3 locations are prefixes of the shared stack's bucket under
    async-inference/<endpoint name>/."""

    input_s3_uri: str | None = Field(
        None, description="Where callers put request payloads (InvokeEndpointAsync InputLocation); the role reads "
        "only there. Unset: the shared bucket's …/input/.",
    )
    output_s3_uri: str | None = Field(None, description="S3OutputPath; unset: the shared bucket's …/output/.")
    failure_s3_uri: str | None = Field(None, description="S3FailurePath; unset: the shared bucket's …/failure/.")
    success_topic_arn: str | None = Field(None, pattern=SNS_ARN_PATTERN, description="SNS topic told of each result.")
    error_topic_arn: str | None = Field(None, pattern=SNS_ARN_PATTERN, description="SNS topic told of each failure.")
    include_response_in: list[Literal["success", "error"]] = Field(
        default_factory=list, description="Put the response body into these notifications (IncludeInferenceResponseIn)."
    )
    max_concurrent_invocations_per_instance: int | None = Field(
        None, ge=1, le=1000, description="Requests one instance works on at once; unset: SageMaker chooses."
    )

    @field_validator("input_s3_uri", "output_s3_uri", "failure_s3_uri")
    @classmethod
    def _uri(cls, v: str | None, info) -> str | None:
        return _s3_prefix(v, info.field_name)

    @property
    def uses_shared_bucket(self) -> bool:
        return None in (self.input_s3_uri, self.output_s3_uri, self.failure_s3_uri)

    @model_validator(mode="after")
    def _check(self) -> AsyncInference:
        for kind in self.include_response_in:
            if getattr(self, f"{kind}_topic_arn") is None:
                raise ValueError(f"include_response_in lists {kind!r} but {kind}_topic_arn is unset; set the topic "
                                 f"or drop {kind!r}")
        return self


# ---------------------------------------------------------------------------------------------
# Serverless, multi-model, network and container options
# ---------------------------------------------------------------------------------------------
class Serverless(Strict):
    """Serverless inference (ProductionVariant ServerlessConfig): no instances, CPU only, billed per request."""

    memory_size_mb: int = Field(2048, description="1024, 2048, 3072, 4096, 5120 or 6144 (MemorySizeInMB).")
    max_concurrency: int = Field(5, ge=1, le=200, description="Concurrent invocations before throttling.")
    provisioned_concurrency: int | None = Field(
        None, ge=1, le=200, description="Invocations kept warm (no cold start); at most max_concurrency."
    )

    @field_validator("memory_size_mb")
    @classmethod
    def _memory(cls, v: int) -> int:
        if v not in range(1024, 6145, 1024):
            raise ValueError(f"memory_size_mb {v} is not one of 1024, 2048, 3072, 4096, 5120, 6144 (SageMaker's "
                             "sizes); pick the nearest")
        return v

    @model_validator(mode="after")
    def _check(self) -> Serverless:
        if self.provisioned_concurrency is not None and self.provisioned_concurrency > self.max_concurrency:
            raise ValueError(f"provisioned_concurrency {self.provisioned_concurrency} > max_concurrency "
                             f"{self.max_concurrency}; raise max_concurrency")
        return self


class MultiModel(Strict):
    """SageMaker multi-model mode (Mode: MultiModel, SAGEMAKER_MULTI_MODEL=true): the container loads models
    from an S3 prefix on demand, chosen per request by TargetModel. See docs/operations.md for the layout."""

    s3_prefix: str = Field(description="s3://bucket/prefix/ holding one model.tar.gz per model (ModelDataUrl).")

    @field_validator("s3_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        _s3_prefix(v, "s3_prefix")
        if not v.endswith("/"):
            raise ValueError(f"s3_prefix {v!r} must end with '/': SageMaker appends TargetModel to it")
        return v


class Network(Strict):
    """Where the containers may connect: VPC subnets and security groups, and network isolation."""

    isolation: bool | None = Field(
        None,
        description="EnableNetworkIsolation. Unset: on, unless the artifact installs packages at start "
        "(code/requirements.txt without vendored code/lib), then off with a warning. true with such an "
        "artifact fails the synth.",
    )
    vpc_id: str | None = Field(None, pattern=r"^vpc-[0-9a-f]{8,17}$", description="Needed to create a security group.")
    subnet_ids: list[str] = Field(default_factory=list, max_length=16, description="Private subnets (VpcConfig).")
    security_group_ids: list[str] = Field(
        default_factory=list, max_length=5, description="Unset with subnets: servekit creates one in vpc_id."
    )

    @field_validator("subnet_ids", "security_group_ids")
    @classmethod
    def _resource_ids(cls, v: list[str], info) -> list[str]:
        prefix, what = ("subnet", "subnet ids") if info.field_name == "subnet_ids" else ("sg", "security group ids")
        bad = [s for s in v if not re.match(rf"^{prefix}-[0-9a-f]{{8,17}}$", s)]
        if bad:
            raise ValueError(f"{what} {bad} are not {prefix}-<hex>; copy them from the VPC console")
        return v

    @property
    def in_vpc(self) -> bool:
        return bool(self.subnet_ids)

    @model_validator(mode="after")
    def _check(self) -> Network:
        if not self.subnet_ids and (self.security_group_ids or self.vpc_id):
            raise ValueError("network.vpc_id/security_group_ids need subnet_ids (the subnets the containers run "
                             "in); add subnet_ids or remove them")
        if self.subnet_ids and not self.security_group_ids and self.vpc_id is None:
            raise ValueError("network.subnet_ids without security_group_ids: servekit creates a security group and "
                             "needs vpc_id for it; add vpc_id or security_group_ids")
        return self


class ContainerOptions(Strict):
    """Per-variant container start and storage options (ProductionVariant)."""

    model_data_download_timeout_seconds: int | None = Field(
        None, ge=60, le=3600, description="ModelDataDownloadTimeoutInSeconds; unset: SageMaker's default."
    )
    startup_health_check_timeout_seconds: int | None = Field(
        None, ge=60, le=3600, description="ContainerStartupHealthCheckTimeoutInSeconds; unset: SageMaker's default."
    )
    volume_size_gb: int | None = Field(
        None, ge=1, le=512, description="VolumeSizeInGB of each instance's EBS volume; not on NVMe instance types."
    )


# ---------------------------------------------------------------------------------------------
# Hosting: the rest of the production variant (routing, SSM, core dumps, capacity reservations)
# ---------------------------------------------------------------------------------------------
KMS_KEY_ARN_PATTERN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$"
# API_ProductionVariantCapacityReservationConfig, MlReservationArn "Pattern".
ML_RESERVATION_ARN_PATTERN = r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:[a-z0-9\-]{1,14}/.*$"


class CoreDump(Strict):
    """Where SageMaker writes the model container's core dumps when its process crashes (CoreDumpConfig)."""

    s3_uri: str = Field(description="s3://bucket/prefix (DestinationS3Uri); the execution role may put objects "
                        "under it, nothing else there.")
    kms_key_arn: str | None = Field(
        None, pattern=KMS_KEY_ARN_PATTERN,
        description="KmsKeyId: the key S3 encrypts the dumps with (the role may kms:Encrypt and kms:GenerateDataKey "
        "with it); unset: the account's default S3 key.",
    )

    @field_validator("s3_uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        return _s3_prefix(v, "s3_uri")  # type: ignore[return-value]


class CapacityReservation(Strict):
    """Launch the variant's instances into an ML capacity reservation (CapacityReservationConfig), with
    CapacityReservationPreference capacity-reservations-only, SageMaker's one option
    (API_ProductionVariantCapacityReservationConfig): instances launch only into the reservation, and fail to launch
    when it has no capacity left."""

    ml_reservation_arn: str = Field(
        pattern=ML_RESERVATION_ARN_PATTERN,
        description="MlReservationArn, e.g. arn:aws:sagemaker:us-east-1:111122223333:training-plan/my-plan.",
    )


class Hosting(Strict):
    """The rest of a production variant: how requests are routed among its instances, a shell into its containers,
    core dumps, a capacity reservation. Unset keys are left to SageMaker (not written to the template)."""

    routing: Literal["least_outstanding_requests", "random"] | None = Field(
        None, description="RoutingConfig.RoutingStrategy: least_outstanding_requests sends each request to the "
        "instance with the most capacity free (for models whose latency varies); random spreads them at random. "
        "Unset: SageMaker's default.",
    )
    ssm_access: bool | None = Field(
        None, description="EnableSSMAccess: a shell into the variant's containers through AWS Systems Manager, for "
        "debugging. Needs your account allowlisted by AWS Support; SageMaker delays patching and replacing faulty "
        "instances by a day on such variants. Unset: off.",
    )
    core_dump: CoreDump | None = Field(None, description="CoreDumpConfig; unset: no core dumps are kept.")
    capacity_reservation: CapacityReservation | None = Field(
        None, description="CapacityReservationConfig; unset: on-demand capacity."
    )

    @property
    def instance_only(self) -> dict[str, object]:
        """The settings that need instances (set ones only): serverless has none to route among, connect to or
        reserve."""
        values = {"routing": self.routing, "ssm_access": self.ssm_access or None,
                  "capacity_reservation": self.capacity_reservation}
        return {k: v for k, v in values.items() if v is not None}
