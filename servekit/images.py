"""Deep Learning Container image URIs, resolved offline, and the facts servekit needs about instance types.

URIs come from sagemaker-core's own table (`image_uris.retrieve`), the one the SageMaker SDK uses, so
accounts that differ by region (ap-east-1, me-south-1, cn-*, ...) are right without a table of ours.
Instance facts (vCPUs, GPUs, NVMe instance storage, burstable) live in the one table below, and so do the
rules that follow from them alone: what serverless inference and multi-model endpoints can run.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


class ImageError(ValueError):
    """No DLC image for this server, version, region and processor."""


@dataclass(frozen=True)
class InstanceFacts:
    instance_type: str
    gpus: int
    nvme: bool  # instance storage: SageMaker rejects a KMS key and a volume size on the endpoint config
    burstable: bool  # CPU credits: useless for autoscaling on utilisation
    vcpus: int = 0  # CPUUtilization is summed over vCPUs (0..100 x vCPUs); 0 = serverless, not published
    memory_gib: float = 0  # the instance's memory (EC2's figure): what inference components' copies share

    @property
    def processor(self) -> str:
        return "gpu" if self.gpus else "cpu"


# Serverless inference runs on CPU only ("GPUs" heads AWS's list of features serverless does not support:
# https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions),
# so a serverless endpoint gets the facts of "no GPU": every GPU-only setting is refused by the same checks
# that refuse it on a CPU instance, and the image is the CPU one.
SERVERLESS = InstanceFacts("serverless", gpus=0, nvme=False, burstable=False, vcpus=0)


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


# Memory per vCPU by family, and the sizes that break the family's ratio: EC2's instance-type pages
# (aws.amazon.com/ec2/instance-types/, "Memory (GiB)"), which SageMaker's ml.* types share. Written from those
# tables, not re-read in this session: unconfirmed (servekit.rules.components warns near the limit for that
# reason, and because SageMaker keeps part of the memory for its own agents; how much is not documented).
_GIB_PER_VCPU = {"t2": 4, "m5": 4, "m5d": 4, "m6i": 4, "m7i": 4, "c5": 2, "c5d": 2, "c6i": 2, "c7i": 2, "r5": 8,
                 "r5d": 8, "g4dn": 4, "g5": 4, "g6": 4, "g6e": 8, "p3": 7.625, "p4d": 12, "p5": 10.667}
_GIB_EXCEPTIONS = {"ml.t2.medium": 4, "ml.p5.48xlarge": 2048}
MEMORY_FACT_CONFIRMED = False


def _vcpus(size: str) -> int:
    # Every family in the table follows EC2's size naming: medium and large have 2 vCPUs, xlarge 4,
    # Nxlarge 4N (t2.medium, p3.2xlarge and g5.48xlarge included).
    if size in ("medium", "large"):
        return 2
    return 4 * int(size.removesuffix("xlarge") or 1)


def _all_types() -> dict[str, InstanceFacts]:
    table = {}
    for family, (sizes, gpus, nvme, burstable) in _FAMILIES.items():
        for size in sizes:
            name = f"ml.{family}.{size}"
            count = gpus.get(size, 1) if family in _GPU_FAMILIES else 0
            memory = _GIB_EXCEPTIONS.get(name, _GIB_PER_VCPU[family] * _vcpus(size))
            table[name] = InstanceFacts(name, count, nvme, burstable, _vcpus(size), memory)
    return table


INSTANCE_TYPES: dict[str, InstanceFacts] = _all_types()


def instance_facts(instance_type: str) -> InstanceFacts | None:
    return INSTANCE_TYPES.get(instance_type)


def variant_facts(instance_type: str | None) -> InstanceFacts | None:
    """The facts of what a variant runs on: `instance_type` None is serverless inference, which has those of "no
    GPU" (SERVERLESS); None for a type servekit does not know."""
    return SERVERLESS if instance_type is None else instance_facts(instance_type)


def gpu_multi_model_problem(facts: InstanceFacts) -> str | None:
    """Why a GPU instance cannot hold a multi-model endpoint whatever the server, or None.

    AWS: CPU multi-model endpoints are supported by the TensorFlow and PyTorch containers; GPU ones only by
    the Triton container (https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-support.html), and only
    on single-GPU sizes of the families below.
    """
    family = facts.instance_type.split(".")[1] if facts.instance_type.count(".") == 2 else ""
    if facts.gpus and (facts.gpus > 1 or family not in _MULTI_MODEL_GPU_FAMILIES):
        return (f"AWS lists only single-GPU {', '.join(sorted(_MULTI_MODEL_GPU_FAMILIES))} instances for GPU "
                f"multi-model endpoints, not {facts.instance_type}; use e.g. ml.g5.xlarge")
    return None


# The GPU instance types AWS lists for multi-model endpoints: single-GPU sizes of these families.
_MULTI_MODEL_GPU_FAMILIES = {"p3", "g4dn", "g5"}


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


# Resolved URIs persist here between runs, so a warm synth never imports sagemaker-core (seconds of import for
# three lookups). The key holds everything the answer depends on, the installed sagemaker-core version
# included: upgrading it (a new image table) misses the cache. Only answers are stored, never errors.
URI_CACHE_ENV = "SERVEKIT_CACHE_DIR"
URI_CACHE_FILE = "image-uris.json"


def _uri_cache_path() -> Path:
    return Path(os.environ.get(URI_CACHE_ENV, ".servekit/cache")) / URI_CACHE_FILE


def _uri_cache_key(framework: str, version: str, region: str, instance_type: str | None) -> str:
    try:
        sdk = metadata.version("sagemaker-core")
    except metadata.PackageNotFoundError:
        sdk = "?"
    return f"{framework}|{version}|{region}|{instance_type or 'serverless'}|sagemaker-core=={sdk}"


def _read_uri_cache() -> dict[str, str]:
    try:
        data = json.loads(_uri_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_uri_cache(key: str, uri: str) -> None:
    path = _uri_cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {**_read_uri_cache(), key: uri}
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the new one
    except OSError:
        pass  # a read-only checkout still synthesizes, only slower


@functools.lru_cache(maxsize=256)
def image_uri(framework: str, version: str, region: str, instance_type: str | None) -> str:
    """The DLC inference image of sagemaker-core's `framework` (a server's `image_framework`: tensorflow, pytorch,
    sagemaker-tritonserver), CPU or GPU from `instance_type`; `instance_type` None means serverless, which runs
    the CPU image. From the cache file under .servekit/cache (SERVEKIT_CACHE_DIR) when it was resolved before,
    else from sagemaker-core's table."""
    key = _uri_cache_key(framework, version, region, instance_type)
    cached = _read_uri_cache().get(key)
    if isinstance(cached, str):
        return cached
    uri = _resolve(framework, version, region, instance_type)
    _write_uri_cache(key, uri)
    return uri


def _resolve(framework: str, version: str, region: str, instance_type: str | None) -> str:
    where: dict[str, object] = {"instance_type": instance_type}
    if instance_type is None:
        from sagemaker.core.serverless_inference_config import ServerlessInferenceConfig

        where = {"serverless_inference_config": ServerlessInferenceConfig()}
    try:
        return _sdk().retrieve(framework, region, version=version, image_scope="inference", **where)
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


def ecr_repository_arn(uri: str) -> str:
    """arn:<partition>:ecr:<region>:<account>:repository/<name> of an ECR image URI, for a pull-only policy.

    The partition is the one of the repository's region (aws-us-gov in GovCloud, aws-cn in China), from the
    CDK's own region table: an `arn:aws:` ARN never matches a repository there, so the pull would be denied.
    """
    match = re.match(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)", uri)
    if not match:
        raise ImageError(f"{uri!r} is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)")
    account, region, repo = match.groups()
    return f"arn:{partition_of(region)}:ecr:{region}:{account}:repository/{repo}"


@functools.cache  # aws_cdk.region_info answers from Node: one region, one round trip
def partition_of(region: str) -> str:
    """aws, aws-cn or aws-us-gov: the partition of a region (aws_cdk.region_info's table)."""
    from aws_cdk import region_info

    partition = region_info.RegionInfo.get(region).partition
    if partition:
        return partition
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))
