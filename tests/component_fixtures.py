"""An inference-component endpoint made of the embedded default's models: the question-answering TorchServe
model and the resnet Triton model on one ml.g5.12xlarge fleet (4 GPUs, 48 vCPUs, 192 GiB)."""

from __future__ import annotations

import copy

RESERVED = ("instance_type", "instance_count", "scaling", "deployment", "alarms", "data_capture",
            "variants", "shadow_variant", "network", "container", "inference_ami_version")


def component_endpoint(default_config_data: dict, **fleet) -> dict:
    """The default's question-answering and resnet as components (their model and tuning kept), appended to
    `component_endpoints` of `default_config_data` and returned."""
    by_name = {e["name"]: e for e in default_config_data["endpoints"]}
    qa = {k: v for k, v in copy.deepcopy(by_name["question-answering"]).items() if k not in RESERVED}
    resnet = {k: v for k, v in copy.deepcopy(by_name["resnet"]).items() if k not in RESERVED}
    qa.update(name="qa", compute={"cpu_cores": 2, "memory_mb": 4096}, copies=1,
              copy_scaling={"min_copies": 0, "max_copies": 4, "target_concurrent_requests_per_copy": 4},
              rollout={"batch_copies": 1, "rollback_alarm_names": ["team-qa-errors"]})
    resnet.update(name="resnet", compute={"cpu_cores": 4, "memory_mb": 16384, "accelerators": 1}, copies=1,
                  copy_scaling={"min_copies": 1, "max_copies": 4, "target_invocations_per_copy": 600})
    endpoint = {"name": "gpu-fleet", "instance_type": "ml.g5.12xlarge", "instance_count": 1,
                "instance_scaling": {"min_instances": 0, "max_instances": 2}, "components": [qa, resnet], **fleet}
    default_config_data.setdefault("component_endpoints", []).append(endpoint)
    return endpoint
