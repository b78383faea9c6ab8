"""The registry of model servers: the one place that answers "which server".

Each server is a package, servekit/servers/<name>/, that owns its schema, container environment, artifact
layout and build, checks, construct, local server, bench payloads and container-side handlers; its
__init__.py defines a servekit.servers.base.Server. Adding a server is a new package plus one line below.
"""

from __future__ import annotations

from servekit.servers.base import Server
from servekit.servers.tfs import TFS
from servekit.servers.torchserve import TORCHSERVE
from servekit.servers.triton import TRITON

SERVERS: dict[str, Server] = {s.name: s for s in (TFS, TORCHSERVE, TRITON)}


def all() -> list[Server]:  # noqa: A001 (servers.all() reads as it should)
    return list(SERVERS.values())


def names() -> list[str]:
    return list(SERVERS)


def get(name: str) -> Server:
    try:
        return SERVERS[name]
    except KeyError:
        raise ValueError(f"server {name!r} is not one of {', '.join(SERVERS)}; use one of them") from None


__all__ = ["SERVERS", "Server", "all", "get", "names"]
