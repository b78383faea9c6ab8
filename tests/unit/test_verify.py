"""`servekit verify --deployed` against botocore's Stubber: every AWS answer is one the real API gives, checked
against botocore's service models; the clock is fake, so the timeout path runs in microseconds."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from servekit import verify

ENDPOINT = "servekit-dev-question-answering"
STACK = "servekit-dev-question-answering"
REGION = "us-east-1"
ARN = f"arn:aws:sagemaker:{REGION}:123456789012"
DEPLOYED = "EndpointEndpointConfig5871F635-AbCdEf012345"
PREVIOUS = "EndpointEndpointConfig5871F635-Zyx987654321"
TEMPLATE = {
    "Resources": {
        "EndpointModel0F230181": {"Type": "AWS::SageMaker::Model", "Properties": {}},
        "EndpointEndpointConfig5871F635": {"Type": "AWS::SageMaker::EndpointConfig", "Properties": {}},
        "Endpoint8024A810": {"Type": "AWS::SageMaker::Endpoint", "Properties": {
            "EndpointName": ENDPOINT,
            "EndpointConfigName": {"Fn::GetAtt": ["EndpointEndpointConfig5871F635", "EndpointConfigName"]}}},
    }
}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def aws():
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    clients = {name: session.client(name) for name in ("cloudformation", "sagemaker", "sagemaker-runtime")}
    stubs = {name: Stubber(client) for name, client in clients.items()}
    for stub in stubs.values():
        stub.activate()
    yield clients, stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def stack_answers(stubs, physical_config: str = DEPLOYED, status: str = "UPDATE_COMPLETE"):
    stubs["cloudformation"].add_response(
        "get_template", {"TemplateBody": json.dumps(TEMPLATE)}, {"StackName": STACK})
    stubs["cloudformation"].add_response(
        "describe_stack_resource",
        {"StackResourceDetail": {
            "StackName": STACK, "LogicalResourceId": "EndpointEndpointConfig5871F635",
            # CloudFormation's physical id of an EndpointConfig is its ARN, in which SageMaker lowercases the name.
            "PhysicalResourceId": f"{ARN}:endpoint-config/{physical_config.lower()}",
            "ResourceType": "AWS::SageMaker::EndpointConfig", "LastUpdatedTimestamp": NOW, "ResourceStatus": status}},
        {"StackName": STACK, "LogicalResourceId": "EndpointEndpointConfig5871F635"},
    )


def endpoint_answer(stubs, status: str, config: str = DEPLOYED, reason: str | None = None):
    response = {"EndpointName": ENDPOINT, "EndpointArn": f"{ARN}:endpoint/{ENDPOINT}", "EndpointConfigName": config,
                "EndpointStatus": status, "CreationTime": NOW, "LastModifiedTime": NOW}
    if reason:
        response["FailureReason"] = reason
    stubs["sagemaker"].add_response("describe_endpoint", response, {"EndpointName": ENDPOINT})


def invoke_answer(stubs, body: bytes, content_type: str = "application/json"):
    stubs["sagemaker-runtime"].add_response(
        "invoke_endpoint", {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": content_type},
        {"EndpointName": ENDPOINT, "Body": b'{"question": "q"}', "ContentType": "application/json",
         "Accept": "application/json"},
    )


def run(clients, clock: FakeClock | None = None, timeout: float = 600.0) -> verify.Result:
    clock = clock or FakeClock()
    return verify.verify_deployed(
        endpoint_name=ENDPOINT, stack_name=STACK, sagemaker=clients["sagemaker"],
        cloudformation=clients["cloudformation"], runtime=clients["sagemaker-runtime"], payload=b'{"question": "q"}',
        timeout_seconds=timeout, poll_seconds=30.0, clock=clock, sleep=clock.sleep,
    )


def test_when_the_update_settles_in_service_on_the_deployed_config_and_answers_then_verify_passes(aws):
    clients, stubs = aws
    stack_answers(stubs)
    endpoint_answer(stubs, "Updating")
    endpoint_answer(stubs, "Updating")
    endpoint_answer(stubs, "InService")
    invoke_answer(stubs, b'{"answer": "TorchServe", "score": 0.9}')
    clock = FakeClock()
    result = run(clients, clock)
    assert result.ok, result.lines()
    assert [c.name for c in result.checks] == ["deployed stack", "endpoint", "smoke request"]
    assert clock.sleeps == [30.0, 30.0]
    assert "InService on " + DEPLOYED in result.lines()[1]
    assert "TorchServe" in result.lines()[2]


def component_answer(stubs, status: str, reason: str | None = None):
    response = {"InferenceComponentName": f"{ENDPOINT}-qa", "InferenceComponentArn": f"{ARN}:inference-component/x",
                "EndpointName": ENDPOINT, "EndpointArn": f"{ARN}:endpoint/{ENDPOINT}", "InferenceComponentStatus": status,
                "CreationTime": NOW, "LastModifiedTime": NOW, "RuntimeConfig": {"DesiredCopyCount": 1,
                                                                                 "CurrentCopyCount": 1}}
    if reason:
        response["FailureReason"] = reason
    stubs["sagemaker"].add_response("describe_inference_component", response,
                                    {"InferenceComponentName": f"{ENDPOINT}-qa"})


def test_when_a_component_settles_in_service_then_the_smoke_request_is_addressed_to_it(aws):
    clients, stubs = aws
    stack_answers(stubs)
    endpoint_answer(stubs, "InService")
    component_answer(stubs, "Creating")
    component_answer(stubs, "InService")
    body = b'{"answer": "paris"}'
    stubs["sagemaker-runtime"].add_response(
        "invoke_endpoint", {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"},
        {"EndpointName": ENDPOINT, "Body": b'{"question": "q"}', "ContentType": "application/json",
         "Accept": "application/json", "InferenceComponentName": f"{ENDPOINT}-qa"},
    )
    clock = FakeClock()
    result = verify.verify_deployed(
        endpoint_name=ENDPOINT, stack_name=STACK, sagemaker=clients["sagemaker"],
        cloudformation=clients["cloudformation"], runtime=clients["sagemaker-runtime"], payload=b'{"question": "q"}',
        timeout_seconds=600, poll_seconds=30.0, clock=clock, sleep=clock.sleep, component=f"{ENDPOINT}-qa")
    assert result.ok, result.lines()
    assert [c.name for c in result.checks] == ["deployed stack", "endpoint", "component", "smoke request"]
    assert "InService with 1 cop(ies)" in result.lines()[2] and clock.sleeps == [30.0]


def test_when_a_component_failed_then_verify_fails_with_sagemakers_reason_and_sends_nothing(aws):
    clients, stubs = aws
    stack_answers(stubs)
    endpoint_answer(stubs, "InService")
    component_answer(stubs, "Failed", reason="not enough accelerators to place 1 copy")
    clock = FakeClock()
    result = verify.verify_deployed(
        endpoint_name=ENDPOINT, stack_name=STACK, sagemaker=clients["sagemaker"],
        cloudformation=clients["cloudformation"], runtime=clients["sagemaker-runtime"], payload=b"{}",
        timeout_seconds=600, poll_seconds=30.0, clock=clock, sleep=clock.sleep, component=f"{ENDPOINT}-qa")
    assert not result.ok
    assert result.lines()[-1] == f"FAIL component: {ENDPOINT}-qa Failed: not enough accelerators to place 1 copy"


def test_when_sagemaker_rolled_the_update_back_then_in_service_on_the_old_config_fails(aws):
    """A blue/green update rolled back on an alarm ends InService, on the previous config: a silent rollback."""
    clients, stubs = aws
    stack_answers(stubs)
    endpoint_answer(stubs, "RollingBack", config=PREVIOUS)
    endpoint_answer(stubs, "InService", config=PREVIOUS)
    result = run(clients)
    assert not result.ok
    failed = result.checks[-1]
    assert failed.name == "endpoint" and not failed.ok
    assert f"on EndpointConfig {PREVIOUS}, not {DEPLOYED.lower()}" in failed.detail
    assert "rolled the update back" in failed.detail
    assert "smoke request" not in [c.name for c in result.checks]  # no request to an endpoint that failed


def test_when_the_endpoint_failed_then_verify_fails_with_sagemakers_reason(aws):
    clients, stubs = aws
    stack_answers(stubs)
    endpoint_answer(stubs, "Failed", reason="The primary container for production variant AllTraffic did not pass the ping health check.")
    result = run(clients)
    assert not result.ok
    assert result.checks[-1].detail.startswith("Failed: The primary container")


def test_when_the_endpoint_never_settles_then_polling_stops_at_the_limit(aws):
    clients, stubs = aws
    stack_answers(stubs)
    for _ in range(4):  # at 0, 30, 60, 90 s; a fifth look at 120 s would pass the 100 s limit
        endpoint_answer(stubs, "Updating")
    clock = FakeClock()
    result = run(clients, clock, timeout=100.0)
    assert not result.ok
    assert clock.sleeps == [30.0, 30.0, 30.0]
    assert clock.now <= 100.0
    assert "still Updating after 90 s (limit 100 s)" in result.checks[-1].detail


def test_when_the_stack_resource_failed_then_the_endpoint_is_not_even_asked(aws):
    clients, stubs = aws
    stack_answers(stubs, status="UPDATE_FAILED")
    result = run(clients)
    assert not result.ok
    assert result.checks[0].name == "deployed stack" and "UPDATE_FAILED" in result.checks[0].detail


def test_when_the_stack_does_not_exist_then_verify_says_deploy_it_first(aws):
    clients, stubs = aws
    stubs["cloudformation"].add_client_error(
        "get_template", service_error_code="ValidationError", service_message=f"Stack with id {STACK} does not exist",
        expected_params={"StackName": STACK})
    result = run(clients)
    assert not result.ok
    assert "does not exist; deploy it first" in result.checks[0].detail


def test_when_the_model_errors_then_the_smoke_request_fails_with_its_message(aws):
    clients, stubs = aws
    stack_answers(stubs)
    endpoint_answer(stubs, "InService")
    stubs["sagemaker-runtime"].add_client_error(
        "invoke_endpoint", service_error_code="ModelError", http_status_code=424,
        service_message="Received client error (400) from primary with message \"bad question\"")
    result = run(clients)
    assert not result.ok
    assert "InvokeEndpoint failed: Received client error (400)" in result.checks[-1].detail


def test_when_the_answer_claims_json_but_is_not_then_the_smoke_request_fails(aws):
    clients, stubs = aws
    stack_answers(stubs)
    endpoint_answer(stubs, "InService")
    invoke_answer(stubs, b"<html>oops</html>")
    result = run(clients)
    assert not result.ok and "not JSON" in result.checks[-1].detail


def test_the_deployed_config_is_the_one_the_endpoint_references_when_a_template_holds_two():
    template = {"Resources": {
        "Old": {"Type": "AWS::SageMaker::EndpointConfig"}, "New": {"Type": "AWS::SageMaker::EndpointConfig"},
        "Ep": {"Type": "AWS::SageMaker::Endpoint", "Properties": {
            "EndpointName": "e", "EndpointConfigName": {"Fn::GetAtt": ["New", "EndpointConfigName"]}}}}}
    assert verify.deployed_config_logical_id(template, "e") == "New"
    assert verify.deployed_config_logical_id(template, "other") is None
    assert verify.config_name(f"{ARN}:endpoint-config/abc-1") == "abc-1"
    assert verify.config_name("abc-1") == "abc-1"


# --- the example payloads, the local check and the command ---------------------------------------------------------
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_the_example_payloads_are_what_the_generator_writes_and_each_server_would_take_them():
    import importlib.util

    from servekit import codecs, config

    spec = importlib.util.spec_from_file_location("generate", ROOT / "examples" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    for name, make in generate.PAYLOADS.items():
        assert (ROOT / "examples" / name).read_text() == make(), f"examples/{name} is stale: run examples/generate.py"
    for endpoint in config.load(ROOT / "servekit.yaml").endpoints:
        body = (ROOT / "examples" / f"{endpoint.name}.json").read_bytes()
        assert codecs.request_problem(endpoint.plugin, body, "application/json") is None, endpoint.name
    request = json.loads((ROOT / "examples" / "resnet.json").read_text())["inputs"][0]
    assert request["shape"] == [1, 3, 224, 224] and len(request["data"]) == 3 * 224 * 224
    image = json.loads((ROOT / "examples" / "image-classifier.json").read_text())["instances"]
    assert (len(image), len(image[0]), len(image[0][0]), len(image[0][0][0])) == (1, 224, 224, 3)


@pytest.fixture
def local_server():
    """A real HTTP server on loopback that answers /ping and /invocations like a model server."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200 if self.path == "/ping" else 404)
            self.end_headers()

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.headers["Content-Type"], body))
            answer = b'{"answer": "TorchServe"}' if body.startswith(b"{") else b'{"error": "bad"}'
            self.send_response(200 if body.startswith(b"{") else 400)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_local_verify_pings_then_sends_the_payload(local_server):
    url, seen = local_server
    result = verify.verify_local(endpoint_name="qa", url=url, payload=b'{"question": "q"}')
    assert result.ok, result.lines()
    assert seen == [("application/json", b'{"question": "q"}')]
    bad = verify.verify_local(endpoint_name="qa", url=url, payload=b"not json")
    assert not bad.ok and bad.checks[-1].detail.startswith("HTTP 400")


def test_local_verify_says_how_to_start_a_server_when_nothing_answers():
    from servekit.local.process import free_port

    result = verify.verify_local(endpoint_name="qa", url=f"http://127.0.0.1:{free_port()}", payload=b"{}",
                                 timeout_seconds=5)
    assert not result.ok and "servekit serve qa" in result.checks[0].detail


def test_the_command_verifies_a_local_server_with_the_example_payload(local_server, capsys):
    from servekit import cli

    url, seen = local_server
    assert cli.main(["verify", "question-answering", "--url", url, "--config", str(ROOT / "servekit.yaml")]) == 0
    assert seen[0][1] == (ROOT / "examples" / "question-answering.json").read_bytes()
    assert "question-answering at " + url + ": verified (question-answering.json)" in capsys.readouterr().out


def test_the_command_refuses_an_unknown_environment_and_a_missing_payload(tmp_path, capsys):
    import shutil

    from servekit import cli

    config = tmp_path / "servekit.yaml"
    shutil.copy(ROOT / "servekit.yaml", config)
    assert cli.main(["verify", "resnet", "--deployed", "--config", str(config), "--env", "prod"]) == 2
    assert "--env prod: the config has no pipeline environment" in capsys.readouterr().err
    assert cli.main(["verify", "resnet", "--config", str(config), "--data", str(tmp_path / "none.json")]) == 2
    assert "none.json does not exist; pass --data FILE" in capsys.readouterr().err


def test_the_pipelines_entry_point_imports_neither_the_cdk_nor_a_framework():
    """The pipeline's verification step installs only the config's dependencies and boto3."""
    import subprocess
    import sys

    code = ("import runpy, sys; sys.argv = ['servekit.verify', '--help']\n"
            "try:\n    runpy.run_module('servekit.verify', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('aws_cdk', 'jsii', 'torch', 'tensorflow', 'numpy', 'tritonclient', 'boto3') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    assert "--deployed" in result.stdout
