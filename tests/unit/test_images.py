"""The one table of instance facts, and the rules that follow from it alone."""

from __future__ import annotations

import pytest

from servekit import images, registry


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
    assert images.image_uri("sagemaker-tritonserver", "25.09", "us-east-1", None).endswith("/sagemaker-tritonserver:25.09-py3-cpu")


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
    found = registry.get(server).multi_model_problem(images.instance_facts(instance_type))
    assert (found is None) if problem is None else (problem in found)


# --- the image URI cache (.servekit/cache/image-uris.json) ------------------------------------------------
LOOKUP = """
import json, sys
from servekit import images
uri = images.image_uri("pytorch", "2.6", "eu-west-1", "ml.g5.xlarge")
print(json.dumps({"uri": uri, "sagemaker_core_imported": "sagemaker.core" in sys.modules}))
"""


def _lookup(cache_dir) -> dict:
    import json
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", LOOKUP], env={**os.environ, images.URI_CACHE_ENV: str(cache_dir)},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_when_an_image_was_resolved_before_then_the_next_process_reads_it_without_importing_sagemaker_core(tmp_path):
    cold = _lookup(tmp_path)
    warm = _lookup(tmp_path)
    assert cold["sagemaker_core_imported"] and not warm["sagemaker_core_imported"]
    assert warm["uri"] == cold["uri"] == "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.6-gpu-py312"


def test_when_the_cache_file_is_corrupt_then_the_table_answers_and_the_file_is_rewritten(tmp_path, monkeypatch):
    import json

    (tmp_path / images.URI_CACHE_FILE).write_text("{not json")
    monkeypatch.setenv(images.URI_CACHE_ENV, str(tmp_path))
    images.image_uri.cache_clear()
    uri = images.image_uri("tensorflow", "2.19", "us-west-2", "ml.c5.xlarge")
    assert uri.endswith("/tensorflow-inference:2.19-cpu")
    assert list(json.loads((tmp_path / images.URI_CACHE_FILE).read_text()).values()) == [uri]


def test_when_sagemaker_core_is_upgraded_then_the_cached_answer_is_not_used(monkeypatch):
    from importlib import metadata

    before = images._uri_cache_key("tfs", "2.19", "us-east-1", "ml.c5.xlarge")
    monkeypatch.setattr(images.metadata, "version", lambda dist: "99.0.0" if dist == "sagemaker-core" else metadata.version(dist))
    assert images._uri_cache_key("tfs", "2.19", "us-east-1", "ml.c5.xlarge") != before


def test_when_a_version_does_not_exist_then_the_error_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv(images.URI_CACHE_ENV, str(tmp_path))
    images.image_uri.cache_clear()
    with pytest.raises(images.ImageError, match=r"no tensorflow inference image version 9.9"):
        images.image_uri("tensorflow", "9.9", "us-east-1", "ml.c5.xlarge")
    assert not (tmp_path / images.URI_CACHE_FILE).exists()
