"""The servekit.yaml document's schema: the app block, the endpoints (one schema per server, from
servekit.registry), the component endpoints and the optional pipeline. The checks that run after the schema
are servekit.config.semantics's.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from servekit import naming
from servekit.config.components import ComponentEndpoint
from servekit.config.endpoints import Endpoint
from servekit.config.pipeline import PipelineConfig
from servekit.options import Strict


class AppConfig(Strict):
    name: str = Field("servekit", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,30}$", description="Prefix of stack names.")
    env_name: str = Field("dev", pattern=r"^[a-z][a-z0-9]{0,15}$", description="Environment: dev, staging, prod...")
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    account: str | None = Field(None, pattern=r"^\d{12}$", description="Unset = environment-agnostic stacks.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags on every stack's resources.")
    kms_key_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$",
        description="Existing key for endpoint volumes, captured data and async results; unset = one key created "
        "in the shared stack.",
    )


    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        # "The aws: prefix is reserved for AWS use" (AWS, tag-editor/latest/userguide/tagging.html, tag naming
        # limits); CloudFormation refuses such a key at deploy. Tag keys are 1-128 characters, values 0-256.
        for key, value in v.items():
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag key {key!r} starts with the reserved prefix 'aws:', which CloudFormation "
                                 "refuses; rename it (e.g. without the prefix)")
            if not 1 <= len(key) <= 128 or len(str(value)) > 256:
                raise ValueError(f"tag {key!r}: keys are 1-128 characters and values up to 256; shorten it")
        return v


class ServekitConfig(Strict):
    app: AppConfig = Field(default_factory=AppConfig)
    endpoints: list[Endpoint] = Field(default_factory=list, description="Endpoints of one server each (at least "
                                      "one endpoint or component endpoint).")
    component_endpoints: list[ComponentEndpoint] = Field(
        default_factory=list, description="Endpoints whose instances host several models as inference components "
        "(docs/components.md).")
    pipeline: PipelineConfig | None = Field(None, description="CDK Pipelines deployment; unset = no pipeline stack.")

    @model_validator(mode="after")
    def _check(self) -> ServekitConfig:
        if not self.endpoints and not self.component_endpoints:
            raise ValueError("endpoints: none declared; add at least one endpoint (or component endpoint)")
        names = [e.name for e in (*self.endpoints, *self.component_endpoints)]
        if "shared" in names:
            # servekit.stacks names each endpoint's stack <app>-<env>-<endpoint>, and the shared one <app>-<env>-shared.
            raise ValueError(f"endpoint name 'shared' is taken by the shared stack ({naming.stack_name(self.app, 'shared')}); "
                             "rename the endpoint")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"endpoint names {dupes} appear twice; give each endpoint its own name (component "
                             "endpoints included: each is a stack of that name)")
        return self
