"""A fourth server, from outside servekit: tests/plugins/echo_server, registered by one `servekit.servers` entry
point (tests/plugins/servekit_echo_server-0.1.dist-info) and nothing else. Through the CLI, as a user with that
package installed runs it: validate, build, synth (its own image, environment and constructs, and its row in the
synth table), serve (its real server, with a bad request answered 400), bench, and the generated docs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import end_group

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "tests" / "plugins"
SERVEKIT = [sys.executable, "-m", "servekit.cli"]
CONFIG = """\
app:
  name: echoapp
  region: eu-west-1
endpoints:
  - name: hello
    server: echo
    instance_type: ml.m5.large
    model:
      greeting: hi there
    tuning:
      workers: 2
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("echo-project")
    (folder / "servekit.yaml").write_text(CONFIG)
    return folder


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")]),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def servekit(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*SERVEKIT, *args], cwd=project, env=env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_when_the_plugin_is_installed_then_validate_and_build_know_its_server(project):
    result = servekit(project, "validate")
    assert result.returncode == 0, result.stderr
    assert "1 endpoint(s): hello (echo)" in result.stdout
    result = servekit(project, "build")
    assert result.returncode == 0, result.stderr
    assert "hello: building echo artifact" in result.stdout + result.stderr


def test_when_the_plugin_is_absent_then_its_server_is_unknown(project):
    result = subprocess.run([*SERVEKIT, "validate"], cwd=project, capture_output=True, text=True, timeout=300,
                            env={k: v for k, v in env().items() if k != "PYTHONPATH"})
    assert result.returncode == 2
    assert "endpoints[0]: 'echo' is not one of 'tfs', 'torchserve', 'triton'; use one of them (a server of a " \
           "plug-in package is known once that package is installed" in result.stdout + result.stderr


def test_when_synthesized_then_the_template_runs_its_image_and_environment(project):
    result = servekit(project, "synth")
    assert result.returncode == 0, result.stderr
    assert "echo" in result.stdout and "servekit-echo:1.0" in result.stdout and "workers=2" in result.stdout
    template = json.loads((project / "cdk.out" / "echoapp-dev-hello.template.json").read_text())
    (model,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    container = model["Properties"]["PrimaryContainer"]
    assert container["Image"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/servekit-echo:1.0"
    assert container["Environment"] == {"ECHO_WORKERS": "2", "ECHO_GREETING": "hi there"}
    (config,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    assert config["Properties"]["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"


def test_when_served_then_its_server_answers_and_bench_measures_it(project, start_group):
    port = _free_port()
    serve = start_group([*SERVEKIT, "serve", "hello", "--port", str(port)], cwd=project, env=env(),
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait_for_ping(url, serve)
    status, answer = _post(f"{url}/invocations", b'{"text": "hey"}')
    assert (status, json.loads(answer)) == (200, {"greeting": "hi there", "echo": {"text": "hey"}})
    status, answer = _post(f"{url}/invocations", b"not json")
    assert status == 400 and "not JSON" in json.loads(answer)["error"]
    result = servekit(project, "bench", "hello", "--concurrency", "1", "--requests", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"benching the `servekit serve hello` running at http://127.0.0.1:{port}" in result.stdout + result.stderr
    reports = sorted((project / ".servekit" / "bench").glob("hello-*/bench.json"))
    report = json.loads(reports[-1].read_text())
    (step,) = report["steps"]
    assert report["server"] == "echo" and (step["requests"], step["ok"], step["errors"]) == (5, 5, 0)
    end_group(serve.pid, serve, signal.SIGINT)
    assert serve.returncode == 0


def test_when_docs_are_generated_then_they_list_the_plugins_keys(project):
    result = subprocess.run([sys.executable, "-m", "servekit.docgen"], env=env(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "## endpoints[] (server: echo)" in result.stdout
    assert "## endpoints[].variants[] / shadow_variant (echo)" in result.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_ping(url: str, proc: subprocess.Popen, timeout_seconds: float = 300) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise AssertionError(f"{url}/ping did not answer in {timeout_seconds} s")


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


FLEET = """\
app:
  name: echoapp
  region: eu-west-1
component_endpoints:
  - name: fleet
    instance_type: ml.m5.xlarge
    observability: {detailed: true}
    network:
      vpc_id: vpc-0123456789abcdef0
      subnet_ids: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]
    components:
      - name: hello
        server: echo
        model: {greeting: hi there}
        compute: {cpu_cores: 1, memory_mb: 1024}
        metrics_endpoint: {path: /metrics, publish_frequency_seconds: 30}
"""


def test_when_a_plugin_component_names_its_metrics_endpoint_then_the_fleet_scrapes_it_and_cfn_lint_agrees(
        tmp_path, start_group):
    # The path is true of the echo server: it serves Prometheus text there, on its serving port.
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "echo.json").write_text('{"greeting": "hi"}')
    port = _free_port()
    server = start_group([sys.executable, "-m", "echo_server.serve", "--model-root", str(tmp_path / "model"),
                          "--port", str(port)], env=env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    _wait_for_ping(f"http://127.0.0.1:{port}", server)
    _post(f"http://127.0.0.1:{port}/invocations", b"not json")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        assert 'echo_invocations_total{code="400"} 1' in response.read().decode()
    (tmp_path / "servekit.yaml").write_text(FLEET)
    result = servekit(tmp_path, "synth")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    path = tmp_path / "cdk.out" / "echoapp-dev-fleet.template.json"
    resources = json.loads(path.read_text())["Resources"].values()
    (component,) = [r["Properties"] for r in resources if r["Type"] == "AWS::SageMaker::InferenceComponent"]
    assert component["Specification"]["Container"] == {"ContainerMetricsConfig": {"MetricsEndpoints": [
        {"MetricsEndpointPath": "/metrics", "MetricPublishFrequencyInSeconds": 30}]}}
    (config,) = [r["Properties"] for r in resources if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    assert config["VpcConfig"]["Subnets"] == ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    assert config["EnableNetworkIsolation"] is True
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(path)],
                          capture_output=True, text=True, timeout=600)
    assert (lint.returncode, lint.stdout.strip()) == (0, ""), lint.stdout + lint.stderr
