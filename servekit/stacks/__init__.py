"""Stacks: compose the constructs; app.py only wires them."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk

from servekit import config as cfg
from servekit.constructs import ModelData
from servekit.naming import ArtifactKey, endpoint_name, stack_name
from servekit.stacks.serving_stack import ComponentStack, ServingStack, SharedStack

__all__ = ["ComponentStack", "ServingStack", "SharedStack", "add_serving_stacks", "stack_name"]


def add_serving_stacks(
    scope: cdk.App | cdk.Stage, config: cfg.ServekitConfig, model_data: Mapping[ArtifactKey, ModelData]
) -> dict[str, ServingStack | ComponentStack]:
    """The shared stack, one ServingStack per endpoint and one ComponentStack per component endpoint, for one environment. model_data: per ArtifactKey,
    as servekit.synth.build_model_data returns it."""
    env = cdk.Environment(account=config.app.account, region=config.app.region)
    shared = SharedStack(
        scope, stack_name(config.app, "shared"), app_config=config.app, env=env,
        stack_name=stack_name(config.app, "shared"),  # the same name in a pipeline Stage as in the App
        data_bucket=(any(e.uses_shared_bucket for e in config.endpoints)
                     or any(e.uses_shared_bucket for e in config.component_endpoints)),
        description=f"servekit {config.app.name}/{config.app.env_name}: shared resources of the endpoints",
    )
    stacks = {}
    for endpoint in config.endpoints:
        stack = ServingStack(
            scope,
            stack_name(config.app, endpoint.name),
            stack_name=stack_name(config.app, endpoint.name),
            endpoint=endpoint,
            model_data=model_data,
            kms_key=shared.key,
            data_bucket=shared.data_bucket if endpoint.uses_shared_bucket else None,
            endpoint_name=endpoint_name(config.app, endpoint.name),
            env=env,
            description=f"servekit {config.app.name}/{config.app.env_name}: {endpoint.server} endpoint {endpoint.name}",
        )
        stacks[endpoint.name] = stack
    for endpoint in config.component_endpoints:
        stacks[endpoint.name] = ComponentStack(
            scope, stack_name(config.app, endpoint.name), stack_name=stack_name(config.app, endpoint.name),
            endpoint=endpoint, model_data=model_data, kms_key=shared.key,
            data_bucket=shared.data_bucket if endpoint.uses_shared_bucket else None,
            endpoint_name=endpoint_name(config.app, endpoint.name), env=env,
            description=f"servekit {config.app.name}/{config.app.env_name}: inference-component endpoint "
                        f"{endpoint.name} ({', '.join(c.name for c in endpoint.components)})",
        )
    for key, value in {"servekit:app": config.app.name, "servekit:env": config.app.env_name, **config.app.tags}.items():
        cdk.Tags.of(scope).add(key, value)
    return stacks
