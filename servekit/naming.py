"""What servekit names, in one place: stacks and endpoints (`<app>-<env>-<endpoint>`), and the key that ties
a built artifact to the variant that serves it. No CDK here: validate, bench and verify use it too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def qualified(app_name: str, env_name: str, part: str) -> str:
    """`<app>-<env>-<part>`: the name of a stack, and of the SageMaker endpoint of an endpoint's stack."""
    return f"{app_name}-{env_name}-{part}"


def stack_name(app: Any, part: str) -> str:
    """The stack of `part` (an endpoint's name, or "shared") in the app's environment."""
    return qualified(app.name, app.env_name, part)


def endpoint_name(app: Any, endpoint: str, env_name: str | None = None) -> str:
    """The SageMaker endpoint's name of servekit.yaml's `endpoint` (in `env_name`, default the app's)."""
    return qualified(app.name, env_name or app.env_name, endpoint)


def inference_component_name(endpoint: str, component: str) -> str:
    """The InferenceComponentName of `component` on the SageMaker endpoint named `endpoint` (InvokeEndpoint's
    InferenceComponentName addresses it)."""
    return f"{endpoint}-{component}"


@dataclass(frozen=True, order=True)
class ArtifactKey:
    """Which variant a model artifact is for: `variant` is None for the endpoint's own variant. str() gives
    `endpoint` or `endpoint/variant`, as progress lines and errors print it."""

    endpoint: str
    variant: str | None = None

    @classmethod
    def of(cls, endpoint: Any, variant_name: str) -> ArtifactKey:
        """The key of `endpoint`'s variant `variant_name` (its own variant, or one of `variants`/the shadow)."""
        return cls(endpoint.name, None if variant_name == endpoint.variant_name else variant_name)

    def __str__(self) -> str:
        return self.endpoint if self.variant is None else f"{self.endpoint}/{self.variant}"


def artifact_endpoints(config: Any) -> list[tuple[ArtifactKey, Any]]:
    """(key, endpoint as the variant runs it) for every variant whose model servekit builds, and every inference
    component: multi-model endpoints have none (their models live under multi_model.s3_prefix)."""
    out = [(ArtifactKey.of(ep, variant.name), variant.endpoint)
           for ep in config.endpoints if ep.multi_model is None for variant in ep.resolved_variants()]
    # Inference components: one artifact each, keyed `<component endpoint>/<component>`.
    return out + [(ArtifactKey(ce.name, c.name), c.serve) for ce in getattr(config, "component_endpoints", ())
                  for c in ce.components]
