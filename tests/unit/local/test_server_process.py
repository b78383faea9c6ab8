"""ServerProcess and its supervisor with a stand-in server that makes stopping hard: it ignores SIGTERM, and
it leaves one process that escaped its process group (setsid) and one orphan whose parent has exited.

These use real processes and signals but no model server, so they run in seconds; the same guarantees with
the real TorchServe and tritonserver under load are in tests/integration/test_serve_signals.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from servekit.local.process import ServerProcess, ServerStartError

# Writes "<pid>\n" for itself and each process it makes, once all of them run; ignores SIGTERM throughout.
STUBBORN_SERVER = textwrap.dedent('''
    import os, signal, sys, time
    pids_file = sys.argv[1]
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def spawn(escape):
        pid = os.fork()
        if pid == 0:
            if escape:
                os.setsid()                      # leaves the process group: killpg no longer reaches it
            else:
                if os.fork() != 0:               # a grandchild whose parent exits at once: an orphan
                    os._exit(0)
            with open(pids_file, "a") as f:
                f.write(f"{os.getpid()}\\n")
            while True:
                time.sleep(1)
        return pid

    spawn(escape=True)
    orphan_parent = spawn(escape=False)
    os.waitpid(orphan_parent, 0)
    with open(pids_file, "a") as f:
        f.write(f"{os.getpid()}\\n")
    while True:
        time.sleep(1)
''')

# A parent like `servekit serve`: starts the stubborn server, says so, and waits to be killed.
PARENT = textwrap.dedent('''
    import signal, sys, time
    from pathlib import Path
    from servekit.local.process import ServerProcess
    # The parent this test stands for dies of the signal: under `nohup` (a CI started that way) SIGHUP arrives
    # ignored, and as a background job (`make test &`) SIGINT does; an ignored disposition survives exec, so the
    # parent would never die of them. Restore Python's defaults (SIGINT: KeyboardInterrupt).
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    server = ServerProcess(name="stubborn", command=[sys.executable, sys.argv[1], sys.argv[2]],
                           log_path=Path(sys.argv[3]), stop_grace_seconds=1.0).start()
    print(server.pid, flush=True)
    while True:
        time.sleep(1)
''')

GONE_WITHIN_SECONDS = 60  # generous: the supervisor's own bound is 1 s grace + 5 s for SIGKILL to take effect


def wait_for_pids(pids_file: Path, count: int) -> list[int]:
    deadline = time.monotonic() + GONE_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if pids_file.exists():
            pids = [int(line) for line in pids_file.read_text().split()]
            if len(pids) == count:
                return pids
        time.sleep(0.05)
    raise AssertionError(f"the stand-in server did not start its {count} processes")


def alive(pids: list[int]) -> list[int]:
    found = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.append(pid)
        except psutil.NoSuchProcess:
            pass
    return found


def wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + GONE_WITHIN_SECONDS
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


@pytest.fixture
def stubborn(tmp_path):
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN_SERVER)
    return script, tmp_path / "pids", tmp_path / "server.log"


# How the supervisor learns of it: Python's default for SIGINT raises KeyboardInterrupt, so the atexit hook
# runs stop() (SIGTERM to the supervisor); SIGKILL cannot be caught and Python's default for SIGTERM and
# SIGHUP ends the process at once, without atexit: only the pipe's end-of-file is left.
HOW_THE_SUPERVISOR_LEARNS = {
    signal.SIGKILL: "servekit is gone", signal.SIGTERM: "servekit is gone", signal.SIGHUP: "servekit is gone",
    signal.SIGINT: "signal SIGTERM",
}


@pytest.mark.parametrize("signum", list(HOW_THE_SUPERVISOR_LEARNS), ids=lambda s: signal.Signals(s).name)
def test_when_the_parent_dies_by_any_signal_then_every_server_process_is_stopped(stubborn, tmp_path, signum):
    """A bare parent, without servekit's CLI handlers: whatever kills it, nothing of the server is left."""
    script, pids_file, log = stubborn
    parent_script = tmp_path / "parent.py"
    parent_script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(parent_script), str(script), str(pids_file), str(log)],
                              stdout=subprocess.PIPE, text=True)
    supervisor = int(parent.stdout.readline())
    try:
        pids = wait_for_pids(pids_file, 3)
        parent.send_signal(signum)
        parent.wait(timeout=GONE_WITHIN_SECONDS)
        assert wait_gone([*pids, supervisor]) == [], log.read_text()
        assert f"stopping the server: {HOW_THE_SUPERVISOR_LEARNS[signum]}" in log.read_text()
    finally:
        parent.kill()
        for pid in alive([*pids, supervisor]):
            os.kill(pid, signal.SIGKILL)


def test_when_stopped_then_processes_ignoring_sigterm_or_outside_the_group_are_killed(stubborn):
    script, pids_file, log = stubborn
    server = ServerProcess(name="stubborn", command=[sys.executable, str(script), str(pids_file)], log_path=log,
                           stop_grace_seconds=1.0).start()
    pids = wait_for_pids(pids_file, 3)
    try:
        seconds = server.stop()
        assert alive([*pids, server.pid]) == []
        assert 1.0 <= seconds  # it waited the grace before SIGKILL, as SIGTERM was ignored
        assert "SIGKILL" in log.read_text()
        assert server.stop() == 0.0 or not server.running()  # idempotent
    finally:
        for pid in alive(pids):
            os.kill(pid, signal.SIGKILL)


def test_when_the_server_exits_by_itself_then_its_status_is_reported_and_its_leftovers_stopped(tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent('''
        import os, sys, time
        if os.fork() == 0:
            open(sys.argv[1], "w").write(str(os.getpid()))
            time.sleep(600)
        time.sleep(0.5)
        print("crashing", flush=True)
        sys.exit(3)
    '''))
    pid_file = tmp_path / "child"
    server = ServerProcess(name="crash", command=[sys.executable, str(script), str(pid_file)],
                           log_path=tmp_path / "log").start()
    with pytest.raises(ServerStartError, match=r"exited with code 3 before healthy[\s\S]*crashing"):
        server.wait_until(lambda: False, timeout_seconds=GONE_WITHIN_SECONDS, what="healthy")
    assert wait_gone([int(pid_file.read_text())]) == []
