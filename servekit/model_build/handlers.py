"""Which container-side handler goes into an archive as code/inference.py, and what it needs installed.

The handlers themselves live in each server's package, servekit/servers/<server>/handlers/ (package data of the
wheel, under HANDLERS_DIR); this module is the one place that maps a `handler:` value to a file and to the pinned
lines of code/requirements.txt.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

HANDLERS_DIR = Path(__file__).resolve().parents[1] / "servers"

HANDLER_FILES = {
    "tfs": "tfs/handlers/tfs_inference.py",
    "question-answering": "torchserve/handlers/torchserve_question_answering.py",
    "vision": "torchserve/handlers/torchserve_vision.py",
    "tensor": "torchserve/handlers/torchserve_tensor.py",
    # A user's own inference.py runs inside this wrapper (its errors as JSON, input_fn's as 400s); the user's
    # file goes beside it as code/user_inference.py.
    "custom": "torchserve/handlers/torchserve_custom.py",
}
USER_HANDLER = "code/user_inference.py"

# Modules a handler imports from beside it in code/ (the toolkit puts code/ on the Python path): copied
# from HANDLERS_DIR as code/<file name>. The TFS handler stays one file: its container loads inference.py
# by path, not from the Python path.
SUPPORT_FILES = {
    "tfs": [],
    "question-answering": ["torchserve/handlers/servekit_torchserve.py"],
    "vision": ["torchserve/handlers/servekit_torchserve.py"],
    "tensor": ["torchserve/handlers/servekit_torchserve.py"],
    "custom": ["torchserve/handlers/servekit_torchserve.py"],
}

# Pinned packages each handler imports beyond what its DLC ships. The question-answering handler uses
# transformers' pipeline("question-answering"), removed in transformers 5.3: keep 4.x.
REQUIREMENTS = {
    "tfs": [],
    "question-answering": ["transformers==4.57.6"],
    "vision": [],
    "tensor": [],
    "custom": [],
}

# handler: auto -> by source kind (and example name). A TorchScript or state_dict source is AUTO_BY_RUNNING: the
# build runs the model and chooses between these (servekit.servers.torchserve.build, choose_handler).
AUTO_BY_KIND = {"huggingface": "question-answering"}
AUTO_BY_EXAMPLE = {"distilbert-qa": "question-answering", "resnet": "vision"}
AUTO_BY_RUNNING = ("vision", "tensor")
TORCH_KINDS = ("torchscript", "state_dict")


class HandlerError(ValueError):
    pass


def torchserve_handler(model: Any) -> str:
    """`model` (a TorchServe endpoint's model): `question-answering`, `vision`, `tensor`, `auto` (a torch source: the
    build runs the model to choose), or the absolute path of the user's own inference.py."""
    value = model.handler
    if value == "auto":
        source = model.source
        if source.kind == "example":
            return AUTO_BY_EXAMPLE[source.name]
        if source.kind in AUTO_BY_KIND:
            return AUTO_BY_KIND[source.kind]
        if source.kind in TORCH_KINDS:
            return "auto"
        raise HandlerError(f"model.handler: auto cannot choose for source kind {source.kind!r}; name the handler")
    if value in HANDLER_FILES and value not in ("tfs", "custom"):
        return value
    path = Path(value).expanduser().resolve()
    if path.suffix != ".py":
        raise HandlerError(
            f"model.handler: {value!r} is neither auto, vision, tensor, question-answering nor a path to a .py file; "
            "use one"
        )
    if not path.is_file():
        raise HandlerError(f"model.handler: {value!r} does not exist ({path}); give the path of your inference.py")
    return str(path)


def handler_path(key: str) -> Path:
    """The file copied as code/inference.py for a handler key (or a user path)."""
    if key not in HANDLER_FILES:
        return Path(key)
    path = HANDLERS_DIR / HANDLER_FILES[key]
    if not path.is_file():
        raise HandlerError(f"handler file {path} is missing; reinstall servekit or restore servekit/servers/{HANDLER_FILES[key]}")
    return path


def support_paths(key: str) -> dict[str, Path]:
    """`code/<name>` -> file, for the modules the built-in handler `key` imports (none for a user's handler)."""
    out = {}
    for name in SUPPORT_FILES.get(key, []):
        path = HANDLERS_DIR / name
        if not path.is_file():
            raise HandlerError(f"handler support file {path} is missing; reinstall servekit or restore servekit/servers/{name}")
        out[f"code/{path.name}"] = path
    return out


def _package(line: str) -> str:
    return re.split(r"[=<>!~\[ ;]", line, maxsplit=1)[0].strip().lower().replace("_", "-")


def requirements_lines(key: str, extra: list[str]) -> list[str]:
    """The handler's pins, then the endpoint's own lines; the same package pinned twice is an error."""
    lines = list(REQUIREMENTS.get(key, []))
    seen = {_package(line): line for line in lines}
    for line in extra:
        pkg = _package(line)
        if pkg in seen and seen[pkg] != line:
            raise HandlerError(
                f"model.requirements: {line!r} conflicts with {seen[pkg]!r}, which the {key} handler needs; "
                f"remove {line!r}"
            )
        if pkg not in seen:
            lines.append(line)
            seen[pkg] = line
    return lines


def requirements_text(lines: list[str]) -> bytes:
    if not lines:
        return b"# No packages beyond the container's own: the handler imports only what the image ships.\n"
    return ("\n".join(lines) + "\n").encode()
