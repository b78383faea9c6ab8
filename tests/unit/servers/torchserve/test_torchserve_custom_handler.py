"""A user's own inference.py inside servekit's wrapper (handlers/torchserve_custom.py), through the SageMaker toolkit's
own Transformer: the user's answers pass as they are, a request input_fn cannot read is a 400, any other failure a
500, all as JSON without a traceback."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from bad_requests import assert_clean_json_error
from servekit_handler_fakes import load_handler, toolkit_transform

USER_INFERENCE = '''
import json
import os

import torch


def model_fn(model_dir):
    return torch.jit.load(os.path.join(model_dir, "model.pt"))


def input_fn(data, content_type):
    return torch.tensor(json.loads(data)["x"], dtype=torch.float32)  # a body without "x" raises KeyError


def predict_fn(data, model):
    with torch.no_grad():
        return model(data)


def output_fn(prediction, accept):
    return json.dumps({"y": prediction.tolist()}), "application/json"
'''


class Double(torch.nn.Module):
    def forward(self, x):
        return x.view(x.shape[0], 2) * 2  # a wrong shape fails inside predict_fn


@pytest.fixture(scope="module")
def wrapper(tmp_path_factory):
    code = tmp_path_factory.mktemp("code")
    (code / "user_inference.py").write_text(USER_INFERENCE)
    sys.path.insert(0, str(code))  # the toolkit puts code/ on the path: user_inference sits beside the wrapper
    try:
        yield load_handler("torchserve_custom")
    finally:
        sys.path.remove(str(code))
        sys.modules.pop("user_inference", None)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    torch.jit.script(Double()).save(str(root / "model.pt"))
    return root


def send(wrapper, model_dir, monkeypatch, body: bytes):
    return toolkit_transform(wrapper, model_dir, body, {"Content-Type": "application/json",
                                                        "Accept": "application/json"}, monkeypatch)


def test_when_the_users_handler_answers_then_its_body_passes_unchanged(wrapper, model_dir, monkeypatch):
    status, content_type, body = send(wrapper, model_dir, monkeypatch, json.dumps({"x": [[1.0, 2.0]]}).encode())
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {"y": [[2.0, 4.0]]}


def test_when_input_fn_cannot_read_the_request_then_it_is_a_400_naming_why(wrapper, model_dir, monkeypatch):
    status, _, body = send(wrapper, model_dir, monkeypatch, json.dumps({"z": 1}).encode())
    error = assert_clean_json_error(body.encode(), 400)
    assert error["error"].startswith("the request could not be read: 'x'")


def test_when_the_model_fails_then_it_is_a_500_with_no_traceback(wrapper, model_dir, monkeypatch):
    status, content_type, body = send(wrapper, model_dir, monkeypatch, json.dumps({"x": [[1.0, 2.0, 3.0]]}).encode())
    assert (status, content_type) == (500, "application/json")
    assert "the traceback is in the server log" in assert_clean_json_error(body.encode(), 500)["error"]


def test_the_wrapper_keeps_the_users_signatures_which_the_toolkit_reads(wrapper):
    import inspect

    user = sys.modules["user_inference"]
    for name in ("model_fn", "input_fn", "predict_fn", "output_fn"):
        assert inspect.signature(getattr(wrapper, name)) == inspect.signature(getattr(user, name))
    assert not hasattr(wrapper, "transform_fn")  # only what the user defines: the toolkit refuses a mix
