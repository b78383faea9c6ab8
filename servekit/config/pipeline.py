"""The optional `pipeline:` block: CDK Pipelines deploys the endpoints to each environment on every push."""

from __future__ import annotations

from pydantic import Field, model_validator

from servekit.options import Strict


class PipelineRepository(Strict):
    """The source repository, read through a CodeStar/CodeConnections connection."""

    owner: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Owner: user, organisation or workspace.")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Repository name.")


class PipelineEnvironment(Strict):
    """One stage of the pipeline: the same endpoints, with this environment's name, account and region."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,15}$", description="Stage name, and env_name of its stacks and endpoints.")
    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    requires_approval: bool | None = Field(
        None, description="A manual approval before this stage deploys; unset = yes when the name starts with prod."
    )
    verify_role_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
        description="Role in `account` that the stage's verification assumes; needed when `account` is not the "
        "pipeline's.",
    )

    @property
    def approval(self) -> bool:
        return self.requires_approval if self.requires_approval is not None else self.name.startswith("prod")


class PipelineConfig(Strict):
    """CDK Pipelines: source through the connection, `make test` and `make synth`, then each environment in
    order, each verified with `servekit verify --deployed`."""

    connection_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]+$",
        description="CodeStar/CodeConnections connection; the pipeline is deployed in its account and region.",
    )
    repository: PipelineRepository
    branch: str = Field("main", pattern=r"^[^\s~^:?*\[\\]+$", description="Branch whose pushes run the pipeline.")
    environments: list[PipelineEnvironment] = Field(min_length=1, description="Deployed in this order.")

    @property
    def account(self) -> str:
        return self.connection_arn.split(":")[4]

    @property
    def region(self) -> str:
        return self.connection_arn.split(":")[3]

    @model_validator(mode="after")
    def _check(self) -> PipelineConfig:
        names = [e.name for e in self.environments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"environments {dupes} appear twice; give each environment its own name")
        for i, env in enumerate(self.environments):
            if env.verify_role_arn is not None and env.verify_role_arn.split(":")[4] != env.account:
                raise ValueError(f"environments[{i}] ({env.name}).verify_role_arn: the role must be in account "
                                 f"{env.account}; use a role of that account")
            if env.account != self.account and env.verify_role_arn is None:
                raise ValueError(
                    f"environments[{i}] ({env.name}): account {env.account} is not the pipeline's ({self.account}, "
                    "from connection_arn), so its verification needs verify_role_arn: a role in that account the "
                    "pipeline may assume, allowed sagemaker:DescribeEndpoint, sagemaker:InvokeEndpoint, "
                    "cloudformation:GetTemplate and cloudformation:DescribeStackResource"
                )
        return self
