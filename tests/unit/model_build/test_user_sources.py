"""A user's own state_dict (plus its importable class) and Keras file build end to end into artifacts whose
model computes what the user's model computes."""

from __future__ import annotations

import tarfile

import numpy as np

from servekit import config, registry
from servekit.model_build import build, check_artifact

TINY_NET = '''
import torch


class TinyNet(torch.nn.Module):
    def __init__(self, classes: int = 4):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.head = torch.nn.Linear(8, classes)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))
'''


def test_when_a_state_dict_and_its_class_are_given_then_triton_serves_the_traced_same_model(
        endpoints, tmp_path, monkeypatch):
    import torch

    (tmp_path / "tinynets.py").write_text(TINY_NET)
    monkeypatch.chdir(tmp_path)  # the class is importable from the working folder, as a user's project is
    monkeypatch.syspath_prepend(str(tmp_path))
    import tinynets

    torch.manual_seed(7)
    net = tinynets.TinyNet(classes=5).eval()
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    ep = endpoints["triton"]
    model = ep.model.model_copy(update={
        "source": config.StateDictSource(kind="state_dict", path=tmp_path / "weights.pt", model_class="tinynets:TinyNet",
                                         init_kwargs={"classes": 5}, example_input_shape=[1, 3, 16, 16]),
        "inputs": [config.TritonTensor(name="input__0", data_type="TYPE_FP32", dims=[3, 16, 16])],
        "outputs": [config.TritonTensor(name="output__0", data_type="TYPE_FP32", dims=[5])],
    })
    artifact = build(ep.model_copy(update={"model": model}), cache_dir=tmp_path / "cache")
    assert check_artifact(artifact.path, registry.get("triton"), default_model_name="resnet") == []
    with tarfile.open(artifact.path) as tar:
        tar.extract("resnet/1/model.pt", tmp_path / "out", filter="data")
    traced = torch.jit.load(str(tmp_path / "out" / "resnet" / "1" / "model.pt"))
    batch = torch.rand(3, 3, 16, 16)  # a batch of 3: the batch dimension stays dynamic
    with torch.no_grad():
        assert torch.allclose(traced(batch), net(batch), atol=1e-5)


def test_when_a_keras_file_is_given_then_tfs_gets_a_savedmodel_that_predicts_the_same(endpoints, tmp_path):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    inputs = keras.Input(shape=(6,), name="features")
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="relu")(inputs))
    net = keras.Model(inputs, outputs)
    net.save(tmp_path / "tiny.keras")
    ep = endpoints["tfs"]
    models = [config.TfsModel(name="tiny", source=config.KerasSource(kind="keras", path=tmp_path / "tiny.keras"))]
    artifact = build(ep.model_copy(update={"models": models, "default_model": None}), cache_dir=tmp_path / "cache")
    assert check_artifact(artifact.path, registry.get("tfs"), default_model_name="tiny") == []
    with tarfile.open(artifact.path) as tar:
        tar.extractall(tmp_path / "out", filter="data")
    loaded = tf.saved_model.load(str(tmp_path / "out" / "tiny" / "1"))
    serve = loaded.signatures["serving_default"]
    x = np.random.default_rng(0).random((2, 6), dtype=np.float32)
    (result,) = serve(**{next(iter(serve.structured_input_signature[1])): tf.constant(x)}).values()
    np.testing.assert_allclose(result.numpy(), net.predict(x, verbose=0), atol=1e-5)


CUSTOM_LAYER = '''
import keras


@keras.saving.register_keras_serializable(package="tests")
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
'''


def test_when_a_keras_file_has_three_outputs_and_a_custom_class_then_tfs_answers_each_output_by_name(
        endpoints, tmp_path, monkeypatch):
    """The custom class's module is named in the .keras file: the build imports it from beside servekit.yaml (here
    the source's import_root), whatever the current folder."""
    import keras
    import tensorflow as tf

    (tmp_path / "my_layers.py").write_text(CUSTOM_LAYER)
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_layers

    keras.utils.set_random_seed(3)
    image = keras.Input(shape=(4, 4, 3), name="image")
    h = my_layers.Scale(0.5)(keras.layers.Flatten()(image))
    net = keras.Model(image, [keras.layers.Dense(4, name="boxes")(h), keras.layers.Dense(10, name="landmarks")(h),
                              keras.layers.Dense(2, activation="softmax", name="probabilities")(h)])
    net.save(tmp_path / "face.keras")
    monkeypatch.chdir(tmp_path.parent)  # not the folder of the class
    source = config.KerasSource(kind="keras", path=tmp_path / "face.keras", import_root=tmp_path)
    ep = endpoints["tfs"].model_copy(update={"models": [config.TfsModel(name="face", source=source)],
                                             "default_model": None})
    artifact = build(ep, cache_dir=tmp_path / "cache")
    with tarfile.open(artifact.path) as tar:
        tar.extractall(tmp_path / "out", filter="data")
    serve = tf.saved_model.load(str(tmp_path / "out" / "face" / "1")).signatures["serving_default"]
    x = np.random.default_rng(0).random((2, 4, 4, 3), dtype=np.float32)
    answer = serve(image=tf.constant(x))
    assert sorted(answer) == ["boxes", "landmarks", "probabilities"]
    for name, want in zip(("boxes", "landmarks", "probabilities"), net.predict(x, verbose=0), strict=True):
        np.testing.assert_array_equal(answer[name].numpy(), want)


def test_when_a_keras_files_custom_class_cannot_be_imported_then_the_build_names_the_module_and_saved_model(
        endpoints, tmp_path, monkeypatch):
    import keras
    import pytest

    from servekit.model_build import BuildError

    (tmp_path / "gone_layers.py").write_text(CUSTOM_LAYER.replace('package="tests"', 'package="gone"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    import gone_layers

    inputs = keras.Input(shape=(3,))
    keras.Model(inputs, gone_layers.Scale(2.0)(inputs)).save(tmp_path / "scaled.keras")
    (tmp_path / "gone_layers.py").unlink()
    source = config.KerasSource(kind="keras", path=tmp_path / "scaled.keras", import_root=tmp_path)
    ep = endpoints["tfs"].model_copy(update={"models": [config.TfsModel(name="s", source=source)],
                                             "default_model": None})
    with pytest.raises(BuildError, match="module 'gone_layers', which cannot be imported.*kind: saved_model"):
        build(ep, cache_dir=tmp_path / "cache")
