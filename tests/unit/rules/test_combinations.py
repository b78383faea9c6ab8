"""servekit.rules.combinations: the rules across an endpoint's blocks, as Problems (field, value, fix) that
validate and the constructs print alike."""

from __future__ import annotations

from servekit.options import Deployment, Scaling
from servekit.rules import Problem
from servekit.rules.combinations import combination_problems

ONE_INSTANCE = dict(instance_type="ml.c5.xlarge", instance_counts=[1], weights=[1.0], has_shadow=False,
                    scaling=None, deployment=None, alarms_enabled=True, data_capture=False, is_async=False,
                    serverless=False, multi_model=False, in_vpc=False, isolation=None, volume_size_set=False)


def test_when_the_blocks_fit_together_then_there_is_no_problem():
    assert combination_problems(**ONE_INSTANCE) == []


def test_when_a_rolling_update_meets_one_instance_then_the_problem_names_the_field_the_value_and_the_fix():
    (problem,) = combination_problems(**{**ONE_INSTANCE, "deployment": Deployment(strategy="rolling")})
    assert problem == Problem("deployment.strategy", "rolling",
                              "needs instance_count >= 2 (it updates instances in batches); use canary or linear")
    assert str(problem).startswith("deployment.strategy: 'rolling': needs instance_count >= 2")


def test_when_a_variants_count_is_outside_the_scaling_range_then_the_problem_names_that_variant():
    problems = combination_problems(**{**ONE_INSTANCE, "instance_counts": [2, 9], "weights": [1.0, 1.0],
                                       "scaling": Scaling(min_instances=1, max_instances=4,
                                                                  target_invocations_per_instance=100)})
    assert [(p.field, p.value) for p in problems] == [("variants[0].instance_count", 9)]


def test_when_serverless_meets_instance_settings_then_each_clash_is_its_own_problem():
    problems = combination_problems(**{**ONE_INSTANCE, "serverless": True, "data_capture": True, "in_vpc": True})
    assert [p.fix.split(":")[0] for p in problems] == [
        "cannot be combined with instance_type", "cannot be combined with data_capture",
        "cannot be combined with network.subnet_ids"]
    assert {p.field for p in problems} == {"serverless"}
