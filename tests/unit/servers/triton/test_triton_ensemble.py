"""Triton ensembles servekit builds: the steps checked against the members' tensors before anything is built, and
the ensemble's config.pbtxt made by Triton's own proto."""

from __future__ import annotations

import pytest

from servekit.servers.triton import model_config as triton_config

PREP = {"name": "prep", "source": {"kind": "example", "name": "resnet"}, "max_batch_size": 8,
        "inputs": [{"name": "raw", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}],
        "outputs": [{"name": "pixels", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}]}


def ensemble(**change) -> dict:
    block = {"name": "pipeline", "members": [PREP],
             "inputs": [{"name": "IMAGE", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}],
             "outputs": [{"name": "SCORES", "data_type": "TYPE_FP32", "dims": [10]}],
             "steps": [{"model": "prep", "input_map": {"raw": "IMAGE"}, "output_map": {"pixels": "normalized"}},
                       {"model": "resnet", "input_map": {"input__0": "normalized"},
                        "output_map": {"output__0": "SCORES"}}]}
    block.update(change)
    return block


def with_ensemble(endpoints, block):  # noqa: ANN001, ANN201
    ep = endpoints["triton"]
    return type(ep).model_validate({**ep.model_dump(), "ensemble": block})


def test_when_an_ensemble_is_declared_then_it_is_the_served_model_and_its_config_schedules_the_steps(endpoints):
    ep = with_ensemble(endpoints, ensemble())
    assert ep.served_model_name == "pipeline"
    assert ep.tuning.to_environment(ep.served_model_name)["SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"] == "pipeline"
    mc = triton_config.parse(triton_config.render_ensemble(ep.ensemble, 8))
    assert mc.platform == "ensemble" and mc.max_batch_size == 8
    assert [(s.model_name, dict(s.input_map), dict(s.output_map)) for s in mc.ensemble_scheduling.step] == [
        ("prep", {"raw": "IMAGE"}, {"pixels": "normalized"}),
        ("resnet", {"input__0": "normalized"}, {"output__0": "SCORES"})]
    assert [s.model_version for s in mc.ensemble_scheduling.step] == [-1, -1]


@pytest.mark.parametrize(("change", "message"), [
    ({"steps": [{"model": "nope", "input_map": {"a": "IMAGE"}, "output_map": {"b": "SCORES"}}]},
     r"steps\[0\] \(nope\): no member named 'nope'"),
    ({"steps": [{"model": "resnet", "input_map": {"input__0": "normalized"}, "output_map": {"output__0": "SCORES"}},
                {"model": "prep", "input_map": {"raw": "IMAGE"}, "output_map": {"pixels": "normalized"}}]},
     r"steps\[0\] \(resnet\)\.input_map: 'normalized' is read before any step writes it"),
    ({"steps": [{"model": "prep", "input_map": {"rawx": "IMAGE"}, "output_map": {"pixels": "normalized"}},
                {"model": "resnet", "input_map": {"input__0": "normalized"}, "output_map": {"output__0": "SCORES"}}]},
     r"prep has no input 'rawx'.*\n.*prep's input 'raw' is fed by nothing"),
    ({"outputs": [{"name": "PROBS", "data_type": "TYPE_FP32", "dims": [10]}]},
     r"ensemble\.outputs: 'PROBS' is written by no step"),
    ({"inputs": [{"name": "IMAGE", "data_type": "TYPE_UINT8", "dims": [3, 224, 224]}]},
     r"'IMAGE' is TYPE_UINT8 but prep's 'raw' is TYPE_FP32; make the types agree"),
    ({"name": "prep"}, r"model names \['resnet', 'prep'\] and ensemble 'prep' must all differ"),
    ({"steps": [{"model": "resnet", "input_map": {"input__0": "IMAGE"}, "output_map": {"output__0": "SCORES"}}]},
     r"members \['prep'\] are in no step"),
    # tritonserver 2.44 refuses these at load ("ensemble tensor ...: inconsistent shape"); validate says it first
    ({"members": [{**PREP, "outputs": [{"name": "pixels", "data_type": "TYPE_FP32", "dims": [3, 112, 112]}]}]},
     r"steps\[1\] \(resnet\)\.input_map: 'normalized' has shape \[3, 112, 112\] \(from prep's 'pixels'\) but "
     r"resnet's 'input__0' takes \[3, 224, 224\]; Triton refuses an ensemble tensor with two shapes"),
    ({"outputs": [{"name": "SCORES", "data_type": "TYPE_FP32", "dims": [12]}]},
     r"ensemble\.outputs: 'SCORES' has dims \[12\] but resnet's 'output__0' gives \[10\]"),
])
def test_when_an_ensemble_cannot_load_then_each_problem_names_the_step_and_the_fix(endpoints, change, message):
    with pytest.raises(ValueError, match=message):
        with_ensemble(endpoints, ensemble(**change))


def test_when_a_variable_dim_meets_a_fixed_one_then_the_shapes_agree(endpoints):
    prep = {**PREP, "outputs": [{"name": "pixels", "data_type": "TYPE_FP32", "dims": [3, -1, -1]}]}
    assert with_ensemble(endpoints, ensemble(members=[prep])).served_model_name == "pipeline"


def test_when_two_inputs_share_a_name_then_validation_refuses(endpoints):
    ep = endpoints["triton"]
    model = {**ep.model.model_dump(), "inputs": [{"name": "x", "data_type": "TYPE_FP32", "dims": [3]}] * 2}
    with pytest.raises(ValueError, match=r"inputs: \['x'\] named twice; a request addresses a tensor by its name"):
        type(ep).model_validate({**ep.model_dump(), "model": model})
