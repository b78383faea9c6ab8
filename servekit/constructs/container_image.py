"""The container a SageMaker Model runs, and the pull-only access to exactly its ECR repository.

As in aws-sagemaker-alpha's container-image.ts, the image grants its own access in bind().
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from servekit import images


class ContainerImage:
    def __init__(self, *, uri: str | None = None, server: str | None = None, version: str | None = None):
        self._uri = uri
        self._server = server
        self._version = version

    @staticmethod
    def from_dlc(server: str, version: str) -> ContainerImage:
        """The AWS Deep Learning Container for `server` (tfs | torchserve | triton) and `version`, resolved
        offline for the stack's region and CPU/GPU from the instance type (CPU for serverless)."""
        return ContainerImage(server=server, version=version)

    @staticmethod
    def from_uri(uri: str) -> ContainerImage:
        """An ECR image URI of your own (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)."""
        images.ecr_repository_arn(uri)  # fail now, with the fix, rather than at deploy
        return ContainerImage(uri=uri)

    def resolve(self, scope: Construct, instance_type: str | None) -> str:
        """The image URI; instance_type None means serverless (the CPU image)."""
        if self._uri:
            return self._uri
        region = cdk.Stack.of(scope).region
        if cdk.Token.is_unresolved(region):
            raise ValueError(
                f"{scope.node.path}: the DLC image depends on the region, and this stack has none; "
                "give the stack env=Environment(region=...) or use ContainerImage.from_uri(...)"
            )
        return images.image_uri(self._server, self._version, region, instance_type)

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
