"""servekit in a user's own repository: the wheel, installed with its [build] and [local] extras into a fresh
virtualenv, `servekit init` in an empty folder outside this checkout, then a small ONNX detector and a three-output
PyTorch state_dict model made on the spot (its class in a file beside servekit.yaml) are added with `servekit init
--add --model` (ONNX) and by hand (state_dict), and validate, build, serve, invoke and synth run there, from the project
folder and from another current folder. Answers are compared with the models run in-process.

It shares test_wheel_install.py's way of installing (the lock as constraints, pip's cache): on CI after `make setup`
nothing is downloaded twice. nvidia-pytriton (the local tritonserver) is installed --no-deps, as the Makefile does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_wheel_install import ENV, ROOT, wheel  # noqa: F401 - wheel: the same fixture (this checkout's wheel)
from test_wheel_install import run as run_in

pytestmark = pytest.mark.integration

FACE = '''
import torch
from torch import nn


class TinyFace(nn.Module):
    """Like a face detector: boxes [N, 4], landmarks [N, 10], probabilities [N, 2]."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.box, self.landmarks, self.cls = nn.Linear(8, 4), nn.Linear(8, 10), nn.Linear(8, 2)

    def forward(self, x):
        h = self.body(x)
        return self.box(h), self.landmarks(h), torch.softmax(self.cls(h), dim=1)
'''

MAKE_MODELS = '''
import json, sys
import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

sys.path.insert(0, ".")
import facenet

torch.manual_seed(0)
face = facenet.TinyFace().eval()
torch.save(face.state_dict(), "face.pt")
graph = helper.make_graph(
    [helper.make_node("ReduceMax", ["images"], ["scores"], axes=[2, 3], keepdims=0),
     helper.make_node("ReduceMax", ["images"], ["peak"], axes=[1, 2, 3], keepdims=0)], "det",
    [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["n", 3, 8, 8])],
    [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 3]),
     helper.make_tensor_value_info("peak", TensorProto.FLOAT, ["n"])])
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=9), "det.onnx")
x = np.random.default_rng(1).random((2, 3, 8, 8), dtype=np.float32)
with torch.no_grad():
    outputs = [o.numpy().tolist() for o in face(torch.from_numpy(x))]
np.save("x.npy", x)
json.dump({"face": outputs}, open("expected.json", "w"))
'''

FACE_ENDPOINT = """
  - name: face
    server: torchserve
    instance_type: ml.m5.xlarge
    model:
      source: {kind: state_dict, path: face.pt, model_class: "facenet:TinyFace", example_input_shape: [1, 3, 32, 32]}
      output_names: [boxes, landmarks, probabilities]
"""


def run(args: list, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return run_in([str(a) for a in args], cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:  # noqa: F811 - the imported fixture
    venv = tmp_path_factory.mktemp("venv") / "v"
    run([sys.executable, "-m", "venv", venv], venv.parent)
    pins = venv.parent / "pins.txt"  # constraints.txt leaves torch to requirements.txt (the CPU build on disk)
    pins.write_text("".join(line + "\n" for line in (ROOT / "requirements.txt").read_text().splitlines()
                            if line.startswith("torch==")))
    run([venv / "bin" / "pip", "install", "-q", "--progress-bar", "off", f"{wheel}[build,local]",
         "-c", ROOT / "constraints.txt", "-c", pins], venv.parent, timeout=1800)
    run([venv / "bin" / "pip", "install", "-q", "--progress-bar", "off", "--no-deps", "-r",
         ROOT / "requirements-nodeps.txt"], venv.parent, timeout=900)
    return venv


@pytest.fixture(scope="module")
def project(venv, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("user-repo") / "my-models"
    folder.mkdir()
    run([venv / "bin" / "servekit", "init"], folder)
    (folder / "facenet.py").write_text(FACE)
    run([venv / "bin" / "python", "-c", MAKE_MODELS], folder)
    run([venv / "bin" / "servekit", "init", "--add", "--model", "det.onnx"], folder)
    text = (folder / "servekit.yaml").read_text()
    start = text.index("  # A small ResNet-style CNN")  # the starter's example goes: the user's models stay
    end = text.index("  # Read from the ONNX graph")
    (folder / "servekit.yaml").write_text(text[:start] + text[end:] + FACE_ENDPOINT)
    return folder


def serve(start, venv: Path, endpoint: str, cwd: Path):  # noqa: ANN001
    """`servekit serve ENDPOINT --port 0` in the background (`start`: the start_group fixture, whose teardown ends
    the serve and its model server however the test ends); returns the process once it recorded its URL."""
    proc = start([str(venv / "bin" / "servekit"), "serve", endpoint, "--port", "0"], cwd=cwd, env=ENV,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    record = cwd / ".servekit" / "serve" / endpoint / "server.json"
    deadline = time.monotonic() + 300
    while not record.is_file():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"servekit serve {endpoint} did not start (exit {proc.poll()})")
        time.sleep(0.5)
    return proc


def stop(proc) -> None:  # noqa: ANN001
    """SIGTERM, as `kill` sends it; servekit serve stops its model server and exits."""
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def test_when_init_runs_in_a_user_folder_then_the_project_validates_and_points_nowhere_else(venv, project):
    out = run([venv / "bin" / "servekit", "validate"], project).stdout
    assert "2 endpoint(s): det (triton), face (torchserve)" in out
    for name in ("servekit.yaml", "cdk.json", ".gitignore"):
        text = (project / name).read_text()
        assert str(ROOT) not in text and "site-packages" not in text, name


def test_when_the_user_builds_serves_and_invokes_then_each_model_answers_what_it_answers_in_process(venv, project,
                                                                                                     tmp_path,
                                                                                                     start_group):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = project / "servekit.yaml"
    run([venv / "bin" / "servekit", "build", "--config", config], elsewhere)  # the class is found beside the config
    assert sorted(p.name for p in (project / ".servekit" / "cache").iterdir() if len(p.name) == 64).__len__() == 2
    x = np.load(project / "x.npy")
    request = tmp_path / "face.json"
    request.write_text(json.dumps({"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32",
                                               "data": x.reshape(-1).tolist()}]}))
    proc = serve(start_group, venv, "face", project)
    try:
        answer = json.loads(run([venv / "bin" / "servekit", "invoke", "face", "--config", config, "--data", request],
                                elsewhere).stdout)  # no --port: the project's running serve is found
    finally:
        stop(proc)
    expected = json.loads((project / "expected.json").read_text())["face"]
    assert [o["name"] for o in answer["outputs"]] == ["boxes", "landmarks", "probabilities"]
    for output, want in zip(answer["outputs"], expected, strict=True):
        assert np.array_equal(np.asarray(output["data"], dtype=np.float32), np.asarray(want, dtype=np.float32).ravel())

    request.write_text(json.dumps({"inputs": [{"name": "images", "shape": list(x.shape), "datatype": "FP32",
                                               "data": x.reshape(-1).tolist()}]}))
    proc = serve(start_group, venv, "det", project)
    try:
        answer = json.loads(run([venv / "bin" / "servekit", "invoke", "det", "--data", request], project).stdout)
    finally:
        stop(proc)
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert outputs["peak"]["shape"] == [2, 1]  # dims [1]; the model's [N] reshaped by Triton
    # ReduceMax is exact in any order, so the answer must equal numpy's
    assert np.array_equal(np.asarray(outputs["scores"]["data"], dtype=np.float32), x.max(axis=(2, 3)).ravel())
    assert np.array_equal(np.asarray(outputs["peak"]["data"], dtype=np.float32), x.max(axis=(1, 2, 3)))


def test_when_the_user_synthesizes_without_a_cdk_cli_then_cdk_out_is_the_projects(venv, project, tmp_path):
    run([venv / "bin" / "servekit", "synth", project / "servekit.yaml"], tmp_path, timeout=1800)
    templates = sorted(p.name for p in (project / "cdk.out").glob("*.template.json"))
    app = project.name.replace("_", "-")
    assert templates == [f"{app}-dev-det.template.json", f"{app}-dev-face.template.json",
                         f"{app}-dev-shared.template.json"]
    assert not (tmp_path / "cdk.out").exists()
    face = json.loads((project / "cdk.out" / f"{app}-dev-face.template.json").read_text())
    (model,) = [r for r in face["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    assert model["Properties"]["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
