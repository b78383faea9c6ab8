"""servekit.rules.variants: one rule each, used by both servekit.config and the constructs."""

from __future__ import annotations

import re

import pytest

from servekit import config as cfg
from servekit.constructs.variant import Variant
from servekit.rules import variants


def test_when_a_gpu_only_setting_is_set_on_a_cpu_instance_then_one_problem_names_field_value_and_fix():
    (problem,) = variants.gpu_only("ml.c5.xlarge", False, {"tuning.model_load_gpu_limit": 0.5, "other": None})
    assert str(problem) == ("tuning.model_load_gpu_limit: 0.5 is GPU-only but ml.c5.xlarge has no GPU; use a GPU "
                            "instance type (e.g. ml.g5.xlarge) or remove the setting")
    assert variants.gpu_only("ml.g5.xlarge", True, {"tuning.model_load_gpu_limit": 0.5}) == []


def test_when_volume_size_is_set_on_nvme_then_a_problem_and_none_on_ebs():
    assert "refuses VolumeSizeInGB" in str(variants.nvme_volume("ml.g5.xlarge", True, 50)[0])
    assert variants.nvme_volume("ml.m5.xlarge", False, 50) == []
    assert variants.nvme_volume("ml.g5.xlarge", True, None) == []


def test_when_names_repeat_then_the_duplicates_are_named_and_the_own_variant_hinted():
    (problem,) = variants.duplicate_names(["AllTraffic", "b", "AllTraffic"], own="AllTraffic")
    assert "['AllTraffic'] appear twice (the endpoint's own is variant_name 'AllTraffic')" in str(problem)
    assert variants.duplicate_names(["a", "b"]) == []


@pytest.mark.parametrize("name", ["AllTraffic", "a", "a-b--c", "x" * 63])
def test_when_a_name_fits_sagemakers_pattern_then_config_and_constructs_accept_it(name):
    assert re.match(variants.NAME_PATTERN, name)
    assert cfg.VARIANT_NAME_PATTERN == variants.NAME_PATTERN


@pytest.mark.parametrize("name", ["-a", "a-", "a_b", "x" * 64, ""])
def test_when_a_name_breaks_sagemakers_pattern_then_the_construct_refuses_it(name):
    from servekit.constructs.model_data import ModelData

    with pytest.raises(ValueError, match=r"must be 1-63 letters, digits and hyphens"):
        Variant(name=name, server="tfs", model_data=ModelData.from_s3_uri("s3://my-models/m.tar.gz"), environment={},
                image=None, instance_type="ml.m5.xlarge")


@pytest.mark.parametrize(("instance_type", "burstable", "gpus", "gpu_target", "fields"), [
    ("ml.t2.medium", True, 0, None, ["scaling"]),
    ("ml.c5.xlarge", False, 0, 60.0, ["scaling.target_gpu_utilization_percent"]),
    ("ml.t2.medium", True, 0, 60.0, ["scaling", "scaling.target_gpu_utilization_percent"]),
    ("ml.g5.xlarge", False, 1, 60.0, []),
    ("ml.c5.xlarge", False, 0, None, []),
])
def test_when_an_instance_is_scaled_then_credits_and_missing_gpus_are_the_problems(instance_type, burstable, gpus,
                                                                                   gpu_target, fields):
    problems = variants.scaled_instance(instance_type, burstable=burstable, gpus=gpus,
                                        target_gpu_utilization_percent=gpu_target)
    assert [p.field for p in problems] == fields
    assert all(instance_type in p.fix for p in problems)
