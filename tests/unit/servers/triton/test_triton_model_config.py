"""config.pbtxt generation, and the config checked against the exported model (the model file is the truth)."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest

from servekit import config
from servekit.model_build import BuildError, build
from servekit.servers.triton import model_config as triton_config


def _model(ep, **update):  # noqa: ANN001, ANN202
    return ep.model_copy(update={"model": ep.model.model_copy(update=update)})


def _tensor(name: str, dims: list[int], data_type: str = "TYPE_FP32") -> config.TritonTensor:
    return config.TritonTensor(name=name, data_type=data_type, dims=dims)


def test_rendered_config_parses_back_with_every_option(endpoints):
    model = _model(endpoints["triton"], format="onnx", version_policy_latest=2,
                   onnx_tensorrt_accelerator=config.TensorRTAccelerator(precision_mode="FP16",
                                                                        max_workspace_size_bytes=1 << 30)).model
    text = triton_config.render(model)
    mc = triton_config.parse(text)
    assert mc.platform == "onnxruntime_onnx" and mc.max_batch_size == 8
    assert list(mc.input[0].dims) == [3, 224, 224] and mc.output[0].name == "output__0"
    assert list(mc.dynamic_batching.preferred_batch_size) == [4, 8]
    assert mc.dynamic_batching.max_queue_delay_microseconds == 100
    assert mc.instance_group[0].count == 1
    acc = mc.optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert acc.name == "tensorrt"
    assert dict(acc.parameters) == {"precision_mode": "FP16", "max_workspace_size_bytes": str(1 << 30)}
    assert mc.version_policy.latest.num_versions == 2
    assert triton_config.config_problems(mc, "x", instance_type="ml.g5.xlarge") == []


def test_parse_rejects_a_field_triton_does_not_know():
    with pytest.raises(ValueError, match="preferred_batch"):
        triton_config.parse('name: "m"\npreferred_batch: 3\n')


def test_when_config_disagrees_with_the_torchscript_model_then_build_fails_naming_each_field(endpoints, extracted,
                                                                                             tmp_path):
    src = config.TorchScriptSource(kind="torchscript", path=extracted["triton"] / "resnet" / "1" / "model.pt")
    ep = _model(endpoints["triton"], source=src, outputs=[_tensor("logits", [1000], "TYPE_FP16")])
    with pytest.raises(BuildError, match="does not match the exported model") as err:
        build(ep, cache_dir=tmp_path)
    text = "\n".join(err.value.problems)
    assert "model.outputs[0].name: 'logits' must be <name>__<index> for pytorch_libtorch; rename it output__0" in text
    assert "model.outputs[0].data_type: TYPE_FP16 but the model returns TYPE_FP32; set it to TYPE_FP32" in text
    assert "model.outputs[0].dims: [1000] but the model returns [10] (batch excluded); set dims: [10]" in text


def test_when_input_dims_include_the_batch_dimension_then_build_fails_with_the_hint(endpoints, extracted, tmp_path):
    src = config.TorchScriptSource(kind="torchscript", path=extracted["triton"] / "resnet" / "1" / "model.pt")
    ep = _model(endpoints["triton"], source=src, inputs=[_tensor("input__0", [1, 3, 224, 224])])
    with pytest.raises(BuildError, match="dims exclude the batch dimension when max_batch_size > 0"):
        build(ep, cache_dir=tmp_path)


def test_kind_gpu_on_a_cpu_instance_fails_before_any_export(endpoints, tmp_path):
    ep = endpoints["triton"].model_copy(update={"instance_type": "ml.m5.xlarge"})
    with pytest.raises(BuildError, match="instance_group kind KIND_GPU on ml.m5.xlarge"):
        build(ep, cache_dir=tmp_path)


@pytest.fixture(scope="module")
def onnx_build(endpoints, tmp_path_factory):
    ep = _model(endpoints["triton"], format="onnx", instance_group=config.InstanceGroup(count=1, kind="KIND_CPU"))
    ep = ep.model_copy(update={"instance_type": "ml.c5.xlarge"})
    artifact = build(ep, cache_dir=tmp_path_factory.mktemp("onnx"))
    folder = tmp_path_factory.mktemp("onnx-unpacked")
    with tarfile.open(artifact.path) as tar:
        tar.extractall(folder, filter="data")
    return ep, artifact, folder / "resnet" / "1" / "model.onnx"


def test_onnx_target_has_dynamic_batch_and_runs_in_onnxruntime(onnx_build):
    import onnxruntime as ort

    _, artifact, path = onnx_build
    with tarfile.open(artifact.path) as tar:
        assert "resnet/1/model.onnx" in tar.getnames()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(["output__0"], {"input__0": np.zeros((3, 3, 224, 224), np.float32)})
    assert out.shape == (3, 10)


def test_onnx_model_checks_name_dtype_rank_and_fixed_dims(onnx_build):
    ep, _, path = onnx_build
    assert triton_config.onnx_problems(ep.model, path) == []
    wrong = ep.model.model_copy(update={
        "inputs": [_tensor("images", [3, 224, 224])],
        "outputs": [_tensor("output__0", [12], "TYPE_INT64")],
    })
    problems = triton_config.onnx_problems(wrong, path)
    assert any(p.startswith("model.inputs[0].name: 'images' is not an input of the ONNX model") for p in problems)
    assert "model.inputs: the ONNX model also takes ['input__0']; add them to model.inputs" in problems
    assert "model.outputs[0].data_type: TYPE_INT64 but the ONNX model has TYPE_FP32; set it to TYPE_FP32" in problems
    assert "model.outputs[0].dims[0]: 12 but the ONNX model fixes it at 10; set it to 10" in problems
    unbatched = ep.model.model_copy(update={"max_batch_size": 0, "dynamic_batching": None})
    assert any("has [None, 3, 224, 224]" in p for p in triton_config.onnx_problems(unbatched, path))


def test_tensorrt_target_without_torch_tensorrt_names_the_onnx_alternative(endpoints, tmp_path):
    """This machine and CI have neither torch_tensorrt nor CUDA: the build must say what to do instead."""
    ep = _model(endpoints["triton"], format="tensorrt")
    with pytest.raises(BuildError, match="use format: onnx with onnx_tensorrt_accelerator"):
        build(ep, cache_dir=tmp_path)
