"""The Triton model repository's layout: <model>/config.pbtxt and <model>/<version>/<file> at the root
(docs/triton.md), each config.pbtxt read by Triton's own schema. Used by check-artifact and after every build."""

from __future__ import annotations

from collections import defaultdict

from servekit.model_build.layout import Listing
from servekit.servers.triton import model_config as triton_config


def wraps(listing: Listing, top: str) -> bool:
    files = listing.files
    at_root = f"{top}/config.pbtxt" in files
    inside = any(f.startswith(f"{top}/") and f.count("/") == 2 and f.endswith("/config.pbtxt") for f in files)
    return inside and not at_root


def layout_problems(listing: Listing, default_model_name: str | None, instance_type: str | None) -> list[str]:
    out: list[str] = []
    files = listing.files
    if "config.pbtxt" in files:
        out.append("config.pbtxt: at the archive root it makes Triton fail at start; move it to <model>/config.pbtxt")
    models = sorted(d for d in listing.dirs if "/" not in d)
    if not models:
        out.append("no model folder at the archive root; lay it out as <model>/config.pbtxt and "
                   "<model>/1/model.pt|model.onnx|model.plan")
    versions: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for d in listing.dirs:
        parts = d.split("/")
        if len(parts) == 2:
            versions[parts[0]].setdefault(parts[1], [])
    for name in listing.names:
        parts = name.split("/")
        if len(parts) == 3:
            versions[parts[0]].setdefault(parts[1], []).append(parts[2])
    for model in models:
        cfg = f"{model}/config.pbtxt"
        if cfg not in files:
            out.append(f"{model}/: no config.pbtxt; add {model}/config.pbtxt (platform, max_batch_size, inputs, "
                       "outputs)")
            continue
        try:
            mc = triton_config.parse(listing.small.get(cfg, b"").decode(errors="replace"))
        except ValueError as err:
            out.append(f"{cfg}: not a valid Triton ModelConfig ({err}); fix or remove the field it names")
            continue
        out += triton_config.config_problems(mc, cfg, folder=model, instance_type=instance_type,
                                             version_files=dict(versions[model]))
    if len(models) > 1 and default_model_name is None:
        out.append(f"the archive holds {len(models)} model folders ({', '.join(models)}) and no default model name; "
                   "set SAGEMAKER_TRITON_DEFAULT_MODEL_NAME (servekit: model.name)")
    if default_model_name is not None and models and default_model_name not in models:
        out.append(f"default model name {default_model_name!r} has no folder in the archive (it holds "
                   f"{', '.join(models)}); set model.name to one of them")
    out += [f"{f}: handler code is not used by Triton; remove it" for f in sorted(files)
            if f.rsplit("/", 1)[-1] == "inference.py"]
    return out
