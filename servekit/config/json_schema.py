"""servekit.yaml's JSON Schema, made from the pydantic models (`servekit schema` prints it; `servekit init` writes it
beside servekit.yaml, whose first line names it for the YAML language server), so editors complete and check keys as
the user types. servekit's own loader stays the judge: the schema cannot say what needs several fields at once."""

from __future__ import annotations

import json
from typing import Any

from servekit.config.document import ServekitConfig

SCHEMA_FILE = "servekit.schema.json"
# The first line of a servekit.yaml that the YAML language server (VS Code's YAML extension, and others) reads.
MODELINE = f"# yaml-language-server: $schema=./{SCHEMA_FILE}"


def json_schema() -> dict[str, Any]:
    schema = ServekitConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "servekit.yaml"
    component = schema["$defs"].get("InferenceComponent")
    if component is not None:
        # `serve` is made by servekit from the component's server keys (server, model, tuning, ...), which sit
        # beside the component's own keys: not written by the user, and the other keys are the server's.
        component["properties"].pop("serve", None)
        component["required"] = [k for k in component.get("required", []) if k != "serve"]
        component["additionalProperties"] = True
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"
