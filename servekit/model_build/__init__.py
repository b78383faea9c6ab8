"""Build each endpoint's model into the artifact its server expects, as a byte-reproducible model.tar.gz.

Contract used by the stacks (servekit/stacks) and the CLI:

    build(endpoint, *, cache_dir, progress=None) -> Artifact | RemoteArtifact
        endpoint: one of servekit.config.{TfsEndpointSpec, TorchServeEndpointSpec, TritonEndpointSpec}
        Artifact(path: Path, identity: str, size_bytes: int): a local model.tar.gz; `identity` is the
            sha256 (hex) of the build's inputs (source bytes, handler code, build options), used as the
            CDK asset hash. It is computed without importing torch or tensorflow, so a cached build is cheap.
            For an `archive` source, `path` is the source file itself and `identity` the sha256 of its bytes.
        RemoteArtifact(uri: str): an s3:// source, used as it is.
        Raises BuildError (`.problems`: one line each) when the source, the config or the built archive
        is wrong. Artifacts are cached as cache_dir/<identity>/model.tar.gz.

    check_artifact(path, server, *, default_model_name=None, instance_type=None) -> list[str]   (server: a Server)
        one line per layout problem that would make the container fail or ignore the handler;
        server is "tfs", "torchserve" or "triton".

Modules: builder (build, cache), archive (deterministic tar.gz, file hashing), identity, check
(check_artifact), triton_config (config.pbtxt), handlers (code/inference.py and its pins),
examples (the three small models), torch_io and worker (the steps that import a framework).
"""

from servekit.model_build.builder import Artifact, BuildError, RemoteArtifact, build, identity_of
from servekit.model_build.check import check_artifact
from servekit.model_build.identity import FORMAT_VERSION

__all__ = ["Artifact", "BuildError", "FORMAT_VERSION", "RemoteArtifact", "build", "check_artifact", "identity_of"]
