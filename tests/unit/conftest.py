"""Shared fixtures of the unit tests. Session fixtures: the three example artifacts of servekit.yaml, each built
once (TF import alone takes seconds) and only when a test asks, and a second clean build of each for the
reproducibility test.

The handler files are snapshotted into a session folder (HANDLERS_DIR points there) so that a handler
being edited while the tests run cannot change identities between the two builds. Where a handler file
does not exist yet, a throwaway placeholder stands in for it (only in that tmp folder).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from servekit import config
from servekit.model_build import build, handlers

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def handlers_dir(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("handlers")
    support = {name for names in handlers.SUPPORT_FILES.values() for name in names}
    for name in [*handlers.HANDLER_FILES.values(), *sorted(support)]:
        real = REPO / "servekit" / "servers" / name
        content = real.read_bytes() if real.is_file() else b"# placeholder handler for tests\n"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(handlers, "HANDLERS_DIR", folder)
        yield folder


@pytest.fixture(scope="session")
def default_config() -> config.ServekitConfig:
    return config.load(REPO / "servekit.yaml")


@pytest.fixture(scope="session")
def endpoints(default_config: config.ServekitConfig) -> dict[str, object]:
    return {ep.server: ep for ep in default_config.endpoints}


def _build_all(endpoints: dict, cache: Path) -> dict:
    return {server: build(ep, cache_dir=cache) for server, ep in endpoints.items()}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def built(endpoints: dict, cache_dir: Path, handlers_dir: Path) -> dict:
    """server -> Artifact of the embedded default endpoint (tfs, torchserve, triton)."""
    return _build_all(endpoints, cache_dir)


@pytest.fixture(scope="session")
def rebuilt(endpoints: dict, built: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same endpoints built again into an empty cache: nothing shared with `built`."""
    return _build_all(endpoints, tmp_path_factory.mktemp("cache-again"))


@pytest.fixture(scope="session")
def extracted(built: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """server -> folder holding the unpacked example archive."""
    out = {}
    for server, artifact in built.items():
        folder = tmp_path_factory.mktemp(f"unpacked-{server}")
        with tarfile.open(artifact.path) as tar:
            tar.extractall(folder, filter="data")
        out[server] = folder
    return out
