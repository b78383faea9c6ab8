"""The container a SageMaker Model runs, and the pull-only access to exactly its ECR repository.

As in aws-sagemaker-alpha's container-image.ts: factories (`from_dlc`, `from_uri`) make one kind each, and
the image grants its own access in bind().
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from servekit import images


class ContainerImage:
    """An image a Model runs. Make one with `ContainerImage.from_dlc(...)`, `.for_server(...)` or `.from_uri(...)`."""

    @staticmethod
    def from_dlc(framework: str, version: str) -> ContainerImage:
        """The AWS Deep Learning Container of sagemaker-core's `framework` (a server's `image_framework`:
        tensorflow, pytorch, sagemaker-tritonserver) and `version`, resolved offline for the stack's region and
        CPU/GPU from the instance type (CPU for serverless)."""
        return _DlcImage(framework, version)

    @staticmethod
    def for_server(server: Any, version: str) -> ContainerImage:
        """The image a server's constructs use by default: `server` (a servekit.servers.base.Server) answers its
        URI for `version`, the stack's region and the instance type (its DLC for servekit's own servers)."""
        return _ServerImage(server, version)

    @staticmethod
    def from_uri(uri: str) -> ContainerImage:
        """An ECR image URI of your own (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)."""
        images.ecr_repository_arn(uri)  # fail now, with the fix, rather than at deploy
        return _UriImage(uri)

    def resolve(self, scope: Construct, instance_type: str | None) -> str:
        """The image URI; instance_type None means serverless (the CPU image)."""
        raise NotImplementedError

    def bind(self, scope: Construct, policy: iam.ManagedPolicy, instance_type: str | None) -> str:
        """Grant `policy` pull access to the image's repository; return the image URI."""
        uri = self.resolve(scope, instance_type)
        policy.add_statements(
            iam.PolicyStatement(
                actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=[images.ecr_repository_arn(uri)],
            ),
            # AWS supports no resource-level permission for this action: it must be "*".
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        )
        return uri


def _region(scope: Construct) -> str:
    region = cdk.Stack.of(scope).region
    if cdk.Token.is_unresolved(region):
        raise ValueError(
            f"{scope.node.path}: the DLC image depends on the region, and this stack has none; "
            "give the stack env=Environment(region=...) or use ContainerImage.from_uri(...)"
        )
    return region


class _DlcImage(ContainerImage):
    def __init__(self, framework: str, version: str) -> None:
        self.framework, self.version = framework, version

    def resolve(self, scope: Construct, instance_type: str | None) -> str:
        return images.image_uri(self.framework, self.version, _region(scope), instance_type)


class _ServerImage(ContainerImage):
    def __init__(self, server: Any, version: str) -> None:
        self.server, self.version = server, version

    def resolve(self, scope: Construct, instance_type: str | None) -> str:
        return self.server.image_uri(self.version, _region(scope), instance_type)


class _UriImage(ContainerImage):
    def __init__(self, uri: str) -> None:
        self.uri = uri

    def resolve(self, scope: Construct, instance_type: str | None) -> str:
        return self.uri
