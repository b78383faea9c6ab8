from __future__ import annotations

import json

import pytest
import torch
from sagemaker_inference import errors
from servekit_handler_fakes import FakeTorchServeContext, load_handler, toolkit_transform

qa = load_handler("torchserve_question_answering")

WORDS = ("the a is of and to in paris france capital city berlin germany what where who which river "
         "seine flows through").split()


def build_tiny_qa_model(path) -> None:
    """A tiny DistilBERT question-answering model and tokenizer, made offline from a generated vocab."""
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering, DistilBertTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"abcdefghijklmnopqrstuvwxyz?.,"]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = DistilBertTokenizerFast(vocab_file=str(path / "vocab.txt"))
    config = DistilBertConfig(vocab_size=len(vocab), dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                              max_position_embeddings=128)
    torch.manual_seed(0)
    DistilBertForQuestionAnswering(config).save_pretrained(path)
    tokenizer.save_pretrained(path)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("qa") / "model"
    build_tiny_qa_model(path)
    return path


@pytest.fixture(scope="module")
def pipe(model_dir):
    return qa.model_fn(str(model_dir))


PAIR = {"question": "what is the capital of france?", "context": "paris is the capital of france."}


def run(pipe, body, content_type="application/json", accept="application/json"):
    return qa.output_fn(qa.predict_fn(qa.input_fn(body, content_type), pipe), accept)


def test_when_one_pair_is_sent_then_one_answer_that_is_a_span_of_the_context(pipe):
    body, content_type = run(pipe, json.dumps(PAIR))
    answer = json.loads(body)
    assert content_type == "application/json"
    assert set(answer) == {"answer", "score", "start", "end"}
    assert PAIR["context"][answer["start"]:answer["end"]] == answer["answer"]
    assert 0.0 <= answer["score"] <= 1.0


def test_when_a_list_of_pairs_is_sent_then_a_list_of_answers_in_order(pipe):
    pairs = [PAIR, {"question": "which river?", "context": "the seine flows through paris."}]
    answers = json.loads(run(pipe, json.dumps(pairs).encode())[0])
    assert isinstance(answers, list) and len(answers) == 2
    for pair, answer in zip(pairs, answers, strict=True):
        assert pair["context"][answer["start"]:answer["end"]] == answer["answer"]


def test_when_pairs_are_wrapped_in_inputs_then_answered_like_bare_pairs(pipe):
    assert json.loads(run(pipe, json.dumps({"inputs": PAIR}))[0]) == json.loads(run(pipe, json.dumps(PAIR))[0])


def test_when_model_loads_then_no_hub_is_contacted(model_dir, monkeypatch):
    import huggingface_hub

    def no_hub(*args, **kwargs):
        raise AssertionError("the handler tried to reach a model hub")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    assert qa.model_fn(str(model_dir)) is not None


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b"", "application/json", 400, "empty body"),
        ("{\"question\": ", "application/json", 400, "not valid JSON"),
        (json.dumps({"question": "what?"}), "application/json", 400, "missing key(s) ['context']"),
        (json.dumps({"question": "", "context": "x"}), "application/json", 400, "non-empty string"),
        (json.dumps([]), "application/json", 400, "empty list"),
        (json.dumps([PAIR, 3]), "application/json", 400, "item 1"),
        (json.dumps("text"), "application/json", 400, "expected a JSON object"),
        (b"question,context", "text/csv", 415, "not supported"),
        (json.dumps({"question": "q", "context": "x" * (1024 * 1024)}), "application/json", 413, "over the limit"),
    ],
)
def test_when_body_is_malformed_then_client_error_with_message(body, content_type, status, words):
    with pytest.raises(errors.GenericInferenceToolkitError) as caught:
        qa.input_fn(body, content_type)
    assert caught.value.status_code == status
    assert words in caught.value.message


def test_when_accept_is_not_json_then_406(pipe):
    with pytest.raises(errors.GenericInferenceToolkitError) as caught:
        run(pipe, json.dumps(PAIR), accept="application/x-npy")
    assert caught.value.status_code == 406


def test_when_torchserve_hands_a_batch_to_handle_then_one_pipeline_call_and_per_request_status(model_dir, monkeypatch):
    headers = [{"Content-Type": "application/json"}, {"content-type": "application/json"},
               {"Content-Type": "application/json"}]
    context = FakeTorchServeContext(model_dir, headers)
    qa.handle(None, context)
    calls = []
    original = qa.answer
    monkeypatch.setattr(qa, "answer", lambda p, pairs: calls.append(len(pairs)) or original(p, pairs))
    responses = qa.handle([{"body": json.dumps(PAIR).encode()}, {"body": json.dumps([PAIR, PAIR]).encode()},
                           {"body": b"{"}], context)
    assert calls == [3]
    assert [context.status(i) for i in range(3)] == [200, 200, 400]
    assert set(json.loads(responses[0])) == {"answer", "score", "start", "end"}
    assert len(json.loads(responses[1])) == 2
    assert "not valid JSON" in responses[2]


# ---------------------------------------------------------------------------------------------
# The default path: the toolkit's own Transformer in front of the handler, as in the PyTorch DLC
# ---------------------------------------------------------------------------------------------
JSON_HEADERS = {"Content-Type": "application/json"}


def _default_path_cases():
    import bad_requests as bad

    return bad.torchserve_qa_cases(json.dumps(PAIR).encode())


@pytest.mark.parametrize("case", list(_default_path_cases()))
def test_when_the_toolkit_path_gets_a_bad_request_then_clean_json_with_its_status(model_dir, monkeypatch, case):
    import bad_requests as bad

    body, headers, status, words = _default_path_cases()[case]
    got, content_type, answer = toolkit_transform(qa, model_dir, body, headers, monkeypatch)
    assert (got, content_type) == (status, "application/json"), answer[:300]
    assert words in bad.assert_clean_json_error(answer.encode(), status)["error"]


def test_when_the_model_fails_unexpectedly_then_500_names_only_the_first_line(model_dir, monkeypatch):
    import bad_requests as bad

    def broken(pipe, pairs):
        raise RuntimeError('shape mismatch\nTraceback of TorchScript:\n  File "code/__torch__.py", line 12')

    monkeypatch.setattr(qa, "answer", broken)
    status, _, answer = toolkit_transform(qa, model_dir, json.dumps(PAIR).encode(), JSON_HEADERS, monkeypatch)
    assert status == 500
    assert "shape mismatch" in bad.assert_clean_json_error(answer.encode(), 500)["error"]


def test_when_handle_answers_an_error_then_the_body_is_json_with_the_status(model_dir):
    import bad_requests as bad

    context = FakeTorchServeContext(model_dir, [JSON_HEADERS])
    qa.handle(None, context)
    (answer,) = qa.handle([{"body": b"{"}], context)
    assert context.status(0) == 400 and context.content_types[0] == "application/json"
    bad.assert_clean_json_error(answer.encode(), 400)
