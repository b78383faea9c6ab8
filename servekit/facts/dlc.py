"""What each Deep Learning Container image needs from the GPU host: the framework it serves, the CUDA it is
built on, the NVIDIA driver that CUDA needs, the older driver branches that can run it through CUDA forward
compatibility on data-center GPUs, and the lowest compute capability it supports. Triton images also list
the runtimes inside (TensorRT, ONNX Runtime, libtorch), which decide what model files they load.

Sources, per entry:
- Triton: NVIDIA's release notes, "Driver Requirements" and "GPU Requirements"
  (docs.nvidia.com/deeplearning/triton-inference-server/release-notes/rel-YY-MM.html). 25.08 and 25.10 were read
  (CUDA 13.0, driver 575+, data-center branches R470.57+/R525.85+/R535.86+/R545.23+, compute capability 7.5+);
  25.09 sits between them. 24.05 was read (CUDA 12.4, driver 545+, the same branches, compute capability 6.0+).
- PyTorch and TensorFlow DLCs: the image tags in aws/deep-learning-containers `available_images.md`
  (pytorch-inference:2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker, tensorflow-inference:2.19.0-gpu-py312-cu122-
  ubuntu22.04-sagemaker) give CUDA; the driver each CUDA needs is NVIDIA's CUDA Toolkit release notes, table 3
  (12.2: >= 535.54.03, 12.4: >= 550.54.14). Their forward-compatibility branches and minimum compute capability
  are not stated by AWS: unconfirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from servekit.facts.source import Source

# NVIDIA's data-center forward-compatibility branches for CUDA 12.x/13.0 containers: (branch, lowest minor).
FORWARD_COMPAT_12_13 = ((470, 57), (525, 85), (535, 86), (545, 23))


@dataclass(frozen=True)
class ImageFacts:
    server: str  # tfs | torchserve | triton
    version: str  # the image_version servekit.yaml takes
    framework_version: str  # TensorFlow / PyTorch in the image; for Triton, the server release
    cuda: str
    min_driver: int  # the driver branch that runs this CUDA natively
    forward_compat: tuple[tuple[int, int], ...]  # older branches that run it on data-center GPUs (compat package)
    min_compute_capability: tuple[int, int]
    runtimes: dict[str, str] = field(default_factory=dict)  # tensorrt, onnxruntime, libtorch (Triton)
    source: Source = Source("see the module docstring")


def _triton(version: str, cuda: str, driver: int, cc: tuple[int, int], runtimes: dict[str, str],
            source: Source) -> ImageFacts:
    return ImageFacts("triton", version, version, cuda, driver, FORWARD_COMPAT_12_13, cc, runtimes, source)


_NOTES = "NVIDIA triton-inference-server/release-notes/rel-{}.html"

IMAGES: dict[tuple[str, str], ImageFacts] = {
    ("triton", "25.09"): _triton(
        "25.09", "13.0", 575, (7, 5),
        # Runtimes of 25.09 from NVIDIA's framework support matrix as remembered, not re-read: unconfirmed.
        {"tensorrt": "10.13", "onnxruntime": "1.23", "libtorch": "2.9"},
        Source(_NOTES.format("25-08") + " and rel-25-10.html (25.09 between them, same requirements)")),
    ("triton", "25.04"): _triton(
        "25.04", "12.9", 575, (7, 5), {"tensorrt": "10.9", "onnxruntime": "1.21", "libtorch": "2.7"},
        Source(_NOTES.format("25-03") + " (25.03: compute capability 7.5+, branches as 25.08); 25.04 inferred", False)),
    ("triton", "24.09"): _triton(
        "24.09", "12.6", 560, (6, 0), {"tensorrt": "10.4", "onnxruntime": "1.19", "libtorch": "2.5"},
        Source(_NOTES.format("24-05") + " pattern (compute capability 6.0+ through 24.x); 24.09 inferred", False)),
    ("triton", "24.05"): _triton(
        "24.05", "12.4", 545, (6, 0), {"tensorrt": "10.0", "onnxruntime": "1.18", "libtorch": "2.4"},
        Source(_NOTES.format("24-05"))),
    ("torchserve", "2.6"): ImageFacts(
        "torchserve", "2.6", "2.6.0", "12.4", 550, ((470, 57), (535, 86)), (5, 0),
        source=Source("DLC tag pytorch-inference:2.6.0-gpu-py312-cu124; forward-compat branches and compute "
                      "capability from PyTorch 2.6's CUDA 12.4 wheels, not an AWS page", False)),
    ("torchserve", "2.5"): ImageFacts(
        "torchserve", "2.5", "2.5.1", "12.4", 550, ((470, 57), (535, 86)), (5, 0),
        source=Source("DLC tag pytorch-inference:2.5.1-gpu-py311-cu124 (unconfirmed)", False)),
    ("tfs", "2.19"): ImageFacts(
        "tfs", "2.19", "2.19.0", "12.2", 535, ((470, 57), (525, 85)), (6, 0),
        source=Source("DLC tag tensorflow-inference:2.19.0-gpu-py312-cu122; forward-compat branches and compute "
                      "capability not stated by AWS", False)),
    ("tfs", "2.18"): ImageFacts(
        "tfs", "2.18", "2.18.0", "12.2", 535, ((470, 57), (525, 85)), (6, 0),
        source=Source("DLC tag tensorflow-inference:2.18.0-gpu-py310-cu122 (unconfirmed)", False)),
}

