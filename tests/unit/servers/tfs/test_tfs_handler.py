"""The TFS handler against a fake TensorFlow Serving: a loopback REST server and a real gRPC server."""

from __future__ import annotations

import io
import json
import tempfile
import threading
from collections import namedtuple
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bad_requests as bad
import grpc
import numpy as np
import pytest
import tensorflow as tf
from servekit_handler_fakes import load_handler
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

tfs = load_handler("tfs_inference")
TRIPWIRE = Path(tempfile.gettempdir()) / "servekit-unpickled-by-the-tfs-handler"  # unpickling creates it

# The container's context (tfs_utils.Context in the TFS DLC), field for field.
Context = namedtuple("Context", "model_name, model_version, method, rest_uri, grpc_port, channel, "
                                "custom_attributes, request_content_type, accept_header, content_length")


# ---------------------------------------------------------------------------------------------
# A fake TensorFlow Serving REST API: predictions = 2 * instances; errors like TFS's
# ---------------------------------------------------------------------------------------------
class FakeTfsRest(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeTfsRest.seen.append((self.path, body))
        if self.path.startswith("/v1/models/missing"):
            return self._answer(404, {"error": "Servable not found for request: Latest(missing)"})
        try:
            predictions = (np.asarray(body["instances"], dtype=np.float64) * 2).tolist()
        except (ValueError, TypeError, KeyError) as err:
            return self._answer(400, {"error": f"Failed to process element: {err}"})
        return self._answer(200, {"predictions": predictions})

    def _answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def rest_port():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTfsRest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def context(port=0, *, content_type="application/json", accept="application/json", model="clf", version=None,
            attributes=None, grpc_port=0, channel=None, model_name=None):
    uri = f"http://127.0.0.1:{port}/v1/models/{model}" + (f"/versions/{version}" if version else "") + ":predict"
    return Context(model_name, version, "predict", uri, grpc_port, channel, attributes, content_type, accept, None)


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def test_when_protocol_is_unset_then_rest_and_json_list_becomes_instances(rest_port, monkeypatch):
    monkeypatch.delenv(tfs.PROTOCOL_ENV, raising=False)
    body, content_type = tfs.handler(io.BytesIO(b"[[1, 2], [3, 4]]"), context(rest_port))
    assert content_type == "application/json"
    assert json.loads(body) == {"predictions": [[2.0, 4.0], [6.0, 8.0]]}
    assert FakeTfsRest.seen[-1] == ("/v1/models/clf:predict", {"instances": [[1, 2], [3, 4]]})


@pytest.mark.parametrize(
    ("payload", "content_type", "instances"),
    [
        (b'{"instances": [[1.5]]}', "application/json", [[1.5]]),
        (b"[1, 2]\n[3, 4]\n", "application/jsonlines", [[1, 2], [3, 4]]),
        (b"1,2\n3,4.5\n", "text/csv", [[1, 2], [3, 4.5]]),
        (npy(np.array([[1, 2], [3, 4]], dtype=np.float32)), "application/x-npy", [[1.0, 2.0], [3.0, 4.0]]),
    ],
)
def test_when_each_content_type_is_sent_then_tfs_gets_the_same_instances(rest_port, payload, content_type, instances):
    tfs.handler(io.BytesIO(payload), context(rest_port, content_type=content_type))
    assert FakeTfsRest.seen[-1][1]["instances"] == instances


def test_when_accept_asks_for_npy_then_npy_comes_back(rest_port):
    body, content_type = tfs.handler(io.BytesIO(b"[[1, 2]]"), context(rest_port, accept="application/x-npy"))
    assert content_type == "application/x-npy"
    assert np.load(io.BytesIO(body), allow_pickle=False).tolist() == [[2.0, 4.0]]


def test_when_version_and_signature_come_from_the_request_then_uri_and_body_carry_them(rest_port):
    ctx = context(rest_port, model="other", version="3", attributes="tfs-model-name=other,tfs-signature-name=scores")
    tfs.handler(io.BytesIO(b"[[1]]"), ctx)
    path, body = FakeTfsRest.seen[-1]
    assert path == "/v1/models/other/versions/3:predict"
    assert body["signature_name"] == "scores"


def test_when_tfs_answers_an_error_then_its_status_and_text_come_back(rest_port):
    with pytest.raises(tfs.HandlerError) as caught:
        tfs.handler(io.BytesIO(b"[[1]]"), context(rest_port, model="missing"))
    assert caught.value.status_code == 404
    assert "Servable not found" in caught.value.message
    assert "TensorFlow Serving answered 404" in str(caught.value)  # what the container's 500 body shows


@pytest.mark.parametrize(
    ("payload", "content_type", "accept", "status"),
    [
        (b"", "application/json", "application/json", 400),
        (b"{nope", "application/json", "application/json", 400),
        (b'{"rows": []}', "application/json", "application/json", 400),
        (b"1,x\n", "text/csv", "application/json", 400),
        (b"garbage", "application/x-npy", "application/json", 400),
        (b"[1]", "image/png", "application/json", 415),
        (b"[1]", "application/json", "text/html", 406),
        (bad.deep_json(), "application/json", "application/json", 400),
        (bad.npy_header_claiming_terabytes(), "application/x-npy", "application/json", 400),
        (bad.pickled_npy(TRIPWIRE), "application/x-npy", "application/json", 400),
    ],
    ids=["empty", "malformed-json", "wrong-structure", "csv-not-numbers", "npy-garbage", "wrong-content-type",
         "accept-unsupported", "deep-nesting", "npy-header-claiming-terabytes", "npy-of-pickled-objects"],
)
def test_when_request_is_malformed_then_client_error_before_tfs_is_called(rest_port, payload, content_type, accept, status):
    before = len(FakeTfsRest.seen)
    with pytest.raises(tfs.HandlerError) as caught:
        tfs.handler(io.BytesIO(payload), context(rest_port, content_type=content_type, accept=accept))
    assert caught.value.status_code == status and caught.value.message
    assert len(FakeTfsRest.seen) == before
    assert not TRIPWIRE.exists()
    bad.assert_no_traceback(str(caught.value).encode())  # what the container's 500 body carries


def test_when_input_and_output_handler_are_used_alone_then_they_speak_tfs_rest(rest_port):
    import requests

    ctx = context(rest_port, content_type="text/csv")
    body = tfs.input_handler(io.BytesIO(b"1,2\n"), ctx)
    assert json.loads(body) == {"instances": [[1, 2]]}
    response = requests.post(ctx.rest_uri, data=body)
    assert json.loads(tfs.output_handler(response, ctx)[0]) == {"predictions": [[2.0, 4.0]]}


# ---------------------------------------------------------------------------------------------
# A real gRPC PredictionService: signature "serving_default" x:float32 -> y = 2x (+ "scores": y = x + 1)
# ---------------------------------------------------------------------------------------------
class FakePredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self):
        self.requests = []

    def GetModelMetadata(self, request, context):  # noqa: N802
        if request.model_spec.name != "clf":
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({request.model_spec.name})")
        defs = get_model_metadata_pb2.SignatureDefMap()
        for name in ("serving_default", "scores"):
            sig = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
            sig.inputs["x"].dtype = tf.float32.as_datatype_enum
            sig.inputs["x"].name = "x:0"
            sig.outputs["y"].dtype = tf.float32.as_datatype_enum
            sig.outputs["y"].name = "y:0"
            defs.signature_def[name].CopyFrom(sig)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.CopyFrom(request.model_spec)
        response.metadata["signature_def"].Pack(defs)
        return response

    def Predict(self, request, context):  # noqa: N802
        self.requests.append(request)
        x = tf.make_ndarray(request.inputs["x"])
        if x.ndim != 2:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"input x must be rank 2, got shape {list(x.shape)}")
        y = x + 1 if request.model_spec.signature_name == "scores" else x * 2
        response = predict_pb2.PredictResponse()
        response.outputs["y"].CopyFrom(tf.make_tensor_proto(y.astype(np.float32)))
        return response


@pytest.fixture(scope="module")
def grpc_service():
    service = FakePredictionService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield service, port
    server.stop(0)


@pytest.fixture
def grpc_mode(monkeypatch):
    monkeypatch.setenv(tfs.PROTOCOL_ENV, "grpc")


def test_when_protocol_is_grpc_then_predict_goes_over_grpc_with_names_from_the_signature(grpc_service, grpc_mode):
    service, port = grpc_service
    body, content_type = tfs.handler(io.BytesIO(b"[[1, 2], [3, 4]]"), context(grpc_port=port))
    assert json.loads(body) == {"predictions": [[2.0, 4.0], [6.0, 8.0]]}
    spec = service.requests[-1].model_spec
    assert (spec.name, spec.signature_name) == ("clf", "serving_default")
    assert list(service.requests[-1].inputs) == ["x"]


def test_when_grpc_serves_many_requests_then_one_channel_is_reused(grpc_service, grpc_mode):
    _, port = grpc_service
    for _ in range(3):
        tfs.handler(io.BytesIO(b"[[1]]"), context(grpc_port=port))
    assert list(tfs._CHANNELS) == [f"localhost:{port}"]
    first = tfs.channel(context(grpc_port=port))
    tfs.handler(io.BytesIO(b"[[1]]"), context(grpc_port=port))
    assert tfs.channel(context(grpc_port=port)) is first


def test_when_the_container_passes_its_channel_then_the_handler_uses_it(grpc_service, grpc_mode):
    _, port = grpc_service
    given = grpc.insecure_channel(f"127.0.0.1:{port}")
    before = dict(tfs._CHANNELS)
    tfs.handler(io.BytesIO(b"[[1]]"), context(grpc_port=0, channel=given))
    assert tfs._CHANNELS == before


def test_when_grpc_gets_npy_and_a_signature_attribute_then_npy_answers_from_that_signature(grpc_service, grpc_mode):
    service, port = grpc_service
    ctx = context(grpc_port=port, content_type="application/x-npy", accept="application/x-npy",
                  attributes="tfs-signature-name=scores", version="2")
    body, _ = tfs.handler(io.BytesIO(npy(np.array([[1.0, 2.0]], dtype=np.float32))), ctx)
    assert np.load(io.BytesIO(body), allow_pickle=False).tolist() == [[2.0, 3.0]]
    assert service.requests[-1].model_spec.signature_name == "scores"
    assert service.requests[-1].model_spec.version.value == 2


def test_when_grpc_tfs_rejects_the_tensor_then_its_text_comes_back_as_400(grpc_service, grpc_mode):
    _, port = grpc_service
    with pytest.raises(tfs.HandlerError) as caught:
        tfs.handler(io.BytesIO(b"[1, 2]"), context(grpc_port=port))
    assert caught.value.status_code == 400
    assert "must be rank 2" in caught.value.message


def test_when_grpc_model_is_unknown_then_404_with_tfs_text(grpc_service, grpc_mode):
    _, port = grpc_service
    with pytest.raises(tfs.HandlerError) as caught:
        tfs.handler(io.BytesIO(b"[[1]]"), context(grpc_port=port, model="nope", model_name="nope"))
    assert caught.value.status_code == 404 and "Servable not found" in caught.value.message
