"""Shared fixtures: the embedded default config, as data to modify per test."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# jsii prints a banner per process on Node 20 (past its end of life, the Node this project's machines have).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "20")


@pytest.fixture
def default_config_data() -> dict:
    """servekit.yaml (the embedded default) as a dict: a valid config each test bends one way."""
    return copy.deepcopy(yaml.safe_load((ROOT / "servekit.yaml").read_text()))


@pytest.fixture
def start_group():
    """Start a process (a `servekit serve`, say) in a session of its own for this test: `start_group(args, **popen)`.
    Whatever the test does or however it fails, teardown ends every process of each group it started: SIGTERM, then,
    after a bounded wait, SIGKILL to the whole group (a model server the leader left behind included)."""
    import signal
    import subprocess

    started: list[subprocess.Popen] = []

    def start(args: list[str], **popen) -> subprocess.Popen:
        proc = subprocess.Popen(args, start_new_session=True, **popen)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        end_group(proc.pid, proc, signal.SIGTERM)


def end_group(group: int, leader, first_signal: int, grace_seconds: float = 15.0) -> None:
    """`first_signal` to the process group, a wait for its leader (15 s: `servekit serve` stops in 3 to 4 s under
    load, docs/performance.md), then SIGKILL to the group, which catches any process of it still running
    (ProcessLookupError: the group is already gone)."""
    import signal
    import subprocess

    for signum in (first_signal, signal.SIGKILL):
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            break
        try:
            leader.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            continue
    if leader.stdout is not None:
        leader.stdout.close()
