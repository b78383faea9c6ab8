"""`servekit init`: a folder of the user's own repository becomes a project, with nothing pointing into servekit; with
--model, the endpoint is read from the model file itself. The JSON Schema checks what editors are given."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from servekit import cli, config, init
from servekit.config.json_schema import json_schema

REPO = Path(__file__).resolve().parents[3]


def onnx_detector(path):  # noqa: ANN001
    """Two outputs, a dynamic batch, and a scalar per row (like a detector's score)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["images"], ["scores"], axes=[2, 3], keepdims=0),
         helper.make_node("ReduceMax", ["images"], ["peak"], axes=[1, 2, 3], keepdims=0)], "det",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["n", 3, 8, 8])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 3]),
         helper.make_tensor_value_info("peak", TensorProto.FLOAT, ["n"])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=9), str(path))


def test_when_init_runs_in_an_empty_folder_then_it_writes_a_project_that_validates(tmp_path, capsys):
    assert cli.main(["init", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"servekit.yaml", "servekit.schema.json", "cdk.json", ".gitignore"}
    assert json.loads((tmp_path / "cdk.json").read_text())["app"] == "python3 -O -m servekit.app"
    assert (tmp_path / ".gitignore").read_text().splitlines()[-2:] == [".servekit/", "cdk.out/"]
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "site-packages" not in text and str(REPO) not in text  # nothing points into servekit's install or repo
    assert config.load(tmp_path / "servekit.yaml").endpoints[0].name == "resnet"
    assert cli.main(["validate", str(tmp_path / "servekit.yaml")]) == 0


def test_when_servekit_yaml_exists_then_init_refuses_to_overwrite_it(tmp_path, capsys):
    (tmp_path / "servekit.yaml").write_text("mine\n")
    assert cli.main(["init", str(tmp_path)]) == 2
    assert "exists; servekit init does not overwrite it" in capsys.readouterr().err
    assert (tmp_path / "servekit.yaml").read_text() == "mine\n"


def test_when_init_is_given_an_onnx_model_then_the_endpoint_is_read_from_its_graph(tmp_path):
    onnx_detector(tmp_path / "det.onnx")
    init.run(tmp_path, model=tmp_path / "det.onnx", add=False, input_shapes=[], say=print)
    model = yaml.safe_load((tmp_path / "servekit.yaml").read_text())["endpoints"][0]["model"]
    assert model["source"] == {"kind": "onnx", "path": "det.onnx"}  # relative to servekit.yaml
    assert model["max_batch_size"] == 8
    assert model["inputs"] == [{"name": "images", "data_type": "TYPE_FP32", "dims": [3, 8, 8]}]
    assert model["outputs"] == [{"name": "scores", "data_type": "TYPE_FP32", "dims": [3]},
                                {"name": "peak", "data_type": "TYPE_FP32", "dims": [1], "reshape": []}]
    loaded = config.load(tmp_path / "servekit.yaml")
    from servekit.servers.triton import model_config

    assert model_config.onnx_problems(loaded.endpoints[0].model, tmp_path / "det.onnx") == []


def test_when_a_model_is_added_twice_then_the_second_endpoint_gets_its_own_name(tmp_path):
    onnx_detector(tmp_path / "det.onnx")
    init.run(tmp_path, model=tmp_path / "det.onnx", add=False, input_shapes=[], say=print)
    init.run(tmp_path, model=tmp_path / "det.onnx", add=True, input_shapes=[], say=print)
    assert [e.name for e in config.load(tmp_path / "servekit.yaml").endpoints] == ["det", "det-onnx"]


def test_when_a_torchscript_model_is_given_without_shapes_then_init_asks_for_them(tmp_path, capsys):
    import torch

    torch.jit.trace(torch.nn.Linear(4, 2), torch.zeros(1, 4)).save(str(tmp_path / "lin.pt"))
    assert cli.main(["init", str(tmp_path), "--model", str(tmp_path / "lin.pt")]) == 2
    assert "TorchScript keeps no shapes: pass --input-shape once per tensor" in capsys.readouterr().err
    assert cli.main(["init", str(tmp_path), "--model", str(tmp_path / "lin.pt"), "--input-shape", "1,4"]) == 0
    model = config.load(tmp_path / "servekit.yaml").endpoints[0].model
    assert (model.max_batch_size, model.inputs[0].dims, model.outputs[0].dims) == (8, [4], [2])


def test_the_json_schema_accepts_the_embedded_default_and_names_a_wrong_key():
    repo = REPO
    validator = jsonschema.Draft202012Validator(json_schema())
    for name in ("servekit.yaml", "tests/fixtures/all-features.yaml"):
        assert list(validator.iter_errors(yaml.safe_load((repo / name).read_text()))) == [], name
    data = yaml.safe_load((repo / "servekit.yaml").read_text())
    data["app"]["regoin"] = "us-east-1"
    assert any("'regoin' was unexpected" in e.message for e in validator.iter_errors(data))


@pytest.mark.parametrize("command", [["schema"]])
def test_servekit_schema_prints_the_schema(command, capsys):
    assert cli.main(command) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "servekit.yaml"
