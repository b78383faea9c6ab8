"""Serve built TorchServe artifacts in the real stack (SageMaker PyTorch inference toolkit + TorchServe)."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from servekit import config
from servekit.model_build.builder import build
from servekit.servers.torchserve import local as torchserve

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
LABELS = [f"class-{i}" for i in range(10)]
QA_PAIR = {"question": "what is the capital of france?", "context": "paris is the capital of france."}


class TinyCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4 * 14 * 14, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def post(url: str, body: bytes, content_type: str, accept: str | None = None) -> tuple[int, str, bytes]:
    return post_headers(url, body, {"Content-Type": content_type, **({"Accept": accept} if accept else {})})


def post_headers(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
    request = urllib.request.Request(f"{url}/invocations", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def ping(url: str) -> int:
    with urllib.request.urlopen(f"{url}/ping", timeout=60) as response:
        return response.status


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def image(n: int = 1) -> np.ndarray:
    return np.random.default_rng(n).random((n, 3, 16, 16), dtype=np.float32)


@pytest.fixture(scope="module")
def qa_endpoint(tmp_path_factory):
    """The embedded default config's question-answering endpoint, built by model_build and served."""
    cfg = config.load(REPO / "servekit.yaml")
    endpoint = next(e for e in cfg.endpoints if isinstance(e, config.TorchServeEndpointSpec))
    root = tmp_path_factory.mktemp("ts-qa")
    artifact = build(endpoint, cache_dir=root / "cache")
    with torchserve.start(endpoint, artifact.path, workdir=root / "serve", progress=print) as served:
        yield served


@pytest.fixture(scope="module")
def vision_endpoint(tmp_path_factory):
    """A TorchScript CNN made here, built with the vision handler and served."""
    root = tmp_path_factory.mktemp("ts-vision")
    torch.manual_seed(0)
    torch.jit.trace(TinyCnn().eval(), torch.zeros(1, 3, 16, 16)).save(str(root / "cnn.pt"))
    endpoint = config.TorchServeEndpointSpec.model_validate({
        "server": "torchserve", "name": "vision", "instance_type": "ml.m5.xlarge",
        "model": {"source": {"kind": "torchscript", "path": str(root / "cnn.pt")}, "handler": "vision",
                  "labels": LABELS},
        "tuning": {"omp_num_threads": 1},
    })
    artifact = build(endpoint, cache_dir=root / "cache")
    with torchserve.start(endpoint, artifact.path, workdir=root / "serve", progress=print) as served:
        yield served


def test_when_two_torchserve_servers_run_at_once_then_both_answer_ping(qa_endpoint, vision_endpoint):
    assert ping(qa_endpoint.url) == 200 and ping(vision_endpoint.url) == 200
    assert qa_endpoint.url != vision_endpoint.url
    assert not qa_endpoint.emulated and qa_endpoint.startup_seconds > 0
    assert any("sagemaker-pytorch-inference" in line for line in qa_endpoint.differences)


def processes_of_group(group: int) -> list:
    """The live (not zombie) processes of one server's process group: the launcher, Java and the workers."""
    import os

    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.Error, ProcessLookupError):
            continue
    return found


def worker_omp_threads(served) -> set[str | None]:
    """OMP_NUM_THREADS in the environment of each TorchServe Python worker of `served`."""
    workers = [p for p in processes_of_group(served.server.pid)
               if any("model_service_worker" in part for part in p.info["cmdline"] or ())]
    assert workers, "no TorchServe worker found in the server's process group"
    return {p.environ().get("OMP_NUM_THREADS") for p in workers}


def test_when_omp_num_threads_is_tuned_then_the_torchserve_worker_runs_with_it(qa_endpoint, vision_endpoint):
    """tuning.omp_num_threads reaches the Python worker that runs the model (TorchServe's Java frontend starts it
    with its own environment), so torch sizes its intra-op pool from it: 1 in the vision endpoint made here, 2 in
    the embedded default's question-answering endpoint."""
    assert post(vision_endpoint.url, npy(image(1)), "application/x-npy")[0] == 200  # a worker is up
    assert post(qa_endpoint.url, json.dumps(QA_PAIR).encode(), "application/json")[0] == 200
    assert worker_omp_threads(vision_endpoint) == {"1"}
    assert worker_omp_threads(qa_endpoint) == {"2"}


def test_when_requirements_are_already_satisfied_then_pip_is_skipped_and_said(qa_endpoint):
    assert any("not pip-installed" in line for line in qa_endpoint.differences)
    assert "pip install skipped" in qa_endpoint.server.log_path.read_text()


# ---------------------------------------------------------------------------------------------
# Question answering
# ---------------------------------------------------------------------------------------------
def test_when_qa_gets_one_pair_then_an_answer_span_of_the_context(qa_endpoint):
    status, content_type, body = post(qa_endpoint.url, json.dumps(QA_PAIR).encode(), "application/json")
    assert status == 200 and content_type.startswith("application/json")
    answer = json.loads(body)
    assert QA_PAIR["context"][answer["start"]:answer["end"]] == answer["answer"]


def test_when_qa_gets_a_list_of_pairs_then_a_list_of_answers(qa_endpoint):
    status, _, body = post(qa_endpoint.url, json.dumps([QA_PAIR, QA_PAIR]).encode(), "application/json")
    assert status == 200 and len(json.loads(body)) == 2


def test_when_qa_gets_16_concurrent_requests_then_all_answer(qa_endpoint):
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: post(qa_endpoint.url, json.dumps(QA_PAIR).encode(), "application/json"),
                                range(16)))
    assert [r[0] for r in results] == [200] * 16


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b"", "application/json", 400, "empty body"),
        (b"{\"question\": ", "application/json", 400, "not valid JSON"),
        (json.dumps({"question": "what?"}).encode(), "application/json", 400, "missing key"),
        (b"question,context", "text/csv", 415, "not supported"),
        (json.dumps({"question": "q", "context": "x" * (1024 * 1024)}).encode(), "application/json", 413, "over the limit"),
    ],
    ids=["empty", "invalid-json", "missing-key", "wrong-content-type", "oversized"],
)
def test_when_qa_request_is_malformed_then_4xx_with_message_and_server_keeps_serving(
    qa_endpoint, body, content_type, status, words
):
    got, _, text = post(qa_endpoint.url, body, content_type)
    assert got == status and words in text.decode()
    assert ping(qa_endpoint.url) == 200
    assert post(qa_endpoint.url, json.dumps(QA_PAIR).encode(), "application/json")[0] == 200


# ---------------------------------------------------------------------------------------------
# Vision
# ---------------------------------------------------------------------------------------------
def test_when_vision_gets_json_nested_lists_then_top5_labels(vision_endpoint):
    status, _, body = post(vision_endpoint.url, json.dumps(image(2).tolist()).encode(), "application/json")
    assert status == 200
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == 2 and all(len(p) == 5 for p in predictions)
    assert all(p["label"] == LABELS[p["index"]] for top in predictions for p in top)


def test_when_the_layout_is_uncompressed_then_real_torchserve_serves_the_folder_with_the_same_answers(
        vision_endpoint, tmp_path):
    """model_data: uncompressed: the same layout as a folder (what SageMaker copies from the S3 prefix into
    /opt/ml/model), served by the real TorchServe through the toolkit, answers as the archive does."""
    torch.manual_seed(0)
    torch.jit.trace(TinyCnn().eval(), torch.zeros(1, 3, 16, 16)).save(str(tmp_path / "cnn.pt"))
    endpoint = config.TorchServeEndpointSpec.model_validate({
        "server": "torchserve", "name": "vision", "instance_type": "ml.m5.xlarge", "model_data": "uncompressed",
        "model": {"source": {"kind": "torchscript", "path": str(tmp_path / "cnn.pt")}, "handler": "vision",
                  "labels": LABELS},
        "tuning": {"omp_num_threads": 1},
    })
    layout = build(endpoint, cache_dir=tmp_path / "cache")
    assert layout.path.is_dir() and (layout.path / "code" / "inference.py").is_file()
    body = json.dumps(image(2).tolist()).encode()
    with torchserve.start(endpoint, layout.path, workdir=tmp_path / "serve", progress=print) as served:
        status, _, answer = post(served.url, body, "application/json")
    assert status == 200
    assert json.loads(answer) == json.loads(post(vision_endpoint.url, body, "application/json")[2])


def test_when_vision_gets_json_inputs_object_then_one_prediction(vision_endpoint):
    status, _, body = post(vision_endpoint.url, json.dumps({"inputs": image(1)[0].tolist()}).encode(), "application/json")
    assert status == 200 and len(json.loads(body)["predictions"]) == 1


def test_when_vision_gets_npy_and_accepts_npy_then_structured_npy(vision_endpoint):
    status, content_type, body = post(vision_endpoint.url, npy(image(3)), "application/x-npy", "application/x-npy")
    assert status == 200 and content_type.startswith("application/x-npy")
    out = np.load(io.BytesIO(body), allow_pickle=False)
    assert out.shape == (3, 5) and out["label"][0, 0] == LABELS[out["index"][0, 0]]


def test_when_vision_gets_npy_without_accept_then_json(vision_endpoint):
    status, content_type, body = post(vision_endpoint.url, npy(image(1)), "application/x-npy")
    assert status == 200 and content_type.startswith("application/json") and json.loads(body)["predictions"]


def test_when_vision_gets_16_concurrent_requests_then_all_answer(vision_endpoint):
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: post(vision_endpoint.url, npy(image(1)), "application/x-npy"), range(16)))
    assert [r[0] for r in results] == [200] * 16


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b"", "application/x-npy", 400, "empty body"),
        (b"[[[", "application/json", 400, "not valid JSON"),
        (npy(np.zeros((1, 2, 16, 16), dtype=np.float32)), "application/x-npy", 400, "rejected an input of shape"),
        (json.dumps([1.0, 2.0]).encode(), "application/json", 400, "expected one image"),
        (b"1,2,3", "text/csv", 415, "not supported"),
        (b"\x93NUMPY" + b"0" * 6_400_000, "application/x-npy", 413, "over the limit"),
    ],
    ids=["empty", "invalid-json", "wrong-tensor-shape", "wrong-rank", "wrong-content-type", "oversized"],
)
def test_when_vision_request_is_malformed_then_4xx_with_message_and_server_keeps_serving(
    vision_endpoint, body, content_type, status, words
):
    got, _, text = post(vision_endpoint.url, body, content_type)
    assert got == status and words in text.decode(errors="replace")
    assert ping(vision_endpoint.url) == 200
    assert post(vision_endpoint.url, npy(image(1)), "application/x-npy")[0] == 200


# ---------------------------------------------------------------------------------------------
# The bad-request corpus through the real TorchServe and the toolkit (servekit's handlers on the default
# path): the documented status, a clean JSON body, nothing unpickled, and the server still answers.
# ---------------------------------------------------------------------------------------------
def qa_cases() -> dict:
    import bad_requests as bad

    return bad.torchserve_qa_cases(json.dumps(QA_PAIR).encode())


def vision_cases(tripwire: Path) -> dict:
    import bad_requests as bad

    return bad.torchserve_vision_cases(npy(image(1)), tripwire)


def assert_documented_error(answer: tuple[int, str, bytes], status: int, words: str) -> None:
    import bad_requests as bad

    got, content_type, body = answer
    assert got == status, (got, body[:300])
    assert content_type.startswith("application/json"), content_type
    assert words in bad.assert_clean_json_error(body, status)["error"]


@pytest.mark.parametrize("case", list(qa_cases()))
def test_when_qa_gets_a_bad_request_then_the_documented_status_in_clean_json_and_it_still_answers(qa_endpoint, case):
    body, headers, status, words = qa_cases()[case]
    assert_documented_error(post_headers(qa_endpoint.url, body, headers), status, words)
    assert ping(qa_endpoint.url) == 200
    assert post(qa_endpoint.url, json.dumps(QA_PAIR).encode(), "application/json")[0] == 200


@pytest.mark.parametrize("case", list(vision_cases(Path("."))))
def test_when_vision_gets_a_bad_request_then_the_documented_status_in_clean_json_and_nothing_is_unpickled(
    vision_endpoint, tmp_path, case
):
    body, headers, status, words = vision_cases(tmp_path / "unpickled")[case]
    assert_documented_error(post_headers(vision_endpoint.url, body, headers), status, words)
    assert not (tmp_path / "unpickled").exists()
    assert ping(vision_endpoint.url) == 200
    assert post(vision_endpoint.url, npy(image(1)), "application/x-npy")[0] == 200


@pytest.mark.parametrize("which", ["qa", "vision"])
def test_when_64_bad_requests_arrive_at_once_then_each_gets_its_status_and_the_server_still_answers(
    qa_endpoint, vision_endpoint, tmp_path, which
):
    import bad_requests as bad

    served, cases = (qa_endpoint, qa_cases()) if which == "qa" else (vision_endpoint, vision_cases(tmp_path / "x"))
    small = [c for c in cases.values() if len(c[0]) < 1024 * 1024]  # 64 x 5 MB would only measure the copy
    requests = [small[i % len(small)] for i in range(64)]
    answers = bad.burst(lambda c: post_headers(served.url, c[0], c[1]), requests)
    for (_, _, status, words), answer in zip(requests, answers, strict=True):
        assert_documented_error(answer, status, words)
    assert ping(served.url) == 200


# Last in the file: it stops the module's vision server.
def test_when_stopped_then_no_process_of_its_group_survives(vision_endpoint):
    import time

    group = vision_endpoint.server.pid
    vision_endpoint.stop()  # returns once the supervisor has stopped everything; the wait is only a margin
    deadline = time.monotonic() + 60
    while processes_of_group(group) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_of_group(group) == []
