"""The embedded default's image-classifier (TFS) and resnet (Triton) endpoints, built by model_build from
servekit.yaml and served locally: the very model.tar.gz that synth uploads answers /ping and /invocations,
every content type it supports answers what the model computes in this process, 16 concurrent requests all
answer, and malformed requests get what the real server gives them — then the server still answers.
(question-answering, the TorchServe example, is covered by test_local_torchserve.py.)

Where the real server does not answer a malformed request with a 4xx, the test asserts what it does answer
and that servekit's client side (`codecs.request_problem`, used by `servekit invoke`) refuses to send it:
- Triton 2.44: an empty body gets 200 (outputs from uninitialised inputs); a body that is not KServe JSON
  (invalid JSON, x-npy, CSV) gets 500 with the parser's message; a body over 6 MB is answered (200) locally,
  while SageMaker's InvokeEndpoint refuses it in the cloud;
- TFS: the container's python service answers every handler exception with 500 {"error": str(exception)},
  so servekit's handler names the status the client should have seen at the start of the message
  ("400: empty body", "415: ...", "TensorFlow Serving answered 400: ..."). The body limit (413) is the
  emulation standing in for InvokeEndpoint's 6 MB limit.
"""

from __future__ import annotations

import functools
import json
import os
import tarfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from servekit import codecs, config, registry
from servekit.model_build import build
from servekit.servers.tfs import local as tfs
from servekit.servers.triton import local as triton
from servekit.servers.triton.signature import TritonSignature

pytestmark = pytest.mark.integration
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[2]
HANDLER_SOURCE = (REPO / "servekit" / "servers" / "tfs" / "handlers" / "tfs_inference.py").read_bytes()


def endpoint(name: str):
    cfg = config.load(REPO / "servekit.yaml")
    return next(e for e in cfg.endpoints if e.name == name)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """One build of both examples into a fresh cache, as `servekit build` makes them."""
    cache = tmp_path_factory.mktemp("examples-cache")
    return {name: build(endpoint(name), cache_dir=cache).path for name in ("image-classifier", "resnet")}


def post(url: str, body: bytes, content_type: str | None, headers: dict[str, str] | None = None):
    all_headers = {**({"Content-Type": content_type} if content_type else {}), **(headers or {})}
    request = urllib.request.Request(url, data=body, headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def ping(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.status


def member(artifact: Path, name: str, dest: Path) -> Path:
    with tarfile.open(artifact) as tar:
        tar.extractall(dest, members=[m for m in tar.getmembers() if m.name.startswith(name)], filter="data")
    return dest / name


# =============================================================================================
# resnet on the real tritonserver
# =============================================================================================
def images_nchw(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, 224, 224), dtype=np.float32)


class TestResnetOnTriton:
    @pytest.fixture(scope="class")
    def served(self, built, tmp_path_factory):
        tmp = tmp_path_factory.mktemp("resnet")
        lines: list[str] = []
        local = triton.start(endpoint("resnet"), built["resnet"], workdir=tmp / "serve", progress=lines.append)
        try:
            yield local, lines
        finally:
            local.stop()

    @pytest.fixture(scope="class")
    def reference(self, built, tmp_path_factory):
        """The artifact's own resnet/1/model.pt, run here with torch."""
        import torch

        model = torch.jit.load(str(member(built["resnet"], "resnet/1/model.pt", tmp_path_factory.mktemp("ref"))))

        def run(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model(torch.from_numpy(x)).numpy()

        return run

    @pytest.fixture(scope="class")
    def signature(self, built):
        return TritonSignature.from_artifact(built["resnet"])

    def still_answers(self, served, reference) -> None:
        local, _ = served
        assert ping(local.ping_url) == 200
        x = images_nchw(1, seed=99)
        status, ctype, body = post(local.invocations_url, *codecs.encode_kserve_binary({"input__0": x}))
        assert status == 200, body
        np.testing.assert_allclose(codecs.decode_response(body, ctype)["output__0"], reference(x), rtol=1e-4, atol=1e-5)

    def test_ping_200_and_what_differs_from_the_cloud_is_said(self, served):
        local, lines = served
        assert ping(local.ping_url) == 200
        assert not local.emulated and local.startup_seconds > 0
        assert any("resnet: backend pytorch_libtorch runs as the python backend" in d for d in local.differences)
        assert any("differs from the cloud" in line for line in lines)

    def test_reference_outputs_depend_on_the_image(self, reference):
        # Otherwise comparing the server's answers with them would prove nothing.
        a, b = reference(images_nchw(1, seed=1)), reference(images_nchw(1, seed=2))
        assert np.abs(a - b).max() > 1e-3

    def test_kserve_json_answers_like_the_model_in_process(self, served, reference, signature):
        local, _ = served
        x = images_nchw(1, seed=3)
        body, ctype = codecs.encode_kserve_json({"input__0": x}, signature=signature)
        assert codecs.request_problem(registry.get("triton"), body, ctype) is None
        status, rtype, answer = post(local.invocations_url, body, ctype)
        assert status == 200 and rtype.startswith("application/json"), answer
        out = codecs.decode_response(answer, rtype)["output__0"]
        assert out.shape == (1, 10) and out.dtype == np.float32
        np.testing.assert_allclose(out, reference(x), rtol=1e-4, atol=1e-5)

    def test_binary_json_batch_answers_in_binary_like_the_model_in_process(self, served, reference, signature):
        local, _ = served
        x = images_nchw(8, seed=4)  # max_batch_size
        body, ctype = codecs.encode_kserve_binary({"input__0": x}, signature=signature)
        status, rtype, answer = post(local.invocations_url, body, ctype)
        assert status == 200 and codecs.header_size(rtype) is not None, answer
        np.testing.assert_allclose(codecs.decode_response(answer, rtype)["output__0"], reference(x),
                                   rtol=1e-4, atol=1e-5)

    def test_binary_request_asking_for_json_outputs_gets_json(self, served, reference, signature):
        local, _ = served
        x = images_nchw(2, seed=5)
        body, ctype = codecs.encode_kserve_binary({"input__0": x}, signature=signature, outputs=["output__0"],
                                                  binary_outputs=False)
        status, rtype, answer = post(local.invocations_url, body, ctype)
        assert status == 200 and rtype.startswith("application/json"), answer
        np.testing.assert_allclose(codecs.decode_response(answer, rtype)["output__0"], reference(x),
                                   rtol=1e-4, atol=1e-5)

    def test_sixteen_concurrent_requests_all_answer(self, served, reference, signature):
        local, _ = served
        inputs = [images_nchw(1 + i % 2, seed=100 + i) for i in range(16)]

        def call(x: np.ndarray):
            status, ctype, body = post(local.invocations_url,
                                       *codecs.encode_kserve_binary({"input__0": x}, signature=signature))
            return status, (codecs.decode_response(body, ctype)["output__0"] if status == 200 else body)

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(call, inputs))
        assert [status for status, _ in results] == [200] * 16
        for x, (_, out) in zip(inputs, results, strict=True):
            np.testing.assert_allclose(out, reference(x), rtol=1e-4, atol=1e-5)

    @staticmethod
    @functools.cache
    def four_xx() -> dict[str, tuple[bytes, str, str]]:
        one = images_nchw(1, seed=6)
        json_body, _ = codecs.encode_kserve_json({"input__0": one})
        small = {"inputs": [{"name": "input__0", "shape": [1, 3, 32, 32], "datatype": "FP32", "data": [0.5] * 3072}]}
        ints = {"inputs": [{"name": "input__0", "shape": [1, 3, 224, 224], "datatype": "INT64",
                            "data": [0] * (3 * 224 * 224)}]}
        nine, nine_type = codecs.encode_kserve_binary({"input__0": np.zeros((9, 3, 224, 224), np.float32)})
        binary, binary_type = codecs.encode_kserve_binary({"input__0": one})
        return {
            "wrong tensor shape": (json.dumps(small).encode(), "application/json", "unexpected shape"),
            "wrong tensor name": (json_body.replace(b"input__0", b"INPUT__0"), "application/json", "INPUT__0"),
            "wrong datatype": (json.dumps(ints).encode(), "application/json", "expects 'FP32'"),
            "oversized batch (9 > max_batch_size 8)": (nine, nine_type, "batch-size must be <= 8"),
            "binary body shorter than its tensors": (binary[:-1000], binary_type, "unexpected"),
        }

    @pytest.mark.parametrize("case", list(four_xx.__func__()))
    def test_malformed_request_gets_400_with_a_message_and_the_server_still_answers(self, served, reference, case):
        local, _ = served
        body, ctype, words = self.four_xx()[case]
        status, _, answer = post(local.invocations_url, body, ctype)
        assert status == 400, (status, answer[:300])
        assert words in json.loads(answer)["error"]
        self.still_answers(served, reference)

    @staticmethod
    @functools.cache
    def not_four_xx() -> dict[str, tuple[bytes, str | None, int, str | None, str]]:
        """case: (body, content type, Triton's status, words of its error or None, words of the client's refusal)"""
        big, big_type = codecs.encode_kserve_json({"input__0": images_nchw(3, seed=7)})
        return {
            "empty body": (b"", "application/json", 200, None, "empty body"),
            "invalid JSON": (b'{"inputs": [', "application/json", 500, "failed to parse the request JSON",
                             "not a KServe request"),
            "wrong content type (x-npy)": (codecs.encode_npy(images_nchw(1, seed=8))[0], "application/x-npy", 500,
                                           "failed to parse the request JSON", "reads every non-binary body"),
            "JSON without inputs": (b"{}", "application/json", 500, "Unable to parse 'inputs'", 'no "inputs" list'),
            "oversized body (KServe JSON over 6 MB)": (big, big_type, 200, None, "over the 6291456 bytes"),
        }

    @pytest.mark.parametrize("case", list(not_four_xx.__func__()))
    def test_where_triton_does_not_answer_4xx_it_is_asserted_and_the_client_refuses_to_send(
        self, served, reference, case
    ):
        local, _ = served
        body, ctype, expected, words, refusal = self.not_four_xx()[case]
        status, rtype, answer = post(local.invocations_url, body, ctype)
        assert status == expected, (status, answer[:300])
        if words is not None:
            assert words in json.loads(answer)["error"]
        else:  # 200: Triton computed something (for the empty body, from memory it never received)
            assert codecs.decode_response(answer, rtype)["output__0"].shape[1:] == (10,)
        problem = codecs.request_problem(registry.get("triton"), body, ctype)
        assert problem is not None and refusal in problem
        self.still_answers(served, reference)


class TestPreprocessingEnsembleFeedingTheDefaultResnet:
    """The embedded default's resnet behind a preprocessing model, as a Triton ensemble servekit builds: raw
    uint8 pixels (HWC, as a camera or a decoded JPEG gives them) go in, the member turns them into the float
    CHW tensor in [0, 1] the ResNet reads, and the ResNet answers, in the real tritonserver, archive and
    uncompressed alike. The preprocessing model is a TorchScript made here."""

    @pytest.fixture(scope="class")
    def pipeline(self, tmp_path_factory):
        import torch

        tmp = tmp_path_factory.mktemp("pipeline")

        class ToTensor(torch.nn.Module):
            def forward(self, pixels: torch.Tensor) -> torch.Tensor:
                return pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0

        prep = tmp / "to_tensor.pt"
        torch.jit.trace(ToTensor(), torch.zeros(1, 224, 224, 3, dtype=torch.uint8)).save(str(prep))
        default = endpoint("resnet")
        block = {
            "name": "pipeline",
            "members": [{"name": "to_tensor", "source": {"kind": "torchscript", "path": str(prep)},
                         "max_batch_size": 8,
                         "inputs": [{"name": "input__0", "data_type": "TYPE_UINT8", "dims": [224, 224, 3]}],
                         "outputs": [{"name": "output__0", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}]}],
            "inputs": [{"name": "PIXELS", "data_type": "TYPE_UINT8", "dims": [224, 224, 3]}],
            "outputs": [{"name": "SCORES", "data_type": "TYPE_FP32", "dims": [10]}],
            "steps": [{"model": "to_tensor", "input_map": {"input__0": "PIXELS"}, "output_map": {"output__0": "x"}},
                      {"model": "resnet", "input_map": {"input__0": "x"}, "output_map": {"output__0": "SCORES"}}],
        }
        return tmp, {"ensemble": block, **{k: v for k, v in default.model_dump().items() if k != "ensemble"}}

    @pytest.mark.parametrize("model_data", ["archive", "uncompressed"])
    def test_raw_pixels_through_the_ensemble_answer_as_the_resnet_on_the_scaled_image(self, pipeline, model_data,
                                                                                     built, tmp_path):
        import torch

        tmp, spec = pipeline
        ep = config.TritonEndpointSpec.model_validate({**spec, "model_data": model_data})
        artifact = build(ep, cache_dir=tmp / "cache")
        assert artifact.path.is_dir() == (model_data == "uncompressed")
        resnet = torch.jit.load(str(member(built["resnet"], "resnet/1/model.pt", tmp_path / "ref")))
        pixels = np.random.default_rng(5).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
        with torch.inference_mode():
            expected = resnet(torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0).numpy()
        local = triton.start(ep, artifact.path, workdir=tmp_path / "serve", progress=lambda _: None)
        try:
            signature = TritonSignature.from_artifact(artifact.path, "pipeline")
            status, ctype, body = post(local.invocations_url,
                                       *codecs.encode_kserve_binary({"PIXELS": pixels}, signature=signature))
            assert status == 200, body
            np.testing.assert_allclose(codecs.decode_response(body, ctype)["SCORES"], expected, rtol=1e-4, atol=1e-5)
        finally:
            local.stop()


# =============================================================================================
# image-classifier in the TFS emulation, with servekit/servers/tfs/handlers/tfs_inference.py as code/inference.py
# =============================================================================================
def images_nhwc(n: int, seed: int) -> np.ndarray:
    """Tinted noise in whole pixel values 0..255 (JSON stays ~1 MB per image, under InvokeEndpoint's 6 MB for
    3 images). The tint makes the example's near-uniform probabilities differ between images by ~1e-5."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (n, 224, 224, 3))
    return (noise * rng.uniform(0.0, 1.0, (n, 1, 1, 3))).round().astype(np.float32)




class TestImageClassifierOnTfsEmulation:
    @pytest.fixture(scope="class")
    def rest(self, built, tmp_path_factory):
        """The artifact with the handler on REST (the container's own path; the embedded default uses gRPC)."""
        tmp = tmp_path_factory.mktemp("classifier-rest")
        lines: list[str] = []
        classifier = endpoint("image-classifier")
        classifier = classifier.model_copy(update={"tuning": classifier.tuning.model_copy(
            update={"handler_protocol": "rest"})})
        local = tfs.start(classifier, built["image-classifier"], workdir=tmp / "serve", progress=lines.append)
        try:
            yield local, lines
        finally:
            local.stop()

    @pytest.fixture(scope="class")
    def grpc(self, built, tmp_path_factory):
        """The embedded default: the handler on gRPC by the endpoint's tuning.handler_protocol, which becomes
        the model's SAGEMAKER_TFS_HANDLER_PROTOCOL in the cloud and the server's environment here."""
        tmp = tmp_path_factory.mktemp("classifier-grpc")
        lines: list[str] = []
        classifier = endpoint("image-classifier")
        assert classifier.tuning.handler_protocol == "grpc"
        local = tfs.start(classifier, built["image-classifier"], workdir=tmp / "serve", progress=lines.append)
        try:
            yield local, lines
        finally:
            local.stop()

    @pytest.fixture(scope="class")
    def reference(self, built, tmp_path_factory):
        """The artifact's own efficientnetv2/1 SavedModel, run here with TensorFlow."""
        import tensorflow as tf

        path = member(built["image-classifier"], "efficientnetv2/1", tmp_path_factory.mktemp("ref"))
        fn = tf.saved_model.load(str(path)).signatures["serving_default"]
        return lambda x: fn(input=tf.constant(x))["probabilities"].numpy()

    @staticmethod
    def close(answer: bytes | list | np.ndarray, expected: np.ndarray) -> None:
        got = np.asarray(json.loads(answer)["predictions"] if isinstance(answer, bytes) else answer, np.float32)
        np.testing.assert_allclose(got, expected, rtol=0, atol=5e-7)

    def still_answers(self, local, reference) -> None:
        assert ping(local.ping_url) == 200
        x = images_nhwc(1, seed=99)
        status, _, answer = post(local.invocations_url, *codecs.encode_npy(x))
        assert status == 200, answer
        self.close(answer, reference(x))

    def test_the_served_artifact_carries_the_projects_handler(self, rest):
        local, _ = rest
        assert (local.server.cwd / "model" / "code" / "inference.py").read_bytes() == HANDLER_SOURCE

    def test_ping_200_and_everything_says_emulation(self, rest):
        local, lines = rest
        with urllib.request.urlopen(local.ping_url, timeout=60) as response:
            assert response.status == 200 and response.headers["X-Servekit-Emulation"] == "tfs"
        assert local.emulated and any("emulated" in d for d in local.differences)
        assert any("not batched" in d for d in local.differences)  # the example sets enable_batching: true
        assert any("EMULATION" in line for line in lines)

    def test_reference_outputs_depend_on_the_image(self, reference):
        # The example's random weights give near-uniform probabilities (about 0.1 each): the answers are
        # compared to 5e-7, and images must differ by far more than that, or the comparison would prove nothing.
        out = reference(images_nhwc(2, seed=1))
        assert np.abs(out[0] - out[1]).max() > 1e-5

    def test_each_content_type_answers_like_the_model_in_process(self, rest, reference):
        local, _ = rest
        x = images_nhwc(2, seed=2)
        expected = reference(x)
        bodies = {
            "json instances": codecs.encode_json({"instances": x}),
            "json inputs (columnar)": codecs.encode_json({"inputs": x}),
            "json bare list": codecs.encode_json(x),
            "jsonlines": ("\n".join(json.dumps(row) for row in x.tolist()).encode(), "application/jsonlines"),
            "x-npy": codecs.encode_npy(x),
        }
        for case, (body, ctype) in bodies.items():
            assert codecs.request_problem(registry.get("tfs"), body, ctype) is None, case
            status, rtype, answer = post(local.invocations_url, body, ctype)
            assert status == 200 and rtype == "application/json", (case, answer[:300])
            key = "outputs" if case.startswith("json inputs") else "predictions"
            self.close(json.dumps({"predictions": json.loads(answer)[key]}).encode(), expected)

    def test_accept_x_npy_and_jsonlines_are_answered_in_kind(self, rest, reference):
        local, _ = rest
        x = images_nhwc(3, seed=3)
        status, rtype, answer = post(local.invocations_url, *codecs.encode_npy(x), {"Accept": "application/x-npy"})
        assert status == 200 and rtype == "application/x-npy"
        self.close(codecs.decode_response(answer, rtype), reference(x))
        status, rtype, answer = post(local.invocations_url, *codecs.encode_npy(x), {"Accept": "application/jsonlines"})
        assert status == 200 and rtype == "application/jsonlines"
        self.close([json.loads(line) for line in answer.decode().splitlines()], reference(x))

    def test_custom_attributes_route_to_model_and_version(self, rest, reference):
        local, _ = rest
        x = images_nhwc(1, seed=4)
        status, _, answer = post(local.invocations_url, *codecs.encode_npy(x),
                                 {tfs.CUSTOM_ATTRIBUTES: "tfs-model-name=efficientnetv2,tfs-model-version=1"})
        assert status == 200, answer
        self.close(answer, reference(x))
        status, _, answer = post(local.invocations_url, *codecs.encode_npy(x),
                                 {tfs.CUSTOM_ATTRIBUTES: "tfs-model-name=missing"})
        assert status == 500 and "TensorFlow Serving answered 404" in json.loads(answer)["error"]

    def test_sixteen_concurrent_requests_all_answer(self, rest, reference):
        local, _ = rest
        inputs = [images_nhwc(1 + i % 2, seed=200 + i) for i in range(16)]
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda x: post(local.invocations_url, *codecs.encode_npy(x)), inputs))
        assert [status for status, _, _ in results] == [200] * 16
        for x, (_, _, answer) in zip(inputs, results, strict=True):
            self.close(answer, reference(x))

    @staticmethod
    @functools.cache
    def malformed() -> dict[str, tuple[bytes, str, int, str, bool]]:
        """case: (body, content type, status, start of the error message, refused by the client)"""
        flat_row = ",".join(str(int(v)) for v in images_nhwc(1, seed=5).ravel()).encode()
        return {
            "empty body": (b"", "application/json", 500, "400: empty body", True),
            "wrong content type": (b"\x00\x01", "application/octet-stream", 500, "415: Content-Type", True),
            "invalid JSON": (b'{"instances": [[1.0', "application/json", 500, "400: body is not valid JSON", True),
            "invalid x-npy": (b"\x93NUMPY garbage", "application/x-npy", 500, "400: body is not a valid .npy", True),
            "wrong tensor shape": (codecs.encode_npy(np.zeros((1, 32, 32, 3), np.float32))[0], "application/x-npy",
                                   500, "TensorFlow Serving answered 400: input 'input': shape [1, 32, 32, 3]",
                                   False),
            # text/csv carries one flat numeric row per instance: an image model cannot take it.
            "CSV row for an image model": (flat_row, "text/csv", 500,
                                           "TensorFlow Serving answered 400: input 'input': shape [1, 150528]", False),
            "unsupported Accept": (codecs.encode_npy(images_nhwc(1, seed=6))[0], "application/x-npy", 500,
                                   "406: Accept", False),
            "oversized (over InvokeEndpoint's 6 MB)": (codecs.encode_npy(images_nhwc(11, seed=7))[0],
                                                       "application/x-npy", 413, "request body over 6291456", True),
        }

    @pytest.mark.parametrize("case", list(malformed.__func__()))
    def test_malformed_request_is_answered_as_the_container_would_and_the_server_still_answers(
        self, rest, reference, case
    ):
        local, _ = rest
        body, ctype, expected, message, refused = self.malformed()[case]
        headers = {"Accept": "text/html"} if case == "unsupported Accept" else None
        status, rtype, answer = post(local.invocations_url, body, ctype, headers)
        assert status == expected and rtype == "application/json", (status, answer[:300])
        assert json.loads(answer)["error"].startswith(message), answer[:300]
        assert (codecs.request_problem(registry.get("tfs"), body, ctype) is not None) == refused
        self.still_answers(local, reference)

    # --- the handler's gRPC path (SAGEMAKER_TFS_HANDLER_PROTOCOL=grpc) --------------------------
    def test_grpc_tuning_reaches_the_handler_as_the_cloud_model_gets_it(self, grpc):
        local, _ = grpc
        assert local.server.env["SAGEMAKER_TFS_HANDLER_PROTOCOL"] == "grpc"
        assert not any("extra environment" in d for d in local.differences)  # it is the config's, not an extra

    @pytest.mark.parametrize("key", ["instances", "inputs"])
    def test_a_json_request_is_answered_identically_over_rest_and_grpc(self, rest, grpc, reference, key):
        x = images_nhwc(2, seed=8)
        body, ctype = codecs.encode_json({key: x})
        over_rest = post(rest[0].invocations_url, body, ctype)
        over_grpc = post(grpc[0].invocations_url, body, ctype)
        assert over_rest[0] == over_grpc[0] == 200
        assert over_rest[1] == over_grpc[1] == "application/json"
        assert over_grpc[2] == over_rest[2]  # byte for byte
        answer_key = "predictions" if key == "instances" else "outputs"
        self.close(json.dumps({"predictions": json.loads(over_grpc[2])[answer_key]}).encode(), reference(x))
        # The gRPC server's handler never called the REST API; the REST one did.
        assert ":predict" not in grpc[0].server.log_path.read_text()
        assert "POST /v1/models/efficientnetv2:predict" in rest[0].server.log_path.read_text()

    def test_grpc_path_answers_x_npy_and_passes_tfs_errors_with_the_grpc_code(self, grpc, reference):
        local, _ = grpc
        x = images_nhwc(3, seed=9)
        status, rtype, answer = post(local.invocations_url, *codecs.encode_npy(x), {"Accept": "application/x-npy"})
        assert status == 200 and rtype == "application/x-npy"
        self.close(codecs.decode_npy(answer), reference(x))
        status, _, answer = post(local.invocations_url, *codecs.encode_npy(np.zeros((1, 32, 32, 3), np.float32)))
        assert status == 500
        assert json.loads(answer)["error"].startswith("TensorFlow Serving answered 400: input 'input': shape")
        assert "(gRPC INVALID_ARGUMENT)" in json.loads(answer)["error"]
        self.still_answers(local, reference)

    def test_grpc_path_serves_sixteen_concurrent_requests_over_one_channel(self, grpc, reference):
        local, _ = grpc
        inputs = [images_nhwc(1, seed=300 + i) for i in range(16)]
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda x: post(local.invocations_url, *codecs.encode_json(x)), inputs))
        assert [status for status, _, _ in results] == [200] * 16
        for x, (_, _, answer) in zip(inputs, results, strict=True):
            self.close(answer, reference(x))
