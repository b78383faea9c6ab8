"""What changed between two assemblies, resource by resource: a create-only property replaces the resource,
and a replacement propagates through every reference to it (Ref, GetAtt, Sub, ImportValue) to a fixed point."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from servekit.diff.assembly import (
    IGNORED_TYPES,
    MISSING,
    StackTemplate,
)

# Top-level create-only properties of the resource types servekit synthesizes: a change replaces the
# resource. From the CloudFormation resource schemas (a unit test compares this with cfn-lint's copy).
CREATE_ONLY: dict[str, frozenset[str]] = {
    "AWS::SageMaker::Model": frozenset({
        "ExecutionRoleArn", "EnableNetworkIsolation", "InferenceExecutionConfig", "PrimaryContainer", "ModelName",
        "VpcConfig", "Containers"}),
    "AWS::SageMaker::EndpointConfig": frozenset({
        "KmsKeyId", "AsyncInferenceConfig", "ExecutionRoleArn", "ShadowProductionVariants", "EnableNetworkIsolation",
        "ProductionVariants", "DataCaptureConfig", "ExplainerConfig", "MetricsConfig", "EndpointConfigName",
        "VpcConfig"}),
    "AWS::SageMaker::Endpoint": frozenset({"EndpointName"}),
    "AWS::SageMaker::InferenceComponent": frozenset(),  # every change is an UpdateInferenceComponent
    "AWS::CloudWatch::Alarm": frozenset({"AlarmName"}),
    "AWS::CloudWatch::Dashboard": frozenset({"DashboardName"}),
    "AWS::IAM::Role": frozenset({"Path", "RoleName"}),
    "AWS::IAM::ManagedPolicy": frozenset({"ManagedPolicyName", "Description", "Path"}),
    "AWS::ApplicationAutoScaling::ScalableTarget": frozenset({"ResourceId", "ScalableDimension", "ServiceNamespace"}),
    "AWS::ApplicationAutoScaling::ScalingPolicy": frozenset({
        "PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension", "ScalingTargetId"}),
    "AWS::KMS::Key": frozenset(),
}
@dataclass
class PropertyChange:
    path: str  # "PrimaryContainer.Environment.SAGEMAKER_TS_BATCH_SIZE", "ProductionVariants[0].ModelName"
    old: Any
    new: Any
    via: str | None = None  # set when the text is the same but a referenced resource or export is replaced

    @property
    def top(self) -> str:
        return re.split(r"[.\[]", self.path, maxsplit=1)[0]

    def describe(self) -> str:
        if self.via:
            return f"{self.path}: new value because {self.via}"
        old, new = short_pair(self.old, self.new)
        return f"{self.path}: {old} → {new}"


@dataclass
class ResourceChange:
    logical_id: str
    type: str
    action: str  # "add", "remove", "update", "replace"
    changes: list[PropertyChange] = field(default_factory=list)
    renamed_from: str | None = None  # logical id in OLD when CDK gave the resource a new one
    replace_unknown: bool = False  # a type whose create-only properties servekit cannot look up

    @property
    def replaced_by(self) -> list[PropertyChange]:
        """The changes that make CloudFormation replace the resource."""
        if self.renamed_from:
            return self.changes
        create_only = create_only_properties(self.type)
        return [c for c in self.changes if c.top in (create_only or ())]


@dataclass
class StackDiff:
    key: str
    stack_name: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    resources: list[ResourceChange] = field(default_factory=list)
    outputs: list[PropertyChange] = field(default_factory=list)
    other: list[PropertyChange] = field(default_factory=list)  # Parameters, Rules, Conditions, ...

    @property
    def changed(self) -> bool:
        return self.old is None or self.new is None or bool(self.resources or self.outputs or self.other)

    def resource(self, logical_id: str) -> ResourceChange | None:
        return next((r for r in self.resources if r.logical_id == logical_id), None)


def create_only_properties(resource_type: str) -> frozenset[str] | None:
    """Top-level create-only properties of a type; None when unknown (cfn-lint, if installed, knows the rest)."""
    if resource_type in CREATE_ONLY:
        return CREATE_ONLY[resource_type]
    return _schema_create_only(resource_type)


_SCHEMA_CACHE: dict[str, frozenset[str] | None] = {}


def _schema_create_only(resource_type: str) -> frozenset[str] | None:
    if resource_type not in _SCHEMA_CACHE:
        try:
            from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

            schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
            paths = schema.get("createOnlyProperties", [])
            _SCHEMA_CACHE[resource_type] = frozenset(p.split("/")[2] for p in paths if p.startswith("/properties/"))
        except Exception:  # noqa: BLE001 - cfn-lint missing or the type unknown to it: say "unknown", never guess
            _SCHEMA_CACHE[resource_type] = None
    return _SCHEMA_CACHE[resource_type]


def _compare(old: Any, new: Any, path: str) -> Iterator[PropertyChange]:
    """Leaf-level differences. Tags compare by key, maps by key, lists by position (whole when lengths differ)."""
    if old == new:
        return
    if _is_tag_list(old) and _is_tag_list(new):
        old, new = ({t["Key"]: t["Value"] for t in v} for v in (old, new))
    if isinstance(old, dict) and isinstance(new, dict) and not _is_intrinsic(old) and not _is_intrinsic(new):
        for key in sorted(set(old) | set(new)):
            yield from _compare(old.get(key, MISSING), new.get(key, MISSING), f"{path}.{key}" if path else key)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _compare(a, b, f"{path}[{i}]")
        return
    yield PropertyChange(path, old, new)


def _is_tag_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(t, dict) and set(t) == {"Key", "Value"} for t in value)


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::"))


def _references(value: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(path, kind, target) for every reference in a property value: kind "resource" (Ref, GetAtt, ${X} in
    Fn::Sub) or "import" (Fn::ImportValue of a literal export name)."""
    if isinstance(value, dict):
        if _is_intrinsic(value):
            (fn, arg), = value.items()
            if fn == "Ref" and isinstance(arg, str):
                yield path, "resource", arg
                return
            if fn == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                yield path, "resource", target
                return
            if fn == "Fn::ImportValue" and isinstance(arg, str):
                yield path, "import", arg
                return
            if fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if name not in variables:
                        yield path, "resource", name.split(".", 1)[0]
                yield from _references(variables, path)
                return
        for key, item in value.items():
            yield from _references(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _references(item, f"{path}[{i}]")


def _rename(value: Any, renames: dict[str, str]) -> Any:
    """OLD's value with references to renamed resources pointed at their NEW logical ids."""
    if not renames:
        return value
    if isinstance(value, dict):
        if _is_intrinsic(value):
            (fn, arg), = value.items()
            if fn == "Ref" and arg in renames:
                return {fn: renames[arg]}
            if fn == "Fn::GetAtt" and isinstance(arg, list) and arg and arg[0] in renames:
                return {fn: [renames[arg[0]], *arg[1:]]}
        return {k: _rename(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, renames) for v in value]
    if isinstance(value, str):
        for old_id, new_id in renames.items():
            value = value.replace("${" + old_id + "}", "${" + new_id + "}").replace("${" + old_id + ".", "${" + new_id + ".")
    return value


def _direct_stack_diff(key: str, old: StackTemplate | None, new: StackTemplate | None) -> StackDiff:
    old_t = old.template if old else None
    new_t = new.template if new else None
    diff = StackDiff(key, (new or old).stack_name, old_t, new_t)  # type: ignore[union-attr]
    if old_t is None or new_t is None:
        return diff
    old_res = {k: v for k, v in old_t.get("Resources", {}).items() if v.get("Type") not in IGNORED_TYPES}
    new_res = {k: v for k, v in new_t.get("Resources", {}).items() if v.get("Type") not in IGNORED_TYPES}
    removed = sorted(set(old_res) - set(new_res))
    added = sorted(set(new_res) - set(old_res))
    # CDK derives logical ids from construct paths: a refactor renames a resource, which CloudFormation
    # replaces. Pair one removed with one added resource of the same type, to say why in its terms.
    renames: dict[str, str] = {}
    for rtype in sorted({old_res[r]["Type"] for r in removed}):
        gone = [r for r in removed if old_res[r]["Type"] == rtype]
        came = [r for r in added if new_res[r]["Type"] == rtype]
        if len(gone) == 1 and len(came) == 1:
            renames[gone[0]] = came[0]
    for logical_id in removed:
        if logical_id not in renames:
            diff.resources.append(ResourceChange(logical_id, old_res[logical_id]["Type"], "remove"))
    for logical_id in new_res:
        rtype = new_res[logical_id]["Type"]
        if logical_id in added and logical_id not in renames.values():
            diff.resources.append(ResourceChange(logical_id, rtype, "add"))
            continue
        old_id = next((o for o, n in renames.items() if n == logical_id), logical_id)
        old_props = _rename(old_res[old_id].get("Properties", {}), renames)
        changes = list(_compare(old_props, new_res[logical_id].get("Properties", {}), ""))
        if old_res[old_id]["Type"] != rtype:
            changes.insert(0, PropertyChange("Type", old_res[old_id]["Type"], rtype))
        if changes or old_id != logical_id:
            change = ResourceChange(logical_id, rtype, "update", changes, renamed_from=old_id if old_id != logical_id else None)
            diff.resources.append(change)
    diff.outputs = list(_compare(_rename(old_t.get("Outputs", {}), renames), new_t.get("Outputs", {}), ""))
    for section in ("Parameters", "Conditions", "Rules", "Mappings", "Transform", "Description"):
        diff.other.extend(_compare(old_t.get(section, MISSING), new_t.get(section, MISSING), section))
    return diff


def _classify(diff: StackDiff) -> None:
    for change in diff.resources:
        if change.action in ("add", "remove"):
            continue
        create_only = create_only_properties(change.type)
        change.replace_unknown = create_only is None and not change.renamed_from
        change.action = "replace" if change.renamed_from or change.replaced_by else "update"


def diff_assemblies(old: dict[str, StackTemplate], new: dict[str, StackTemplate]) -> list[StackDiff]:
    """Per stack, every resource that changes and how, with replacements propagated through references."""
    keys = [k for k in new] + [k for k in old if k not in new]
    diffs = {k: _direct_stack_diff(k, old.get(k), new.get(k)) for k in keys}
    for diff in diffs.values():
        _classify(diff)
    # Replacements change physical ids, hence every Ref/GetAtt/Sub of them and every export made of them.
    while True:
        changed_exports = _changed_exports(diffs)
        progress = False
        for diff in diffs.values():
            if diff.old is None or diff.new is None:
                continue
            replaced = {r.logical_id: r for r in diff.resources if r.action in ("replace", "add") or r.renamed_from}
            for logical_id, resource in diff.new.get("Resources", {}).items():
                if resource.get("Type") in IGNORED_TYPES or logical_id in replaced and replaced[logical_id].action == "add":
                    continue
                for path, kind, target in _references(resource.get("Properties", {})):
                    if kind == "resource" and target in replaced and target != logical_id:
                        via = f"{target} is replaced" if replaced[target].action != "add" else f"{target} is new"
                    elif kind == "import" and target in changed_exports:
                        via = f"export {target}, which changes ({changed_exports[target]})"
                    else:
                        continue
                    change = diff.resource(logical_id)
                    if change is None:
                        change = ResourceChange(logical_id, resource["Type"], "update")
                        diff.resources.append(change)
                    if any(path == c.path or path.startswith((c.path + ".", c.path + "[")) for c in change.changes):
                        continue
                    value = _value_at(resource.get("Properties", {}), path)
                    change.changes.append(PropertyChange(path, value, value, via=via))
                    progress = True
            _classify(diff)
        if not progress:
            break
    for diff in diffs.values():
        order = {k: i for i, k in enumerate((diff.new or {}).get("Resources", {}))}
        diff.resources.sort(key=lambda r: order.get(r.logical_id, len(order)))
    return list(diffs.values())


def _changed_exports(diffs: dict[str, StackDiff]) -> dict[str, str]:
    """Export name -> why its value changes (an output made of a replaced resource, or a new expression)."""
    out: dict[str, str] = {}
    for diff in diffs.values():
        if diff.old is None or diff.new is None:
            continue
        replaced = {r.logical_id for r in diff.resources if r.action == "replace" or r.renamed_from}
        old_outputs = diff.old.get("Outputs", {})
        for name, output in diff.new.get("Outputs", {}).items():
            export = output.get("Export", {}).get("Name")
            if not isinstance(export, str):
                continue
            targets = {t for _, kind, t in _references(output.get("Value")) if kind == "resource"}
            if targets & replaced:
                out[export] = f"{diff.key}: {', '.join(sorted(targets & replaced))} replaced"
            elif old_outputs.get(name, {}).get("Value") != output.get("Value"):
                out[export] = f"{diff.key}: output {name} changed"
    return out


def _value_at(value: Any, path: str) -> Any:
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            value = value[int(part[1:-1])]
        else:
            value = value[part]
    return value


# --- values as a reviewer reads them ---
def plain(value: Any) -> str:
    if value is MISSING:
        return "unset"
    return value if isinstance(value, str) else json.dumps(value)


def short(value: Any, limit: int = 100) -> str:
    text = "(unset)" if value is MISSING else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_pair(old: Any, new: Any, limit: int = 100) -> tuple[str, str]:
    """Both values, cut to `limit` around where they first differ (long values often share a long prefix)."""
    texts = ["(unset)" if v is MISSING else json.dumps(v, sort_keys=True, default=str) for v in (old, new)]
    if all(len(t) <= limit for t in texts):
        return texts[0], texts[1]
    start = next((i for i, (a, b) in enumerate(zip(*texts, strict=False)) if a != b), min(map(len, texts)))
    start = max(0, start - 20)
    return tuple(("…" if start else "") + t[start:start + limit] + ("…" if len(t) > start + limit else "")
                 for t in texts)  # type: ignore[return-value]
