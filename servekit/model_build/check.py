"""check_artifact: the layout problems that make a serving container fail at start or ignore the handler.

Reads any model.tar.gz (built here or brought by a user) as a stream, so a large archive is never held
in memory (servekit.model_build.layout), and returns one line per problem, each naming the fix. What is shared
(unsafe paths, an empty archive, a wrapping top folder) is here; each server's layout is its check.py
(servekit/servers/<server>/check.py; docs/tfs.md, docs/torchserve.md and docs/triton.md).
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path
from typing import Any

from servekit.model_build.layout import Listing, read
from servekit.rules import model_data as model_data_rules


def check_artifact(
    path: Path,
    server: Any,
    *,
    default_model_name: str | None = None,
    instance_type: str | None = None,
) -> list[str]:
    """One line per layout problem of the model.tar.gz at `path` for `server` (a servekit.servers.base.Server: the
    caller resolves a name with servekit.registry), or of
    the folder at `path` (an uncompressed layout: the same checks, and the names an S3 prefix cannot carry).

    default_model_name: the model the endpoint will name (SAGEMAKER_TFS_DEFAULT_MODEL_NAME or
    SAGEMAKER_TRITON_DEFAULT_MODEL_NAME); without it, an archive holding several models is a problem.
    instance_type: enables the GPU-only checks (KIND_GPU, TensorRT) of Triton configs.
    """
    path = Path(path)
    kind = server
    try:
        listing = read(path)
    except FileNotFoundError:
        return [f"{path}: no such file; pass the path of a model.tar.gz"]
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        return [f"{path}: not a readable tar.gz ({err}); create it with `tar -czf model.tar.gz -C <folder> .`"]
    problems = [f"{name}: unsafe path (absolute or with '..'); SageMaker refuses or misplaces it — use relative paths"
                for name in listing.unsafe]
    if path.is_dir():  # an uncompressed layout, served from an S3 prefix
        problems += model_data_rules.layout_problems(listing.files, listing.dirs)
    if not listing.names:
        return [*problems, f"{path}: the archive is empty; add the model files"]
    wrapped = _wrapper(listing, kind)
    if wrapped:
        return [*problems, f"{wrapped}/: a top folder wraps everything, so the container finds nothing at "
                f"/opt/ml/model; create the archive from inside it: tar -czf model.tar.gz -C {wrapped} ."]
    return problems + kind.layout_problems(listing, default_model_name, instance_type)


def _wrapper(listing: Listing, kind: Any) -> str | None:
    """The name of a single top folder that wraps what should be at the root, or None."""
    tops = listing.tops()
    if len(tops) != 1:
        return None
    top = next(iter(tops))
    if top not in listing.dirs:
        return None
    return top if kind.wraps(listing, top) else None
