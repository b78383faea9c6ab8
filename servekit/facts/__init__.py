"""Facts about AWS, the serving containers and NVIDIA GPUs that SageMaker enforces only at deploy or run time.

One module per concern; every fact names its source (an AWS or NVIDIA page, or a repository and path) and
says whether it was confirmed from that source (`confirmed=False`: taken from a secondary source or inferred;
rules that use such a fact warn instead of failing). The rules that use them live in servekit.rules.
"""

from __future__ import annotations

from servekit.facts.source import Source

__all__ = ["Source", "all_tables"]


def all_tables() -> dict[str, dict]:
    """Every fact table by name (for the docs and for the test that every fact is used by a rule)."""
    from servekit.facts import amis, dlc, gpus, instances, runtimes

    return {"dlc.IMAGES": dlc.IMAGES, "gpus.FAMILIES": gpus.FAMILIES, "amis.AMIS": amis.AMIS,
            "runtimes.ONNXRUNTIME": runtimes.ONNXRUNTIME, "runtimes.TORCHSCRIPT": runtimes.TORCHSCRIPT,
            "instances.FAMILIES": instances.FAMILIES}
