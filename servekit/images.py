"""Deep Learning Container image URIs, resolved offline, and the facts servekit needs about instance types.

URIs come from sagemaker-core's own table (`image_uris.retrieve`), the one the SageMaker SDK uses, so
accounts that differ by region (ap-east-1, me-south-1, cn-*, ...) are right without a table of ours.
Instance facts (GPUs, NVMe instance storage, burstable) live in the one table below.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

# server name in servekit.yaml -> framework name in sagemaker-core's image table
FRAMEWORKS = {"tfs": "tensorflow", "torchserve": "pytorch", "triton": "sagemaker-tritonserver"}


class ImageError(ValueError):
    """No DLC image for this server, version, region and processor."""


@dataclass(frozen=True)
class InstanceFacts:
    instance_type: str
    gpus: int
    nvme: bool  # instance storage: SageMaker rejects a KMS key on the endpoint config's volume
    burstable: bool  # CPU credits: useless for autoscaling on utilisation

    @property
    def processor(self) -> str:
        return "gpu" if self.gpus else "cpu"


# family -> (sizes, GPUs per size (default 0), NVMe instance storage, burstable)
_SIZES_GENERAL = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge")
_FAMILIES: dict[str, tuple[tuple[str, ...], dict[str, int], bool, bool]] = {
    "t2": (("medium", "large", "xlarge", "2xlarge"), {}, False, True),
    "m5": (_SIZES_GENERAL, {}, False, False),
    "m5d": (_SIZES_GENERAL, {}, True, False),
    "m6i": (_SIZES_GENERAL + ("32xlarge",), {}, False, False),
    "m7i": (_SIZES_GENERAL + ("48xlarge",), {}, False, False),
    "c5": (("large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "18xlarge"), {}, False, False),
    "c5d": (("large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "18xlarge"), {}, True, False),
    "c6i": (_SIZES_GENERAL + ("32xlarge",), {}, False, False),
    "c7i": (_SIZES_GENERAL + ("48xlarge",), {}, False, False),
    "r5": (_SIZES_GENERAL, {}, False, False),
    "r5d": (_SIZES_GENERAL, {}, True, False),
    "g4dn": (("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"), {"12xlarge": 4}, True, False),
    "g5": (("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"),
           {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}, True, False),
    "g6": (("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"),
           {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}, True, False),
    "g6e": (("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"),
            {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}, True, False),
    "p3": (("2xlarge", "8xlarge", "16xlarge"), {"8xlarge": 4, "16xlarge": 8}, False, False),
    "p4d": (("24xlarge",), {"24xlarge": 8}, True, False),
    "p5": (("48xlarge",), {"48xlarge": 8}, True, False),
}
_GPU_FAMILIES = {"g4dn", "g5", "g6", "g6e", "p3", "p4d", "p5"}


def _all_types() -> dict[str, InstanceFacts]:
    table = {}
    for family, (sizes, gpus, nvme, burstable) in _FAMILIES.items():
        for size in sizes:
            name = f"ml.{family}.{size}"
            count = gpus.get(size, 1) if family in _GPU_FAMILIES else 0
            table[name] = InstanceFacts(name, count, nvme, burstable)
    return table


INSTANCE_TYPES: dict[str, InstanceFacts] = _all_types()


def instance_facts(instance_type: str) -> InstanceFacts | None:
    return INSTANCE_TYPES.get(instance_type)


def suggest_instance_type(wrong: str) -> str:
    """A ' (did you mean ...?)' suffix for an unknown instance type, or ''."""
    guess = wrong if wrong.startswith("ml.") else f"ml.{wrong}"
    close = difflib.get_close_matches(guess, list(INSTANCE_TYPES), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


@functools.cache
def _sdk():
    # Imported lazily: sagemaker-core takes seconds to import, and most commands never need it.
    from sagemaker.core import image_uris

    return image_uris


@functools.lru_cache(maxsize=256)
def image_uri(server: str, version: str, region: str, instance_type: str) -> str:
    """The DLC inference image for `server` (tfs | torchserve | triton), CPU or GPU from `instance_type`."""
    if server not in FRAMEWORKS:
        raise ImageError(f"unknown server {server!r}; use one of {sorted(FRAMEWORKS)}")
    framework = FRAMEWORKS[server]
    try:
        return _sdk().retrieve(framework, region, version=version, image_scope="inference", instance_type=instance_type)
    except ValueError as err:
        raise ImageError(_explain(framework, str(err))) from None


def _explain(framework: str, message: str) -> str:
    """sagemaker-core's messages list every version since 2017; keep the newest few as the fix."""
    head = re.match(r"Unsupported (.+?): (\S+?)\.(?:\s|$)", message)
    tail = re.search(r"Supported [^:]*: (.*)$", message, re.S)
    if not head or not tail:
        return message.splitlines()[0]
    what, bad = head.groups()
    options = [s.strip().rstrip(".") for s in tail.group(1).split(",") if s.strip()]
    if what == "region":
        return f"no {framework} inference image in region {bad}; use a region with one, e.g. {', '.join(options[:6])}"
    if "version" in what:
        newest = sorted(options, key=_version_key)[-6:]
        return f"no {framework} inference image version {bad}; use one of the newest: {', '.join(newest)}"
    return f"{framework} has no image for {what} {bad}; supported: {', '.join(options[:8])}"


def ecr_repository_arn(uri: str, partition: str = "aws") -> str:
    """arn:...:ecr:<region>:<account>:repository/<name> of a DLC image URI, for a pull-only policy."""
    match = re.match(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)", uri)
    if not match:
        raise ImageError(f"{uri!r} is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)")
    account, region, repo = match.groups()
    if region.startswith("cn-"):
        partition = "aws-cn"
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repo}"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))
