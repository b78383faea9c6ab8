"""The PyTorch toolkit's archive layout: code/inference.py and the weights at the root (docs/torchserve.md).
Used by check-artifact and after every build."""

from __future__ import annotations

from servekit.model_build.layout import WEIGHT_SUFFIXES, Listing, misplaced_handlers, unpinned


def wraps(listing: Listing, top: str) -> bool:
    files = listing.files
    at_root = "code/inference.py" in files or any("/" not in f and f.endswith(WEIGHT_SUFFIXES) for f in files)
    inside = f"{top}/code/inference.py" in files or any(
        f.startswith(f"{top}/") and f.count("/") == 1 and f.endswith(WEIGHT_SUFFIXES) for f in files)
    return inside and not at_root


def layout_problems(listing: Listing, default_model_name: str | None, instance_type: str | None) -> list[str]:
    out: list[str] = []
    files = listing.files
    if "code/inference.py" not in files:
        misplaced = misplaced_handlers(listing)
        out += misplaced or ["no code/inference.py at the archive root; add the handler there (the toolkit imports "
                             "code/inference.py; servekit's handler: auto picks one)"]
    else:
        out += misplaced_handlers(listing)
    root_weights = [f for f in files if "/" not in f and f.endswith(WEIGHT_SUFFIXES)]
    if not root_weights:
        nested = sorted(f for f in files if "/" in f and f.endswith(WEIGHT_SUFFIXES) and not f.startswith("code/"))
        if nested:
            out.append(f"weights only below the root ({', '.join(nested[:3])}); move them to the archive root, which "
                       "model_fn receives as model_dir")
        else:
            out.append("no model weights at the archive root (model.pt, *.pth, *.bin or *.safetensors); add them")
    out += unpinned(listing)
    return out
