"""docs/configuration.md, generated from the schema (servekit.config and each server's schema.py) so it never drifts
from the code.

    .venv/bin/python -m servekit.docgen > docs/configuration.md
(a unit test fails when the committed file differs from what this prints).
"""

from __future__ import annotations

import inspect
import re
import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from servekit import config as cfg
from servekit import registry

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("app", cfg.AppConfig),
    *(section for server in registry.all() for section in server.doc_sections()),
    ("endpoints[].scaling", cfg.Scaling),
    ("endpoints[].scaling.schedules[]", cfg.ScheduledScaling),
    ("endpoints[].deployment", cfg.Deployment),
    ("endpoints[].alarms", cfg.Alarms),
    ("endpoints[].observability (component_endpoints[].observability too)", cfg.Observability),
    ("endpoints[].data_capture", cfg.DataCapture),
    ("endpoints[].async_inference", cfg.AsyncInference),
    ("endpoints[].serverless", cfg.Serverless),
    ("endpoints[].multi_model", cfg.MultiModel),
    ("endpoints[].network", cfg.Network),
    ("endpoints[].container", cfg.ContainerOptions),
    ("endpoints[].hosting", cfg.Hosting),
    ("endpoints[].instance_pools[]", cfg.InstancePool),
    ("endpoints[].hosting.core_dump", cfg.CoreDump),
    ("endpoints[].hosting.capacity_reservation", cfg.CapacityReservation),
    ("component_endpoints[]", cfg.ComponentEndpoint),
    ("component_endpoints[].instance_scaling", cfg.InstanceScaling),
    ("component_endpoints[].instance_scaling.scale_in", cfg.ScaleIn),
    ("component_endpoints[].components[]", cfg.InferenceComponent),
    ("component_endpoints[].components[].compute", cfg.ComponentCompute),
    ("component_endpoints[].components[].copy_scaling", cfg.CopyScaling),
    ("component_endpoints[].components[].rollout", cfg.ComponentRollout),
    ("component_endpoints[].components[].scheduling", cfg.Scheduling),
    ("component_endpoints[].components[].specifications[]", cfg.ComponentSpecification),
    *(server.variant_doc_section() for server in registry.all()),
]
SOURCES = [cfg.ExampleSource, cfg.SavedModelSource, cfg.KerasSource, cfg.TorchScriptSource, cfg.StateDictSource,
           cfg.HuggingFaceSource, cfg.OnnxSource, cfg.ArchiveSource, cfg.S3Source]


def _type(annotation: typing.Any) -> str:
    text = str(annotation).replace("typing.", "").replace("pathlib._local.", "")
    text = re.sub(r"\bservekit(\.\w+)*\.(?=[A-Z])", "", text)  # servekit.servers.tfs.schema.TfsVariant -> TfsVariant
    text = text.replace("<class '", "").replace("'>", "").replace("pathlib.", "")
    if any(marker in text for marker in ("Annotated[Union[ExampleSource", "ExampleSource, SavedModelSource",
                                         "ExampleSource | SavedModelSource")):
        return "model source (below)"
    return text.replace("NoneType", "None").replace("|", "\\|")


def _default(field: typing.Any) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()
        return "its defaults (below)" if isinstance(value, BaseModel) else f"`{value}`"
    return "unset" if field.default is None or field.default is PydanticUndefined else f"`{field.default}`"


def _table(model: type[BaseModel]) -> list[str]:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        description = field.description or ""
        lines.append(f"| `{name}` | {_type(field.annotation)} | {_default(field)} | {description.replace('|', '/')} |")
    return lines


def render() -> str:
    out = [
        "# servekit.yaml reference",
        "",
        "Generated from `servekit/config/` and `servekit/servers/*/schema.py` by `python -m servekit.docgen`; do not edit "
        "by hand.",
        "Unknown keys are errors. Every tuning key names its container variable and unit; unset means the",
        "container's own default. `servekit validate` checks a file with one line per problem.",
        "",
    ]
    for title, model in SECTIONS:
        out += [f"## {title}", "", inspect.cleandoc(model.__doc__ or ""), "", *_table(model), ""]
    out += ["## Model sources (`source:`)", "", "Chosen by `kind`. Local paths are relative to servekit.yaml.", ""]
    for model in SOURCES:
        kind = model.model_fields["kind"].annotation.__args__[0]
        out += [f"### kind: {kind}", "", inspect.cleandoc(model.__doc__ or ""), "", *_table(model), ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
