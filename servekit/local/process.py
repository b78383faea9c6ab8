"""A model server process on this machine: a free loopback port, a log file, a health wait, a clean stop.

Every server servekit starts locally goes through `ServerProcess`, so all of them share one behaviour:
they bind to 127.0.0.1, startup waits on health with a timeout and shows the server's log when it
fails, and no server outlives the process that started it. The command runs under a supervisor
(supervisor.py) that holds the read end of a pipe whose only write end is here: stop() (also run at
interpreter exit, and on Ctrl-C, SIGTERM or SIGHUP in the CLI) asks it to stop the server, and when this
process dies without stopping anything (SIGKILL, the OOM killer) the kernel closes the pipe and the
supervisor stops the server by itself. Either way it sends SIGTERM to the server's group and every
descendant, then SIGKILL after `stop_grace_seconds`, so no Java worker or Triton stub survives.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_RUNNING: set[ServerProcess] = set()
SUPERVISOR = Path(__file__).with_name("supervisor.py")
# After the supervisor's grace and its SIGKILL wait (supervisor.KILL_WAIT_SECONDS), how long stop() waits
# for it before killing the group itself (the supervisor should never need this).
_SUPERVISOR_MARGIN_SECONDS = 10.0


class ServerStartError(RuntimeError):
    """The server exited or never became healthy; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str, timeout_seconds: float = 2.0) -> int | None:
    """The HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_seconds) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


@dataclass(eq=False)
class ServerProcess:
    """One server command (and every process it starts) under a supervisor, in its own process group.

    stop_grace_seconds: from SIGTERM to SIGKILL when stopping. Default: 5 s (TorchServe and tritonserver
    finish in-flight requests within it when idle; under load the SIGKILL bounds the stop).
    """

    name: str
    command: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    stop_grace_seconds: float = 5.0
    _proc: subprocess.Popen | None = None
    _watch_fd: int | None = None

    def start(self) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()  # both close-on-exec: only the supervisor gets the read end (pass_fds)
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, str(SUPERVISOR), "--watch-fd", str(read_fd),
                 "--grace-seconds", str(self.stop_grace_seconds), "--", *self.command],
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                pass_fds=(read_fd,),
                start_new_session=True,  # its own session and group: a terminal's Ctrl-C does not reach it
            )
        except BaseException:
            os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
            log.close()
        self._watch_fd = write_fd
        _RUNNING.add(self)
        return self

    @property
    def pid(self) -> int | None:
        """The supervisor's pid, which is also the process group of the server and all its processes."""
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout_seconds: float, what: str) -> float:
        """Poll `ready` until it is true; raise with the log's tail if the process dies or time runs out.
        Returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_seconds:
            if not self.running():
                code = self._proc.returncode if self._proc else None
                self.stop()  # nothing to stop any more, but the pipe closes and the registry forgets it
                raise ServerStartError(
                    f"{self.name} exited with code {code} before {what}. Log {self.log_path}:\n{self.log_tail()}"
                )
            if ready():
                return time.monotonic() - started
            time.sleep(0.25)
        self.stop()
        raise ServerStartError(
            f"{self.name} did not become {what} within {timeout_seconds:.0f} s. Log {self.log_path}:\n{self.log_tail()}"
        )

    def wait_healthy(self, url: str, timeout_seconds: float = 120.0) -> float:
        """Wait until GET `url` answers 200."""
        return self.wait_until(lambda: http_status(url) == 200, timeout_seconds, f"healthy at {url}")

    def start_healthy(self, url: str, timeout_seconds: float) -> float:
        """start(), then wait until GET `url` answers 200; stops everything again if it does not. Returns the
        seconds from launch to healthy."""
        began = time.monotonic()
        self.start()
        try:
            self.wait_healthy(url, timeout_seconds)
        except BaseException:
            self.stop()
            raise
        return time.monotonic() - began

    def stop(self) -> float:
        """Stop the server and everything it started; returns the seconds it took (0 if not running)."""
        proc = self._proc
        _RUNNING.discard(self)
        started = time.monotonic()
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)  # the supervisor: SIGTERM to the group, SIGKILL after the grace
            try:
                proc.wait(timeout=self.stop_grace_seconds + _SUPERVISOR_MARGIN_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        if self._watch_fd is not None:
            os.close(self._watch_fd)
            self._watch_fd = None
        return time.monotonic() - started if proc is not None else 0.0

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def termination_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (`kill`, a supervisor) and SIGHUP (a closed terminal) act as Ctrl-C: they raise
    KeyboardInterrupt, so `with server:` blocks and the atexit hook stop every server this process started.
    Python's default for both signals ends the process at once, without either, leaving TorchServe's Java
    frontend and workers or tritonserver running (and holding their ports). SIGINT gets the same handler, set
    here rather than inherited: a process started as a background job (`cmd &`, a CI runner) inherits SIGINT as
    ignored, and Python keeps an ignored disposition, so Ctrl-C-by-signal would never reach it (uvicorn and gunicorn
    install their own handlers for the same reason). The previous handlers come back after the block; outside the
    main thread, where no handler can be set, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()
