"""`servekit serve` ended by each signal while 16 clients keep it busy: the real TorchServe (question-answering)
and the real tritonserver (resnet) stop completely, Java workers and python-backend stubs included.

SIGINT goes to the serve's process group, as a terminal's Ctrl-C does; SIGTERM (`kill`), SIGHUP (a closed
terminal) and SIGKILL (the OOM killer, an IDE's stop button) go to the servekit process alone. SIGKILL
leaves servekit no chance to act: its supervisor sees the pipe close (servekit/local/supervisor.py).

The 15 s bound is the design's, not a speed: the supervisor sends SIGTERM, then SIGKILL after its 5 s grace,
and a SIGKILLed process is gone once the kernel has reaped it. The wait for the start is generous (300 s):
a 2-core CI shares its cores with the server and the load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from servekit import bench, config
from servekit.local.process import free_port, http_status
from servekit.model_build import build

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
STOP_BOUND_SECONDS = 15.0
LOAD_CONCURRENCY = 16
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]


def leftovers(workdir: Path) -> list[str]:
    """Processes of that server: the supervisor and the launcher name or run in the workdir, and so do Java,
    its workers, tritonserver and its stubs (their command lines hold the model's path)."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(process.info["cmdline"] or ())
        if str(workdir) in cmdline or str(workdir) in (process.info["cwd"] or ""):
            found.append(f"{process.pid}: {cmdline[:160]}")
    return found


class Load:
    """`LOAD_CONCURRENCY` threads sending the endpoint's example request back to back until stopped."""

    def __init__(self, url: str, payload: bench.Payload):
        self.url, self.payload = url, payload
        self.answered = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(LOAD_CONCURRENCY)]

    def _run(self) -> None:
        while not self.stop.is_set():
            request = urllib.request.Request(self.url, data=self.payload.body, headers=self.payload.headers,
                                             method="POST")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                    self.answered += 1
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)  # the server is going away: that is the point

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


@pytest.fixture(scope="module")
def payloads():
    """The example request of each endpoint, from the same artifact `servekit serve` builds (cached)."""
    cfg = config.load(ROOT / "servekit.yaml")
    out = {}
    for name in ("question-answering", "resnet"):
        endpoint = next(e for e in cfg.endpoints if e.name == name)
        artifact = build(endpoint, cache_dir=ROOT / ".servekit" / "cache")
        out[name] = bench.payloads_for(endpoint, artifact.path)[0]
    return out


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("endpoint", ["question-answering", "resnet"])
def test_when_serve_ends_by_a_signal_under_load_then_the_server_is_gone_within_15_s(
    payloads, tmp_path, endpoint, signum
):
    port = free_port()
    workdir = tmp_path / "serve"
    log = (tmp_path / "serve.out").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "servekit.cli", "serve", endpoint, "--port", str(port), "--workdir", str(workdir)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while http_status(f"{url}/ping") != 200:
            assert serve.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.out").read_text()
            time.sleep(0.5)
        with Load(f"{url}/invocations", payloads[endpoint]) as load:
            answered_before = load.answered
            deadline = time.monotonic() + 120
            while load.answered < answered_before + LOAD_CONCURRENCY and time.monotonic() < deadline:
                time.sleep(0.1)
            assert load.answered >= answered_before + LOAD_CONCURRENCY, "the server never answered under load"
            started = time.monotonic()
            if signum == signal.SIGINT:
                os.killpg(serve.pid, signum)
            else:
                os.kill(serve.pid, signum)
            while (leftovers(workdir) or http_status(f"{url}/ping") is not None) and \
                    time.monotonic() - started < 4 * STOP_BOUND_SECONDS:
                time.sleep(0.1)
            seconds = time.monotonic() - started
        print(f"{endpoint} {signal.Signals(signum).name}: stopped in {seconds:.1f} s under load")
        assert leftovers(workdir) == [], "a server process outlived `servekit serve`"
        assert http_status(f"{url}/ping") is None
        assert seconds <= STOP_BOUND_SECONDS, f"stopped in {seconds:.1f} s"
        serve.wait(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
        log.close()
