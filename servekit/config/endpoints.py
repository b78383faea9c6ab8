"""The endpoint of servekit.yaml: one schema per server (each server's `spec`, from servekit.registry), told apart
by `server:`."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from servekit import registry

Endpoint = Annotated[Union[tuple(s.spec for s in registry.all())], Field(discriminator="server")]  # noqa: UP007
