"""KServe v2 JSON / binary+json, x-npy and JSON codecs, checked against a config.pbtxt."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

from servekit import codecs
from servekit.servers.triton.signature import TensorSpec, TritonSignature

CONFIG = """
name: "tiny"
platform: "pytorch_libtorch"
max_batch_size: 8
input [ { name: "input__0" data_type: TYPE_FP32 dims: [3, -1, 8] } ]
output [ { name: "output__0" data_type: TYPE_FP32 dims: [10] } ]
dynamic_batching { preferred_batch_size: [4, 8] }
"""


@pytest.fixture
def signature() -> TritonSignature:
    return TritonSignature.from_pbtxt(CONFIG)


def test_signature_reads_names_types_and_dims_from_config_pbtxt(signature):
    assert signature.model_name == "tiny"
    assert signature.max_batch_size == 8
    assert signature.inputs == (TensorSpec("input__0", "FP32", (3, -1, 8)),)
    assert signature.outputs[0].numpy_dtype == np.float32


def test_kserve_json_round_trip_keeps_values_shape_and_dtype(signature):
    x = np.random.default_rng(0).random((2, 3, 5, 8), dtype=np.float32)
    body, ctype = codecs.encode_kserve_json({"input__0": x}, signature=signature)
    assert ctype == "application/json"
    request = json.loads(body)
    assert request["inputs"][0]["shape"] == [2, 3, 5, 8] and request["inputs"][0]["datatype"] == "FP32"
    back = codecs.decode_kserve_request(body, ctype)["input__0"]
    assert back.dtype == np.float32 and np.array_equal(back, x)


def test_binary_form_header_size_is_the_json_header_length(signature):
    x = np.arange(2 * 3 * 4 * 8, dtype=np.float32).reshape(2, 3, 4, 8)
    body, ctype = codecs.encode_kserve_binary({"input__0": x}, signature=signature)
    size = codecs.header_size(ctype)
    assert ctype == f"{codecs.BINARY_PREFIX}{size}"
    header = json.loads(body[:size])
    assert header["inputs"][0]["parameters"]["binary_data_size"] == x.nbytes
    assert len(body) == size + x.nbytes
    assert body[size:] == x.astype("<f4").tobytes()
    assert np.array_equal(codecs.decode_kserve_request(body, ctype)["input__0"], x)


def test_binary_form_round_trips_several_tensors_and_strings():
    tensors = {
        "ids": np.array([[1, 2], [3, 4]], dtype=np.int64),
        "text": np.array([b"hello", "wörld".encode()], dtype=np.object_),
        "mask": np.array([True, False]),
    }
    body, ctype = codecs.encode_kserve_binary(tensors)
    back = codecs.decode_kserve_request(body, ctype)
    assert np.array_equal(back["ids"], tensors["ids"]) and back["ids"].dtype == np.int64
    assert list(back["text"]) == [b"hello", "wörld".encode()]
    assert back["mask"].tolist() == [True, False]


def test_binary_response_is_decoded_by_its_header():
    out = np.arange(20, dtype=np.float32).reshape(2, 10)
    header = json.dumps({"model_name": "tiny", "outputs": [
        {"name": "output__0", "datatype": "FP32", "shape": [2, 10], "parameters": {"binary_data_size": 80}}]}).encode()
    decoded = codecs.decode_response(header + out.tobytes(), f"{codecs.BINARY_PREFIX}{len(header)}")
    assert np.array_equal(decoded["output__0"], out)


def test_json_response_is_decoded_to_arrays():
    body = json.dumps({"outputs": [{"name": "o", "datatype": "INT32", "shape": [2, 2], "data": [1, 2, 3, 4]}]})
    assert codecs.decode_kserve_response(body.encode(), "application/json")["o"].tolist() == [[1, 2], [3, 4]]


def test_error_body_raises_with_the_servers_message():
    with pytest.raises(codecs.InferenceError, match="unexpected shape"):
        codecs.decode_kserve_response(b'{"error":"unexpected shape for input"}', "application/json")


def test_wrong_dtype_is_refused_naming_the_config_type(signature):
    x = np.zeros((1, 3, 4, 8), dtype=np.float64)
    with pytest.raises(codecs.CodecError, match=r"float64 but config.pbtxt says TYPE_FP32"):
        codecs.encode_kserve_json({"input__0": x}, signature=signature)


def test_wrong_shape_is_refused_with_the_expected_dims(signature):
    with pytest.raises(codecs.CodecError, match=r"shape \[1, 4, 4, 8\] but config.pbtxt expects \[batch, 3, -1, 8\]"):
        codecs.encode_kserve_binary({"input__0": np.zeros((1, 4, 4, 8), np.float32)}, signature=signature)


def test_batch_over_max_batch_size_is_refused(signature):
    with pytest.raises(codecs.CodecError, match=r"batch of 9 .* 1..8"):
        codecs.encode_kserve_json({"input__0": np.zeros((9, 3, 2, 8), np.float32)}, signature=signature)


def test_unknown_or_missing_input_name_is_refused(signature):
    with pytest.raises(codecs.CodecError, match=r"missing input\(s\) \['input__0'\]"):
        codecs.encode_kserve_json({"INPUT__0": np.zeros((1, 3, 2, 8), np.float32)}, signature=signature)


def test_fp16_cannot_travel_as_json_numbers():
    with pytest.raises(codecs.CodecError, match="binary form"):
        codecs.encode_kserve_json({"x": np.zeros(2, np.float16)})


def test_header_size_larger_than_body_is_an_error():
    with pytest.raises(codecs.CodecError, match="exceeds"):
        codecs.decode_kserve_response(b"{}", f"{codecs.BINARY_PREFIX}100")


def test_binary_data_size_beyond_the_body_is_an_error():
    header = json.dumps({"outputs": [{"name": "o", "datatype": "FP32", "shape": [4],
                                      "parameters": {"binary_data_size": 16}}]}).encode()
    with pytest.raises(codecs.CodecError, match="only 4 bytes follow"):
        codecs.decode_kserve_response(header + b"\0" * 4, f"{codecs.BINARY_PREFIX}{len(header)}")


def test_signature_is_read_from_the_artifact(tmp_path):
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = CONFIG.encode()
        info = tarfile.TarInfo("tiny/config.pbtxt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert TritonSignature.from_artifact(path).inputs[0].name == "input__0"


def test_invalid_config_pbtxt_is_a_clear_error():
    with pytest.raises(codecs.CodecError, match="not a valid Triton model config"):
        TritonSignature.from_pbtxt("name: 'x'\nmax_batch: 3\n")


def test_npy_round_trip():
    x = np.arange(12, dtype=np.int16).reshape(3, 4)
    body, ctype = codecs.encode_npy(x)
    assert ctype == "application/x-npy"
    back = codecs.decode_response(body, ctype)
    assert back.dtype == np.int16 and np.array_equal(back, x)


def test_npy_decode_of_garbage_is_a_codec_error():
    with pytest.raises(codecs.CodecError, match="not a .npy body"):
        codecs.decode_npy(b"not numpy")


def test_plain_json_encodes_numpy_values():
    body, ctype = codecs.encode_json({"instances": np.ones((2, 2), np.float32), "k": np.int64(3)})
    assert ctype == "application/json"
    assert codecs.decode_response(body, "application/json; charset=utf-8") == {
        "instances": [[1.0, 1.0], [1.0, 1.0]], "k": 3}
