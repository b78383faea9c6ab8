"""The registry of model servers: the one place that answers "which server", for the layers above it (config,
the entry points). Nothing below it asks: each server's `Server` travels with its endpoints (the schema's
`plugin`) and is handed to the shared machinery by its caller.

The servers are servekit's own three (servekit/servers/<name>/) and any installed package that declares one
under the `servekit.servers` entry-point group:

    [project.entry-points."servekit.servers"]
    echo = "echo_server:ECHO"

A server is one package: its __init__.py defines a servekit.servers.base.Server (see docs/architecture.md).
"""

from __future__ import annotations

import functools
from importlib import metadata

from servekit.servers.base import Server
from servekit.servers.tfs import TFS
from servekit.servers.torchserve import TORCHSERVE
from servekit.servers.triton import TRITON

BUILT_IN: tuple[Server, ...] = (TFS, TORCHSERVE, TRITON)
ENTRY_POINT_GROUP = "servekit.servers"


@functools.cache
def _servers() -> dict[str, Server]:
    found: dict[str, Server] = {s.name: s for s in BUILT_IN}
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        server = entry.load()
        if not isinstance(server, Server):
            raise TypeError(f"entry point {entry.value!r} ({ENTRY_POINT_GROUP}) is a {type(server).__name__}, not a "
                            "servekit.servers.base.Server instance; point it at the server object")
        if server.name in found and found[server.name] is not server:
            raise ValueError(f"entry point {entry.value!r} declares server {server.name!r}, which "
                             f"{type(found[server.name]).__module__} declares already; rename one")
        found[server.name] = server
    return found


def all() -> list[Server]:  # noqa: A001 (registry.all() reads as it should)
    return list(_servers().values())


def names() -> list[str]:
    return list(_servers())


def get(name: str) -> Server:
    try:
        return _servers()[name]
    except KeyError:
        raise ValueError(f"server {name!r} is not one of {', '.join(_servers())}; use one of them") from None


__all__ = ["ENTRY_POINT_GROUP", "Server", "all", "get", "names"]
