"""A warm synth of the embedded default (artifacts and image URIs cached under .servekit/cache) imports no
framework and no SDK: neither sagemaker-core (whose import alone took 2.9 s of a 30-endpoint synth), torch,
tensorflow nor transformers. Checked in a fresh interpreter, after one synth has warmed the caches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

SYNTH = """
import json, sys
import aws_cdk as cdk
from servekit.constructs.nag import add_nag_packs
from servekit.stacks import add_serving_stacks
from servekit.synth import build_model_data, load_or_exit

app = cdk.App(outdir=sys.argv[1])
config = load_or_exit("servekit.yaml")
add_serving_stacks(app, config, build_model_data(config))
add_nag_packs(app)
app.synth()
print(json.dumps(sorted(m for m in ("sagemaker.core", "torch", "tensorflow", "transformers", "onnx") if m in sys.modules)))
"""


def synth(outdir: Path) -> list[str]:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "20"}
    result = subprocess.run([sys.executable, "-c", SYNTH, str(outdir)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_when_the_caches_are_warm_then_synth_imports_no_framework_and_no_sdk(tmp_path):
    synth(tmp_path / "first")  # builds or reuses the artifacts, resolves or reuses the image URIs
    assert synth(tmp_path / "warm") == []
    for name in ("servekit-dev-image-classifier", "servekit-dev-question-answering", "servekit-dev-resnet"):
        first = (tmp_path / "first" / f"{name}.template.json").read_text()
        assert (tmp_path / "warm" / f"{name}.template.json").read_text() == first


OPTIMIZED_BYTECODE = """
import importlib.util, runpy, sys, sysconfig
site = sysconfig.get_paths()["purelib"]
try:
    runpy.run_path("app.py", run_name="__main__")
finally:
    missing = sorted({m.__name__.split(".")[0] for m in list(sys.modules.values())
                      if (getattr(m, "__file__", None) or "").startswith(site) and m.__file__.endswith(".py")
                      and not __import__("os").path.exists(importlib.util.cache_from_source(m.__file__))})
    print("MISSING", missing, file=sys.stderr)
"""


def test_when_app_py_runs_as_cdk_json_says_then_every_package_it_imports_has_its_optimized_bytecode(tmp_path):
    """cdk.json runs `python -O app.py`; Python does not write -O bytecode where PYTHONDONTWRITEBYTECODE is set (as
    on this machine), and compiling aws-cdk-lib's modules costs 2.3 s a synth. `make setup` compiles the packages in
    the Makefile's APP_PACKAGES: a new dependency of app.py missing there fails here."""
    app = json.loads((ROOT / "cdk.json").read_text())["app"].split()
    assert "-O" in app
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PYTHONDONTWRITEBYTECODE": "1",
           "CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps({**context, "config": "servekit.yaml"})}
    result = subprocess.run([sys.executable, "-O", "-c", OPTIMIZED_BYTECODE], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("MISSING ")]
    assert line == "MISSING []"
