"""The watchdog between servekit and a local model server, so that no server outlives servekit.

    servekit ──(pipe: servekit holds the only write end)──> supervisor ──> server command
                                                            (own session, child subreaper)

`ServerProcess` (process.py) starts this file with the server's command. The supervisor starts the command in
its own session and process group, then waits for whichever comes first:

- the pipe reads end-of-file: servekit is gone, however it ended (SIGKILL, the OOM killer, a crash: the
  kernel closes a dead process's descriptors, and nothing else holds the write end);
- SIGTERM, SIGINT or SIGHUP to the supervisor: servekit's own stop();
- the server exits by itself: the supervisor exits with the server's status (shell convention, 128 + signal).

Stopping sends SIGTERM to the whole group and to every descendant, waits up to `--grace-seconds` for them
to go, then sends SIGKILL to whatever is left. The supervisor is a child subreaper (prctl
PR_SET_CHILD_SUBREAPER, Linux 3.4+, man 2 prctl): a worker whose parent dies, or a process that left the
group with setsid(), is re-parented to it instead of to init, so `children(recursive=True)` still finds
it. TorchServe's Java frontend and the Python workers it forks, and tritonserver's python-backend stubs,
are all descendants of the server command.

Why not prctl(PR_SET_PDEATHSIG) on the server alone: the kernel clears it in every forked child (so Java's
workers and Triton's stubs would still be orphaned), and it fires when the *thread* that forked exits, not
the process. The pipe watches the process.

It imports only the standard library and psutil, and runs as a file (not `-m servekit...`), so it starts in
a fraction of a second whatever the working directory.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
KILL_WAIT_SECONDS = 5.0


def _log(message: str) -> None:
    print(f"servekit supervisor[{os.getpid()}]: {message}", flush=True)


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux only; False where unsupported)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class Supervisor:
    def __init__(self, command: list[str], watch_fd: int, grace_seconds: float):
        self.command = command
        self.watch_fd = watch_fd
        self.grace_seconds = grace_seconds
        self.server_pid: int | None = None
        self.server_status: int | None = None
        self.stop_reason: str | None = None

    # -- signals: a handler (not SIG_IGN, which exec would pass on to the server) that asks for a stop
    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.stop_reason is None:
            self.stop_reason = f"signal {signal.Signals(signum).name}"

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        if not become_subreaper():
            _log("warning: not a child subreaper here; descendants that leave the process group may survive")
        # The server shares this process group, so a stop (or servekit's last-resort killpg) reaches all of it.
        self.server_pid = subprocess.Popen(self.command).pid
        _log(f"server pid {self.server_pid}: {' '.join(self.command)[:200]}")
        while self.stop_reason is None:
            self._reap()
            if self.server_status is not None:
                _log(f"server exited with status {self.server_status}; stopping what it left behind")
                self._stop_everything()
                return self.server_status
            try:
                readable, _, _ = select.select([self.watch_fd], [], [], 0.5)
            except InterruptedError:  # pragma: no cover - select retries by itself since Python 3.5
                continue
            if readable and not os.read(self.watch_fd, 1):
                self.stop_reason = "servekit is gone (its pipe closed)"
        _log(f"stopping the server: {self.stop_reason}")
        started = time.monotonic()
        self._stop_everything()
        _log(f"stopped in {time.monotonic() - started:.1f} s")
        return 0

    # -- what is left to stop: every descendant (we are their subreaper) and every member of our group
    def _others(self) -> list:
        import psutil

        me = os.getpid()
        group = os.getpgrp()
        found = {}
        try:
            for child in psutil.Process(me).children(recursive=True):
                found[child.pid] = child
        except psutil.Error:
            pass
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error, OSError):
                if process.pid != me and process.pid not in found and os.getpgid(process.pid) == group:
                    found[process.pid] = process
        alive = []
        for process in found.values():
            with contextlib.suppress(psutil.Error):
                if process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
        return alive

    def _reap(self) -> None:
        """Collect every exited child (ours and re-parented orphans); remember the server's status."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.server_pid:
                code = os.waitstatus_to_exitcode(status)
                self.server_status = code if code >= 0 else 128 - code

    def _signal_all(self, sig: signal.Signals) -> None:
        for process in self._others():
            with contextlib.suppress(Exception):
                process.send_signal(sig)

    def _wait_gone(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            self._reap()
            if not self._others():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def _stop_everything(self) -> None:
        self._signal_all(signal.SIGTERM)
        if self._wait_gone(self.grace_seconds):
            return
        left = self._others()
        _log(f"{len(left)} process(es) still running after {self.grace_seconds:.0f} s: SIGKILL")
        self._signal_all(signal.SIGKILL)
        self._wait_gone(KILL_WAIT_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watch-fd", type=int, required=True, help="read end of servekit's pipe")
    parser.add_argument("--grace-seconds", type=float, default=5.0, help="SIGTERM to SIGKILL")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the server command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no server command after --")
    return Supervisor(command, args.watch_fd, args.grace_seconds).run()


if __name__ == "__main__":
    sys.exit(main())
