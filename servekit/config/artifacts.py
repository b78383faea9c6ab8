"""Which model data each variant needs: the key that ties a built artifact to the variant that serves it."""

from __future__ import annotations

from typing import Any

from servekit.config.document import ServekitConfig


def artifact_key(endpoint_name: str, variant_name: str, primary: bool) -> str:
    """The key of a variant's model data: the endpoint's name for its own variant, `endpoint/variant` else."""
    return endpoint_name if primary else f"{endpoint_name}/{variant_name}"


def artifact_endpoints(config: ServekitConfig) -> list[tuple[str, Any]]:
    """(key, endpoint as the variant runs it) for every variant whose model servekit builds: multi-model
    endpoints have none (their models live under multi_model.s3_prefix)."""
    out = []
    for ep in config.endpoints:
        if ep.multi_model is not None:
            continue
        for i, variant in enumerate(ep.resolved_variants()):
            out.append((artifact_key(ep.name, variant.name, i == 0), variant.endpoint))
    return out
