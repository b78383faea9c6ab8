"""What app.py needs beyond wiring: a config that fails cleanly, and the model data of each endpoint."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from servekit import config as cfg
from servekit import naming
from servekit.constructs import ModelData

CACHE_DIR = Path(".servekit") / "cache"


def load_or_exit(path: str | Path) -> cfg.ServekitConfig:
    """The validated config, or one line per problem on stderr and exit status 2 (no traceback):
    a bad config never reaches CloudFormation."""
    try:
        return cfg.load(path)
    except cfg.ConfigError as err:
        print(f"servekit: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def build_model_data(
    config: cfg.ServekitConfig, *, cache_dir: Path = CACHE_DIR, progress: Callable[[str], None] | None = None
) -> dict[naming.ArtifactKey, ModelData]:
    """Build (or take from the cache) the model.tar.gz (or, model_data: uncompressed, the layout folder) of every
    endpoint and of each of its variants, keyed
    by servekit.naming.ArtifactKey; the asset hash is the build's identity, so an unchanged model never changes the
    template. Multi-model endpoints have none: their models live under their S3 prefix."""
    from servekit import model_build

    data: dict[naming.ArtifactKey, ModelData] = {}
    for key, endpoint in naming.artifact_endpoints(config):
        try:
            artifact = model_build.build(endpoint, cache_dir=cache_dir, progress=progress)
        except model_build.BuildError as err:
            print(f"servekit: endpoint {key}: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        data[key] = model_data_of(artifact)
    if model_build.builder.UNCHECKED:
        print(f"servekit: not load-checked by their real server (install the [local] extra and nvidia-pytriton, "
              f"requirements-nodeps.txt): {', '.join(model_build.builder.UNCHECKED)}", file=sys.stderr)
    return data


def model_data_of(artifact: Any) -> ModelData:
    """What the construct binds for a build's result (servekit.model_build.Artifact or RemoteArtifact)."""
    from servekit import model_build

    if isinstance(artifact, model_build.RemoteArtifact):
        uri = artifact.uri
        return ModelData.from_s3_layout_prefix(uri) if uri.endswith("/") else ModelData.from_s3_uri(uri)
    if artifact.path.is_dir():  # model_data: uncompressed
        return ModelData.from_directory(artifact.path, identity=artifact.identity)
    return ModelData.from_asset(artifact.path, identity=artifact.identity)
