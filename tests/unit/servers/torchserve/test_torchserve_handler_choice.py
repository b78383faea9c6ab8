"""handler: auto runs the model at build and never serves it wrong: the vision handler only for one [batch, classes]
output, the tensor handler otherwise; what no handler can serve rightly is refused with the fix. Real torch, in the
build worker, on tiny models made in tmp_path; the config is loaded from a project folder while the current folder
is another one, as a user's command may run."""

from __future__ import annotations

import json
import tarfile
import textwrap

import pytest

from servekit import config
from servekit.model_build import BuildError, build

MODELS = '''
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 4 * 4, 5)

    def forward(self, x):
        return self.fc(x.flatten(1))


class ThreeHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 4 * 4, 16)

    def forward(self, x):
        h = self.fc(x.flatten(1))
        return h[:, :4], h[:, 4:14], torch.softmax(h[:, 14:], dim=1)


class Counter(nn.Module):
    """Keeps state between calls, like a streaming model."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 4 * 4, 5)
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x):
        self.calls += 1
        return self.fc(x.flatten(1)) + self.calls


class WithRate(nn.Module):
    def forward(self, x: torch.Tensor, sr: int) -> torch.Tensor:
        return x[..., ::sr]
'''


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project folder with the model classes beside servekit.yaml, and the command run from another folder."""
    import torch

    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "mymodels.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(folder))
    import importlib

    mymodels = importlib.import_module("mymodels")
    torch.manual_seed(0)
    for name in ("Classifier", "ThreeHeads", "Counter"):
        torch.save(getattr(mymodels, name)().state_dict(), folder / f"{name}.pt")
    torch.jit.script(mymodels.WithRate()).save(str(folder / "with_rate.pt"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    yield folder
    import sys

    sys.modules.pop("mymodels", None)


def endpoint(folder, model: str):
    (folder / "servekit.yaml").write_text(textwrap.dedent("""
        app: {name: choice, env_name: dev, region: us-east-1}
        endpoints:
          - name: ep
            server: torchserve
            instance_type: ml.m5.xlarge
            model:
        """) + textwrap.indent(textwrap.dedent(model), " " * 6))
    return config.load(folder / "servekit.yaml").endpoints[0]


def state_dict(name: str) -> str:
    return f'source: {{kind: state_dict, path: {name}.pt, model_class: "mymodels:{name}", ' \
           'example_input_shape: [1, 3, 4, 4]}\n'


def members(artifact) -> dict[str, bytes]:
    with tarfile.open(artifact.path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def test_when_the_model_has_one_batch_by_classes_output_then_auto_chooses_vision(project, handlers_dir):
    files = members(build(endpoint(project, state_dict("Classifier")), cache_dir=project / "cache"))
    assert files["code/inference.py"] == (handlers_dir / "torchserve/handlers/torchserve_vision.py").read_bytes()


def test_when_the_model_has_three_outputs_then_auto_chooses_the_tensor_handler_with_their_names(project, handlers_dir):
    said = []
    ep = endpoint(project, state_dict("ThreeHeads") + "output_names: [boxes, landmarks, probabilities]\n")
    files = members(build(ep, cache_dir=project / "cache", progress=said.append))
    assert files["code/inference.py"] == (handlers_dir / "torchserve/handlers/torchserve_tensor.py").read_bytes()
    assert json.loads(files["servekit-handler.json"]) == {
        "inputs": ["x"], "outputs": ["boxes", "landmarks", "probabilities"], "stateful": False}
    assert any("auto chose tensor" in line and "[[1, 4], [1, 10], [1, 2]]" in line for line in said), said


def test_when_vision_is_named_for_a_model_with_three_outputs_then_the_build_refuses_naming_tensor(project):
    ep = endpoint(project, state_dict("ThreeHeads") + "handler: vision\n")
    with pytest.raises(BuildError, match=r"vision reads one \[batch, classes\] output .* returns \[\[1, 4\], \[1, 10\], "
                                         r"\[1, 2\]\]; use handler: tensor"):
        build(ep, cache_dir=project / "cache")


def test_when_output_names_do_not_match_the_outputs_then_the_build_refuses(project):
    ep = endpoint(project, state_dict("ThreeHeads") + "output_names: [boxes, scores]\n")
    with pytest.raises(BuildError, match="model.output_names: names 2 outputs but forward.. returns 3"):
        build(ep, cache_dir=project / "cache")


def test_when_the_model_keeps_state_between_calls_then_the_build_warns_naming_sequence_batching(project):
    said = []
    build(endpoint(project, state_dict("Counter")), cache_dir=project / "cache", progress=said.append)
    assert any("keeps state between calls" in line and "sequence batching" in line for line in said), said


def test_when_forward_takes_a_non_tensor_argument_then_the_build_names_it_and_the_fix(project):
    ep = endpoint(project, "source: {kind: torchscript, path: with_rate.pt}\n")
    with pytest.raises(BuildError, match=r"forward\(\) takes sr: int beside its tensors.*Wrap the model"):
        build(ep, cache_dir=project / "cache")


def test_when_a_torchscript_file_fails_on_the_image_probe_then_auto_asks_for_input_shape(project, handlers_dir):
    import torch

    torch.jit.trace(torch.nn.Linear(7, 2), torch.zeros(1, 7)).save(str(project / "linear.pt"))
    ep = endpoint(project, "source: {kind: torchscript, path: linear.pt}\n")
    with pytest.raises(BuildError, match=r"model.input_shape: forward\(\) fails on a float32 tensor of shape "
                                         r"\[1, 3, 224, 224\].*or name the handler"):
        build(ep, cache_dir=project / "cache")
    fixed = endpoint(project, "source: {kind: torchscript, path: linear.pt}\ninput_shape: [1, 7]\n")
    files = members(build(fixed, cache_dir=project / "cache"))  # one [1, 2] output: a classifier's shape
    assert files["code/inference.py"] == (handlers_dir / "torchserve/handlers/torchserve_vision.py").read_bytes()


def test_when_the_model_class_is_in_no_folder_the_build_can_see_then_it_says_where_to_put_it(project):
    ep = endpoint(project, state_dict("Classifier").replace("mymodels:", "elsewhere_models:"))
    with pytest.raises(BuildError, match="module 'elsewhere_models' is not in .*project nor installed; put "
                                         "elsewhere_models.py beside servekit.yaml"):
        build(ep, cache_dir=project / "cache")


def test_when_the_tensor_handler_is_chosen_with_batched_forward_then_the_build_refuses(project):
    ep = endpoint(project, state_dict("ThreeHeads"))
    ep = ep.model_copy(update={"tuning": ep.tuning.model_copy(update={"batched_forward": True})})
    with pytest.raises(BuildError, match="tuning.batched_forward: the tensor handler has no batched handle"):
        build(ep, cache_dir=project / "cache")
