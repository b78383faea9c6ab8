"""Where an endpoint writes data, and exactly the access that needs: data capture (DataCaptureConfig) and
asynchronous inference (AsyncInferenceConfig), to the shared bucket or to S3 prefixes of the user's.

In the shared bucket each endpoint has its own prefixes, `data-capture/<key>/` and
`async-inference/<key>/{input,output,failure}/`, where <key> is the endpoint name (or the construct's
unique id when CloudFormation names the endpoint: a policy cannot wait for that name, the endpoint
depends on the policy).
"""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from servekit.options import AsyncInference, DataCapture

_S3 = re.compile(r"^s3://([^/]+)/?(.*)$")


class DataPaths:
    """S3 locations of one endpoint, and the grants on its execution policy."""

    def __init__(self, scope: Construct, *, key: str, policy: iam.ManagedPolicy, bucket: s3.IBucket | None,
                 kms_key: kms.IKey | None) -> None:
        self.scope = scope
        self.key = key
        self.policy = policy
        self.bucket = bucket
        self.kms_key = kms_key

    # --- locations -------------------------------------------------------------------------------
    def _shared(self, prefix: str, what: str) -> tuple[str, str]:
        """(s3:// URI, object ARN pattern) of a prefix in the shared bucket."""
        if self.bucket is None:
            raise ValueError(f"{self.scope.node.path}: {what} uses the shared bucket, and none was given; pass "
                             "data_bucket (servekit's SharedStack makes one) or give an s3:// location")
        return f"s3://{self.bucket.bucket_name}/{prefix}", self.bucket.arn_for_objects(f"{prefix}/*")

    def _given(self, uri: str) -> tuple[str, str]:
        bucket, prefix = _S3.match(uri).groups()
        prefix = prefix.rstrip("/")
        partition = cdk.Stack.of(self.scope).partition
        objects = f"{prefix}/*" if prefix else "*"
        return uri.rstrip("/"), f"arn:{partition}:s3:::{bucket}/{objects}"

    def _location(self, given: str | None, shared_prefix: str, what: str) -> tuple[str, str]:
        return self._given(given) if given is not None else self._shared(shared_prefix, what)

    # --- data capture ----------------------------------------------------------------------------
    def data_capture(self, capture: DataCapture) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        uri, objects = self._location(capture.s3_uri, f"data-capture/{self.key}", "data_capture")
        self.policy.add_statements(iam.PolicyStatement(actions=["s3:PutObject"], resources=[objects]))
        self._grant_encrypt()
        modes = [m for m, on in (("Input", capture.capture_input), ("Output", capture.capture_output)) if on]
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=capture.enabled,
            destination_s3_uri=uri,
            initial_sampling_percentage=capture.sampling_percent,
            kms_key_id=self.kms_key.key_arn if self.kms_key is not None else None,
            capture_options=[sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=m) for m in modes],
            capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                json_content_types=capture.json_content_types or None,
                csv_content_types=capture.csv_content_types or None,
            ) if capture.json_content_types or capture.csv_content_types else None,
        )

    # --- asynchronous inference ------------------------------------------------------------------
    def async_inference(self, config: AsyncInference) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
        base = f"async-inference/{self.key}"
        _, inputs = self._location(config.input_s3_uri, f"{base}/input", "async_inference.input_s3_uri")
        output, outputs = self._location(config.output_s3_uri, f"{base}/output", "async_inference.output_s3_uri")
        failure, failures = self._location(config.failure_s3_uri, f"{base}/failure", "async_inference.failure_s3_uri")
        self.policy.add_statements(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[inputs]),
            iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=[outputs, failures]),
        )
        topics = [t for t in (config.success_topic_arn, config.error_topic_arn) if t]
        if topics:
            self.policy.add_statements(iam.PolicyStatement(actions=["sns:Publish"], resources=sorted(set(topics))))
        self._grant_encrypt(decrypt=True)
        include = [f"{kind.upper()}_NOTIFICATION_TOPIC" for kind in config.include_response_in]
        notification = sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
            success_topic=config.success_topic_arn, error_topic=config.error_topic_arn,
            include_inference_response_in=include or None,
        ) if topics else None
        return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
            client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=config.max_concurrent_invocations_per_instance,
            ) if config.max_concurrent_invocations_per_instance is not None else None,
            output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                s3_output_path=output, s3_failure_path=failure,
                kms_key_id=self.kms_key.key_arn if self.kms_key is not None else None,
                notification_config=notification,
            ),
        )

    def _grant_encrypt(self, *, decrypt: bool = False) -> None:
        # SSE-KMS writes need a data key from the key; reading async inputs written with it needs Decrypt.
        if self.kms_key is None:
            return
        actions = ["kms:Encrypt", "kms:GenerateDataKey"] + (["kms:Decrypt"] if decrypt else [])
        self.policy.add_statements(iam.PolicyStatement(actions=actions, resources=[self.kms_key.key_arn]))
