"""`servekit check-artifact PATH --load --endpoint NAME`: the artifact loaded by its real server here (TorchServe through
the toolkit, tritonserver, the TFS emulation) and sent one request made from the model's signature; the embedded
default's three artifacts answer 200, and an archive whose handler fails at load is reported, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from archives import write_archive

from servekit import config
from servekit.model_build import build

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SERVERS = {"image-classifier": "tfs", "question-answering": "torchserve", "resnet": "triton"}


def check(path: Path, server: str, endpoint: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "servekit.cli", "check-artifact", str(path), "--server", server,
                           "--load", "--endpoint", endpoint, "--config", str(ROOT / "servekit.yaml"), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("endpoint", list(SERVERS))
def test_when_the_defaults_artifacts_are_loaded_then_each_real_server_answers_200(endpoint):
    ep = next(e for e in config.load(ROOT / "servekit.yaml").endpoints if e.name == endpoint)
    artifact = build(ep, cache_dir=ROOT / ".servekit" / "cache").path
    extra = ["--default-model-name", "efficientnetv2"] if endpoint == "image-classifier" else []
    result = check(artifact, SERVERS[endpoint], endpoint, *extra)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "it answered 200" in result.stdout


def test_when_a_torchserve_handler_fails_at_load_then_the_check_fails_naming_it(tmp_path):
    files = {"model.pt": b"not a model", "code/inference.py": b"def model_fn(model_dir):\n    raise RuntimeError("
             b"'cannot load the weights')\n", "code/requirements.txt": b"# none\n"}
    archive = write_archive(tmp_path / "model.tar.gz", files)
    result = check(archive, "torchserve", "question-answering", "--data", str(ROOT / "examples" /
                                                                             "question-answering.json"))
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "did not load it" in result.stderr or "answered 5" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
