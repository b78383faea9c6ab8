"""Rules for `model_data: uncompressed` (servekit.facts.model_data): what may be served from an S3 prefix, and
whether a servekit-built layout fits the function that copies it there. Pure functions returning Problems."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from servekit.facts import model_data as facts
from servekit.rules import Problem

MIB = 1 << 20


def source_problems(model_data: str, models: Iterable[tuple[str, Any]], *, multi_model: bool) -> list[Problem]:
    """`models`: (field, model) of the endpoint, as the server names them (servekit.servers.Server.models)."""
    out: list[Problem] = []
    uncompressed = model_data == "uncompressed"
    if uncompressed and multi_model:
        out.append(Problem("model_data", model_data, "a multi-model endpoint loads model.tar.gz files from its "
                           "prefix on demand; remove model_data: uncompressed"))
    for field, model in models:
        source = getattr(model, "source", None)
        if source is None:
            continue
        prefix = getattr(source, "uri", "").endswith("/")
        if uncompressed and source.kind == "archive":
            out.append(Problem(f"{field}.source", str(source.path), "an uncompressed layout is built from the model's "
                               "files, not from a model.tar.gz; give the folder or file the archive was made from, or "
                               "unpack it to S3 and give its s3:// prefix (ending in '/')"))
        elif uncompressed and source.kind == "s3" and not prefix:
            out.append(Problem(f"{field}.source.uri", source.uri, "model_data: uncompressed reads an S3 prefix; give "
                               "the prefix the layout was unpacked under, ending in '/'"))
        elif not uncompressed and source.kind == "s3" and prefix:
            out.append(Problem(f"{field}.source.uri", source.uri, "a prefix holds an uncompressed model; set "
                               "model_data: uncompressed, or give the model.tar.gz object"))
    return out


def layout_problems(files: Iterable[str], dirs: Iterable[str]) -> list[str]:
    """A layout's names SageMaker cannot write under /opt/ml/model from an S3 prefix (facts.S3_MODEL_DATA_SOURCE).
    Linux allows no such name in a folder, but macOS does: 255 characters there can be more than 255 UTF-8 bytes."""
    out = []
    files = set(files)
    for name in sorted(files | set(dirs)):
        for part in name.split("/"):
            if part in facts.REFUSED_NAMES or "\0" in part or len(part.encode()) > facts.MAX_NAME_BYTES:
                out.append(f"{name}: SageMaker refuses this name in an S3 prefix (empty, '.', '..', a null byte or over "
                           f"{facts.MAX_NAME_BYTES} bytes); rename it")
                break
    return out


def deployment_storage_mib(layout_bytes: int) -> int:
    """The ephemeral storage the copying function needs for a layout of `layout_bytes` (facts.BUCKET_DEPLOYMENT)."""
    need = facts.DEPLOY_COPIES * -(-layout_bytes // MIB) + facts.DEPLOY_MARGIN_MIB
    return max(facts.LAMBDA_MIN_EPHEMERAL_MIB, need)


_UPLOAD_IT = ("upload the layout yourself (aws s3 sync <folder> s3://<bucket>/<prefix>/) and give it as "
              "model.source {kind: s3, uri: s3://<bucket>/<prefix>/}")


def deployment_problem(layout_bytes: int, where: str, largest_file_bytes: int = 0) -> Problem | None:
    """A built layout that servekit cannot copy to its prefix with CDK, with the way around it: a file the CDK CLI's
    zip cannot read (facts.CDK_ZIP), or a layout over the copying function's storage (facts.BUCKET_DEPLOYMENT)."""
    if largest_file_bytes > facts.CDK_ZIP_MAX_FILE_BYTES:
        return Problem(where, f"a {largest_file_bytes / 2**30:.2f} GiB file", "the CDK CLI zips a folder asset at "
                       "publish and cannot read a file over 2 GiB (Node's ERR_FS_FILE_TOO_LARGE); shard the weights "
                       f"(e.g. safetensors shards), or {_UPLOAD_IT}")
    need = deployment_storage_mib(layout_bytes)
    if need <= facts.LAMBDA_MAX_EPHEMERAL_MIB:
        return None
    return Problem(where, f"{layout_bytes / 1e9:.1f} GB", f"CDK's BucketDeployment copies the layout through a Lambda "
                   f"function's /tmp, which must hold its zip and its files ({need:,} MiB, over Lambda's "
                   f"{facts.LAMBDA_MAX_EPHEMERAL_MIB:,}); {_UPLOAD_IT}")
