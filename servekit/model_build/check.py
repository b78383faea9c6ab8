"""check_artifact: the layout problems that make a serving container fail at start or ignore the handler.

Reads any model.tar.gz (built here or brought by a user) as a stream, so a large archive is never held
in memory, and returns one line per problem, each naming the fix. See docs/tfs.md, docs/torchserve.md and docs/triton.md.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

SERVERS = ("tfs", "torchserve", "triton")
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".onnx", ".pkl", ".h5", ".msgpack")
_SMALL_FILES = re.compile(r"(^|/)(config\.pbtxt|requirements\.txt)$")
_PINNED = re.compile(r"^[A-Za-z0-9_.\-\[\],]+==[\w.+!-]+$")


@dataclass
class _Listing:
    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    small: dict[str, bytes] = field(default_factory=dict)

    @property
    def names(self) -> set[str]:
        return self.files | self.dirs

    def tops(self) -> set[str]:
        return {n.split("/")[0] for n in self.names}


def _read(path: Path) -> _Listing:
    listing = _Listing()
    with tarfile.open(path, mode="r|*") as tar:
        for member in tar:
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            name = name.rstrip("/")
            if name in ("", "."):
                continue
            if name.startswith("/") or ".." in name.split("/"):
                listing.unsafe.append(member.name)
                continue
            parts = name.split("/")
            for i in range(1, len(parts)):
                listing.dirs.add("/".join(parts[:i]))
            if member.isdir():
                listing.dirs.add(name)
            elif member.issym() or member.islnk():
                listing.links.append(name)
                listing.files.add(name)
            elif member.isfile():
                listing.files.add(name)
                if _SMALL_FILES.search(name) and member.size <= 1 << 20:
                    f = tar.extractfile(member)
                    listing.small[name] = f.read() if f is not None else b""
    return listing


def check_artifact(
    path: Path,
    server: str,
    *,
    default_model_name: str | None = None,
    instance_type: str | None = None,
) -> list[str]:
    """One line per layout problem of the model.tar.gz at `path` for `server` (tfs, torchserve, triton).

    default_model_name: the model the endpoint will name (SAGEMAKER_TFS_DEFAULT_MODEL_NAME or
    SAGEMAKER_TRITON_DEFAULT_MODEL_NAME); without it, an archive holding several models is a problem.
    instance_type: enables the GPU-only checks (KIND_GPU, TensorRT) of Triton configs.
    """
    path = Path(path)
    if server not in SERVERS:
        return [f"server {server!r} is not one of {', '.join(SERVERS)}; pass --server tfs, torchserve or triton"]
    try:
        listing = _read(path)
    except FileNotFoundError:
        return [f"{path}: no such file; pass the path of a model.tar.gz"]
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        return [f"{path}: not a readable tar.gz ({err}); create it with `tar -czf model.tar.gz -C <folder> .`"]
    problems = [f"{name}: unsafe path (absolute or with '..'); SageMaker refuses or misplaces it — use relative paths"
                for name in listing.unsafe]
    if not listing.names:
        return [*problems, f"{path}: the archive is empty; add the model files"]
    wrapped = _wrapper(listing, server)
    if wrapped:
        return [*problems, f"{wrapped}/: a top folder wraps everything, so the container finds nothing at "
                f"/opt/ml/model; create the archive from inside it: tar -czf model.tar.gz -C {wrapped} ."]
    check = {"tfs": _check_tfs, "torchserve": _check_torchserve, "triton": _check_triton}[server]
    return problems + check(listing, default_model_name, instance_type)


# ---------------------------------------------------------------------------------------------
def _is_tfs_model(files: set[str], prefix: str) -> bool:
    depth = prefix.count("/") + 3 if prefix else 3
    return any(f.endswith("/saved_model.pb") and f.count("/") + 1 == depth and f.startswith(prefix)
               and f.split("/")[-2].isdigit() for f in files)


def _wrapper(listing: _Listing, server: str) -> str | None:
    """The name of a single top folder that wraps what should be at the root, or None."""
    tops = listing.tops()
    if len(tops) != 1:
        return None
    top = next(iter(tops))
    if top not in listing.dirs:
        return None
    files = listing.files
    if server == "tfs":
        at_root = _is_tfs_model(files, "") or "code/inference.py" in files
        inside = _is_tfs_model(files, f"{top}/") or f"{top}/code/inference.py" in files
        return top if inside and not at_root else None
    if server == "torchserve":
        at_root = "code/inference.py" in files or any("/" not in f and f.endswith(WEIGHT_SUFFIXES) for f in files)
        inside = f"{top}/code/inference.py" in files or any(
            f.startswith(f"{top}/") and f.count("/") == 1 and f.endswith(WEIGHT_SUFFIXES) for f in files)
        return top if inside and not at_root else None
    at_root = f"{top}/config.pbtxt" in files
    inside = any(f.startswith(f"{top}/") and f.count("/") == 2 and f.endswith("/config.pbtxt") for f in files)
    return top if inside and not at_root else None


def _misplaced_handlers(listing: _Listing) -> list[str]:
    out = []
    for f in sorted(listing.files):
        base = f.rsplit("/", 1)[-1]
        if base == "inference.py" and f != "code/inference.py":
            out.append(f"{f}: handler code outside code/ at the archive root is never loaded; move it to "
                       "code/inference.py")
        elif base == "requirements.txt" and f != "code/requirements.txt" and "/code/" in f"/{f}":
            out.append(f"{f}: requirements outside code/ at the archive root are never installed; move it to "
                       "code/requirements.txt")
    return out


def _unpinned(listing: _Listing) -> list[str]:
    text = listing.small.get("code/requirements.txt")
    if text is None:
        return []
    out = []
    for raw in text.decode(errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-") and not _PINNED.match(line):
            out.append(f"code/requirements.txt: {line!r} is not pinned; write it as name==version so every start "
                       "installs the same thing")
    return out


def _check_tfs(listing: _Listing, default_model_name: str | None, instance_type: str | None) -> list[str]:
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
    out += _misplaced_handlers(listing)
    if "code/inference.py" in listing.files or "code" in listing.dirs:
        out += _unpinned(listing)
    if len(models) > 1 and default_model_name is None:
        out.append(f"the archive holds {len(models)} models ({', '.join(sorted(models))}) and no default model name "
                   "is set, so TFS answers with whichever it lists first; set default_model "
                   "(SAGEMAKER_TFS_DEFAULT_MODEL_NAME)")
    if default_model_name is not None and models and default_model_name not in models:
        out.append(f"default model name {default_model_name!r} is not in the archive (it holds "
                   f"{', '.join(sorted(models))}); name one of them (default_model, or the model's name)")
    return out


def _check_torchserve(listing: _Listing, default_model_name: str | None, instance_type: str | None) -> list[str]:
    out: list[str] = []
    files = listing.files
    if "code/inference.py" not in files:
        misplaced = _misplaced_handlers(listing)
        out += misplaced or ["no code/inference.py at the archive root; add the handler there (the toolkit imports "
                             "code/inference.py; servekit's handler: auto picks one)"]
    else:
        out += _misplaced_handlers(listing)
    root_weights = [f for f in files if "/" not in f and f.endswith(WEIGHT_SUFFIXES)]
    if not root_weights:
        nested = sorted(f for f in files if "/" in f and f.endswith(WEIGHT_SUFFIXES) and not f.startswith("code/"))
        if nested:
            out.append(f"weights only below the root ({', '.join(nested[:3])}); move them to the archive root, which "
                       "model_fn receives as model_dir")
        else:
            out.append("no model weights at the archive root (model.pt, *.pth, *.bin or *.safetensors); add them")
    out += _unpinned(listing)
    return out


def _check_triton(listing: _Listing, default_model_name: str | None, instance_type: str | None) -> list[str]:
    from servekit.model_build import triton_config

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
