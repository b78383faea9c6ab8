"""`servekit diff OLD NEW`: what a change does to each endpoint, read from two synthesized cloud assemblies.

A reviewer of a pull request needs, per endpoint, one of:

- **no change**;
- **in place** (tags, scaling, alarms, dashboard, permissions, deployment policy): no new instances;
- **fleet replaced**: a new EndpointConfig, so SageMaker starts a new fleet and shifts traffic to it as the
  endpoint's deployment policy says (canary, linear, all at once, rolling), with the root causes
  ("because SAGEMAKER_TS_BATCH_SIZE 1→4", "model artifact changed", "instance type ml.m5.xlarge→ml.g5.xlarge");
- **endpoint replaced**: a new endpoint name (callers of the old one break);
- **new endpoint** / **endpoint removed**;

then the raw property diff. No AWS account is used: everything is read from the templates.

How it decides. CloudFormation replaces a resource when a create-only property changes (the resource
schemas' `createOnlyProperties`; servekit's table below is checked against cfn-lint's copy of them by a
unit test). A replaced resource gets a new physical id, so every property that refers to it (`Ref`,
`Fn::GetAtt`, `Fn::Sub`, or `Fn::ImportValue` of an export from another stack) changes too, even though
its text does not: a new SAGEMAKER_* variable replaces the Model, whose new name replaces the immutable
EndpointConfig, whose new name makes the Endpoint update, which is a new fleet. That propagation is run to
a fixed point across all stacks of the assembly.

OLD and NEW are cloud assembly folders (`cdk.out`), or git refs: a ref is checked out in a temporary
`git worktree` and synthesized there with its own `servekit synth`; NEW left out is the working tree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "(unset)"})()

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
    "AWS::CloudWatch::Alarm": frozenset({"AlarmName"}),
    "AWS::CloudWatch::Dashboard": frozenset({"DashboardName"}),
    "AWS::IAM::Role": frozenset({"Path", "RoleName"}),
    "AWS::IAM::ManagedPolicy": frozenset({"ManagedPolicyName", "Description", "Path"}),
    "AWS::ApplicationAutoScaling::ScalableTarget": frozenset({"ResourceId", "ScalableDimension", "ServiceNamespace"}),
    "AWS::ApplicationAutoScaling::ScalingPolicy": frozenset({
        "PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension", "ScalingTargetId"}),
    "AWS::KMS::Key": frozenset(),
}
IGNORED_TYPES = {"AWS::CDK::Metadata"}  # CDK's analytics resource: changes with the CDK version, deploys nothing
ASSET_HASH = re.compile(r"([0-9a-f]{64})(\.[a-z.]+)?$")


class DiffError(Exception):
    """Something the user can fix (a folder that is not an assembly, a ref that does not synthesize)."""


# ---------------------------------------------------------------------------------------------
# Reading cloud assemblies
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# What changed
# ---------------------------------------------------------------------------------------------
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
        old, new = _short_pair(self.old, self.new)
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


# ---------------------------------------------------------------------------------------------
# Impact per endpoint
# ---------------------------------------------------------------------------------------------
SEVERITY = ["no change", "in place", "fleet replaced", "endpoint replaced", "new endpoint", "endpoint removed"]


@dataclass
class EndpointImpact:
    stack: str
    endpoint: str
    impact: str  # one of SEVERITY
    because: list[str] = field(default_factory=list)
    traffic: str | None = None
    in_place: list[str] = field(default_factory=list)

    @property
    def headline(self) -> str:
        if self.impact == "fleet replaced":
            text = "fleet replaced — new EndpointConfig"
            return text + (f", because {'; '.join(self.because)}" if self.because else "")
        if self.impact == "endpoint replaced":
            return "endpoint replaced — a new endpoint" + (f", because {'; '.join(self.because)}" if self.because else "")
        if self.impact == "in place":
            return f"in place ({', '.join(self.in_place)})"
        return self.impact


@dataclass
class StackImpact:
    stack: str
    impact: str  # "no change", "in place", "resources replaced", "new stack", "stack removed"
    details: list[str] = field(default_factory=list)

    @property
    def headline(self) -> str:
        return f"{self.impact} ({', '.join(self.details)})" if self.details else self.impact


@dataclass
class Report:
    old_label: str
    new_label: str
    stacks: list[StackDiff]
    endpoints: list[EndpointImpact]
    others: list[StackImpact]


def _endpoints_of(template: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    if not template:
        return []
    return [(k, v) for k, v in template.get("Resources", {}).items() if v.get("Type") == "AWS::SageMaker::Endpoint"]


def _endpoint_name(stack: StackDiff, resource: dict[str, Any]) -> str:
    name = resource.get("Properties", {}).get("EndpointName")
    if isinstance(name, str):
        return name
    output = (stack.new or stack.old or {}).get("Outputs", {}).get("EndpointName", {}).get("Value")
    return output if isinstance(output, str) else stack.stack_name


def impacts(stacks: list[StackDiff]) -> tuple[list[EndpointImpact], list[StackImpact]]:
    endpoints: list[EndpointImpact] = []
    others: list[StackImpact] = []
    for stack in stacks:
        found = _endpoints_of(stack.new) or _endpoints_of(stack.old)
        if not found:
            others.append(_stack_impact(stack))
            continue
        for logical_id, resource in found:
            endpoints.append(_endpoint_impact(stack, logical_id, resource))
    return endpoints, others


def _stack_impact(stack: StackDiff) -> StackImpact:
    if stack.old is None:
        return StackImpact(stack.key, "new stack")
    if stack.new is None:
        return StackImpact(stack.key, "stack removed")
    if not stack.changed:
        return StackImpact(stack.key, "no change")
    replaced = [f"{r.logical_id} ({r.type}) replaced" for r in stack.resources if r.action == "replace"]
    removed = [f"{r.logical_id} ({r.type}) removed" for r in stack.resources if r.action == "remove"]
    if replaced or removed:
        return StackImpact(stack.key, "resources replaced", replaced + removed)
    return StackImpact(stack.key, "in place", _categories(stack, exclude=set()))


def _endpoint_impact(stack: StackDiff, logical_id: str, resource: dict[str, Any]) -> EndpointImpact:
    name = _endpoint_name(stack, resource)
    impact = EndpointImpact(stack.key, name, "no change")
    if stack.old is None or not _endpoints_of(stack.old):
        impact.impact = "new endpoint"
        impact.traffic = _traffic(resource, new_endpoint=True)
        return impact
    if stack.new is None or not _endpoints_of(stack.new):
        impact.impact = "endpoint removed"
        return impact
    endpoint = stack.resource(logical_id)
    fleet: set[str] = set()  # resources whose change is part of the fleet replacement
    if endpoint is not None and endpoint.action == "replace":
        impact.impact = "endpoint replaced"
        impact.because = _root_causes(stack, endpoint, endpoint.replaced_by, fleet)
    elif endpoint is not None and any(c.top == "EndpointConfigName" for c in endpoint.changes):
        impact.impact = "fleet replaced"
        impact.because = _root_causes(stack, endpoint, [c for c in endpoint.changes if c.top == "EndpointConfigName"], fleet)
        impact.traffic = _traffic(resource, new_endpoint=False)
    impact.in_place = _categories(stack, exclude=fleet, endpoint_id=logical_id)
    if impact.impact == "no change" and (impact.in_place or stack.changed):
        impact.impact = "in place"
        impact.in_place = impact.in_place or ["template metadata"]
    return impact


def _root_causes(stack: StackDiff, change: ResourceChange, props: list[PropertyChange], seen: set[str]) -> list[str]:
    """The original changes behind `props` of `change`, following references back to the resources whose own
    properties changed. `seen` collects every resource of the chain (they are part of the new fleet)."""
    seen.add(change.logical_id)
    causes: list[str] = []
    if change.renamed_from:
        causes.append(f"{change.type.split('::')[-1]} {change.logical_id} has a new logical id (was {change.renamed_from})")
    for prop in props:
        if prop.via is None:
            causes.append(_reason(prop))
        elif prop.via.startswith("export "):
            causes.append(f"{prop.path} comes from {prop.via}")
        else:
            target = prop.via.split(" ", 1)[0]
            upstream = stack.resource(target)
            if upstream is None or target in seen:
                continue
            if upstream.action == "add":
                seen.add(target)
                causes.append(f"{upstream.type.split('::')[-1]} {target} is new")
            else:
                causes.extend(_root_causes(stack, upstream, upstream.replaced_by, seen))
    return list(dict.fromkeys(causes))


def _reason(change: PropertyChange) -> str:
    """A property change in a reviewer's words."""
    if change.via:
        return change.via
    path = change.path
    env = re.search(r"Environment\.([A-Za-z0-9_]+)$", path)
    if env:
        return f"{env.group(1)} {_plain(change.old)}→{_plain(change.new)}"
    if path.endswith("ModelDataUrl") or path.endswith("ModelDataSource"):
        return f"model artifact changed ({_artifact(change.old)} → {_artifact(change.new)})"
    if path.endswith(".Image"):
        return f"image {_image(change.old)} → {_image(change.new)}"
    if path.endswith("InstanceType"):
        return f"instance type {_plain(change.old)}→{_plain(change.new)}"
    if path.endswith("InitialInstanceCount"):
        return f"initial instance count {_plain(change.old)}→{_plain(change.new)}"
    if path == "KmsKeyId":
        return "volume KMS key " + ("added" if change.old is MISSING else "removed" if change.new is MISSING else "changed")
    if path == "EndpointName":
        return f"endpoint name {_plain(change.old)}→{_plain(change.new)}"
    return f"{path} {_short(change.old)}→{_short(change.new)}"


def _categories(stack: StackDiff, exclude: set[str], endpoint_id: str | None = None) -> list[str]:
    """What changes in place, in a reviewer's words: tags, scaling, alarms, dashboard, permissions, ...
    Resources in `exclude` belong to the fleet replacement; of the endpoint itself, only its other changes count."""
    found: list[str] = []
    for change in stack.resources:
        if change.logical_id in exclude and change.logical_id != endpoint_id:
            continue
        if change.action in ("add", "remove"):
            found.append(f"{_category(change.type, None)} {'added' if change.action == 'add' else 'removed'}")
            continue
        props = change.changes
        if change.logical_id == endpoint_id:
            props = [c for c in props if c.top != "EndpointConfigName"]
            if change.action == "replace":
                continue
        elif change.action == "replace":
            found.append(f"{_category(change.type, None)} replaced ({change.logical_id})")
            continue
        found.extend(_category(change.type, prop.top) for prop in props)
    if stack.outputs:
        found.append("outputs")
    if stack.other:
        found.append("template parameters/rules")
    return list(dict.fromkeys(found))


def _category(resource_type: str, top: str | None) -> str:
    if top == "Tags":
        return "tags"
    if resource_type.startswith("AWS::ApplicationAutoScaling::"):
        return "scaling"
    if resource_type == "AWS::CloudWatch::Alarm":
        return "alarms"
    if resource_type == "AWS::CloudWatch::Dashboard":
        return "dashboard"
    if resource_type.startswith("AWS::IAM::"):
        return "permissions"
    if resource_type == "AWS::SageMaker::Endpoint":
        return {"DeploymentConfig": "deployment policy", "RetainAllVariantProperties": "retained variant properties",
                "ExcludeRetainedVariantProperties": "retained variant properties",
                "RetainDeploymentConfig": "deployment policy"}.get(top or "", top or "endpoint")
    return resource_type.split("::")[-1] + (f".{top}" if top else "")


def _traffic(endpoint: dict[str, Any], *, new_endpoint: bool) -> str:
    """How SageMaker moves traffic to the new fleet, from the endpoint's (new) DeploymentConfig."""
    if new_endpoint:
        return "new endpoint: no traffic to shift"
    props = endpoint.get("Properties", {})
    config = props.get("DeploymentConfig")
    retained = " Autoscaled instance count kept (RetainAllVariantProperties)." if props.get("RetainAllVariantProperties") else ""
    if not config:
        return ("SageMaker's default: blue/green, all traffic at once when the new fleet is healthy; no bake time, "
                "no alarm rollback." + retained)
    alarms = config.get("AutoRollbackConfiguration", {}).get("Alarms", [])
    rollback = f" Auto-rollback on {len(alarms)} alarm(s)." if alarms else " No alarm rollback."
    rolling = config.get("RollingUpdatePolicy")
    if rolling:
        batch = rolling.get("MaximumBatchSize", {})
        return (f"rolling: {_capacity(batch)} of the instances per batch, {rolling.get('WaitIntervalInSeconds', '?')} s "
                f"between batches.{rollback}{retained}")
    blue_green = config.get("BlueGreenUpdatePolicy", {})
    routing = blue_green.get("TrafficRoutingConfiguration", {})
    kind = routing.get("Type", "ALL_AT_ONCE")
    wait = routing.get("WaitIntervalInSeconds", 0)
    keep = blue_green.get("TerminationWaitInSeconds", 0)
    if kind == "CANARY":
        shift = f"canary: {_capacity(routing.get('CanarySize', {}))} of capacity first, bake {wait} s, then the rest"
    elif kind == "LINEAR":
        shift = f"linear: {_capacity(routing.get('LinearStepSize', {}))} of capacity per step, {wait} s between steps"
    else:
        shift = f"all at once when the new fleet is healthy, bake {wait} s"
    return f"blue/green {shift}; old fleet kept {keep} s.{rollback}{retained}"


def _capacity(size: dict[str, Any]) -> str:
    value = size.get("Value", "?")
    return f"{value}%" if size.get("Type") == "CAPACITY_PERCENT" else f"{value} instance(s)"


def _plain(value: Any) -> str:
    if value is MISSING:
        return "unset"
    return value if isinstance(value, str) else json.dumps(value)


def _short(value: Any, limit: int = 100) -> str:
    text = "(unset)" if value is MISSING else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_pair(old: Any, new: Any, limit: int = 100) -> tuple[str, str]:
    """Both values, cut to `limit` around where they first differ (long values often share a long prefix)."""
    texts = ["(unset)" if v is MISSING else json.dumps(v, sort_keys=True, default=str) for v in (old, new)]
    if all(len(t) <= limit for t in texts):
        return texts[0], texts[1]
    start = next((i for i, (a, b) in enumerate(zip(*texts, strict=False)) if a != b), min(map(len, texts)))
    start = max(0, start - 20)
    return tuple(("…" if start else "") + t[start:start + limit] + ("…" if len(t) > start + limit else "")
                 for t in texts)  # type: ignore[return-value]


def _artifact(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    match = re.search(r"([0-9a-f]{64})", text)
    if match:
        return match.group(1)[:12]
    return "(unset)" if value is MISSING else text.rsplit("/", 1)[-1][:60]


def _image(value: Any) -> str:
    return value.split("/", 1)[-1] if isinstance(value, str) else _short(value)


def compare(old: dict[str, StackTemplate], new: dict[str, StackTemplate], old_label: str = "OLD",
            new_label: str = "NEW") -> Report:
    stacks = diff_assemblies(old, new)
    endpoints, others = impacts(stacks)
    return Report(old_label, new_label, stacks, endpoints, others)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------
def _raw_lines(report: Report) -> list[str]:
    lines: list[str] = []
    for stack in report.stacks:
        if not stack.changed:
            continue
        lines.append(f"{stack.key}")
        if stack.old is None or stack.new is None:
            lines.append(f"  {'+ new stack' if stack.old is None else '- stack removed'}")
            continue
        for change in stack.resources:
            sign = {"add": "+", "remove": "-", "update": "~", "replace": "±"}[change.action]
            what = {"add": "added", "remove": "removed", "update": "updated in place", "replace": "REPLACED"}[change.action]
            if change.replace_unknown:
                what = "updated (replacement unknown: no schema for this type)"
            renamed = f" (was {change.renamed_from})" if change.renamed_from else ""
            lines.append(f"  {sign} {change.logical_id}{renamed} {change.type}: {what}")
            for prop in change.changes:
                lines.append(f"      {prop.describe()}")
        for prop in stack.outputs:
            lines.append(f"  ~ Outputs.{prop.describe()}")
        for prop in stack.other:
            lines.append(f"  ~ {prop.describe()}")
    return lines


def render_text(report: Report) -> str:
    out = [f"servekit diff: {report.old_label} → {report.new_label}", ""]
    width = max([len(e.endpoint) for e in report.endpoints] + [len(s.stack) for s in report.others] + [8])
    out.append(f"{'endpoint'.ljust(width)}  impact")
    for e in report.endpoints:
        out.append(f"{e.endpoint.ljust(width)}  {e.headline}")
        if e.traffic and e.impact == "fleet replaced":
            out.append(f"{''.ljust(width)}  traffic: {e.traffic}")
        if e.impact in ("fleet replaced", "endpoint replaced") and e.in_place:
            out.append(f"{''.ljust(width)}  also in place: {', '.join(e.in_place)}")
    if report.others:
        out += ["", f"{'stack'.ljust(width)}  impact"]
        out += [f"{s.stack.ljust(width)}  {s.headline}" for s in report.others]
    raw = _raw_lines(report)
    out += ["", "property diff:" if raw else "property diff: none", *raw]
    return "\n".join(out) + "\n"


def render_markdown(report: Report) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    out = [f"### servekit diff: `{report.old_label}` → `{report.new_label}`", "",
           "| endpoint | impact | traffic |", "|---|---|---|"]
    for e in report.endpoints:
        impact = f"**{cell(e.headline)}**" if e.impact != "no change" else "no change"
        if e.impact in ("fleet replaced", "endpoint replaced") and e.in_place:
            impact += f"<br>also in place: {cell(', '.join(e.in_place))}"
        out.append(f"| `{e.endpoint}` | {impact} | {cell(e.traffic or '')} |")
    if report.others:
        out += ["", "| stack | impact |", "|---|---|"]
        out += [f"| `{s.stack}` | {cell(s.headline)} |" for s in report.others]
    raw = _raw_lines(report)
    if raw:
        out += ["", "<details><summary>property diff</summary>", "", "```", *raw, "```", "", "</details>"]
    else:
        out += ["", "No property changes."]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Getting the assemblies: a folder, a git ref (synthesized in a temporary worktree), or the working tree
# ---------------------------------------------------------------------------------------------
WORKING_TREE = "."


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=check)


def repo_root(start: Path) -> Path:
    result = _git(start, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise DiffError(f"{start}: not inside a git repository, so git refs cannot be synthesized; pass two cdk.out folders")
    return Path(result.stdout.strip())


def is_ref(repo: Path, ref: str) -> bool:
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).returncode == 0


def synthesize(source: Path, config: str, output: Path, *, shared_from: Path | None = None,
               progress=None) -> None:  # noqa: ANN001
    """Run that tree's own `servekit synth` into `output`. A worktree borrows the checkout's .venv,
    node_modules and artifact cache (ignored by git, so absent there); the cache is keyed by each artifact's
    identity, so sharing it never mixes models."""
    if shared_from is not None:
        (shared_from / ".servekit").mkdir(exist_ok=True)
        for name in (".venv", "node_modules", ".servekit"):
            target = source / name
            if (shared_from / name).exists() and not target.exists():
                target.symlink_to(shared_from / name, target_is_directory=True)
    python = (shared_from or source) / ".venv" / "bin" / "python"
    command = [str(python if python.exists() else sys.executable), "-m", "servekit.cli", "synth", config,
               "--output", str(output)]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "20"}
    env.pop("PYTHONPATH", None)  # the tree's own servekit package, not the caller's
    if progress:
        progress(f"synthesizing {source} ({config}) into {output} ...")
    result = subprocess.run(command, cwd=source, capture_output=True, text=True, env=env)
    if result.returncode != 0 or not (output / "manifest.json").is_file():
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise DiffError(f"servekit synth failed in {source} (exit {result.returncode}):\n{tail}")


def resolve(spec: str, *, config: str, workdir: Path, cwd: Path, progress=None) -> tuple[dict[str, StackTemplate], str]:  # noqa: ANN001
    """The stacks of OLD or NEW: a cloud assembly folder as it is; `.` the working tree, synthesized; a git
    ref synthesized in a temporary worktree (removed afterwards)."""
    path = Path(spec)
    if spec != WORKING_TREE and (path / "manifest.json").is_file():
        return load_assembly(path), spec
    repo = repo_root(cwd)
    if spec == WORKING_TREE:
        out = workdir / "working-tree.out"
        synthesize(repo, config, out, progress=progress)
        return load_assembly(out), "working tree"
    if not is_ref(repo, spec):
        raise DiffError(f"{spec!r} is neither a cloud assembly folder (with manifest.json) nor a git ref in {repo}")
    commit = _git(repo, "rev-parse", "--short", f"{spec}^{{commit}}").stdout.strip()
    tree = workdir / f"worktree-{commit}"
    _git(repo, "worktree", "add", "--detach", str(tree), spec)
    try:
        out = workdir / f"{commit}.out"
        synthesize(tree, config, out, shared_from=repo, progress=progress)
        return load_assembly(out), f"{spec} ({commit})"
    finally:
        _git(repo, "worktree", "remove", "--force", str(tree), check=False)
        _git(repo, "worktree", "prune", check=False)


def run(old: str, new: str = WORKING_TREE, *, config: str = "servekit.yaml", cwd: Path | None = None,
        progress=None) -> Report:  # noqa: ANN001
    cwd = cwd or Path.cwd()
    workdir = Path(tempfile.mkdtemp(prefix="servekit-diff-"))
    try:
        old_stacks, old_label = resolve(old, config=config, workdir=workdir, cwd=cwd, progress=progress)
        new_stacks, new_label = resolve(new, config=config, workdir=workdir, cwd=cwd, progress=progress)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return compare(old_stacks, new_stacks, old_label, new_label)


# ---------------------------------------------------------------------------------------------
# `servekit diff` (cli.py wires it)
# ---------------------------------------------------------------------------------------------
def add_arguments(parser: Any) -> None:
    parser.add_argument("old", help="cdk.out folder or git ref (e.g. main, HEAD~1)")
    parser.add_argument("new", nargs="?", default=WORKING_TREE,
                        help="cdk.out folder or git ref; default: the working tree, synthesized")
    parser.add_argument("--config", default="servekit.yaml", help="the config both sides synthesize (for git refs)")
    parser.add_argument("--format", choices=["text", "markdown"], default="text",
                        help="markdown: for a pull-request comment")


def run_command(args: Any, *, console: Any, errors: Any) -> int:
    try:
        report = run(args.old, args.new, config=args.config, progress=lambda m: errors.print(m, markup=False))
    except DiffError as err:
        errors.print(f"servekit: {err}", markup=False)
        return 2
    text = render_markdown(report) if args.format == "markdown" else render_text(report)
    sys.stdout.write(text)
    return 0
