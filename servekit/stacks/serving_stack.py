"""The stacks: one shared stack (what endpoints share: the KMS key, the data bucket) and one stack per
endpoint.

A stack per endpoint keeps an update's blast radius to that endpoint, stays far under CloudFormation's
500-resource cap however many endpoints there are, and lets `cdk deploy --concurrency N` deploy in
parallel. The same classes serve every environment (the pipeline reuses them per stage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from servekit import adapter
from servekit import config as cfg
from servekit.constructs import ModelData
from servekit.constructs.checkov import skip_access_log_bucket
from servekit.constructs.dashboards import component_dashboard, endpoint_dashboard
from servekit.constructs.nag import acknowledge_endpoint_findings, acknowledge_shared_findings
from servekit.naming import ArtifactKey

AnyEndpoint = cfg.EndpointBase  # one of the servers' specs (servekit.servers.<server>.spec)


class SharedStack(cdk.Stack):
    """What the endpoints of one app and environment share: the KMS key, and (when an endpoint captures
    data or runs async inference without S3 locations of its own) the data bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, app_config: cfg.AppConfig,
                 data_bucket: bool = False, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Access logs are delivered under a bucket policy, not the LogDeliveryWrite ACL (ACLs stay disabled).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        if app_config.kms_key_arn:
            self.key: kms.IKey = kms.Key.from_key_arn(self, "VolumeKey", app_config.kms_key_arn)
        else:
            self.key = kms.Key(
                self,
                "VolumeKey",
                description=f"{app_config.name}-{app_config.env_name}: SageMaker endpoint volumes, captured data and "
                "async results",
                enable_key_rotation=True,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
        self.access_logs: s3.Bucket | None = None
        self.data_bucket: s3.Bucket | None = None
        self.data_bucket_exports: dict[str, str] = {}
        if data_bucket:
            self.access_logs, self.data_bucket = self._data_bucket()
            # Explicit export names, so the endpoints' grants (and the ids of the cdk-nag findings that
            # name them) read the same on every synth instead of embedding a generated export name.
            self.data_bucket_exports = {"arn": f"{construct_id}-DataBucketArn", "name": f"{construct_id}-DataBucketName"}
            self.export_value(self.data_bucket.bucket_arn, name=self.data_bucket_exports["arn"])
            self.export_value(self.data_bucket.bucket_name, name=self.data_bucket_exports["name"])
        acknowledge_shared_findings(self)

    def import_data_bucket(self, scope: Construct) -> s3.IBucket:
        """The data bucket, as another stack (`scope`'s) refers to it: by this stack's explicit exports."""
        if self.data_bucket is None:
            raise ValueError(f"{self.node.path} has no data bucket; create it with data_bucket=True")
        cdk.Stack.of(scope).add_stack_dependency(self)
        return s3.Bucket.from_bucket_attributes(
            scope, "SharedDataBucket",
            bucket_arn=cdk.Fn.import_value(self.data_bucket_exports["arn"]),
            bucket_name=cdk.Fn.import_value(self.data_bucket_exports["name"]),
        )

    def _data_bucket(self) -> tuple[s3.Bucket, s3.Bucket]:
        """Captured requests and async results: KMS-encrypted, TLS-only, versioned, access-logged."""
        common = dict(
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(30))],
        )
        # S3 server access logs can be delivered only to a bucket with SSE-S3 (not SSE-KMS) encryption.
        logs = s3.Bucket(self, "AccessLogsBucket", encryption=s3.BucketEncryption.S3_MANAGED, **common)
        skip_access_log_bucket(logs)
        data = s3.Bucket(
            self, "DataBucket",
            encryption=s3.BucketEncryption.KMS, encryption_key=self.key, bucket_key_enabled=True,
            server_access_logs_bucket=logs, server_access_logs_prefix="data-bucket/",
            **common,
        )
        return logs, data


class ServingStack(cdk.Stack):
    """One endpoint, from its servekit.yaml entry."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: AnyEndpoint,
        model_data: Mapping[ArtifactKey, ModelData] | ModelData,
        kms_key: kms.IKey | None,
        endpoint_name: str,
        data_bucket: s3.IBucket | None = None,
        **kwargs,
    ) -> None:
        """:param model_data: per servekit.naming.ArtifactKey (servekit.synth.build_model_data builds them); a
        single ModelData serves an endpoint without variants."""
        super().__init__(scope, construct_id, **kwargs)
        if isinstance(model_data, ModelData):
            model_data = {ArtifactKey(endpoint.name): model_data}
        data_bucket = _bucket_here(self, data_bucket)
        self.endpoint = adapter.make_endpoint(self, "Endpoint", endpoint, model_data, kms_key, endpoint_name, data_bucket)
        acknowledge_endpoint_findings(self.endpoint)
        self.dashboard = endpoint_dashboard(self, "Dashboard", self.endpoint, endpoint_name)
        cdk.CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
        cdk.CfnOutput(self, "Server", value=endpoint.server)


def _bucket_here(stack: cdk.Stack, data_bucket: s3.IBucket | None) -> s3.IBucket | None:
    """The shared stack's data bucket as `stack` refers to it (by the shared stack's exports), or None."""
    owner = cdk.Stack.of(data_bucket) if data_bucket is not None else None
    if isinstance(owner, SharedStack) and owner is not stack:
        return owner.import_data_bucket(stack)
    return data_bucket


class ComponentStack(cdk.Stack):
    """One inference-component endpoint, from its servekit.yaml entry (component_endpoints)."""

    def __init__(self, scope: Construct, construct_id: str, *, endpoint: Any,
                 model_data: Mapping[ArtifactKey, ModelData], kms_key: kms.IKey | None, endpoint_name: str,
                 data_bucket: s3.IBucket | None = None, **kwargs) -> None:
        """:param data_bucket: where uncompressed layouts of the components are copied (the shared stack's)."""
        super().__init__(scope, construct_id, **kwargs)
        data_bucket = _bucket_here(self, data_bucket)
        self.endpoint = adapter.make_component_endpoint(self, "Endpoint", endpoint, model_data, kms_key, endpoint_name,
                                                        data_bucket)
        acknowledge_endpoint_findings(self.endpoint)
        self.dashboard = component_dashboard(self, "Dashboard", self.endpoint, endpoint_name)
        cdk.CfnOutput(self, "EndpointName", value=endpoint_name)
        for name in self.endpoint.components:
            cdk.CfnOutput(self, f"InferenceComponent{name.title().replace('-', '')}",
                          value=self.endpoint.component_name(name))
