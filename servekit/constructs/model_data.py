"""Where a SageMaker Model's model data lives, and the read access to exactly that.

As in aws-sagemaker-alpha's model-data.ts, the model data grants its own access in bind(): the
execution role may read its one object (or, uncompressed, its one prefix), nothing else in the bucket.
Uncompressed model data (servekit.facts.model_data) is a prefix of the layout's files: a user's, or a
servekit-built folder that a CDK BucketDeployment copies into the data bucket at deploy.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from servekit.constructs.layout_copy import copy_layout

_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)$")


class ModelData(ABC):
    multi_model: bool = False  # a prefix of model.tar.gz files, loaded on demand (Mode: MultiModel)
    uncompressed: bool = False  # a prefix of the layout's files (ModelDataSource, CompressionType None)
    archive: Path | None = None  # the local model.tar.gz or layout folder, when there is one to inspect at synth
    deployment: Construct | None = None  # what must exist before the Model (the copy of a layout), once bound

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

    @staticmethod
    def from_directory(path: str | Path, *, identity: str) -> ModelData:
        """A local layout folder served uncompressed: copied at deploy into the endpoint's data bucket under
        models/<asset hash>/ by a CDK BucketDeployment (which CDK uploads as a zip asset), and kept there after an
        update so that a rollback finds it. identity: model_build's build identity, of which CDK makes the asset
        hash, the same as a model.tar.gz of that identity gets (so `servekit diff` shows one hash for both)."""
        return _DirectoryModelData(Path(path), identity)

    @staticmethod
    def from_s3_layout_prefix(prefix: str) -> ModelData:
        """An uncompressed layout already in S3 (`s3://bucket/prefix/`, its files unpacked under it)."""
        if not prefix.endswith("/") or not _S3_URI.match(prefix[:-1]):
            raise ValueError(f"uncompressed model prefix {prefix!r} is not s3://<bucket>/<prefix>/ (with the "
                             "trailing '/')")
        return _S3LayoutPrefix(prefix)

    @abstractmethod
    def bind(self, scope: Construct, policy: iam.ManagedPolicy, *, data_bucket: s3.IBucket | None = None,
             kms_key: kms.IKey | None = None) -> str:
        """Grant `policy` read access to the data; return its s3:// URL (ModelDataUrl, or the S3Uri of
        ModelDataSource when `uncompressed`). data_bucket, kms_key: where a local layout is copied, and its key."""


class _AssetModelData(ModelData):
    def __init__(self, path: Path, identity: str | None):
        if not path.is_file():
            raise ValueError(f"model data {str(path)!r} is not a file; build it first (make synth) or fix the path")
        self.path = path
        self.archive = path
        self.identity = identity or _sha256(path)

    def bind(self, scope: Construct, policy: iam.ManagedPolicy, **_: object) -> str:
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

    def bind(self, scope: Construct, policy: iam.ManagedPolicy, **_: object) -> str:
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

    def bind(self, scope: Construct, policy: iam.ManagedPolicy, **_: object) -> str:
        bucket, key = _S3_URI.match(self.prefix + "x").groups()
        partition = cdk.Stack.of(scope).partition
        # Every model of the endpoint lives under the prefix, and new ones arrive without a deployment.
        policy.add_statements(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"arn:{partition}:s3:::{bucket}/{key[:-1]}*"])
        )
        return self.prefix


class _S3LayoutPrefix(ModelData):
    uncompressed = True

    def __init__(self, prefix: str):
        self.prefix = prefix

    def bind(self, scope: Construct, policy: iam.ManagedPolicy, **_: object) -> str:
        bucket, key = _S3_URI.match(self.prefix[:-1]).groups()
        partition = cdk.Stack.of(scope).partition
        _grant_prefix(policy, f"arn:{partition}:s3:::{bucket}", key)
        return self.prefix


class _DirectoryModelData(ModelData):
    uncompressed = True

    def __init__(self, path: Path, identity: str):
        if not path.is_dir():
            raise ValueError(f"model layout {str(path)!r} is not a folder; build it first (make synth) or fix the path")
        self.path = path
        self.archive = path
        self.identity = identity

    def bind(self, scope: Construct, policy: iam.ManagedPolicy, *, data_bucket: s3.IBucket | None = None,
             kms_key: kms.IKey | None = None) -> str:
        where = scope.node.path
        if data_bucket is None:
            raise ValueError(f"{where}: an uncompressed layout is copied into the endpoint's data bucket, and none was "
                             "given; pass data_bucket (servekit's SharedStack makes one) or upload the layout and use "
                             "ModelData.from_s3_layout_prefix")
        self.deployment, prefix = copy_layout(scope, self.path, identity=self.identity, bucket=data_bucket,
                                              kms_key=kms_key)
        if kms_key is not None:  # the objects are encrypted with the bucket's key
            policy.add_statements(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[kms_key.key_arn]))
        _grant_prefix(policy, data_bucket.bucket_arn, prefix[:-1])
        return f"s3://{data_bucket.bucket_name}/{prefix}"


def _grant_prefix(policy: iam.ManagedPolicy, bucket_arn: str, prefix: str) -> None:
    """Read the objects under `prefix` (given without its trailing '/'), and list them: SageMaker finds a layout's
    files by listing the prefix."""
    policy.add_statements(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{bucket_arn}/{prefix}/*"]),
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket_arn],
                            conditions={"StringLike": {"s3:prefix": [f"{prefix}/*"]}}),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
