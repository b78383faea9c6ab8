"""The tensor handler (handlers/torchserve_tensor.py): tensors in, every output out by name, against a tiny model with
three outputs made here, through the handler's functions and through the SageMaker toolkit's own Transformer."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import torch
from bad_requests import assert_clean_json_error
from servekit_handler_fakes import load_handler, toolkit_transform

tensor = load_handler("torchserve_tensor")
NAMES = ["boxes", "landmarks", "probabilities"]


class ThreeHeads(torch.nn.Module):
    """Like a face detector: boxes [N, 4], landmarks [N, 10], probabilities [N, 2]."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                        torch.nn.Flatten())
        self.box, self.landmarks, self.cls = torch.nn.Linear(4, 4), torch.nn.Linear(4, 10), torch.nn.Linear(4, 2)

    def forward(self, x):
        h = self.body(x)
        return self.box(h), self.landmarks(h), torch.softmax(self.cls(h), dim=1)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tensor")
    torch.manual_seed(0)
    torch.jit.trace(ThreeHeads().eval(), torch.zeros(1, 3, 8, 8)).save(str(root / "model.pt"))
    (root / "servekit-handler.json").write_text(json.dumps({"inputs": ["x"], "outputs": NAMES, "stateful": False}))
    return root


@pytest.fixture(scope="module")
def model(model_dir):
    return tensor.model_fn(str(model_dir))


def images(n=2):
    return np.random.default_rng(0).random((n, 3, 8, 8), dtype=np.float32)


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def expected(model_dir, x):
    with torch.no_grad():
        return [o.numpy() for o in torch.jit.load(str(model_dir / "model.pt"))(torch.from_numpy(x))]


def run(model, body, content_type, accept="application/json"):
    return tensor.output_fn(tensor.predict_fn(tensor.input_fn(body, content_type), model), accept)


def v2(x, name="x", datatype="FP32"):
    return json.dumps({"inputs": [{"name": name, "shape": list(x.shape), "datatype": datatype,
                                   "data": x.reshape(-1).tolist()}]})


def test_when_kserve_v2_json_is_sent_then_every_output_comes_back_named_and_equal_to_the_model(model, model_dir):
    x = images()
    body, content_type = run(model, v2(x), "application/json")
    outputs = json.loads(body)["outputs"]
    assert content_type == "application/json"
    assert [o["name"] for o in outputs] == NAMES
    for o, want in zip(outputs, expected(model_dir, x), strict=True):
        assert o["shape"] == list(want.shape) and o["datatype"] == "FP32"
        assert np.array_equal(np.asarray(o["data"], dtype=np.float32).reshape(o["shape"]), want)


def test_when_npy_or_a_bare_nested_list_is_sent_then_the_answer_is_the_same(model, model_dir):
    x = images()
    want = expected(model_dir, x)
    for body, content_type in ((npy(x), "application/x-npy"), (json.dumps(x.tolist()), "application/json"),
                               (json.dumps({"instances": x.tolist()}), "application/json")):
        outputs = json.loads(run(model, body, content_type)[0])["outputs"]
        assert np.array_equal(np.asarray(outputs[2]["data"], dtype=np.float32).reshape(2, 2), want[2])


@pytest.mark.parametrize(("body", "content_type", "accept", "status", "message"), [
    (b"", "application/json", "application/json", 400, "empty body"),
    (b"{not json", "application/json", "application/json", 400, "not valid JSON"),
    (json.dumps({"inputs": [{"name": "y", "shape": [1], "data": [1]}]}).encode(), "application/json",
     "application/json", 400, r"inputs \[.x.\] are missing and \[.y.\] unknown"),
    (json.dumps({"inputs": [{"name": "x", "shape": [2, 3], "data": [1, 2]}]}).encode(), "application/json",
     "application/json", 400, r"does not fill shape \[2, 3\]"),
    (json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "STRING", "data": ["a"]}]}).encode(),
     "application/json", "application/json", 400, "datatype 'STRING'"),
    (json.dumps([[1.0, 2.0]]).encode(), "application/json", "application/json", 400,
     r"the model rejected inputs of shapes \[\[1, 2\]\]"),
    (npy(images()), "application/x-npy", "application/x-npy", 406, "the model has 3 outputs"),
    (b"abc", "text/csv", "application/json", 415, "not supported"),
], ids=["empty", "bad-json", "missing-input", "short-data", "string-type", "wrong-rank", "npy-of-three", "csv"])
def test_when_a_request_is_bad_then_the_toolkit_answers_its_4xx_as_clean_json(model_dir, monkeypatch, body,
                                                                             content_type, accept, status, message):
    code, answer_type, answer = toolkit_transform(tensor, model_dir, body, {"Content-Type": content_type,
                                                                           "Accept": accept}, monkeypatch)
    assert code == status and answer_type == "application/json"
    error = assert_clean_json_error(answer.encode() if isinstance(answer, str) else answer, status)
    assert re.search(message, error["error"]), error


def test_when_the_signature_lists_no_output_names_then_outputs_are_numbered(model_dir, tmp_path):
    (tmp_path / "model.pt").write_bytes((model_dir / "model.pt").read_bytes())
    (tmp_path / "servekit-handler.json").write_text(json.dumps({"inputs": ["x"], "outputs": []}))
    unnamed = tensor.model_fn(str(tmp_path))
    outputs = json.loads(run(unnamed, npy(images(1)), "application/x-npy")[0])["outputs"]
    assert [o["name"] for o in outputs] == ["output__0", "output__1", "output__2"]
    tensor.model_fn(str(model_dir))  # output_fn reads the model loaded last: put the module's model back
