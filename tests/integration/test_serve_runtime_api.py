"""`servekit serve` answers SageMaker's runtime API: boto3's own sagemaker-runtime client, given endpoint_url, calls
InvokeEndpoint on each server of the embedded default (real TorchServe, real tritonserver, the TFS emulation) and gets
what the container answers at /invocations; a container error comes back as SageMaker's ModelError (424, with the
container's status and body), an unknown endpoint as ValidationError. A user's application code runs unchanged."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def direct(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{url}/invocations", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.mark.parametrize("endpoint", ["question-answering", "resnet", "image-classifier"])
def test_when_boto3_invokes_the_local_endpoint_then_it_answers_as_sagemaker_would(endpoint, tmp_path, start_group):
    serve = start_group(
        [sys.executable, "-m", "servekit.cli", "serve", endpoint, "--port", "0", "--workdir", str(tmp_path / "serve")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    # the start_group fixture ends the serve and its model server, however the test ends
    deadline = time.monotonic() + 300
    backend = None
    while backend is None:  # the model server's own address, printed once the front is up
        line = serve.stdout.readline()
        lines.append(line)
        assert line or serve.poll() is None, "".join(lines[-40:])
        assert time.monotonic() < deadline, "servekit serve did not start in 300 s"
        found = re.search(r"the model server itself answers at (http://127\.0\.0\.1:\d+)", line)
        backend = found and found.group(1)
    url = json.loads((ROOT / ".servekit" / "serve" / endpoint / "server.json").read_text())["url"]
    runtime = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local")
    body = (ROOT / "examples" / f"{endpoint}.json").read_bytes()
    answer = runtime.invoke_endpoint(EndpointName=f"servekit-dev-{endpoint}", Body=body,
                                     ContentType="application/json", Accept="application/json")
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["Body"].read() == direct(backend, body)[1]

    status, original = direct(backend, b"{not json")
    assert status >= 400
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{not json", ContentType="application/json")
    error = caught.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ModelError", 424)
    assert error["OriginalStatusCode"] == status and error["OriginalMessage"] == original.decode()

    with pytest.raises(ClientError, match=r"ValidationError.*Endpoint nope of account"):
        runtime.invoke_endpoint(EndpointName="nope", Body=body, ContentType="application/json")
