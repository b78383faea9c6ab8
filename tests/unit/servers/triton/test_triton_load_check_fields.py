"""Where a refusal of the real tritonserver goes: the servekit.yaml field of the model it names, and the part of it
Triton's words are about (servekit/servers/triton/load_check.py)."""

from __future__ import annotations

from servekit.servers.triton import load_check

from .test_triton_ensemble import ensemble, with_ensemble

LOG = """I1206 12:00:00.000000 1 server.cc:338] All models are stopped, unloading models
error: creating server: Invalid argument - load failed for model '/tmp/x/model_repository::{model}': version 1 is at \
UNAVAILABLE state: Invalid argument: {reason};
"""


def test_a_refusal_of_a_member_is_reported_against_that_members_block_and_part(endpoints):
    ep = with_ensemble(endpoints, ensemble())
    log = LOG.format(model="prep", reason="model output 'pixels' cannot have empty reshape for non-batching model")
    (line,) = load_check._explain(ep, log)
    assert line.startswith("ensemble.members[0].outputs: tritonserver 2.44 (nvidia-pytriton 0.5.5) refuses to load "
                           "'prep': Invalid argument: model output 'pixels' cannot have empty reshape")
    assert "/tmp/x" not in line  # servekit's own repository path is not the user's business


def test_a_refusal_of_the_ensemble_tensor_shapes_is_reported_against_its_steps(endpoints):
    ep = with_ensemble(endpoints, ensemble())
    log = LOG.format(model="pipeline", reason="in ensemble pipeline, ensemble tensor normalized: inconsistent shape")
    assert load_check._explain(ep, log)[0].startswith("ensemble.steps: tritonserver 2.44")


def test_when_triton_says_nothing_servekit_can_place_then_the_log_tail_is_shown(endpoints):
    (line,) = load_check._explain(endpoints["triton"], "E1206 something went wrong\nerror: cannot start\n")
    assert line.startswith("model: tritonserver 2.44 (nvidia-pytriton 0.5.5) did not start on the artifact")
    assert "error: cannot start" in line
