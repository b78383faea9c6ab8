"""SageMaker hosting instance families: their sizes, GPUs per size, NVMe instance storage, burstable CPU credits,
memory per vCPU and CPU architecture; servekit.images builds the per-type table from them.

Sources:
- which `ml.*` types exist: botocore's SageMaker service model (ProductionVariantInstanceType's enum, botocore
  1.44.8, read in this repository's environment): every size below is in it (tests/unit/test_images.py checks);
- vCPUs, GPUs, memory and NVMe: EC2's instance-type pages (aws.amazon.com/ec2/instance-types/ and
  docs.aws.amazon.com/ec2/latest/instancetypes/ac.html), which SageMaker's ml.* types share. The families servekit
  had before were written from those tables; the Blackwell (p6-b200, p6-b300, p6e-gb200, g7e) and Graviton
  (c8g, m8g, r8g) rows are written from AWS's launch announcements as remembered, not read here: unconfirmed.
- architecture: Graviton (c8g, m8g, r8g) and Grace (p6e-gb200) are arm64 (AWS Graviton4 and NVIDIA Grace
  are Arm Neoverse V2 CPUs); an x86 image does not start there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from servekit.facts.source import Source

EC2_PAGES = Source("EC2 instance-type pages (aws.amazon.com/ec2/instance-types/), written from them; "
                   "not re-read in this session", False)
ANNOUNCED = Source("AWS launch announcements for the family, as remembered; not read here", False)
GENERAL = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge")
# SageMaker hosts the 5th generation's m/r without the 8xlarge and 16xlarge sizes EC2 has (botocore's enum).
GEN5 = ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge")
GRAVITON = ("medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge",
            "48xlarge")
_GPU_SIZES = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge")


@dataclass(frozen=True)
class InstanceFamily:
    family: str
    sizes: tuple[str, ...]
    gib_per_vcpu: float
    gpus: dict[str, int] = field(default_factory=dict)  # GPUs per size where not 1 (GPU families only)
    nvme: bool = False  # instance storage: SageMaker rejects a KMS key and a volume size on it
    burstable: bool = False
    arch: str = "x86_64"  # or arm64
    source: Source = EC2_PAGES


_MULTI_GPU = {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}

FAMILIES: dict[str, InstanceFamily] = {f.family: f for f in (
    InstanceFamily("t2", ("medium", "large", "xlarge", "2xlarge"), 4, burstable=True),
    InstanceFamily("m5", GEN5, 4),
    InstanceFamily("m5d", GEN5, 4, nvme=True),
    InstanceFamily("m6i", GENERAL + ("32xlarge",), 4),
    InstanceFamily("m7i", GENERAL + ("48xlarge",), 4),
    InstanceFamily("c5", ("large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "18xlarge"), 2),
    InstanceFamily("c5d", ("large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "18xlarge"), 2, nvme=True),
    InstanceFamily("c6i", GENERAL + ("32xlarge",), 2),
    InstanceFamily("c7i", GENERAL + ("48xlarge",), 2),
    InstanceFamily("r5", GEN5, 8),
    InstanceFamily("r5d", GEN5, 8, nvme=True),
    InstanceFamily("g4dn", ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"), 4,
                   {"12xlarge": 4}, nvme=True),
    InstanceFamily("g5", _GPU_SIZES, 4, _MULTI_GPU, nvme=True),
    InstanceFamily("g6", _GPU_SIZES, 4, _MULTI_GPU, nvme=True),
    InstanceFamily("g6e", _GPU_SIZES, 8, _MULTI_GPU, nvme=True),
    InstanceFamily("p3", ("2xlarge", "8xlarge", "16xlarge"), 7.625, {"8xlarge": 4, "16xlarge": 8}),
    InstanceFamily("p4d", ("24xlarge",), 12, {"24xlarge": 8}, nvme=True),
    InstanceFamily("p5", ("48xlarge",), 10.667, {"48xlarge": 8}, nvme=True),
    InstanceFamily("p5e", ("48xlarge",), 10.667, {"48xlarge": 8}, nvme=True, source=ANNOUNCED),
    InstanceFamily("p5en", ("48xlarge",), 10.667, {"48xlarge": 8}, nvme=True, source=ANNOUNCED),
    # Blackwell. g7e: RTX PRO 6000 Blackwell Server Edition, 1 GPU up to 8xlarge, then 2, 4, 8.
    InstanceFamily("g7e", ("2xlarge", "4xlarge", "8xlarge", "12xlarge", "24xlarge", "48xlarge"), 8,
                   {"12xlarge": 2, "24xlarge": 4, "48xlarge": 8}, nvme=True, source=ANNOUNCED),
    InstanceFamily("p6-b200", ("48xlarge",), 10.667, {"48xlarge": 8}, nvme=True, source=ANNOUNCED),
    InstanceFamily("p6-b300", ("48xlarge",), 21.333, {"48xlarge": 8}, nvme=True, source=ANNOUNCED),
    InstanceFamily("p6e-gb200", ("36xlarge",), 6.667, {"36xlarge": 4}, nvme=True, arch="arm64", source=ANNOUNCED),
    # Graviton4 (arm64): medium has 1 vCPU.
    InstanceFamily("c8g", GRAVITON, 2, arch="arm64", source=ANNOUNCED),
    InstanceFamily("m8g", GRAVITON, 4, arch="arm64", source=ANNOUNCED),
    InstanceFamily("r8g", GRAVITON, 8, arch="arm64", source=ANNOUNCED),
)}

# Sizes whose memory breaks the family's ratio (GiB).
GIB_EXCEPTIONS = {"ml.t2.medium": 4, "ml.p5.48xlarge": 2048, "ml.p5e.48xlarge": 2048, "ml.p5en.48xlarge": 2048,
                  "ml.p6-b200.48xlarge": 2048, "ml.p6-b300.48xlarge": 4096, "ml.p6e-gb200.36xlarge": 960}
MEMORY_SOURCE = Source("EC2's instance-type pages ('Memory (GiB)'), written from them, not re-read here; SageMaker "
                       "keeps part of it for its own agents, how much is not documented", False)


def vcpus(family: InstanceFamily, size: str) -> int:
    """EC2's size naming: large has 2 vCPUs, xlarge 4, Nxlarge 4N; medium has 2 on x86 (t2) and 1 on Graviton."""
    if size == "medium":
        return 1 if family.arch == "arm64" else 2
    if size == "large":
        return 2
    return 4 * int(size.removesuffix("xlarge") or 1)
