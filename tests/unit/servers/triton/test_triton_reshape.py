"""Triton's reshape (config.pbtxt `reshape`): a tensor the model takes or gives in another shape than requests carry,
a scalar per batch row above all (dims [1], reshape []), which dims alone cannot say; checked against the ONNX graph
like dims. A scalar input of a model that does not batch, which Triton refuses to reshape, is declared dims [1] and
fed through a Reshape node the build adds to the graph (servekit/servers/triton/onnx_scalars.py)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from servekit import config
from servekit.servers.triton import model_config as triton_config
from servekit.servers.triton import onnx_scalars


def scalar_model(path, **update):  # noqa: ANN001, ANN003
    return config.TritonModel.model_validate({
        "name": "vad", "source": {"kind": "onnx", "path": str(path)}, "format": "onnx", "max_batch_size": 0,
        "inputs": [{"name": "audio", "data_type": "TYPE_FP32", "dims": [1, 512]},
                   {"name": "sr", "data_type": "TYPE_INT64", "dims": [1]}],
        "outputs": [{"name": "prob", "data_type": "TYPE_FP32", "dims": [1, 1]}], **update})


def rows_model(path, outputs):  # noqa: ANN001
    return config.TritonModel.model_validate({
        "name": "rows", "source": {"kind": "onnx", "path": str(path)}, "format": "onnx", "max_batch_size": 8,
        "inputs": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}], "outputs": outputs})


def save(graph, path):  # noqa: ANN001
    import onnx
    from onnx import helper

    # IR version 9: onnx 1.23 writes 14 by default, which onnxruntime 1.31 cannot load
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(path))
    return path


@pytest.fixture(scope="module")
def scalar_onnx(tmp_path_factory):
    """An ONNX model with a 0-d input, as streaming voice-activity models take their sample rate."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Cast", ["sr"], ["srf"], to=TensorProto.FLOAT),
         helper.make_node("ReduceMean", ["audio"], ["mean"], keepdims=1),
         helper.make_node("Mul", ["mean", "srf"], ["prob"])],
        "vad", [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, 512]),
                helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1])])
    return save(graph, tmp_path_factory.mktemp("onnx") / "vad.onnx")


@pytest.fixture(scope="module")
def rows_onnx(tmp_path_factory):
    """A batching model with one score per row: output [N], a scalar per row."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x", "axes"], ["score"], keepdims=0)], "rows",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["n"])],
        initializer=[numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")])
    return save(graph, tmp_path_factory.mktemp("onnx") / "rows.onnx")


def test_when_a_batching_model_gives_a_scalar_per_row_then_reshape_empty_passes_and_config_says_it(rows_onnx):
    model = rows_model(rows_onnx, [{"name": "score", "data_type": "TYPE_FP32", "dims": [1], "reshape": []}])
    assert triton_config.onnx_problems(model, rows_onnx) == []
    output = triton_config.parse(triton_config.render(model)).output[0]
    assert list(output.dims) == [1] and output.HasField("reshape") and list(output.reshape.shape) == []
    assert not triton_config.parse(triton_config.render(model)).input[0].HasField("reshape")  # only where set


def test_when_a_scalar_per_row_has_dims_1_alone_then_the_check_names_reshape(rows_onnx):
    model = rows_model(rows_onnx, [{"name": "score", "data_type": "TYPE_FP32", "dims": [1]}])
    assert triton_config.onnx_problems(model, rows_onnx) == [
        "model.outputs[0].dims: [1] (plus the batch dimension) but the ONNX model has rank 1 ([None]); dims exclude "
        "the batch dimension when max_batch_size > 0 (a scalar: dims [1] and reshape [])"]


def test_when_a_non_batching_model_takes_a_scalar_then_dims_1_pass_and_the_wrapped_graph_answers_the_same(
        scalar_onnx, tmp_path):
    import onnxruntime as ort

    model = scalar_model(scalar_onnx)
    assert triton_config.onnx_problems(model, scalar_onnx) == []
    assert onnx_scalars.scalar_inputs(scalar_onnx, onnx_scalars.wrap_candidates(model)) == ["sr"]
    onnx_scalars.wrap(scalar_onnx, ["sr"], tmp_path / "model.onnx")
    audio = np.random.default_rng(0).random((1, 512), dtype=np.float32)
    wrapped = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"audio": audio, "sr": np.array([16000])})
    original = ort.InferenceSession(str(scalar_onnx)).run(None, {"audio": audio, "sr": np.array(16000)})
    assert np.array_equal(wrapped[0], original[0])


def test_when_a_non_batching_model_declares_reshape_empty_on_an_input_then_validation_gives_tritons_reason(
        scalar_onnx):
    with pytest.raises(ValidationError, match=r"reshape \[\] on a model that does not batch is refused by Triton at "
                                              r"load .*set dims \[1\] without reshape"):
        scalar_model(scalar_onnx, inputs=[{"name": "sr", "data_type": "TYPE_INT64", "dims": [1], "reshape": []}])


def test_when_reshape_disagrees_with_the_model_then_the_check_names_reshape(scalar_onnx):
    model = scalar_model(scalar_onnx, outputs=[{"name": "prob", "data_type": "TYPE_FP32", "dims": [1],
                                                 "reshape": [1]}])  # the model gives [1, 1]
    assert triton_config.onnx_problems(model, scalar_onnx) == [
        "model.outputs[0].reshape: [1] but the ONNX model has [1, 1]; set reshape to match"]


def test_when_reshape_holds_another_number_of_values_than_dims_then_validation_refuses():
    with pytest.raises(ValidationError, match=r"reshape \[2, 3\] holds 6 values but dims \[4\] hold 4"):
        config.TritonTensor(name="x", data_type="TYPE_FP32", dims=[4], reshape=[2, 3])


def test_an_unset_reshape_leaves_the_dump_as_it_was_so_identities_stay():
    assert config.TritonTensor(name="x", data_type="TYPE_FP32", dims=[4]).model_dump() == {
        "name": "x", "data_type": "TYPE_FP32", "dims": [4]}


def test_when_a_non_batching_model_gives_a_scalar_then_dims_1_pass_and_the_wrapped_graph_answers_the_same(tmp_path):
    """Triton refuses reshape [] on a non-batching model's output too (tritonserver 2.44's load check found it)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)], "sum",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
        initializer=[numpy_helper.from_array(np.array([0], dtype=np.int64), "axes")])
    path = save(graph, tmp_path / "sum.onnx")
    model = config.TritonModel.model_validate({
        "name": "sum", "source": {"kind": "onnx", "path": str(path)}, "format": "onnx", "max_batch_size": 0,
        "inputs": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}],
        "outputs": [{"name": "y", "data_type": "TYPE_FP32", "dims": [1]}]})
    assert triton_config.onnx_problems(model, path) == []
    assert onnx_scalars.scalar_inputs(path, onnx_scalars.wrap_candidates(model)) == ["y"]
    onnx_scalars.wrap(path, ["y"], tmp_path / "model.onnx")
    x = np.array([1.5, 2, 3, 4], dtype=np.float32)
    (wrapped,) = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"x": x})
    (original,) = ort.InferenceSession(str(path)).run(None, {"x": x})
    assert wrapped.shape == (1,) and original.shape == () and wrapped[0] == original
