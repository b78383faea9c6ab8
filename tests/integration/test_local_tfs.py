"""The TFS artifact served by servekit's TFS emulation (TensorFlow behind the TFS REST/gRPC APIs and the
SageMaker contract) on loopback."""

from __future__ import annotations

import json
import os
import tarfile
import textwrap
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from servekit import codecs
from servekit.config import TfsEndpointSpec
from servekit.servers.tfs import front as tfs_front
from servekit.servers.tfs import local as tfs

pytestmark = pytest.mark.integration
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HANDLER = textwrap.dedent('''
    """A tiny TFS handler: JSON through the REST uri, x-npy through the gRPC channel."""
    import io
    import json

    import numpy as np
    import requests


    def handler(data, context):
        body = data.read()
        if context.request_content_type == "application/x-npy":
            import tensorflow as tf
            from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

            request = predict_pb2.PredictRequest()
            request.model_spec.name = context.model_name or "tiny"
            request.inputs["features"].CopyFrom(tf.make_tensor_proto(np.load(io.BytesIO(body))))
            stub = prediction_service_pb2_grpc.PredictionServiceStub(context.channel)
            result = stub.Predict(request, timeout=30)
            predictions = tf.make_ndarray(result.outputs["output_0"]).tolist()
            path = "grpc"
        elif context.request_content_type == "application/json":
            response = requests.post(context.rest_uri, data=json.dumps({"instances": json.loads(body)}))
            if response.status_code != 200:
                raise ValueError(response.json()["error"])
            predictions = response.json()["predictions"]
            path = "rest"
        else:
            raise ValueError("unsupported content type " + context.request_content_type)
        return json.dumps({"predictions": predictions, "path": path, "context": {
            "model_name": context.model_name, "model_version": context.model_version, "method": context.method,
            "rest_uri": context.rest_uri, "grpc_port": context.grpc_port,
            "custom_attributes": context.custom_attributes, "accept": context.accept_header,
            "content_type": context.request_content_type, "content_length": context.content_length,
        }}), "application/json"
''')


def export(seed: int, out: Path) -> None:
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    model.export(str(out), verbose=False)


def build_artifact(tmp: Path, handler: str | None) -> Path:
    """tiny/1 plus other/1 and other/2 (different weights), and optionally code/inference.py, at the root."""
    root = tmp / "src"
    for name, version, seed in (("tiny", 1, 0), ("other", 1, 1), ("other", 2, 2)):
        if not (tmp.parent / "models" / name / str(version)).exists():
            export(seed, tmp.parent / "models" / name / str(version))
    with tarfile.open(tmp / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp.parent / "models", arcname=".")
        if handler is not None:
            (root / "code").mkdir(parents=True)
            (root / "code" / "inference.py").write_text(handler)
            tar.add(root / "code", arcname="code")
    return tmp / "model.tar.gz"


def predict(name: str, version: int, x: np.ndarray, models: Path) -> np.ndarray:
    import tensorflow as tf

    fn = tf.saved_model.load(str(models / name / str(version))).signatures["serving_default"]
    return fn(features=tf.constant(x))["output_0"].numpy()


ENDPOINT = {"server": "tfs", "name": "tiny", "instance_type": "ml.c5.xlarge", "default_model": "tiny",
            "models": [{"name": "tiny", "source": {"kind": "saved_model", "path": "/unused"}},
                       {"name": "other", "source": {"kind": "saved_model", "path": "/unused"}}],
            "tuning": {"enable_batching": True}}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tfs")


def _serve(workspace: Path, kind: str, handler: str | None):
    tmp = workspace / kind
    tmp.mkdir()
    artifact = build_artifact(tmp, handler)
    lines: list[str] = []
    local = tfs.start(TfsEndpointSpec.model_validate(ENDPOINT), artifact, workdir=tmp / "work", progress=lines.append)
    return local, lines


@pytest.fixture(scope="module")
def plain(workspace):
    local, lines = _serve(workspace, "plain", None)
    try:
        yield local, lines, workspace / "models"
    finally:
        local.stop()


@pytest.fixture(scope="module")
def with_handler(workspace, plain):
    local, lines = _serve(workspace, "handler", HANDLER)
    try:
        yield local, lines, workspace / "models"
    finally:
        local.stop()


def post(url: str, body: bytes, content_type: str | None, headers: dict[str, str] | None = None):
    all_headers = {**({"Content-Type": content_type} if content_type else {}), **(headers or {})}
    request = urllib.request.Request(url, data=body, headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 4), dtype=np.float32)


def close(answer: bytes, expected: np.ndarray) -> None:
    np.testing.assert_allclose(np.array(json.loads(answer)["predictions"], np.float32), expected,
                               rtol=1e-5, atol=1e-6)


def arg(local, flag: str) -> int:
    command = list(local.server.command)
    return int(command[command.index(flag) + 1])


# --- labelled as an emulation -----------------------------------------------------------------------
def test_ping_answers_200_and_everything_says_emulation(plain):
    local, lines, _ = plain
    with urllib.request.urlopen(local.ping_url, timeout=60) as response:
        assert response.status == 200
        assert response.headers["X-Servekit-Emulation"] == "tfs"
    assert local.emulated
    assert any("emulated" in d for d in local.differences)
    assert any("not batched" in d for d in local.differences)
    assert any("EMULATION" in line for line in lines)
    assert "EMULATION" in local.server.log_path.read_text()


# --- without handler code: the nginx conversions ---------------------------------------------------
def test_json_instances_answer_like_the_in_process_model(plain):
    local, _, models = plain
    x = rows(3)
    status, ctype, body = post(local.invocations_url, *codecs.encode_json({"instances": x}))
    assert status == 200 and ctype == "application/json", body
    close(body, predict("tiny", 1, x, models))


def test_bare_json_list_jsonlines_and_csv_become_instances(plain):
    local, _, models = plain
    x = rows(2, seed=3)
    expected = predict("tiny", 1, x, models)
    bare = json.dumps(x.tolist()).encode()
    lines = "\n".join(json.dumps(r) for r in x.tolist()).encode()
    csv = "\n".join(",".join(repr(float(v)) for v in r) for r in x.tolist()).encode()
    for body, ctype in ((bare, "application/json"), (lines, "application/jsonlines"), (csv, "text/csv")):
        status, _, answer = post(local.invocations_url, body, ctype)
        assert status == 200, (ctype, answer)
        close(answer, expected)


def test_custom_attributes_route_to_model_and_version(plain):
    local, _, models = plain
    x = rows(2, seed=4)
    for attributes, (name, version) in {
        "tfs-model-name=other": ("other", 2),  # latest version
        "tfs-model-name=other,tfs-model-version=1": ("other", 1),
        "tfs-model-name=other,tfs-model-version=2,tfs-method=predict": ("other", 2),
    }.items():
        status, _, answer = post(local.invocations_url, *codecs.encode_json({"instances": x}),
                                 headers={tfs.CUSTOM_ATTRIBUTES: attributes})
        assert status == 200, answer
        close(answer, predict(name, version, x, models))


def test_sixteen_concurrent_requests_all_answer(plain):
    local, _, models = plain
    inputs = [rows(1 + i % 4, seed=50 + i) for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda x: post(local.invocations_url, *codecs.encode_json({"instances": x})), inputs))
    for x, (status, _, answer) in zip(inputs, results, strict=True):
        assert status == 200, answer
        close(answer, predict("tiny", 1, x, models))


MALFORMED = {
    "empty body": (b"", "application/json", 400),
    "wrong content type": (b"\x93NUMPY", "application/x-npy", 415),
    "no content type": (b"[1, 2, 3, 4]", None, 415),
    "wrong tensor shape": (b'{"instances": [[1.0, 2.0, 3.0]]}', "application/json", 400),
    "invalid JSON": (b'{"instances": [[1.0, 2.0', "application/json", 400),
    "unknown model": (b"[1, 2, 3, 4]", "application/json", 404),
    "oversized": (b"[" + b"0.5," * (2 * 1024 * 1024) + b"0.5]", "application/json", 413),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_gets_4xx_with_a_message_and_the_server_still_answers(plain, case):
    local, _, models = plain
    body, ctype, expected = MALFORMED[case]
    headers = {tfs.CUSTOM_ATTRIBUTES: "tfs-model-name=missing"} if case == "unknown model" else None
    status, _, answer = post(local.invocations_url, body, ctype, headers)
    assert status == expected, answer
    assert json.loads(answer)["error"]
    x = rows(1, seed=9)
    status, _, answer = post(local.invocations_url, *codecs.encode_json({"instances": x}))
    assert status == 200
    close(answer, predict("tiny", 1, x, models))


# --- the TFS APIs behind it ------------------------------------------------------------------------
def test_tfs_rest_api_answers_status_metadata_and_columnar_predict(plain):
    local, _, models = plain
    rest = f"http://127.0.0.1:{arg(local, '--rest-port')}/v1/models"
    with urllib.request.urlopen(f"{rest}/other", timeout=60) as response:
        versions = json.loads(response.read())["model_version_status"]
    assert sorted(v["version"] for v in versions) == ["1", "2"] and {v["state"] for v in versions} == {"AVAILABLE"}
    with urllib.request.urlopen(f"{rest}/tiny/metadata", timeout=60) as response:
        meta = json.loads(response.read())
    assert "features" in meta["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
    x = rows(2, seed=5)
    status, _, answer = post(f"{rest}/other/versions/1:predict", *codecs.encode_json({"inputs": {"features": x}}))
    assert status == 200, answer
    np.testing.assert_allclose(json.loads(answer)["outputs"], predict("other", 1, x, models), rtol=1e-5, atol=1e-6)


def test_tfs_grpc_prediction_service_answers_predict_and_status(plain):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import (
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )

    local, _, models = plain
    x = rows(3, seed=6)
    with grpc.insecure_channel(f"127.0.0.1:{arg(local, '--grpc-port')}") as channel:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "other"
        request.model_spec.version.value = 1
        request.inputs["features"].CopyFrom(tf.make_tensor_proto(x))
        result = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
        np.testing.assert_allclose(tf.make_ndarray(result.outputs["output_0"]), predict("other", 1, x, models),
                                   rtol=1e-5, atol=1e-6)
        assert result.model_spec.version.value == 1
        bad = predict_pb2.PredictRequest()
        bad.model_spec.name = "tiny"
        bad.inputs["features"].CopyFrom(tf.make_tensor_proto(np.zeros((1, 3), np.float32)))
        with pytest.raises(grpc.RpcError) as err:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(bad, timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "shape" in err.value.details()
        status_request = get_model_status_pb2.GetModelStatusRequest()
        status_request.model_spec.name = "other"
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request, timeout=30)
        assert sorted(s.version for s in status.model_version_status) == [1, 2]


# --- with code/inference.py: the python service -----------------------------------------------------
def test_handler_gets_the_containers_context_and_answers_over_rest(with_handler):
    local, _, models = with_handler
    x = rows(2, seed=7)
    body = json.dumps(x.tolist()).encode()
    attributes = "tfs-model-name=other,tfs-model-version=1,tfs-method=predict"
    status, ctype, answer = post(local.invocations_url, body, "application/json",
                                 {tfs.CUSTOM_ATTRIBUTES: attributes, "Accept": "application/json"})
    assert status == 200 and ctype == "application/json", answer
    result = json.loads(answer)
    assert result["path"] == "rest"
    close(answer, predict("other", 1, x, models))
    context = result["context"]
    assert context["model_name"] == "other" and context["model_version"] == "1" and context["method"] == "predict"
    assert context["rest_uri"].endswith("/v1/models/other/versions/1:predict")
    assert context["custom_attributes"] == attributes
    assert context["content_type"] == "application/json" and context["content_length"] == len(body)
    assert int(context["grpc_port"]) == arg(local, "--grpc-port")


def test_handler_without_attributes_uses_the_default_model(with_handler):
    local, _, models = with_handler
    x = rows(1, seed=8)
    status, _, answer = post(local.invocations_url, json.dumps(x.tolist()).encode(), "application/json")
    assert status == 200, answer
    context = json.loads(answer)["context"]
    assert context["model_name"] is None and context["rest_uri"].endswith("/v1/models/tiny:predict")
    close(answer, predict("tiny", 1, x, models))


def test_handler_reaches_tfs_over_the_grpc_channel(with_handler):
    local, _, models = with_handler
    x = rows(2, seed=10)
    status, _, answer = post(local.invocations_url, *codecs.encode_npy(x))
    assert status == 200, answer
    assert json.loads(answer)["path"] == "grpc"
    close(answer, predict("tiny", 1, x, models))


def test_handler_errors_are_500_with_the_message_as_in_the_python_service(with_handler):
    # python_service.py sets 200, calls the handler, and turns any exception into 500 {"error": str(e)}:
    # a handler cannot answer 4xx in the real container either.
    local, _, models = with_handler
    for body, ctype, message in ((b"a,b", "text/csv", "unsupported content type text/csv"),
                                 (b"[[1.0, 2.0]]", "application/json", "shape")):
        status, _, answer = post(local.invocations_url, body, ctype)
        assert status == 500 and message in json.loads(answer)["error"], answer
    status, _, answer = post(local.invocations_url, json.dumps(rows(1).tolist()).encode(), "application/json")
    assert status == 200


def test_input_and_output_handler_pair_is_wired_through_the_rest_uri(tmp_path, plain):
    local, _, models = plain
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(textwrap.dedent('''
        import json
        def input_handler(data, context):
            return json.dumps({"instances": json.loads(data.read())})
        def output_handler(response, context):
            return response.content, "application/json"
    '''))
    handler = tfs_front.load_handler(tmp_path)
    x = rows(2, seed=11)
    rest_uri = f"http://localhost:{arg(local, '--rest-port')}/v1/models/tiny:predict"
    context = tfs.Context("tiny", None, None, rest_uri, "0", None, None, "application/json", "application/json", 0)
    import io

    body, ctype = handler(io.BytesIO(json.dumps(x.tolist()).encode()), context)
    assert ctype == "application/json"
    close(body, predict("tiny", 1, x, models))


def test_handler_module_without_handler_functions_fails_like_the_container(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("def input_handler(data, context):\n    return data\n")
    with pytest.raises(NotImplementedError, match="not implemented correctly"):
        tfs_front.load_handler(tmp_path)


def test_code_folder_below_a_top_folder_is_reported_as_never_loaded(tmp_path):
    (tmp_path / "efficientnetv2-s" / "code").mkdir(parents=True)
    (tmp_path / "efficientnetv2-s" / "code" / "inference.py").write_text("")
    assert "never loads it" in tfs.handler_problems(tmp_path)[0]


# --- with the project's own TFS handler (servekit/servers/tfs/handlers/tfs_inference.py) -----------------------------------
PROJECT_HANDLER = Path(__file__).resolve().parents[2] / "servekit" / "servers" / "tfs" / "handlers" / "tfs_inference.py"


@pytest.fixture(scope="module")
def project_handler(workspace, plain):
    local, lines = _serve(workspace, "project", PROJECT_HANDLER.read_text())
    try:
        yield local, lines, workspace / "models"
    finally:
        local.stop()


def test_project_handler_answers_every_content_type_it_supports(project_handler):
    local, _, models = project_handler
    x = rows(2, seed=12)
    expected = predict("tiny", 1, x, models)
    csv = "\n".join(",".join(repr(float(v)) for v in r) for r in x.tolist()).encode()
    bodies = {
        "application/json": json.dumps({"instances": x.tolist()}).encode(),
        "application/jsonlines": "\n".join(json.dumps(r) for r in x.tolist()).encode(),
        "text/csv": csv,
        "application/x-npy": codecs.encode_npy(x)[0],
    }
    for ctype, body in bodies.items():
        status, rtype, answer = post(local.invocations_url, body, ctype)
        assert status == 200 and rtype == "application/json", (ctype, answer)
        close(answer, expected)


def test_project_handler_answers_x_npy_when_accept_asks_and_routes_by_attributes(project_handler):
    local, _, models = project_handler
    x = rows(3, seed=13)
    status, rtype, answer = post(local.invocations_url, *codecs.encode_npy(x), headers={
        "Accept": "application/x-npy", tfs.CUSTOM_ATTRIBUTES: "tfs-model-name=other,tfs-model-version=1"})
    assert status == 200 and rtype == "application/x-npy", answer
    np.testing.assert_allclose(codecs.decode_response(answer, rtype), predict("other", 1, x, models),
                               rtol=1e-5, atol=1e-6)


def test_project_handler_errors_are_500_naming_the_status_the_client_should_see(project_handler):
    local, _, _ = project_handler
    cases = ((b"\x00\x01", "application/octet-stream", "415"), (b"[[1.0, 2.0]]", "application/json", "400"),
             (b'{"instances": [', "application/json", "400"))
    for body, ctype, code in cases:
        status, _, answer = post(local.invocations_url, body, ctype)
        assert status == 500, answer
        assert json.loads(answer)["error"].startswith(code) or code in json.loads(answer)["error"], answer
    status, _, _ = post(local.invocations_url, json.dumps(rows(1).tolist()).encode(), "application/json")
    assert status == 200


# The bad-request corpus with the project's handler. The TFS container's python service answers every
# exception from code/inference.py with 500 and {"error": str(exception)} (python_service.py), so the status
# servekit's handler means is the number its message starts with ("400: ...") or names ("answered 400").
def _corpus(tmp: Path) -> dict[str, tuple[bytes, str, dict[str, str], str]]:
    """case: (body, Content-Type, more headers, the status the handler means)"""
    import bad_requests as bad

    good = json.dumps({"instances": rows(1).tolist()}).encode()
    return {
        "malformed JSON": (b'{"instances": [', "application/json", {}, "400"),
        "empty body": (b"", "application/json", {}, "400"),
        "wrong content type": (b"\x00\x01", "application/octet-stream", {}, "415"),
        "wrong structure": (b'{"rows": []}', "application/json", {}, "400"),
        "strings where numbers belong": (json.dumps({"instances": [["a", "b", "c", "d"]]}).encode(),
                                         "application/json", {}, "400"),
        "CSV that is not numbers": (b"1,x,2,3\n", "text/csv", {}, "400"),
        "deep nesting": (bad.deep_json(), "application/json", {}, "400"),
        "5 MB of the wrong shape": (bad.five_mb_json_of_the_wrong_shape(), "application/json", {}, "400"),
        "wrong tensor name": (json.dumps({"instances": [{"pixels": [1.0, 2.0, 3.0, 4.0]}]}).encode(),
                              "application/json", {}, "400"),
        "x-npy garbage": (bad.garbage_npy(), "application/x-npy", {}, "400"),
        "x-npy header claiming terabytes": (bad.npy_header_claiming_terabytes(), "application/x-npy", {}, "400"),
        "x-npy of pickled objects": (bad.pickled_npy(tmp / "unpickled"), "application/x-npy", {}, "400"),
        "Accept it cannot produce": (good, "application/json", {"Accept": "text/html"}, "406"),
        "unknown model": (good, "application/json", {tfs.CUSTOM_ATTRIBUTES: "tfs-model-name=missing"}, "404"),
    }


@pytest.mark.parametrize("case", list(_corpus(Path("."))))
def test_project_handler_bad_request_is_the_containers_500_naming_the_status_and_no_traceback(
    project_handler, tmp_path, case
):
    import bad_requests as bad

    local, _, _ = project_handler
    body, ctype, headers, meant = _corpus(tmp_path)[case]
    status, _, answer = post(local.invocations_url, body, ctype, headers=headers)
    assert status == 500, answer[:300]
    message = bad.assert_clean_json_error(answer, 500, status_field=False)["error"]
    assert message.startswith(f"{meant}:") or f"answered {meant}" in message, message
    assert not (tmp_path / "unpickled").exists()
    assert urllib.request.urlopen(local.ping_url, timeout=30).status == 200
    assert post(local.invocations_url, json.dumps(rows(1).tolist()).encode(), "application/json")[0] == 200


def test_project_handler_answers_a_burst_of_64_bad_requests_and_still_answers(project_handler, tmp_path):
    import bad_requests as bad

    local, _, _ = project_handler
    small = [c for c in _corpus(tmp_path).values() if len(c[0]) < 1024 * 1024]
    requests = [small[i % len(small)] for i in range(64)]
    answers = bad.burst(lambda c: post(local.invocations_url, c[0], c[1], headers=c[2]), requests)
    for (_, _, _, meant), (status, _, answer) in zip(requests, answers, strict=True):
        assert status == 500 and meant in json.loads(answer)["error"], answer[:300]
    assert post(local.invocations_url, json.dumps(rows(1).tolist()).encode(), "application/json")[0] == 200
