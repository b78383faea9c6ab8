"""The one table of instance facts, and the rules that follow from it alone."""

from __future__ import annotations

import pytest

from servekit import images


@pytest.mark.parametrize(("instance_type", "vcpus", "gpus", "nvme"), [
    ("ml.t2.medium", 2, 0, False),
    ("ml.m5.large", 2, 0, False),
    ("ml.c5.9xlarge", 36, 0, False),
    ("ml.p3.2xlarge", 8, 1, False),
    ("ml.g5.12xlarge", 48, 4, True),
    ("ml.g5.48xlarge", 192, 8, True),
])
def test_when_an_instance_type_is_looked_up_then_its_vcpus_gpus_and_storage_come_from_the_table(instance_type, vcpus, gpus, nvme):
    facts = images.instance_facts(instance_type)
    assert (facts.vcpus, facts.gpus, facts.nvme) == (vcpus, gpus, nvme)


def test_when_serverless_then_the_facts_are_those_of_no_gpu_and_no_instance_metrics():
    assert (images.SERVERLESS.gpus, images.SERVERLESS.vcpus, images.SERVERLESS.processor) == (0, 0, "cpu")


def test_when_the_image_of_a_serverless_endpoint_is_resolved_then_it_is_the_cpu_one():
    assert images.image_uri("triton", "25.09", "us-east-1", None).endswith("/sagemaker-tritonserver:25.09-py3-cpu")


@pytest.mark.parametrize(("server", "instance_type", "problem"), [
    ("tfs", "ml.c5.xlarge", "TFS serves several SavedModels from one archive instead"),
    ("torchserve", "ml.g5.xlarge", "GPU multi-model endpoints run only in the Triton container"),
    ("triton", "ml.g5.12xlarge", "AWS lists only single-GPU"),
    ("triton", "ml.g6.xlarge", "AWS lists only single-GPU"),
    ("torchserve", "ml.c5.xlarge", None),
    ("triton", "ml.g5.xlarge", None),
    ("triton", "ml.m5.xlarge", None),
])
def test_when_multi_model_is_asked_then_only_what_aws_lists_is_allowed(server, instance_type, problem):
    found = images.multi_model_problem(server, images.instance_facts(instance_type))
    assert (found is None) if problem is None else (problem in found)
