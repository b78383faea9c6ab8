"""TorchServe handler for extractive question answering (copied into the artifact as code/inference.py).

Runs inside the PyTorch DLC under the SageMaker PyTorch inference toolkit. The image provides torch, numpy
and sagemaker_inference; transformers comes from code/requirements.txt (transformers==4.57.6, written by
servekit.model_build.handlers).

Artifact: a Hugging Face model and tokenizer written by `save_pretrained` at the archive root (config.json,
model.safetensors, tokenizer files). They are loaded from those files only: never from a model hub.

Request (application/json): {"question": "...", "context": "..."} (also {"inputs": {...}}), or a list of
such objects (at most SERVEKIT_MAX_PAIRS, default 64).
Response (application/json): {"answer", "score", "start", "end"} for one pair, a list of them for a list.

Errors, as application/json {"error": "...", "status": N} with no traceback (code/servekit_torchserve.py):
415 when Content-Type is not JSON, 406 when Accept does not allow JSON, 413 for a body over
SERVEKIT_MAX_REQUEST_BYTES (default 1 MiB) or too many pairs, 400 for an empty body, invalid JSON (or JSON
nested too deeply to parse), a missing/empty/non-string question or context, or any other shape.

Two entry points share the code:
- model_fn/input_fn/predict_fn/output_fn: what the toolkit calls, once per request even when TorchServe
  batches (SAGEMAKER_TS_BATCH_SIZE > 1);
- handle(data, context): a TorchServe handler that answers every pair of every request in the batch with
  one pipeline call (batched forward passes), per-request status and content type. Select it with
  TorchServe's env override TS_DEFAULT_SERVICE_HANDLER=inference:handle (see docs/torchserve.md).
"""

from __future__ import annotations

import json
import os

# transformers must not import TensorFlow/Flax (absent in the DLC; present on some dev machines).
os.environ.setdefault("USE_TF", "0")
os.environ.setdefault("USE_FLAX", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from servekit_torchserve import (  # noqa: E402 - code/servekit_torchserve.py, beside this file
    JSON,
    RequestError,
    error_response,
    headers,
    install_clean_errors,
    int_env,
    media_type,
    parse_json,
    request_body,
)
from servekit_torchserve import bad_request as _bad_request  # noqa: E402
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, pipeline  # noqa: E402

MAX_REQUEST_BYTES = int_env("SERVEKIT_MAX_REQUEST_BYTES", 1024 * 1024)
MAX_PAIRS = int_env("SERVEKIT_MAX_PAIRS", 64)
_LOG_BATCHES = os.environ.get("SERVEKIT_LOG_BATCHES", "") == "1"
install_clean_errors()  # the toolkit's error bodies: JSON, no traceback


class Questions:
    """The parsed request: the pairs, and whether the client sent one object or a list."""

    def __init__(self, pairs: list[dict[str, str]], single: bool):
        self.pairs = pairs
        self.single = single


class Answers:
    """The answers, shaped like the request (one object or a list)."""

    def __init__(self, answers: list[dict], single: bool):
        self.answers = answers
        self.single = single


# ---------------------------------------------------------------------------------------------
# The toolkit's four functions
# ---------------------------------------------------------------------------------------------
def model_fn(model_dir: str):
    device = 0 if torch.cuda.is_available() else -1
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir, local_files_only=True)
    model.eval()
    return pipeline("question-answering", model=model, tokenizer=tokenizer, framework="pt", device=device)


def input_fn(input_data, content_type: str | None) -> Questions:
    if media_type(content_type) != JSON:
        raise RequestError(415, f"Content-Type {content_type!r} is not supported; send {JSON} with "
                                "{\"question\": ..., \"context\": ...} or a list of them")
    if input_data is None:
        raise _bad_request("empty body; send {\"question\": ..., \"context\": ...}")
    body = input_data.encode("utf-8") if isinstance(input_data, str) else bytes(input_data)
    if len(body) > MAX_REQUEST_BYTES:
        raise RequestError(413, f"body of {len(body)} bytes is over the limit of {MAX_REQUEST_BYTES} bytes "
                                "(SERVEKIT_MAX_REQUEST_BYTES)")
    if not body.strip():
        raise _bad_request("empty body; send {\"question\": ..., \"context\": ...}")
    payload = parse_json(body)
    if isinstance(payload, dict) and "inputs" in payload and "question" not in payload:
        payload = payload["inputs"]
    if isinstance(payload, dict):
        return Questions([_pair(payload, "body")], single=True)
    if isinstance(payload, list):
        if not payload:
            raise _bad_request("empty list; send at least one {\"question\": ..., \"context\": ...}")
        if len(payload) > MAX_PAIRS:
            raise RequestError(413, f"{len(payload)} pairs in one request; the limit is {MAX_PAIRS} (SERVEKIT_MAX_PAIRS)")
        return Questions([_pair(item, f"item {i}") for i, item in enumerate(payload)], single=False)
    raise _bad_request(f"expected a JSON object or a list of objects, got {type(payload).__name__}")


def predict_fn(data: Questions, model) -> Answers:
    return Answers(answer(model, data.pairs), data.single)


def output_fn(prediction, accept: str | None) -> tuple[str, str]:
    _check_accept(accept)
    if isinstance(prediction, Answers):
        prediction = prediction.answers[0] if prediction.single else prediction.answers
    return json.dumps(prediction), JSON


def answer(qa_pipeline, pairs: list[dict[str, str]]) -> list[dict]:
    """Answer every pair with one pipeline call (batched forward passes)."""
    result = qa_pipeline(
        question=[p["question"] for p in pairs],
        context=[p["context"] for p in pairs],
        batch_size=max(1, min(len(pairs), MAX_PAIRS)),
    )
    if isinstance(result, dict):
        result = [result]
    return [
        {"answer": r["answer"], "score": float(r["score"]), "start": int(r["start"]), "end": int(r["end"])}
        for r in result
    ]


# ---------------------------------------------------------------------------------------------
# A TorchServe handler with a batched forward pass across requests
# ---------------------------------------------------------------------------------------------
_HANDLE_PIPELINE = None


def handle(data: list[dict] | None, context) -> list | None:
    global _HANDLE_PIPELINE
    if _HANDLE_PIPELINE is None:
        _HANDLE_PIPELINE = model_fn(context.system_properties.get("model_dir"))
    if data is None:  # TorchServe's initialisation call
        return None
    if _LOG_BATCHES:
        print(f"servekit handle: batch of {len(data)} request(s)", flush=True)
    responses: list = [None] * len(data)
    parsed: dict[int, Questions] = {}
    for idx, request in enumerate(data):
        request_headers = headers(context, idx)
        try:
            _check_accept(request_headers.get("accept"))
            parsed[idx] = input_fn(request_body(request), request_headers.get("content-type"))
        except Exception as err:  # noqa: BLE001 - every request gets its own JSON answer
            responses[idx] = error_response(context, idx, err)
    pairs = [pair for q in parsed.values() for pair in q.pairs]
    if pairs:
        try:
            answers = answer(_HANDLE_PIPELINE, pairs)
        except Exception as err:  # noqa: BLE001 - the batch failed: each of its requests says so
            for idx in parsed:
                responses[idx] = error_response(context, idx, err)
            return responses
        offset = 0
        for idx, questions in parsed.items():
            mine = answers[offset:offset + len(questions.pairs)]
            offset += len(questions.pairs)
            responses[idx] = json.dumps(mine[0] if questions.single else mine)
            context.set_response_content_type(idx, JSON)
    return responses


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
def _check_accept(accept: str | None) -> None:
    for part in (accept or JSON).split(","):
        if media_type(part) in (JSON, "*/*", "application/*", ""):
            return
    raise RequestError(406, f"Accept {accept!r} is not supported; this model answers {JSON}")


def _pair(item, where: str) -> dict[str, str]:
    if not isinstance(item, dict):
        raise _bad_request(f"{where}: expected an object with \"question\" and \"context\", got {type(item).__name__}")
    missing = [key for key in ("question", "context") if key not in item]
    if missing:
        raise _bad_request(f"{where}: missing key(s) {missing}; send {{\"question\": ..., \"context\": ...}}")
    for key in ("question", "context"):
        if not isinstance(item[key], str) or not item[key].strip():
            raise _bad_request(f"{where}: \"{key}\" must be a non-empty string")
    return {"question": item["question"], "context": item["context"]}
