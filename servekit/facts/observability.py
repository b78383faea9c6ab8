r"""An endpoint configuration's MetricsConfig: what SageMaker does when it is left out, and what it accepts.

- EnableDetailedObservability "defaults to true for endpoint configurations created after June 17, 2026" (AWS,
  sagemaker/latest/dg/monitoring-detailed-observability-getting-started.html, "New endpoint configurations"):
  per-container Prometheus metrics, per-GPU and per-instance host metrics and component placement metrics, at
  the publish interval, with their CloudWatch cost. Left out, a new EndpointConfig (servekit makes one on every
  change) turns it on; so servekit always writes MetricsConfig.
- EnableEnhancedMetrics: "The default is False"; instance- and container-level dimensions (InstanceId, ContainerId,
  AcceleratorId). MetricPublishFrequencyInSeconds: "Defaults to 60. Valid values: 10, 30, 60, 120, 180, 240, 300"
  (both: botocore 1.44.8's SageMaker service model, MetricsConfig, read in this environment; the same text as
  AWS's API_MetricsConfig page).
- The execution role needs nothing for any of the three: the getting-started page enables detailed observability
  with the endpoint configuration alone ("No action required"; the collector is AWS-managed). SageMaker AI
  Insights, CloudWatch's dashboard of these metrics, needs the account's OTel enrichment turned on
  (AmazonCloudWatch/latest/monitoring/SageMaker-AI-Insights-Get-Started.html), which is the account's, not the
  endpoint's.
- ContainerMetricsConfig (on an inference component's Container): one MetricsEndpoint, its MetricsEndpointPath
  matching `/(?!.*\.\.)[a-zA-Z0-9/_.\-]+`, up to 256 characters, scraped when EnableDetailedObservability is on;
  "If not specified ... the default path /metrics on port 8080 is used", and "For first-party and Deep Learning
  Containers (DLC), the endpoint path is determined automatically" (botocore 1.44.8, ContainerMetricsConfig and
  InferenceComponentContainerSpecification). The port is not settable, and servekit's three servers serve no
  Prometheus text on 8080, their inference port (TorchServe on its metrics_address, 8082 unless set; Triton on
  its --metrics-port; TFS only with a monitoring config): only a server with its own image takes a path.
"""

from __future__ import annotations

from servekit.facts.source import Source

DETAILED_DEFAULT_FLIPPED = "2026-06-17"
DETAILED_DEFAULT_SOURCE = Source("AWS sagemaker/latest/dg/monitoring-detailed-observability-getting-started.html, "
                                 "'New endpoint configurations'")
PUBLISH_FREQUENCIES_SECONDS = (10, 30, 60, 120, 180, 240, 300)
DEFAULT_PUBLISH_FREQUENCY_SECONDS = 60
METRICS_CONFIG_SOURCE = Source("botocore 1.44.8 service-2.json, sagemaker MetricsConfig (AWS API_MetricsConfig)")
ROLE_NEEDS_NOTHING_SOURCE = Source("AWS monitoring-detailed-observability-getting-started.html: enabled by the "
                                   "endpoint configuration alone; no execution-role permission named")
CONTAINER_METRICS_SOURCE = Source("botocore 1.44.8 service-2.json, sagemaker ContainerMetricsConfig, MetricsEndpoint "
                                  "and InferenceComponentContainerSpecification.ContainerMetricsConfig")
METRICS_ENDPOINT_PATH_PATTERN = r"^/(?!.*\.\.)[a-zA-Z0-9/_.\-]+$"  # botocore's, anchored as cfn-lint 1.58's schema
CONTAINER_METRICS_PORT = 8080  # "the default path /metrics on port 8080"; MetricsEndpoint has no port field
