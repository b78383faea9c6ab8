"""The TFS container's archive layout: <model>/<version>/saved_model.pb at the root, code/ beside them
(docs/tfs.md). Used by check-artifact and after every build."""

from __future__ import annotations

from servekit.model_build.layout import Listing, misplaced_handlers, unpinned


def is_tfs_model(files: set[str], prefix: str) -> bool:
    depth = prefix.count("/") + 3 if prefix else 3
    return any(f.endswith("/saved_model.pb") and f.count("/") + 1 == depth and f.startswith(prefix)
               and f.split("/")[-2].isdigit() for f in files)


def wraps(listing: Listing, top: str) -> bool:
    files = listing.files
    at_root = is_tfs_model(files, "") or "code/inference.py" in files
    inside = is_tfs_model(files, f"{top}/") or f"{top}/code/inference.py" in files
    return inside and not at_root


def layout_problems(listing: Listing, default_model_name: str | None, instance_type: str | None) -> list[str]:
    out: list[str] = []
    models: set[str] = set()
    saved = sorted(f for f in listing.files if f.rsplit("/", 1)[-1] == "saved_model.pb")
    if not saved:
        out.append("no saved_model.pb in the archive; put each SavedModel at <model>/<version>/saved_model.pb "
                   "(with its variables/) at the archive root")
    for f in saved:
        parts = f.split("/")
        if len(parts) == 1:
            out.append("saved_model.pb: at the archive root TFS finds no model; move the SavedModel to "
                       "<model>/1/saved_model.pb")
        elif len(parts) == 2:
            out.append(f"{f}: no version folder; move it to {parts[0]}/1/saved_model.pb (TFS loads "
                       "<model>/<version>/)")
        elif len(parts) == 3:
            model, version = parts[0], parts[1]
            if not version.isdigit():
                out.append(f"{model}/{version}/: version folder {version!r} is not a number, so TFS never loads it; "
                           f"rename it to {model}/1/")
            else:
                models.add(model)
        else:
            out.append(f"{f}: nested too deep; TFS looks for <model>/<version>/saved_model.pb at the archive root — "
                       f"move {'/'.join(parts[-3:-1])}/ to the root")
    out += misplaced_handlers(listing)
    if "code/inference.py" in listing.files or "code" in listing.dirs:
        out += unpinned(listing)
    if len(models) > 1 and default_model_name is None:
        out.append(f"the archive holds {len(models)} models ({', '.join(sorted(models))}) and no default model name "
                   "is set, so TFS answers with whichever it lists first; set default_model "
                   "(SAGEMAKER_TFS_DEFAULT_MODEL_NAME)")
    if default_model_name is not None and models and default_model_name not in models:
        out.append(f"default model name {default_model_name!r} is not in the archive (it holds "
                   f"{', '.join(sorted(models))}); name one of them (default_model, or the model's name)")
    return out
