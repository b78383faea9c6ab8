"""Build each endpoint's model into the artifact its server expects, as a byte-reproducible model.tar.gz.

Contract used by the stacks (servekit/stacks) and the CLI:

    build(endpoint, *, cache_dir, progress=None) -> Artifact | RemoteArtifact
        endpoint: one of servekit.config.{TfsEndpoint, TorchServeEndpoint, TritonEndpoint}
        Artifact(path: Path, identity: str, size_bytes: int): a local model.tar.gz; `identity` is the
            sha256 (hex) of the build's inputs (source bytes, handler code, build options), used as the
            CDK asset hash. It is computed without importing torch or tensorflow, so a cached build is cheap.
        RemoteArtifact(uri: str): an s3:// source, used as it is.

    check_artifact(path, server, *, endpoint=None) -> list[str]
        one line per layout problem that would make the container fail or ignore the handler.
"""
