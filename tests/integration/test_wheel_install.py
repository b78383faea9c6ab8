"""servekit as a library: the wheel, installed in a fresh virtualenv outside this checkout, synthesizes endpoints
(core install) and builds a TorchServe artifact with the handlers it ships as package data ([build] extra).

The fresh virtualenv installs from the package registry with this project's lock as constraints
(constraints.txt, and requirements.txt's torch pin, whose CPU build is the 2.13.0 file on this machine's disk:
an unpinned torch would be a multi-GB CUDA build). It reuses pip's cache, so on CI, after `make setup`,
nothing is downloaded twice. The core install is about 0.9 GB and 45 s; [build] adds about 2.5 GB and 90 s.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
       "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "20", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
       "PYTHONPATH": ""}

SYNTH = """
import json, sys
import aws_cdk as cdk
import servekit
from servekit.constructs.nag import add_nag_packs
from servekit.stacks import add_serving_stacks
from servekit.synth import build_model_data, load_or_exit

app = cdk.App(outdir="cdk.out")
config = load_or_exit("servekit.yaml")
add_serving_stacks(app, config, build_model_data(config))
add_nag_packs(app)
assembly = app.synth()
frameworks = sorted(m for m in ("torch", "tensorflow", "transformers", "onnx") if m in sys.modules)
print(json.dumps({"stacks": {s.stack_name: s.template for s in assembly.stacks}, "servekit": servekit.__file__,
                  "frameworks_imported": frameworks}))
"""

CONFIG = """
app: {name: wheeltest, env_name: dev, region: us-east-1}
endpoints:
  - name: from-archive
    server: torchserve
    instance_type: ml.m5.xlarge
    image_version: "2.6"
    model:
      source: {kind: archive, path: model.tar.gz}
  - name: from-s3
    server: tfs
    instance_type: ml.c5.xlarge
    image_version: "2.19"
    models:
      - name: classifier
        source: {kind: s3, uri: "s3://my-models/classifier/model.tar.gz"}
"""

BUILD_CONFIG = """
app: {name: wheelbuild, env_name: dev, region: us-east-1}
endpoints:
  - name: question-answering
    server: torchserve
    instance_type: ml.m5.xlarge
    image_version: "2.6"
    model:
      source: {kind: example, name: distilbert-qa}
      handler: question-answering
"""


def run(args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    had_build_dir = (ROOT / "build").exists()
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT), "-w", str(out)],
        cwd=out)
    if not had_build_dir:  # setuptools builds in the tree: leave the checkout as it was
        shutil.rmtree(ROOT / "build", ignore_errors=True)
    (path,) = out.glob("servekit-*.whl")
    return path


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheel) -> Path:
    """A new virtualenv with the wheel and its core dependencies only."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    run([sys.executable, "-m", "venv", str(venv)], cwd=venv.parent)
    run([str(venv / "bin" / "pip"), "install", "-q", "--progress-bar", "off", str(wheel),
         "-c", str(ROOT / "constraints.txt")], cwd=venv.parent)
    return venv


def test_when_the_wheel_is_installed_alone_then_it_synthesizes_archive_and_s3_endpoints_without_frameworks(
    fresh_venv, tmp_path
):
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:  # a user's own TorchServe archive
        for name, data in {"code/inference.py": b"def model_fn(model_dir):\n    return None\n",
                           "model.pth": b"\0" * 64}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "servekit.yaml").write_text(CONFIG)
    (tmp_path / "synth.py").write_text(SYNTH)
    out = json.loads(run([str(fresh_venv / "bin" / "python"), "synth.py"], cwd=tmp_path).stdout.splitlines()[-1])

    assert out["servekit"].startswith(str(fresh_venv)), "servekit must come from the wheel, not this checkout"
    assert out["frameworks_imported"] == []
    assert set(out["stacks"]) == {"wheeltest-dev-shared", "wheeltest-dev-from-archive", "wheeltest-dev-from-s3"}

    def model_data(stack: str):
        models = [r for r in out["stacks"][stack]["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
        return [c["ModelDataUrl"] for m in models for c in m["Properties"].get("Containers", [])] + \
            [m["Properties"]["PrimaryContainer"]["ModelDataUrl"] for m in models if "PrimaryContainer" in m["Properties"]]

    assert model_data("wheeltest-dev-from-s3") == ["s3://my-models/classifier/model.tar.gz"]
    (asset_url,) = model_data("wheeltest-dev-from-archive")
    assert "cdk-hnb659fds-assets" in json.dumps(asset_url)  # the archive went up as a CDK asset


def test_when_the_build_extra_is_installed_then_the_wheel_builds_a_torchserve_artifact_with_its_handlers(
    fresh_venv, wheel, tmp_path
):
    torch_pin = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch=="))
    (tmp_path / "torch.txt").write_text(torch_pin + "\n")  # constraints.txt leaves torch to requirements.txt
    run([str(fresh_venv / "bin" / "pip"), "install", "-q", "--progress-bar", "off", f"{wheel}[build]",
         "-c", str(ROOT / "constraints.txt"), "-c", str(tmp_path / "torch.txt")], cwd=tmp_path, timeout=1800)
    (tmp_path / "servekit.yaml").write_text(BUILD_CONFIG)
    result = run([str(fresh_venv / "bin" / "servekit"), "build", "question-answering", "--config", "servekit.yaml",
                  "--cache-dir", str(tmp_path / "cache")], cwd=tmp_path, timeout=1800)
    archive = Path(result.stdout.split(": ", 1)[1].split(" (", 1)[0])
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        for shipped, packaged in (("code/inference.py", "torchserve_question_answering.py"),
                                  ("code/servekit_torchserve.py", "servekit_torchserve.py")):
            assert tar.extractfile(shipped).read() == (ROOT / "servekit" / "servers" / "torchserve" / "handlers" / packaged).read_bytes()
    assert {"config.json", "model.safetensors", "tokenizer.json", "code/requirements.txt"} <= names
