"""Can this image start on this instance's GPU, with its driver? Compute capability, CUDA driver and CUDA
forward compatibility, from servekit.facts (dlc, gpus, amis).

A container whose CUDA the host driver cannot run fails with CannotStartContainerError; one built without
kernels for the GPU's compute capability fails at the first CUDA call. Neither shows in a template check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from servekit.facts import amis as ami_facts
from servekit.facts import dlc, gpus
from servekit.rules import Problem


@dataclass(frozen=True)
class GpuVerdict:
    problems: list[Problem] = field(default_factory=list)
    ami: str | None = None  # the InferenceAmiVersion to set (the user's, or one picked), None = the default
    picked_because: str | None = None  # why servekit picked `ami` itself


def _cuda(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _runs(image: dlc.ImageFacts, driver: int, compat_mounting: bool, data_center: bool) -> bool:
    """The driver branch runs the image's CUDA natively, or through the forward-compatibility package (only on
    data-center GPUs, and only when the container toolkit mounts the image's compat libraries)."""
    if driver >= image.min_driver:
        return True
    return data_center and compat_mounting and any(driver == branch for branch, _ in image.forward_compat)


def _cc(cc: tuple[int, int]) -> str:
    return f"{cc[0]}.{cc[1]}"


def check(
    server: str, image_version: str, instance_type: str | None, ami: str | None, *,
    images: Mapping[tuple[str, str], dlc.ImageFacts] | None = None,
    families: Mapping[str, gpus.FamilyFacts] | None = None,
    amis: Mapping[str, ami_facts.AmiFacts] | None = None,
) -> GpuVerdict:
    """The verdict for one variant. Facts tables default to servekit.facts' (tests pass their own)."""
    images = dlc.IMAGES if images is None else images
    families = gpus.FAMILIES if families is None else families
    amis = ami_facts.AMIS if amis is None else amis
    family = families.get(gpus.family_of(instance_type) or "")
    if family is None:
        if ami is not None:
            return GpuVerdict([Problem("inference_ami_version", ami, f"{instance_type or 'serverless'} has no GPU "
                                       "servekit knows; remove inference_ami_version")])
        return GpuVerdict()  # a CPU instance: the CPU image, no driver
    image = images.get((server, image_version))
    if image is None and image_version.count(".") == 2:  # "2.6.0" has the facts of "2.6"
        image = images.get((server, image_version.rsplit(".", 1)[0]))
    problems: list[Problem] = []
    if image is None:
        known = sorted(v for s, v in images if s == server)
        return GpuVerdict([Problem("image_version", image_version,
                                   f"servekit has no GPU facts for the {server} {image_version} image, so its driver "
                                   f"and compute-capability needs on {instance_type} are not checked; versions with "
                                   f"facts: {', '.join(known)}", "warning")], ami)
    sure = image.source.confirmed and family.source.confirmed
    if family.compute_capability < image.min_compute_capability:
        fits = sorted(v for (s, v), f in images.items() if s == server and f.min_compute_capability <= family.compute_capability)
        able = sorted(n for n, f in families.items() if f.compute_capability >= image.min_compute_capability)
        problems.append(Problem(
            "instance_type", instance_type,
            f"its {family.gpu} has compute capability {_cc(family.compute_capability)}, and the {server} "
            f"{image_version} image needs {_cc(image.min_compute_capability)} or later (it cannot start there); use a "
            f"{'/'.join('ml.' + a for a in able)} instance"
            + (f" or image_version {' or '.join(fits)}" if fits else ""),
            "error" if sure else "warning"))
    if family.min_cuda and _cuda(image.cuda) < _cuda(family.min_cuda):
        # A GPU newer than the image's CUDA: its kernels were never built for it (e.g. Blackwell needs 12.8+).
        fits = sorted(v for (s, v), f in images.items() if s == server and _cuda(f.cuda) >= _cuda(family.min_cuda))
        problems.append(Problem(
            "instance_type", instance_type,
            f"its {family.gpu} needs CUDA {family.min_cuda} or later, and the {server} {image_version} image is built "
            f"on CUDA {image.cuda} (its kernels do not run there); "
            + (f"use image_version {' or '.join(fits)} or another instance family" if fits else
               f"no {server} image servekit knows is built on CUDA {family.min_cuda}+: use another instance family"),
            "error" if image.source.confirmed and family.min_cuda_source.confirmed else "warning"))
    if ami is not None:
        chosen = amis[ami]
        if chosen.accelerator != "gpu":
            problems.append(Problem("inference_ami_version", ami, f"is a {chosen.accelerator} AMI and "
                                    f"{instance_type} has an NVIDIA GPU; use an al2-ami-sagemaker-inference-gpu-* AMI"))
            return GpuVerdict(problems, ami)
        if chosen.families and family.family not in chosen.families:
            problems.append(Problem("inference_ami_version", ami,
                                    f"does not list {family.family} instances; use one of "
                                    f"{', '.join(n for n, a in amis.items() if family.family in a.families)}",
                                    "error" if chosen.families_source.confirmed else "warning"))
        if not chosen.driver:
            problems.append(Problem("inference_ami_version", ami, "servekit has no driver facts for this AMI, so "
                                    f"whether it runs the {server} {image_version} image is not checked", "warning"))
        elif not _runs(image, chosen.driver, chosen.compat_mounting, family.data_center):
            problems.append(Problem("inference_ami_version", ami, _driver_fix(
                image, server, image_version, f"its driver R{chosen.driver}"
                + ("" if chosen.compat_mounting else " with CUDA-compat mounting disabled"),
                _able_amis(image, family, amis)), "error" if sure and chosen.source.confirmed else "warning"))
        return GpuVerdict(problems, ami)
    if _runs(image, family.default_driver, True, family.data_center):
        return GpuVerdict(problems)
    able = _able_amis(image, family, amis)
    if able:
        why = (f"the default driver of {family.family} (R{family.default_driver}) cannot run the {server} "
               f"{image_version} image's CUDA {image.cuda}; {able[0]} (R{amis[able[0]].driver}) can")
        return GpuVerdict(problems, able[0], why)
    problems.append(Problem("instance_type", instance_type, _driver_fix(
        image, server, image_version,
        f"the default driver of {family.family} (R{family.default_driver}, CUDA {family.default_cuda})", []),
        "error" if sure else "warning"))
    return GpuVerdict(problems)


def _able_amis(image: dlc.ImageFacts, family: gpus.FamilyFacts, amis: Mapping[str, ami_facts.AmiFacts]) -> list[str]:
    return [n for n, a in amis.items() if a.accelerator == "gpu" and a.driver and family.family in a.families
            and _runs(image, a.driver, a.compat_mounting, family.data_center)]


def _driver_fix(image: dlc.ImageFacts, server: str, version: str, host: str, able: list[str]) -> str:
    branches = ", ".join(f"R{b}.{m}+" for b, m in image.forward_compat)
    fix = f"use inference_ami_version {' or '.join(able)}" if able else "use another image_version or instance family"
    return (f"{host} cannot run the {server} {version} image (CUDA {image.cuda} needs driver R{image.min_driver}+, or "
            f"{branches} with forward compatibility on data-center GPUs; CannotStartContainerError); {fix}")
