"""Where an inference-component endpoint (a fleet) carries what a plain endpoint carries on its Model: the VPC,
network isolation and data capture.

- VPC and network isolation: on the EndpointConfig of the fleet, and on each component's Model too. AWS's own
  SDK does both: sagemaker-serve's ModelBuilder.deploy, for EndpointType.INFERENCE_COMPONENT_BASED, passes
  `vpc_config`, `enable_network_isolation` and the role to `endpoint_from_production_variants`, which writes
  VpcConfig, EnableNetworkIsolation and ExecutionRoleArn on CreateEndpointConfig; the component's Model is made
  with the same `vpc_config` and isolation (aws/sagemaker-python-sdk, sagemaker-serve/src/sagemaker/serve/
  model_builder.py and sagemaker-core/src/sagemaker/core/helper/session_helper.py, read at a248126, 2026-08-21).
  CreateEndpointConfig.EnableNetworkIsolation "Sets whether all model containers deployed to the endpoint are
  isolated" (botocore 1.44.8).
- Data capture: DataCaptureConfig is a property of the EndpointConfig, which a fleet has; no AWS page read here
  says that SageMaker captures an inference component's requests, nor whether a captured record names the
  component (its documented fields are the endpoint's and the variant's, and every component shares the variant
  AllTraffic). AWS's SDK passes no data capture on its inference-component path. Unconfirmed: servekit writes it
  and says so at validate.
"""

from __future__ import annotations

from servekit.facts.source import Source

NETWORK_ON_ENDPOINT_CONFIG = Source(
    "aws/sagemaker-python-sdk sagemaker-serve/src/sagemaker/serve/model_builder.py (deploy, INFERENCE_COMPONENT_BASED) "
    "and sagemaker-core/src/sagemaker/core/helper/session_helper.py (endpoint_from_production_variants); botocore "
    "1.44.8 CreateEndpointConfig.VpcConfig and EnableNetworkIsolation")
DATA_CAPTURE_OF_COMPONENTS = Source(
    "no AWS page read says SageMaker captures inference components' requests, or that a record names its component; "
    "DataCaptureConfig is the EndpointConfig's (botocore 1.44.8 CreateEndpointConfig)", False)
