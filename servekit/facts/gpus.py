"""The GPU of each SageMaker GPU instance family, its CUDA compute capability, and the NVIDIA driver that a
real-time endpoint gets on it by default (no InferenceAmiVersion).

Compute capabilities: NVIDIA, "CUDA GPUs - Compute Capability" (https://developer.nvidia.com/cuda-gpus).
GPUs per family: AWS, "Amazon EC2 accelerated computing instances"
(https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html).
Default drivers: AWS, "Best practices to minimize interruptions during GPU driver upgrades", table "Current
versions and supported instance families", row Real-time
(https://docs.aws.amazon.com/sagemaker/latest/dg/inference-gpu-drivers.html): driver 470 / CUDA 11.4 on
ml.p2/p3/p4d/p4de/g4dn/g5; 535 / CUDA 12.2 on ml.p5/g6; 550 / CUDA 12.4 on ml.p5e/p5en.
"""

from __future__ import annotations

from dataclasses import dataclass

from servekit.facts.source import Source

DRIVERS_PAGE = Source("AWS sagemaker/latest/dg/inference-gpu-drivers.html, Real-time row")
CUDA_GPUS = Source("NVIDIA developer.nvidia.com/cuda-gpus")
_BLACKWELL = Source("not in inference-gpu-drivers.html's table: the default driver is assumed to be the oldest "
                    "branch that supports the GPU (NVIDIA CUDA 12.8/12.9 release notes, as remembered)", False)
_BLACKWELL_CUDA = Source("NVIDIA CUDA Toolkit 12.8 release notes (Blackwell support; compute capability 10.0, "
                         "12.0) and 12.9 (10.3), as remembered; not read here", False)


@dataclass(frozen=True)
class FamilyFacts:
    family: str
    gpu: str
    compute_capability: tuple[int, int]
    default_driver: int  # the driver branch (R470, R535, ...) of the real-time default AMI
    default_cuda: str  # the CUDA version AWS lists beside that driver
    data_center: bool  # a data-center GPU: NVIDIA's CUDA forward compatibility applies
    source: Source = DRIVERS_PAGE
    min_cuda: str = ""  # the first CUDA that supports this GPU ("": older than any image servekit knows)
    min_cuda_source: Source = Source("not needed: every image servekit knows is newer", True)


FAMILIES: dict[str, FamilyFacts] = {
    "p3": FamilyFacts("p3", "NVIDIA V100", (7, 0), 470, "11.4", True),
    "g4dn": FamilyFacts("g4dn", "NVIDIA T4", (7, 5), 470, "11.4", True),
    "g5": FamilyFacts("g5", "NVIDIA A10G", (8, 6), 470, "11.4", True),
    "p4d": FamilyFacts("p4d", "NVIDIA A100", (8, 0), 470, "11.4", True),
    "g6": FamilyFacts("g6", "NVIDIA L4", (8, 9), 535, "12.2", True),
    "p5": FamilyFacts("p5", "NVIDIA H100", (9, 0), 535, "12.2", True),
    # g6e is not in the drivers page's table: its default driver is inferred from g6 (same AMI generation).
    "g6e": FamilyFacts("g6e", "NVIDIA L40S", (8, 9), 535, "12.2", True,
                       Source("inferred from the g6 row of inference-gpu-drivers.html (g6e is not listed)", False)),
    "p5e": FamilyFacts("p5e", "NVIDIA H200", (9, 0), 550, "12.4", True),
    "p5en": FamilyFacts("p5en", "NVIDIA H200", (9, 0), 550, "12.4", True),
    # Blackwell. Not in the drivers page's table: the default driver is unknown here, so servekit assumes the
    # oldest that supports the GPU at all (R570, CUDA 12.8: NVIDIA's CUDA 12.8 release added Blackwell, compute
    # capability 10.0 and 12.0; 12.9 added 10.3, Blackwell Ultra). All unconfirmed: the rules warn.
    "p6-b200": FamilyFacts("p6-b200", "NVIDIA B200", (10, 0), 570, "12.8", True, _BLACKWELL, "12.8", _BLACKWELL_CUDA),
    "p6e-gb200": FamilyFacts("p6e-gb200", "NVIDIA GB200", (10, 0), 570, "12.8", True, _BLACKWELL, "12.8",
                             _BLACKWELL_CUDA),
    "p6-b300": FamilyFacts("p6-b300", "NVIDIA B300", (10, 3), 575, "12.9", True, _BLACKWELL, "12.9", _BLACKWELL_CUDA),
    "g7e": FamilyFacts("g7e", "NVIDIA RTX PRO 6000 Blackwell Server Edition", (12, 0), 570, "12.8", True, _BLACKWELL,
                       "12.8", _BLACKWELL_CUDA),
}


def family_of(instance_type: str | None) -> str | None:
    """`ml.g5.xlarge` -> `g5`."""
    parts = (instance_type or "").split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "ml" else None


def facts_for(instance_type: str | None) -> FamilyFacts | None:
    return FAMILIES.get(family_of(instance_type) or "")
