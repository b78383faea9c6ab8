"""The Triton artifact served by the real tritonserver (nvidia-pytriton's build, python backend) on loopback."""

from __future__ import annotations

import json
import re
import tarfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from servekit import codecs, registry
from servekit.config import TritonEndpointSpec
from servekit.model_build.archive import KEEP_FILE
from servekit.servers.triton import local as triton
from servekit.servers.triton.signature import TritonSignature

pytestmark = pytest.mark.integration

CONFIG_PBTXT = """name: "tiny"
platform: "pytorch_libtorch"
max_batch_size: 8
input [ { name: "input__0" data_type: TYPE_FP32 dims: [3, 16, 16] } ]
output [ { name: "output__0" data_type: TYPE_FP32 dims: [10] } ]
dynamic_batching { preferred_batch_size: [4, 8] max_queue_delay_microseconds: 2000 }
instance_group [ { count: 1 kind: KIND_GPU } ]
"""


def build_artifact(tmp: Path) -> tuple[Path, Path]:
    """A small TorchScript CNN traced with a dynamic batch dimension, in the container's layout."""
    import torch
    from torch import nn

    class TinyCnn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.head = nn.Linear(8, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))

    torch.manual_seed(0)
    module = TinyCnn().eval()
    scripted = torch.jit.trace(module, torch.rand(2, 3, 16, 16))
    root = tmp / "src" / "tiny"
    (root / "1").mkdir(parents=True)
    model_file = root / "1" / "model.pt"
    scripted.save(str(model_file))
    (root / "config.pbtxt").write_text(CONFIG_PBTXT)
    artifact = tmp / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as tar:
        tar.add(root, arcname="tiny")
    return artifact, model_file


def reference(model_file: Path, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return torch.jit.load(str(model_file))(torch.from_numpy(x)).numpy()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("triton")
    artifact, model_file = build_artifact(tmp)
    endpoint = TritonEndpointSpec.model_validate({
        "server": "triton", "name": "tiny", "instance_type": "ml.g5.xlarge",
        "model": {
            "name": "tiny", "source": {"kind": "archive", "path": str(artifact)},
            "inputs": [{"name": "input__0", "data_type": "TYPE_FP32", "dims": [3, 16, 16]}],
            "outputs": [{"name": "output__0", "data_type": "TYPE_FP32", "dims": [10]}],
        },
        "tuning": {"log_verbose": False},
    })
    lines: list[str] = []
    local = triton.start(endpoint, artifact, workdir=tmp / "work", progress=lines.append)
    try:
        yield local, model_file, artifact, lines
    finally:
        local.stop()


def post(url: str, body: bytes, content_type: str | None) -> tuple[int, str, bytes]:
    return post_with(url, body, content_type, {})


def post_with(url: str, body: bytes, content_type: str | None, headers: dict[str, str]) -> tuple[int, str, bytes]:
    all_headers = {**({"Content-Type": content_type} if content_type else {}), **headers}
    request = urllib.request.Request(url, data=body, headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def batch(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, 16, 16), dtype=np.float32)


def test_ping_answers_200(served):
    local, *_ = served
    with urllib.request.urlopen(local.ping_url, timeout=60) as response:
        assert response.status == 200


def test_start_reports_what_differs_from_the_cloud(served):
    local, _, _, lines = served
    assert not local.emulated
    assert any("python backend" in d and "pytorch_libtorch" in d for d in local.differences)
    assert any("KIND_GPU runs as KIND_CPU" in d for d in local.differences)
    assert any("differs from the cloud" in line for line in lines)
    assert local.startup_seconds > 0


def test_served_config_is_the_endpoint_config_except_backend_and_kind(served):
    local, _, artifact, _ = served
    served_cfg = triton.read_config(local.server.cwd / "model_repository" / "tiny" / "config.pbtxt")
    original = triton.read_config(local.server.cwd / "artifact" / "tiny" / "config.pbtxt")
    assert served_cfg.backend == "python" and not served_cfg.platform
    for cfg in (served_cfg, original):
        cfg.ClearField("platform")
        cfg.ClearField("backend")
        cfg.ClearField("instance_group")
    assert served_cfg == original


def test_kserve_json_answers_like_the_in_process_model(served):
    local, model_file, artifact, _ = served
    signature = TritonSignature.from_artifact(artifact)
    x = batch(3)
    status, ctype, body = post(local.invocations_url, *codecs.encode_kserve_json({"input__0": x}, signature=signature))
    assert status == 200, body
    out = codecs.decode_response(body, ctype)["output__0"]
    assert out.shape == (3, 10) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference(model_file, x), rtol=1e-5, atol=1e-6)


def test_binary_json_answers_in_binary_like_the_in_process_model(served):
    local, model_file, artifact, _ = served
    signature = TritonSignature.from_artifact(artifact)
    x = batch(2, seed=1)
    status, ctype, body = post(local.invocations_url, *codecs.encode_kserve_binary({"input__0": x}, signature=signature))
    assert status == 200, body
    size = codecs.header_size(ctype)
    assert size is not None and json.loads(body[:size])["outputs"][0]["parameters"]["binary_data_size"] == 2 * 10 * 4
    np.testing.assert_allclose(codecs.decode_response(body, ctype)["output__0"], reference(model_file, x),
                               rtol=1e-5, atol=1e-6)


def test_binary_request_can_ask_for_a_json_answer(served):
    local, model_file, _, _ = served
    x = batch(1, seed=2)
    body, ctype = codecs.encode_kserve_binary({"input__0": x}, outputs=["output__0"], binary_outputs=False)
    status, rtype, answer = post(local.invocations_url, body, ctype)
    assert status == 200 and rtype.startswith("application/json")
    np.testing.assert_allclose(codecs.decode_response(answer, rtype)["output__0"], reference(model_file, x),
                               rtol=1e-5, atol=1e-6)


def test_sixteen_concurrent_requests_all_answer_through_dynamic_batching(served):
    local, model_file, _, _ = served
    inputs = [batch(1 + i % 3, seed=100 + i) for i in range(16)]

    def call(x: np.ndarray) -> tuple[int, np.ndarray]:
        status, ctype, body = post(local.invocations_url, *codecs.encode_kserve_binary({"input__0": x}))
        return status, codecs.decode_response(body, ctype)["output__0"] if status == 200 else body

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, inputs))
    for x, (status, out) in zip(inputs, results, strict=True):
        assert status == 200, out
        np.testing.assert_allclose(out, reference(model_file, x), rtol=1e-5, atol=1e-6)


def _malformed() -> dict[str, tuple[bytes, str | None]]:
    good = batch(1)
    wrong_shape = {"inputs": [{"name": "input__0", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": [0.0] * 192}]}
    oversized = {"inputs": [{"name": "input__0", "shape": [9, 3, 16, 16], "datatype": "FP32",
                             "data": [0.0] * (9 * 3 * 16 * 16)}]}
    json_body, _ = codecs.encode_kserve_json({"input__0": good})
    binary_body, binary_type = codecs.encode_kserve_binary({"input__0": good})
    return {
        "wrong tensor shape": (json.dumps(wrong_shape).encode(), "application/json"),
        "wrong tensor name": (json_body.replace(b"input__0", b"INPUT__0"), "application/json"),
        "oversized batch (9 > max_batch_size 8)": (json.dumps(oversized).encode(), "application/json"),
        "header size beyond the body": (binary_body, f"{codecs.BINARY_PREFIX}{len(binary_body) + 10}"),
        "binary body shorter than its tensors": (binary_body[:-100], binary_type),
    }


def still_answers(local, model_file: Path) -> None:
    x = batch(1, seed=7)
    status, rtype, answer = post(local.invocations_url, *codecs.encode_kserve_json({"input__0": x}))
    assert status == 200
    np.testing.assert_allclose(codecs.decode_response(answer, rtype)["output__0"], reference(model_file, x),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", list(_malformed()))
def test_malformed_request_gets_4xx_with_a_message_and_the_server_still_answers(served, case):
    local, model_file, _, _ = served
    body, ctype = _malformed()[case]
    status, _, answer = post(local.invocations_url, body, ctype)
    assert 400 <= status < 500, (status, answer)
    assert json.loads(answer)["error"], answer
    still_answers(local, model_file)


UNPARSABLE = {
    "invalid JSON": (b'{"inputs": [', "application/json", "failed to parse the request JSON"),
    "wrong content type (CSV)": (b"1,2,3\n4,5,6", "text/csv", "failed to parse the request JSON"),
    "JSON without inputs": (b"{}", "application/json", "Unable to parse 'inputs'"),
}


@pytest.mark.parametrize("case", list(UNPARSABLE))
def test_unparsable_body_gets_500_with_the_parser_message_and_the_server_still_answers(served, case):
    # Triton's SageMaker route (2.44 here) answers a body it cannot parse as KServe JSON with 500, not 4xx,
    # whatever the Content-Type: it reads every non-binary body as JSON. The message says what is wrong.
    local, model_file, _, _ = served
    body, ctype, message = UNPARSABLE[case]
    status, _, answer = post(local.invocations_url, body, ctype)
    assert status == 500, (status, answer)
    assert message in json.loads(answer)["error"]
    still_answers(local, model_file)


def test_empty_body_is_answered_from_uninitialised_inputs_so_the_client_refuses_to_send_one(served):
    # Triton 2.44 runs a request with an empty body as if every input were present (uninitialised memory)
    # and answers 200 with whatever comes out: servekit's codec never sends an empty request.
    local, model_file, _, _ = served
    status, _, answer = post(local.invocations_url, b"", "application/json")
    assert status == 200, answer
    with pytest.raises(codecs.CodecError, match="no input tensors"):
        codecs.encode_kserve_json({})
    still_answers(local, model_file)


def test_archive_with_config_at_the_root_is_refused_like_the_container(tmp_path):
    (tmp_path / "config.pbtxt").write_text(CONFIG_PBTXT)
    with pytest.raises(triton.TritonLocalError, match="Incorrect directory structure"):
        triton.model_directories(tmp_path)


# ---------------------------------------------------------------------------------------------
# The bad-request corpus: what the real tritonserver (2.44) answers, as docs/triton.md lists it. Triton's
# own errors are {"error": "..."} (no "status": servekit has no handler in front of Triton). Where Triton
# answers 200 to a request that carries no tensor, servekit's client refuses to send it.
# ---------------------------------------------------------------------------------------------
def _corpus(tmp: Path) -> dict[str, tuple[bytes, str, dict[str, str], int, str | None]]:
    """case: (body, Content-Type, more headers, Triton's status, words of its error or None for a 200)"""
    import bad_requests as bad

    json_body, _ = codecs.encode_kserve_json({"input__0": batch(1)})
    binary, binary_type = codecs.encode_kserve_binary({"input__0": batch(1)})
    header = codecs.header_size(binary_type)
    tensor = {"name": "input__0", "shape": [1, 3, 16, 16], "datatype": "FP32"}
    return {
        "binary header size negative": (binary, f"{codecs.BINARY_PREFIX}-5", {}, 400, "should be in range"),
        "binary header size not a number": (binary, f"{codecs.BINARY_PREFIX}abc", {}, 200, None),
        "binary header size zero": (binary, f"{codecs.BINARY_PREFIX}0", {}, 200, None),
        "binary header size inside the JSON": (binary, f"{codecs.BINARY_PREFIX}{header - 10}", {}, 500,
                                               "failed to parse the request JSON"),
        "strings where numbers belong": (json.dumps({"inputs": [{**tensor, "data": ["a"] * 768}]}).encode(),
                                         "application/json", {}, 500, "non-number"),
        "NaN where numbers belong": (json.dumps({"inputs": [{**tensor, "data": [float("nan")] * 768}]}).encode(),
                                     "application/json", {}, 200, None),
        "deep nesting": (bad.deep_json(), "application/json", {}, 500, "Unable to parse 'inputs'"),
        "5 MB of the wrong shape": (bad.five_mb_json_of_the_wrong_shape(), "application/json", {}, 500,
                                    "Unable to parse 'inputs'"),
        "x-npy garbage": (bad.garbage_npy(), "application/x-npy", {}, 500, "failed to parse the request JSON"),
        "x-npy of pickled objects": (bad.pickled_npy(tmp / "unpickled"), "application/x-npy", {}, 500,
                                     "failed to parse the request JSON"),
        "Accept it cannot produce": (json_body, "application/json", {"Accept": "application/x-npy"}, 200, None),
    }


@pytest.mark.parametrize("case", list(_corpus(Path("."))))
def test_bad_request_gets_the_documented_status_and_the_server_still_answers(served, tmp_path, case):
    import bad_requests as bad

    local, model_file, _, _ = served
    body, ctype, headers, expected, words = _corpus(tmp_path)[case]
    status, rtype, answer = post_with(local.invocations_url, body, ctype, headers)
    assert status == expected, (status, answer[:300])
    if words is not None:
        assert words in bad.assert_clean_json_error(answer, status, status_field=False)["error"]
    elif case == "Accept it cannot produce":  # Triton ignores Accept: the answer is KServe JSON all the same
        assert rtype.startswith("application/json") and codecs.decode_response(answer, rtype)["output__0"].shape == (1, 10)
    else:  # 200 from a request that is no tensor (or NaN): servekit's client does not send the first kind
        if "NaN" not in case:
            assert codecs.request_problem(registry.get("triton"), body, ctype) is not None
    assert not (tmp_path / "unpickled").exists()
    assert urllib.request.urlopen(local.ping_url, timeout=30).status == 200
    still_answers(local, model_file)


def test_a_burst_of_64_concurrent_bad_requests_is_answered_and_the_server_still_answers(served, tmp_path):
    import bad_requests as bad

    local, model_file, _, _ = served
    corpus = [c for c in _corpus(tmp_path).values() if c[3] != 200]
    requests = [corpus[i % len(corpus)] for i in range(64)]
    results = bad.burst(lambda c: post_with(local.invocations_url, c[0], c[1], c[2])[0], requests)
    assert results == [c[3] for c in requests]
    assert urllib.request.urlopen(local.ping_url, timeout=30).status == 200
    still_answers(local, model_file)


def test_when_the_model_warms_up_and_caches_responses_then_the_real_tritonserver_loads_it_and_answers(tmp_path):
    """config.pbtxt as servekit renders it with model_warmup and response_cache (Triton's own proto), and the
    server's cache from tuning.response_cache_bytes (--cache-config through SAGEMAKER_TRITON_ADDITIONAL_ARGS, the
    wheel's local cache library): tritonserver refuses to load a warmup or cache it cannot honour."""
    from servekit.servers.triton import model_config

    artifact, model_file = build_artifact(tmp_path)
    endpoint = TritonEndpointSpec.model_validate({
        "server": "triton", "name": "tiny", "instance_type": "ml.g5.xlarge",
        "model": {
            "name": "tiny", "source": {"kind": "archive", "path": str(artifact)}, "max_batch_size": 8,
            "inputs": [{"name": "input__0", "data_type": "TYPE_FP32", "dims": [3, 16, 16]}],
            "outputs": [{"name": "output__0", "data_type": "TYPE_FP32", "dims": [10]}],
            "instance_group": {"kind": "KIND_GPU"},
            "warmup": {"batch_size": 2, "count": 3, "data": "random"}, "response_cache": True,
        },
        "tuning": {"log_verbose": False, "response_cache_bytes": 1 << 20},
    })
    (tmp_path / "src" / "tiny" / "config.pbtxt").write_text(model_config.render(endpoint.model))
    with tarfile.open(artifact, "w:gz") as tar:
        tar.add(tmp_path / "src" / "tiny", arcname="tiny")
    local = triton.start(endpoint, artifact, workdir=tmp_path / "work", progress=lambda _: None)
    try:
        signature = TritonSignature.from_artifact(artifact)
        x = batch(2, seed=3)
        for _ in range(2):  # the second is the same request: answered from the cache, with the same numbers
            status, ctype, body = post(local.invocations_url,
                                       *codecs.encode_kserve_binary({"input__0": x}, signature=signature))
            assert status == 200, body
            np.testing.assert_allclose(codecs.decode_response(body, ctype)["output__0"], reference(model_file, x),
                                       rtol=1e-5, atol=1e-6)
        served = (tmp_path / "work" / "model_repository" / "tiny" / "config.pbtxt").read_text()
        assert "model_warmup" in served and "response_cache" in served  # what tritonserver loaded
        # Without --cache-config Triton loads such a model too, silently uncached ("cache_enabled | 0" in its
        # option table): why servekit refuses model.response_cache without tuning.response_cache_bytes.
        log = (tmp_path / "work" / "tritonserver.log").read_text()
        assert re.search(r"\|\s*cache_enabled\s*\|\s*1\s*\|", log), "the server started without its cache"
    finally:
        local.stop()


@pytest.mark.parametrize(("policy", "answers"), [({}, 2), ({"version_policy_specific": [1]}, 1)],
                         ids=["all-versions", "specific-1"])
def test_when_a_model_has_two_versions_then_the_real_tritonserver_answers_with_the_newest_the_policy_serves(
        tmp_path, policy, answers):
    """Two versions of one model, built by servekit into one repository; a request without a version (as
    SageMaker's /invocations sends it) is answered by the newest version the policy serves."""
    import torch

    from servekit.model_build import build

    _, first = build_artifact(tmp_path / "one")
    _, second = build_artifact(tmp_path / "two")
    module = torch.jit.load(str(second))
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(-1.0)  # version 2 answers differently from version 1
    module.save(str(second))
    endpoint = TritonEndpointSpec.model_validate({
        "server": "triton", "name": "tiny", "instance_type": "ml.g5.xlarge",
        "model": {
            "name": "tiny", "source": {"kind": "torchscript", "path": str(first)}, "max_batch_size": 8,
            "inputs": [{"name": "input__0", "data_type": "TYPE_FP32", "dims": [3, 16, 16]}],
            "outputs": [{"name": "output__0", "data_type": "TYPE_FP32", "dims": [10]}],
            "more_versions": [{"version": 2, "source": {"kind": "torchscript", "path": str(second)}}], **policy,
        },
        "tuning": {"log_verbose": False},
    })
    artifact = build(endpoint, cache_dir=tmp_path / "cache")
    local = triton.start(endpoint, artifact.path, workdir=tmp_path / "work", progress=lambda _: None)
    try:
        signature = TritonSignature.from_artifact(artifact.path)
        x = batch(2, seed=5)
        status, ctype, body = post(local.invocations_url, *codecs.encode_kserve_binary({"input__0": x},
                                                                                       signature=signature))
        assert status == 200, body
        expected = reference(second if answers == 2 else first, x)
        np.testing.assert_allclose(codecs.decode_response(body, ctype)["output__0"], expected, rtol=1e-5, atol=1e-6)
    finally:
        local.stop()


ENSEMBLE_PBTXT = """name: "pipe"
platform: "ensemble"
max_batch_size: 8
input [ { name: "IMAGE" data_type: TYPE_FP32 dims: [3, 16, 16] } ]
output [ { name: "SCORES" data_type: TYPE_FP32 dims: [10] } ]
ensemble_scheduling { step [ { model_name: "tiny" model_version: -1
  input_map { key: "input__0" value: "IMAGE" } output_map { key: "output__0" value: "SCORES" } } ] }
"""


def test_when_the_default_model_is_an_ensemble_then_loading_it_loads_its_member_and_it_answers(tmp_path):
    """The serve script's flags (`--model-control-mode=explicit --load-model=<default model>`) name only the
    ensemble: the real tritonserver loads its member with it, so an ensemble needs no ADDITIONAL_ARGS. The
    groundwork for servekit-built ensembles (docs/triton.md)."""
    artifact, model_file = build_artifact(tmp_path)
    pipe = tmp_path / "src" / "pipe"
    (pipe / "1").mkdir(parents=True)
    (pipe / "config.pbtxt").write_text(ENSEMBLE_PBTXT)
    with tarfile.open(artifact, "w:gz") as tar:
        tar.add(tmp_path / "src" / "tiny", arcname="tiny")
        tar.add(pipe, arcname="pipe")
    endpoint = TritonEndpointSpec.model_validate({
        "server": "triton", "name": "pipe", "instance_type": "ml.g5.xlarge",
        "model": {"name": "pipe", "source": {"kind": "archive", "path": str(artifact)},
                  "inputs": [{"name": "IMAGE", "data_type": "TYPE_FP32", "dims": [3, 16, 16]}],
                  "outputs": [{"name": "SCORES", "data_type": "TYPE_FP32", "dims": [10]}]},
        "tuning": {"log_verbose": False},
    })
    local = triton.start(endpoint, artifact, workdir=tmp_path / "work", progress=lambda _: None)
    try:
        x = batch(1, seed=1)
        body = json.dumps({"inputs": [{"name": "IMAGE", "shape": [1, 3, 16, 16], "datatype": "FP32",
                                       "data": x.ravel().tolist()}]}).encode()
        status, _, answer = post(local.invocations_url, body, "application/json")
        assert status == 200, answer
        scores = np.array(json.loads(answer)["outputs"][0]["data"], dtype=np.float32).reshape(1, 10)
        np.testing.assert_allclose(scores, reference(model_file, x), rtol=1e-5, atol=1e-6)
        log = (tmp_path / "work" / "tritonserver.log").read_text()
        assert "::tiny'" in log and "::pipe'" in log  # both "successfully loaded"
    finally:
        local.stop()


@pytest.mark.parametrize("model_data", ["archive", "uncompressed"])
def test_when_servekit_builds_an_ensemble_then_the_real_tritonserver_runs_preprocessing_then_the_model(tmp_path,
                                                                                                     model_data):
    """A preprocessing member (a TorchScript normalisation made here) feeding the tiny CNN, built by servekit
    into one archive with the ensemble's config.pbtxt (Triton's proto) and served for real: the answer is the
    CNN's on the normalised image. Uncompressed, the same layout is a folder (what SageMaker copies from the S3
    prefix), and the ensemble's empty version folder holds servekit's marker file, which Triton ignores."""
    import torch

    from servekit.model_build import build

    _, cnn = build_artifact(tmp_path)

    class Normalize(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x - 0.5) / 0.25

    prep = tmp_path / "prep.pt"
    torch.jit.trace(Normalize(), torch.rand(2, 3, 16, 16)).save(str(prep))
    tensor = {"data_type": "TYPE_FP32", "dims": [3, 16, 16]}
    endpoint = TritonEndpointSpec.model_validate({
        "server": "triton", "name": "pipe", "instance_type": "ml.g5.xlarge",
        "model": {"name": "tiny", "source": {"kind": "torchscript", "path": str(cnn)}, "max_batch_size": 8,
                  "inputs": [{"name": "input__0", **tensor}],
                  "outputs": [{"name": "output__0", "data_type": "TYPE_FP32", "dims": [10]}]},
        "ensemble": {
            "name": "pipe",
            "members": [{"name": "prep", "source": {"kind": "torchscript", "path": str(prep)}, "max_batch_size": 8,
                         "inputs": [{"name": "input__0", **tensor}], "outputs": [{"name": "output__0", **tensor}]}],
            "inputs": [{"name": "IMAGE", **tensor}],
            "outputs": [{"name": "SCORES", "data_type": "TYPE_FP32", "dims": [10]}],
            "steps": [{"model": "prep", "input_map": {"input__0": "IMAGE"}, "output_map": {"output__0": "pixels"}},
                      {"model": "tiny", "input_map": {"input__0": "pixels"}, "output_map": {"output__0": "SCORES"}}],
        },
        "tuning": {"log_verbose": False},
        "model_data": model_data,
    })
    artifact = build(endpoint, cache_dir=tmp_path / "cache")
    if model_data == "archive":
        with tarfile.open(artifact.path) as tar:
            assert {"pipe/config.pbtxt", "pipe/1", "prep/1/model.pt", "tiny/1/model.pt"} <= set(tar.getnames())
    else:
        files = {p.relative_to(artifact.path).as_posix() for p in artifact.path.rglob("*") if p.is_file()}
        assert {"pipe/config.pbtxt", f"pipe/1/{KEEP_FILE}", "prep/1/model.pt", "tiny/1/model.pt"} <= files
    local = triton.start(endpoint, artifact.path, workdir=tmp_path / "work", progress=lambda _: None)
    try:
        signature = TritonSignature.from_artifact(artifact.path, "pipe")
        x = batch(2, seed=7)
        status, ctype, body = post(local.invocations_url, *codecs.encode_kserve_binary({"IMAGE": x},
                                                                                       signature=signature))
        assert status == 200, body
        np.testing.assert_allclose(codecs.decode_response(body, ctype)["SCORES"],
                                   reference(cnn, (x - 0.5) / 0.25), rtol=1e-4, atol=1e-5)
    finally:
        local.stop()
