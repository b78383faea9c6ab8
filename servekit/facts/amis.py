"""The InferenceAmiVersion values of a production variant: the NVIDIA driver and CUDA of each, whether the
container toolkit mounts the image's CUDA forward-compatibility libraries, and the families it runs on.

Source: the SageMaker API reference, ProductionVariant.InferenceAmiVersion
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html, also in botocore's and
sagemaker-core's service-2.json): gpu-2: driver 535.54.03, CUDA 12.2, ml.g4dn/g5/g6/p3/p4d/p4de/p5;
gpu-2-1: 535 / 12.2 with CUDA-compat mounting disabled; gpu-3-1: 550 / 12.4 with CUDA-compat mounting
disabled; al2023 gpu-4-1: 580 / 13.0 with CUDA-compat mounting disabled (botocore 1.44.8's service model, read
in this environment). The allowed values are cfn-lint 1.58's schema enum for AWS::SageMaker::EndpointConfig and
botocore's ProductionVariantInferenceAmiVersion enum (the same five).
"""

from __future__ import annotations

from dataclasses import dataclass

from servekit.facts.source import Source

API_REFERENCE = Source("AWS sagemaker/latest/APIReference/API_ProductionVariant.html, InferenceAmiVersion")


@dataclass(frozen=True)
class AmiFacts:
    name: str
    accelerator: str  # gpu | neuron
    driver: int  # NVIDIA driver branch (0 for neuron)
    cuda: str
    compat_mounting: bool  # False: the image's CUDA forward-compatibility package is not mounted
    families: frozenset[str]
    source: Source = API_REFERENCE  # of driver, CUDA and compat mounting
    families_source: Source = API_REFERENCE


_GPU_FAMILIES = frozenset({"g4dn", "g5", "g6", "p3", "p4d", "p4de", "p5"})

AMIS: dict[str, AmiFacts] = {
    "al2-ami-sagemaker-inference-gpu-2": AmiFacts("al2-ami-sagemaker-inference-gpu-2", "gpu", 535, "12.2", True,
                                                  _GPU_FAMILIES),
    # Driver, CUDA and compat mounting from the API reference; the families are not listed there for these two
    # and are taken to be gpu-2's (unconfirmed).
    "al2-ami-sagemaker-inference-gpu-2-1": AmiFacts(
        "al2-ami-sagemaker-inference-gpu-2-1", "gpu", 535, "12.2", False, _GPU_FAMILIES,
        families_source=Source("not listed for gpu-2-1: assumed as gpu-2's", False)),
    "al2-ami-sagemaker-inference-gpu-3-1": AmiFacts(
        "al2-ami-sagemaker-inference-gpu-3-1", "gpu", 550, "12.4", False, _GPU_FAMILIES | {"g6e", "p5e", "p5en"},
        families_source=Source("not listed for gpu-3-1: assumed as gpu-2's plus g6e, p5e, p5en", False)),
    # Driver and CUDA from botocore's service model (the API reference's text); the families are not listed there:
    # taken to be gpu-3-1's plus the H200 and Blackwell families, whose GPUs need its newer driver (unconfirmed).
    "al2023-ami-sagemaker-inference-gpu-4-1": AmiFacts(
        "al2023-ami-sagemaker-inference-gpu-4-1", "gpu", 580, "13.0", False,
        _GPU_FAMILIES | {"g6e", "p5e", "p5en", "p6-b200", "p6-b300", "p6e-gb200", "g7e"},
        Source("botocore 1.44.8 service-2.json, ProductionVariant.InferenceAmiVersion (the API reference's text)"),
        Source("not listed for gpu-4-1: assumed as gpu-3-1's plus the H200 and Blackwell families", False)),
    "al2-ami-sagemaker-inference-neuron-2": AmiFacts("al2-ami-sagemaker-inference-neuron-2", "neuron", 0, "", False,
                                                     frozenset({"inf2", "trn1"})),  # Neuron driver 2.19
}
AMI_NAMES = tuple(AMIS)
