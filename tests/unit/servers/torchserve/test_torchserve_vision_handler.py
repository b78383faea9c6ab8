from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sagemaker_inference import errors
from servekit_handler_fakes import FakeTorchServeContext, load_handler, toolkit_transform

vision = load_handler("torchserve_vision")
LABELS = [f"class-{i}" for i in range(10)]


class TinyCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4 * 6 * 6, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("vision")
    torch.manual_seed(0)
    torch.jit.trace(TinyCnn().eval(), torch.zeros(1, 3, 8, 8)).save(str(root / "model.pt"))
    (root / "labels.json").write_text(json.dumps(LABELS))
    return root


@pytest.fixture(scope="module")
def model(model_dir):
    return vision.model_fn(str(model_dir))


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def images(n=1):
    return np.random.default_rng(0).random((n, 3, 8, 8), dtype=np.float32)


def run(model, body, content_type, accept="application/json"):
    return vision.output_fn(vision.predict_fn(vision.input_fn(body, content_type), model), accept)


def test_when_json_batch_is_sent_then_top5_labels_per_image_sum_to_at_most_one(model):
    body, content_type = run(model, json.dumps(images(2).tolist()), "application/json")
    predictions = json.loads(body)["predictions"]
    assert content_type == "application/json" and len(predictions) == 2
    for top in predictions:
        assert len(top) == 5
        assert [p["label"] for p in top] == [LABELS[p["index"]] for p in top]
        probabilities = [p["probability"] for p in top]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001


def test_when_json_object_with_inputs_and_single_chw_image_then_one_prediction(model):
    body, _ = run(model, json.dumps({"inputs": images(1)[0].tolist()}), "application/json; charset=utf-8")
    assert len(json.loads(body)["predictions"]) == 1


def test_when_npy_is_sent_and_npy_accepted_then_structured_topk_array(model):
    body, content_type = run(model, npy(images(3)), "application/x-npy", "application/x-npy")
    out = np.load(io.BytesIO(body), allow_pickle=False)
    assert content_type == "application/x-npy" and out.shape == (3, 5)
    assert set(out.dtype.names) == {"label", "index", "probability"}
    assert out["label"][0, 0] == LABELS[out["index"][0, 0]]


def test_when_npy_and_json_carry_the_same_tensor_then_the_answers_agree(model):
    x = images(1)
    from_npy = json.loads(run(model, npy(x), "application/x-npy")[0])
    from_json = json.loads(run(model, json.dumps(x.tolist()), "application/json")[0])
    assert [p["index"] for p in from_npy["predictions"][0]] == [p["index"] for p in from_json["predictions"][0]]


def test_when_no_labels_file_then_labels_are_class_indices(tmp_path):
    torch.jit.trace(TinyCnn().eval(), torch.zeros(1, 3, 8, 8)).save(str(tmp_path / "model.pt"))
    bare = vision.model_fn(str(tmp_path))
    body, _ = run(bare, npy(images(1)), "application/x-npy")
    top = json.loads(body)["predictions"][0]
    assert all(p["label"] == str(p["index"]) for p in top)


def test_when_top_k_is_set_in_the_environment_then_k_classes(model, monkeypatch):
    monkeypatch.setattr(vision, "TOP_K", 3)
    body, _ = run(model, npy(images(1)), "application/x-npy")
    assert len(json.loads(body)["predictions"][0]) == 3


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b"", "application/json", 400, "empty body"),
        ("{not json", "application/json", 400, "not valid JSON"),
        (json.dumps({"pixels": [1]}), "application/json", 400, "no \"inputs\" key"),
        (json.dumps([[1, 2], [3]]), "application/json", 400, "rectangular"),
        (json.dumps([1.0, 2.0]), "application/json", 400, "expected one image"),
        (b"not an npy", "application/x-npy", 400, "not a valid .npy"),
        (b"a,b", "text/csv", 415, "not supported"),
        (b"x" * (6 * 1024 * 1024 + 1), "application/x-npy", 413, "over the limit"),
    ],
)
def test_when_body_is_malformed_then_client_error_with_message(body, content_type, status, words):
    with pytest.raises(errors.GenericInferenceToolkitError) as caught:
        vision.input_fn(body, content_type)
    assert caught.value.status_code == status
    assert words in caught.value.message


def test_when_tensor_shape_does_not_fit_the_model_then_400_naming_the_shape(model):
    data = vision.input_fn(npy(np.zeros((1, 2, 8, 8), dtype=np.float32)), "application/x-npy")
    with pytest.raises(errors.GenericInferenceToolkitError) as caught:
        vision.predict_fn(data, model)
    assert caught.value.status_code == 400 and "[1, 2, 8, 8]" in caught.value.message


def test_when_accept_is_unsupported_then_406(model):
    prediction = vision.predict_fn(vision.input_fn(npy(images(1)), "application/x-npy"), model)
    with pytest.raises(errors.GenericInferenceToolkitError) as caught:
        vision.output_fn(prediction, "text/html")
    assert caught.value.status_code == 406


def test_when_torchserve_hands_a_batch_to_handle_then_one_forward_pass_and_per_request_status(model_dir, monkeypatch):
    headers = [
        {"Content-Type": "application/json"},
        {"Content-Type": "application/x-npy", "Accept": "application/x-npy"},
        {"Content-Type": "application/json"},
        {"Content-Type": "text/plain"},
    ]
    context = FakeTorchServeContext(model_dir, headers)
    vision.handle(None, context)  # TorchServe's initialisation call loads the model
    calls = []
    original = vision.predict_fn
    monkeypatch.setattr(vision, "predict_fn", lambda data, m: calls.append(tuple(data.shape)) or original(data, m))
    data = [
        {"body": json.dumps(images(1).tolist()).encode()},
        {"body": bytearray(npy(images(2)))},
        {"body": b"{broken"},
        {"body": b"hello"},
    ]
    responses = vision.handle(data, context)
    assert calls == [(3, 3, 8, 8)]  # the two good requests, three images, one forward pass
    assert [context.status(i) for i in range(4)] == [200, 200, 400, 415]
    assert len(json.loads(responses[0])["predictions"]) == 1
    assert np.load(io.BytesIO(responses[1]), allow_pickle=False).shape == (2, 5)
    assert context.content_types[1] == "application/x-npy"
    assert "not valid JSON" in responses[2] and "not supported" in responses[3]


# ---------------------------------------------------------------------------------------------
# The default path: the toolkit's own Transformer in front of the handler, as in the PyTorch DLC
# ---------------------------------------------------------------------------------------------
def _default_path_cases(tmp_path):
    import bad_requests as bad

    return bad.torchserve_vision_cases(npy(images(1)), tmp_path / "unpickled")


@pytest.mark.parametrize("case", list(_default_path_cases(Path("."))))
def test_when_the_toolkit_path_gets_a_bad_request_then_clean_json_with_its_status_and_nothing_unpickled(
    model_dir, tmp_path, monkeypatch, case
):
    import bad_requests as bad

    body, headers, status, words = _default_path_cases(tmp_path)[case]
    got, content_type, answer = toolkit_transform(vision, model_dir, body, headers, monkeypatch)
    assert (got, content_type) == (status, "application/json"), answer[:300]
    assert words in bad.assert_clean_json_error(answer.encode(), status)["error"]
    assert not (tmp_path / "unpickled").exists()


def test_when_the_toolkit_path_gets_a_good_request_after_bad_ones_then_it_answers(model_dir, monkeypatch):
    toolkit_transform(vision, model_dir, b"{", {"Content-Type": "application/json"}, monkeypatch)
    status, content_type, answer = toolkit_transform(vision, model_dir, npy(images(1)),
                                                     {"Content-Type": "application/x-npy"}, monkeypatch)
    assert (status, content_type) == (200, "application/json") and json.loads(answer)["predictions"]


def test_when_handle_answers_an_error_then_the_body_is_json_with_the_status(model_dir):
    import bad_requests as bad

    context = FakeTorchServeContext(model_dir, [{"Content-Type": "text/plain"}])
    vision.handle(None, context)
    (answer,) = vision.handle([{"body": b"hello"}], context)
    assert context.status(0) == 415 and context.content_types[0] == "application/json"
    bad.assert_clean_json_error(answer.encode(), 415)
