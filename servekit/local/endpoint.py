"""The handle that every local server returns: where it answers, what differs from the cloud, how to stop it.

Shared by the TorchServe, Triton and TFS implementations (see servekit/local/__init__.py for the contract).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from servekit.local.process import ServerProcess


@dataclass(eq=False)
class LocalEndpoint:
    """A model server running on this machine, serving /ping and /invocations at `url`.

    url: http://127.0.0.1:<port>, no trailing slash.
    emulated: True where the real server cannot run here and servekit stands in for it.
    differences: one line each on what differs from the cloud container (shown by the CLI and docs).
    startup_seconds: from launching the process to the first healthy /ping.
    server: the process (its log_path holds the server's log).
    """

    url: str
    server: ServerProcess
    emulated: bool = False
    differences: list[str] = field(default_factory=list)
    startup_seconds: float = 0.0

    @property
    def ping_url(self) -> str:
        return f"{self.url}/ping"

    @property
    def invocations_url(self) -> str:
        return f"{self.url}/invocations"

    def running(self) -> bool:
        return self.server.running()

    def stop(self) -> float:
        """Stop the server and every process it started (idempotent); returns the seconds it took."""
        return self.server.stop()

    def __enter__(self) -> LocalEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
