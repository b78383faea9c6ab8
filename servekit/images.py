"""Deep Learning Container image URIs, resolved offline, and the facts servekit needs about instance types.

URIs come from sagemaker-core's own table (`image_uris.retrieve`), the one the SageMaker SDK uses, so
accounts that differ by region (ap-east-1, me-south-1, cn-*, ...) are right without a table of ours.
Instance facts (vCPUs, GPUs, NVMe instance storage, burstable, memory, architecture) are built below from
servekit.facts.instances (each family with its source), and so are the rules that follow from them alone:
what serverless inference and multi-model endpoints can run.
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

from servekit.facts import gpus, instances


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
    arch: str = "x86_64"  # arm64 on Graviton and Grace: only an arm64 image starts there

    @property
    def processor(self) -> str:
        return "gpu" if self.gpus else "cpu"


# Serverless inference runs on CPU only ("GPUs" heads AWS's list of features serverless does not support:
# https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions),
# so a serverless endpoint gets the facts of "no GPU": every GPU-only setting is refused by the same checks
# that refuse it on a CPU instance, and the image is the CPU one.
SERVERLESS = InstanceFacts("serverless", gpus=0, nvme=False, burstable=False, vcpus=0)


def _all_types() -> dict[str, InstanceFacts]:
    """Every ml.* type of servekit.facts.instances, a GPU family's count from facts.gpus (1 unless listed)."""
    table = {}
    for family in instances.FAMILIES.values():
        for size in family.sizes:
            name = f"ml.{family.family}.{size}"
            count = family.gpus.get(size, 1) if family.family in gpus.FAMILIES else 0
            cpus = instances.vcpus(family, size)
            memory = instances.GIB_EXCEPTIONS.get(name, family.gib_per_vcpu * cpus)
            table[name] = InstanceFacts(name, count, family.nvme, family.burstable, cpus, memory, family.arch)
    return table


MEMORY_FACT_CONFIRMED = instances.MEMORY_SOURCE.confirmed

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
    scope = "inference"
    if instance_type is None:
        from sagemaker.core.serverless_inference_config import ServerlessInferenceConfig

        where = {"serverless_inference_config": ServerlessInferenceConfig()}
    elif getattr(instance_facts(instance_type), "arch", "x86_64") == "arm64":
        # sagemaker-core answers the x86 image for a Graviton type under the plain scope, which would not start:
        # arm64 images are their own scope (pytorch-inference-arm64, tensorflow-inference-graviton).
        scope = "inference_graviton"
        if scope not in _sdk().config_for_framework(framework):  # else sagemaker-core answers the x86 image
            raise ImageError(_arm64_fix(framework, version, instance_type))
    try:
        return _sdk().retrieve(framework, region, version=version, image_scope=scope, **where)
    except ValueError as err:
        if scope == "inference_graviton":
            raise ImageError(_arm64_fix(framework, version, instance_type or "")) from None
        raise ImageError(_explain(framework, str(err))) from None


def _arm64_fix(framework: str, version: str, instance_type: str) -> str:
    graviton = _sdk().config_for_framework(framework).get("inference_graviton", {})
    versions = sorted(graviton.get("versions", {}), key=_version_key)
    processors = graviton.get("processors", [])
    facts = instance_facts(instance_type)
    if not versions:
        why = f"AWS publishes no arm64 {framework} inference image"
    elif facts is not None and facts.gpus and "gpu" not in processors:
        why = f"AWS's arm64 {framework} inference images are CPU-only (versions {', '.join(versions[-4:])})"
    else:
        why = f"no arm64 {framework} inference image version {version}; arm64 versions: {', '.join(versions[-6:])}"
    return (f"{instance_type} is arm64 and an x86 image does not start there: {why}; use an x86 instance type or "
            f"an image_version with an arm64 build")


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
