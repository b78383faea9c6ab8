"""`servekit serve` and `servekit invoke` as a user runs them: the built artifact answers in real TorchServe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servekit.local.process import free_port, http_status

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def serve_until_healthy(start, port: int, workdir: Path, **popen) -> subprocess.Popen:  # noqa: ANN001
    """`servekit serve question-answering` in its own session (as a terminal would run it), once /ping answers 200.
    `start`: the start_group fixture, whose teardown ends the whole group even when the test fails."""
    serve = start(
        [sys.executable, "-m", "servekit.cli", "serve", "question-answering", "--port", str(port),
         "--workdir", str(workdir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen,
    )
    deadline = time.monotonic() + 300
    while http_status(f"http://127.0.0.1:{port}/ping") != 200:
        if serve.poll() is not None or time.monotonic() > deadline:
            serve.kill()
            raise AssertionError(f"servekit serve did not become healthy in 300 s:\n{serve.communicate()[0]}")
        time.sleep(0.5)
    return serve


def test_when_serve_runs_then_invoke_gets_an_answer_and_ctrl_c_stops_the_server(tmp_path, start_group):
    port = free_port()
    serve = serve_until_healthy(start_group, port, tmp_path / "serve")
    try:
        invoke = subprocess.run(
            [sys.executable, "-m", "servekit.cli", "invoke", "question-answering", "--data",
             str(ROOT / "examples" / "question-answering.json"), "--url", f"http://127.0.0.1:{port}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        assert invoke.returncode == 0, invoke.stderr
        answer = json.loads(invoke.stdout)
        assert set(answer) >= {"answer", "score", "start", "end"}

        bad = subprocess.run(
            [sys.executable, "-m", "servekit.cli", "invoke", "question-answering", "--data", "-",
             "--url", f"http://127.0.0.1:{port}"],
            cwd=ROOT, input="{not json", capture_output=True, text=True, timeout=120,
        )
        assert bad.returncode == 1 and "HTTP 400" in bad.stderr
    finally:
        os.killpg(serve.pid, signal.SIGINT)
        output, _ = serve.communicate(timeout=60)
    assert "real torchserve serving" in output
    assert http_status(f"http://127.0.0.1:{port}/ping") is None, "Ctrl-C must stop the server"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_when_serve_is_killed_or_its_terminal_closes_then_no_server_process_outlives_it(tmp_path, signum,
                                                                                       start_group):
    """`kill` (SIGTERM) and a closed terminal (SIGHUP) reach only the servekit process, not TorchServe's own process
    group: servekit must stop the Java frontend and the Python workers itself, or they keep running and hold the
    port."""
    import psutil

    port = free_port()
    workdir = tmp_path / "serve"
    serve = serve_until_healthy(start_group, port, workdir)
    try:
        os.kill(serve.pid, signum)
        serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()

    def leftovers() -> list[str]:
        """Processes of that server: the launcher runs in the workdir, Java and the workers name it."""
        found = []
        for process in psutil.process_iter(["cmdline", "cwd"]):
            cmdline = " ".join(process.info["cmdline"] or ())
            if str(workdir) in cmdline or str(workdir) in (process.info["cwd"] or ""):
                found.append(f"{process.pid}: {cmdline[:160]}")
        return found

    assert leftovers() == [], "a server process outlived `servekit serve`"
    assert http_status(f"http://127.0.0.1:{port}/ping") is None


def test_when_a_component_is_served_then_its_server_answers_as_an_endpoint_of_that_server_would(
        tmp_path, default_config_data, start_group):
    """`servekit serve gpu-fleet/resnet`: an inference component runs locally in the real tritonserver, from the
    same artifact its endpoint of that server would have."""
    import yaml
    from component_fixtures import component_endpoint

    component_endpoint(default_config_data)
    config = tmp_path / "servekit.yaml"
    config.write_text(yaml.safe_dump(default_config_data))
    port = free_port()
    serve = start_group(
        [sys.executable, "-m", "servekit.cli", "serve", "gpu-fleet/resnet", "--config", str(config), "--port",
         str(port), "--workdir", str(tmp_path / "serve")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while http_status(f"http://127.0.0.1:{port}/ping") != 200:
            assert serve.poll() is None and time.monotonic() < deadline, "servekit serve did not become healthy"
            time.sleep(0.5)
        invoke = subprocess.run(
            [sys.executable, "-m", "servekit.cli", "invoke", "gpu-fleet/resnet", "--config", str(config), "--data",
             str(ROOT / "examples" / "resnet.json"), "--url", f"http://127.0.0.1:{port}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        assert invoke.returncode == 0, invoke.stderr
        assert json.loads(invoke.stdout)["outputs"][0]["name"] == "output__0"
    finally:
        os.killpg(serve.pid, signal.SIGINT)
        output, _ = serve.communicate(timeout=60)
    assert "real triton serving" in output, output[-2000:]


def test_when_serve_starts_with_sigint_ignored_then_sigint_still_stops_it(tmp_path, start_group):
    """A background job (`make test &`, a CI runner, a script) hands its children SIGINT ignored, and Python keeps an
    ignored disposition: servekit serve installs its own handler, so Ctrl-C-by-signal stops it all the same."""
    port = free_port()
    serve = serve_until_healthy(start_group, port, tmp_path / "serve",
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    os.killpg(serve.pid, signal.SIGINT)
    output, _ = serve.communicate(timeout=60)
    assert serve.returncode == 0, output[-2000:]
    assert http_status(f"http://127.0.0.1:{port}/ping") is None, "SIGINT must stop the server"
