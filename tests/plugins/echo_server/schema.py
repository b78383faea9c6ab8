"""servekit.yaml for an echo endpoint: `model.greeting`, and `tuning.workers` (the ECHO_WORKERS variable)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from servekit.options import Strict
from servekit.spec.endpoint import EndpointBase, VariantBase


class EchoModel(Strict):
    name: str = Field("echo", pattern=r"^[a-z][a-z0-9-]*$")
    greeting: str = Field(min_length=1, description="What every answer starts with.")


class EchoTuning(Strict):
    workers: int = Field(1, ge=1, le=8, description="ECHO_WORKERS: threads that answer.")

    def to_environment(self) -> dict[str, str]:
        return {"ECHO_WORKERS": str(self.workers)}


class EchoVariant(VariantBase):
    model: EchoModel | None = None
    tuning: EchoTuning | None = None


class EchoEndpointSpec(EndpointBase):
    server: Literal["echo"]
    image_version: str = Field("1.0", description="servekit-echo image tag.")
    model: EchoModel
    tuning: EchoTuning = Field(default_factory=EchoTuning)
    variants: list[EchoVariant] = Field(default_factory=list)
    shadow_variant: EchoVariant | None = None
