"""Where a SageMaker Model's model.tar.gz lives, and the read access to exactly that object.

As in aws-sagemaker-alpha's model-data.ts, the model data grants its own access in bind(): the
execution role may read its one object, nothing else in the bucket.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)$")


class ModelData(ABC):
    multi_model: bool = False  # a prefix of model.tar.gz files, loaded on demand (Mode: MultiModel)
    archive: Path | None = None  # the local model.tar.gz, when there is one to inspect at synth

    @staticmethod
    def from_asset(path: str | Path, *, identity: str | None = None) -> ModelData:
        """A local model.tar.gz, uploaded as a CDK asset.

        identity: the asset hash. Default: the sha256 of the file's bytes. model_build passes the hash
        of the build's inputs, so an unchanged model never changes the template.
        """
        return _AssetModelData(Path(path), identity)

    @staticmethod
    def from_s3_uri(uri: str) -> ModelData:
        """A model.tar.gz already in S3 (`s3://bucket/key.tar.gz`), used as it is."""
        if not _S3_URI.match(uri):
            raise ValueError(f"model data URI {uri!r} is not s3://<bucket>/<key>; give the full object URI")
        return _S3ModelData(uri)

    @staticmethod
    def from_s3_prefix(prefix: str) -> ModelData:
        """An S3 prefix (`s3://bucket/prefix/`) of model.tar.gz files for a multi-model endpoint: ModelDataUrl
        is the prefix, and each request's TargetModel names a file under it."""
        if not _S3_URI.match(prefix.rstrip("/") + "/x") or not prefix.endswith("/"):
            raise ValueError(f"multi-model prefix {prefix!r} is not s3://<bucket>/<prefix>/ (with the trailing '/')")
        return _S3PrefixModelData(prefix)

    @abstractmethod
    def bind(self, scope: Construct, policy: iam.ManagedPolicy) -> str:
        """Grant `policy` read access to the object; return its s3:// URL for ModelDataUrl."""


class _AssetModelData(ModelData):
    def __init__(self, path: Path, identity: str | None):
        if not path.is_file():
            raise ValueError(f"model data {str(path)!r} is not a file; build it first (make synth) or fix the path")
        self.path = path
        self.archive = path
        self.identity = identity or _sha256(path)

    def bind(self, scope: Construct, policy: iam.ManagedPolicy) -> str:
        asset = s3_assets.Asset(
            scope,
            "ModelData",
            path=str(self.path),
            asset_hash=self.identity,
            asset_hash_type=cdk.AssetHashType.CUSTOM,
        )
        policy.add_statements(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[asset.bucket.arn_for_objects(asset.s3_object_key)])
        )
        return asset.s3_object_url


class _S3ModelData(ModelData):
    def __init__(self, uri: str):
        self.uri = uri

    def bind(self, scope: Construct, policy: iam.ManagedPolicy) -> str:
        bucket, key = _S3_URI.match(self.uri).groups()
        partition = cdk.Stack.of(scope).partition
        policy.add_statements(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"arn:{partition}:s3:::{bucket}/{key}"])
        )
        return self.uri


class _S3PrefixModelData(ModelData):
    multi_model = True

    def __init__(self, prefix: str):
        self.prefix = prefix

    def bind(self, scope: Construct, policy: iam.ManagedPolicy) -> str:
        bucket, key = _S3_URI.match(self.prefix + "x").groups()
        partition = cdk.Stack.of(scope).partition
        # Every model of the endpoint lives under the prefix, and new ones arrive without a deployment.
        policy.add_statements(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"arn:{partition}:s3:::{bucket}/{key[:-1]}*"])
        )
        return self.prefix


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
