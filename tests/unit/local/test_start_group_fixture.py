"""The tests' own guarantee (tests/conftest.py start_group): a test that starts a server and fails still leaves
nothing running, because the fixture's teardown ends the server's whole process group, escalating to SIGKILL. Proved
with an inner pytest run whose test fails on purpose after starting a process tree that ignores SIGTERM."""

from __future__ import annotations

import time
from pathlib import Path

from test_server_process import alive

pytest_plugins = ["pytester"]
CONFTEST = (Path(__file__).resolve().parents[2] / "conftest.py").read_text()

INNER = '''
import signal, subprocess, sys, time
from pathlib import Path

TREE = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)      # like a server slow to stop: only SIGKILL ends it
child = os.fork()
if child == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)
open(sys.argv[1], "w").write(f"{os.getpid()} {child}")
while True:
    time.sleep(1)
"""


def test_a_server_test_that_fails(start_group, tmp_path):
    pids = Path(PIDS)
    start_group([sys.executable, "-c", TREE, str(pids)])
    while not pids.exists():
        time.sleep(0.05)
    assert False, "on purpose, with the server running"
'''


def test_when_a_test_fails_with_a_server_running_then_the_fixture_leaves_nothing_behind(pytester, tmp_path):
    pids_file = tmp_path / "pids"
    pytester.makeconftest(CONFTEST.replace("ROOT / \"servekit.yaml\"", "ROOT / 'servekit.yaml'"))
    pytester.makepyfile(test_inner=INNER.replace("PIDS", repr(str(pids_file))))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(failed=1)
    pids = [int(p) for p in pids_file.read_text().split()]
    deadline = time.monotonic() + 60  # generous: the fixture already waited for the leader
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(pids) == [], "a process of the failed test's server outlived it"
