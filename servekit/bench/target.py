"""Where requests go, and how they are signed: a local URL, or a deployed endpoint through SigV4."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from servekit import naming
from servekit.bench.common import (
    BenchError,
    SignFn,
)


@dataclass(frozen=True)
class Target:
    """`url` is the full /invocations URL; `sign` (deployed endpoints) returns the headers to send."""

    url: str
    label: str
    sign: SignFn | None = None


def sagemaker_endpoint_name(config: Any, endpoint_name: str) -> str:
    """The endpoint's name as the stacks give it: `<app>-<env>-<endpoint>`."""
    return naming.endpoint_name(config.app, endpoint_name)


# InvokeEndpoint's InferenceComponentName travels in this header (botocore's sagemaker-runtime service model).
COMPONENT_HEADER = "X-Amzn-SageMaker-Inference-Component"


def deployed_target(region: str, endpoint_name: str, *, credentials: Any = None,
                    component: str | None = None) -> Target:
    """SageMaker runtime's InvokeEndpoint URL for the region (botocore's endpoint rules) and a SigV4 signer;
    `component`, an InferenceComponentName, addresses one inference component (sent and signed as its header)."""
    from urllib.parse import quote

    import botocore.session

    session = botocore.session.get_session()
    client = session.create_client("sagemaker-runtime", region_name=region)
    url = f"{client.meta.endpoint_url}/endpoints/{quote(endpoint_name, safe='')}/invocations"
    if credentials is None:
        credentials = session.get_credentials()
    if credentials is None:
        raise BenchError("--deployed: no AWS credentials found; configure them as for the AWS CLI "
                         "(AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role)")
    sign = sigv4_signer(region, credentials)
    if component is None:
        return Target(url=url, label=f"deployed {endpoint_name} ({region})", sign=sign)
    return Target(url=url, label=f"deployed {endpoint_name}, component {component} ({region})",
                  sign=lambda u, body, headers: sign(u, body, {**headers, COMPONENT_HEADER: component}))


def sigv4_signer(region: str, credentials: Any, service: str = "sagemaker") -> SignFn:
    """Headers that sign one POST with AWS Signature V4 (botocore's own signer; refreshable credentials are
    re-read on each signature). InvokeEndpoint's signing service is `sagemaker`."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    auth = SigV4Auth(credentials, service, region)

    def sign(url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        auth.add_auth(request)
        return dict(request.headers.items())

    return sign



def server_timings(url: str) -> dict[str, dict[str, float]] | None:
    """The TFS emulation's Timings (GET <url>/servekit/timings), or None when the server has no such route."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/servekit/timings", timeout=10) as answer:
            return json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def local_target(url: str) -> Target:
    """A server at `url` (http://host:port, with or without /invocations)."""
    url = url.rstrip("/")
    if not url.endswith("/invocations"):
        url += "/invocations"
    return Target(url=url, label=url)
