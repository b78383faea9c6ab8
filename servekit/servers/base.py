"""Server: what the rest of servekit asks of a model server. One subclass per server, in
servekit/servers/<name>/__init__.py; the registry (servekit.servers) lists them.

A server's package holds, beside its __init__.py (the Server subclass and its small answers): schema.py,
construct.py, build.py, check.py, local.py, payloads.py, and handlers/ when it runs servekit code in the
container. The heavy ones are imported only when asked for (the construct imports aws-cdk, the local server a
framework), so `servekit validate` imports no CDK and no framework.
"""

from __future__ import annotations

import importlib
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from servekit.constructs.model_data import ModelData
    from servekit.constructs.variant import Variant
    from servekit.images import InstanceFacts
    from servekit.local.endpoint import LocalEndpoint
    from servekit.model_build.check import Listing


def shown_requirements(requirements: list[str]) -> str:
    """The first requirement lines, for a message."""
    return ", ".join(requirements[:3]) + (" ..." if len(requirements) > 3 else "")


class Server:
    """One model server, as servekit knows it. The class attributes say what it is; the methods are what callers
    ask "which server" about."""

    name: ClassVar[str]
    """The `server:` value in servekit.yaml."""
    title: ClassVar[str]
    """For people: "TensorFlow Serving"."""
    image_framework: ClassVar[str]
    """The framework key of sagemaker-core's image URI table."""
    spec: ClassVar[type]
    """The servekit.yaml schema of its endpoints (a servekit.spec.endpoint.EndpointBase)."""
    construct_class: ClassVar[str]
    """The construct's class name in the server's construct.py."""
    local_emulated: ClassVar[bool] = False
    """True where `servekit serve` runs an emulation, not the real server (TFS here)."""
    tuning_columns: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(environment variable, label) shown in synth's endpoint table."""
    sweep_aliases: ClassVar[dict[str, str | None]] = {}
    """`servekit bench --sweep` short names -> field paths (None: ambiguous)."""
    sweep_note: ClassVar[str | None] = None
    """Said before a local sweep, where the local server ignores what is swept."""

    def __init__(self) -> None:
        # Every endpoint of this server's schema carries this Server (EndpointBase.plugin): the shared machinery
        # below the registry gets it from the endpoint it is handed, never by name.
        if getattr(self.spec, "plugin", None) not in (None, self):
            raise ValueError(f"{self.spec.__name__} belongs to server {self.spec.plugin.name!r} already")
        self.spec.plugin = self

    def doc_sections(self) -> list[tuple[str, type]]:
        """(heading, schema model) of docs/configuration.md for this server's keys, in order."""
        return [(f"endpoints[] (server: {self.name})", self.spec)]

    def variant_doc_section(self) -> tuple[str, type]:
        """(heading, schema model) of docs/configuration.md for this server's variants: the item type of its
        schema's `variants` list."""
        (variant,) = typing.get_args(self.spec.model_fields["variants"].annotation)
        return (f"endpoints[].variants[] / shadow_variant ({self.name})", variant)

    # --- the model and its artifact ---------------------------------------------------------
    def models(self, ep: Any) -> list[tuple[str, Any]]:
        """(field, model) of the endpoint's models, as servekit.yaml names them."""
        return [("model", ep.model)]

    def default_model_name(self, ep: Any) -> str | None:
        """The model the container answers with (its default-model variable), or None."""
        return None

    def manifest_name(self, ep: Any) -> str:
        """Where servekit-manifest.json sits in the archive."""
        from servekit.model_build import manifest

        return manifest.NAME

    def plan(self, ep: Any, hasher: Any) -> Any:
        """The build plan (servekit.model_build.builder.Plan): identity first, materialize on a cache miss.
        From the server's build.py, `plan(ep, hasher)`."""
        return self._module("build").plan(ep, hasher)

    def layout_problems(self, listing: Listing, default_model_name: str | None, instance_type: str | None) -> list[str]:
        """check-artifact's problems of an archive's layout for this server (its check.py)."""
        return self._module("check").layout_problems(listing, default_model_name, instance_type)

    def wraps(self, listing: Listing, top: str) -> bool:
        """Whether the single top folder `top` holds what belongs at the archive root (its check.py)."""
        return self._module("check").wraps(listing, top)

    def start_install_reason(self, requirements: list[str], has_lib: bool) -> str | None:
        """Why the container pip-installs at start (so network isolation breaks it), or None."""
        return None

    # --- rules ------------------------------------------------------------------------------------
    def gpu_only_tuning(self, tuning: Any) -> dict[str, object]:
        """The tuning settings only a GPU can use: field -> value (None: unset)."""
        return {}

    def cpu_problems(self, ep: Any, where: str) -> list[str]:
        """What else in `ep` needs a GPU that `where` (an instance without one) lacks."""
        return []

    def load_problems(self, ep: Any, artifact: Path) -> list[str] | None:
        """The real server's verdict on a built artifact, loaded as the container loads it: [] when it loads, one line
        per refusal (field, the server's words, the fix), or None when this machine cannot run the server (the
        build then says the artifact went unchecked). Default: this server has no load check (None, said nowhere)."""
        return None

    def load_check_unavailable(self) -> str | None:
        """Why the load check cannot run here (and how to get it), or None when it can or the server has none."""
        return None

    def component_problems(self, ep: Any, accelerators: int, fleet_gpus: int) -> list[tuple[str, str]]:
        """What a copy of `ep` as an inference component reserving `accelerators` GPUs cannot do on a fleet whose
        instances have `fleet_gpus`: (severity "error" or "warning", "field: value; fix") each."""
        return []

    def multi_model_problem(self, facts: InstanceFacts) -> str | None:
        """Why this server cannot run a SageMaker multi-model endpoint on this instance, or None."""
        return None

    def multi_model_problems(self, ep: Any) -> list[str]:
        """What of `ep` a multi-model endpoint of this server ignores or cannot do."""
        return []

    def runtime_version(self, image_facts: Any, kind: str) -> str | None:
        """The version of the runtime `kind` (torch, onnxruntime, tensorflow, tensorrt) inside the image (its
        servekit.facts.dlc entry) that reads such model files, or None where it has none. Default: the image's
        `runtimes` table."""
        return image_facts.runtimes.get(kind)

    # --- deploy -------------------------------------------------------------------------------------
    def image_uri(self, version: str, region: str, instance_type: str | None) -> str:
        """The container image of this server's `version` in `region`, CPU or GPU from `instance_type` (None:
        serverless, the CPU image). Default: the AWS Deep Learning Container of `image_framework`, from
        sagemaker-core's table (servekit.images.image_uri); raises servekit.images.ImageError when there is none."""
        from servekit import images

        return images.image_uri(self.image_framework, version, region, instance_type)

    @property
    def metrics_found_by_sagemaker(self) -> bool:
        """Whether SageMaker finds the container's Prometheus endpoint itself: so for AWS's Deep Learning
        Containers, the image of every server that keeps the default image_uri (servekit.facts.observability); a
        component of such a server takes no metrics_endpoint."""
        return type(self).image_uri is Server.image_uri

    def construct(self) -> type:
        """The construct class, from its construct.py (imported on first use: it imports aws-cdk)."""
        return getattr(self._module("construct"), self.construct_class)

    def variant(self, ep: Any, name: str, model_data: ModelData, **common: Any) -> Variant:
        """A construct Variant from a validated endpoint as one variant runs it (servekit.adapter). `common`: the
        keywords every server's `variant()` takes (instance_type, instance_count, weight, image_version, tuning,
        serverless, container, hosting, where, inference_ami_version, instance_pools, provision_timeout_seconds);
        add the server's own."""
        return self.construct().variant(name, model_data=model_data, **common)

    # --- serve and bench -----------------------------------------------------------------------------
    def start_local(self, ep: Any, artifact: Path, **kwargs: Any) -> LocalEndpoint:
        """Start the server (or its emulation) on this machine with the built artifact (its local.py)."""
        return self._module("local").start(ep, artifact, **kwargs)

    def request_problem(self, body: bytes, content_type: str | None) -> str | None:
        """Why a raw body should not be sent to this server as it is (beyond the size), or None."""
        return None

    def payloads(self, ep: Any, artifact: Path | None) -> list[Any]:
        """The endpoint's example request in every encoding the server takes (servekit.bench.Payload; its
        payloads.py)."""
        return self._module("payloads").payloads(ep, artifact)

    def _module(self, part: str) -> Any:
        """<the server's package>.<part>, imported on first use (build, check, local, payloads, construct): the
        package is the one whose __init__.py defines this Server (servekit.servers.<name>, or a plug-in's)."""
        return importlib.import_module(f"{type(self).__module__}.{part}")
