"""Reading a cloud assembly (cdk.out): each stack's template and outputs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A property absent on one side of a change.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "(unset)"})()
IGNORED_TYPES = {"AWS::CDK::Metadata"}  # CDK's analytics resource: changes with the CDK version, deploys nothing
ASSET_HASH = re.compile(r"([0-9a-f]{64})(\.[a-z.]+)?$")


class DiffError(Exception):
    """Something the user can fix (a folder that is not an assembly, a ref that does not synthesize)."""


@dataclass(frozen=True)
class StackTemplate:
    key: str  # the artifact's display name: "stack" or "Stage/stack" (unique in an assembly)
    stack_name: str
    template: dict[str, Any]


def load_assembly(path: str | Path) -> dict[str, StackTemplate]:
    """Every CloudFormation stack of a cloud assembly, nested assemblies (pipeline stages) included."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise DiffError(f"{path}: not a cloud assembly (no manifest.json); pass a cdk.out folder or a git ref")
    manifest = json.loads(manifest_path.read_text())
    stacks: dict[str, StackTemplate] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        props = artifact.get("properties", {})
        if artifact.get("type") == "aws:cloudformation:stack":
            template = json.loads((path / props["templateFile"]).read_text())
            key = artifact.get("displayName", artifact_id)
            stacks[key] = StackTemplate(key, props.get("stackName", artifact_id), template)
        elif artifact.get("type") == "cdk:cloud-assembly":
            stacks.update(load_assembly(path / props["directoryName"]))
    return stacks
