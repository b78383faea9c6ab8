"""The impact per endpoint (no change, in place, fleet replaced, endpoint replaced, new, removed), with its
root causes and the traffic shift the deployment policy gives it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from servekit.diff.assembly import (
    MISSING,
    StackTemplate,
)
from servekit.diff.changes import (
    PropertyChange,
    ResourceChange,
    StackDiff,
    diff_assemblies,
    plain,
    short,
)

SEVERITY = ["no change", "in place", "components rolled", "fleet replaced", "endpoint replaced", "new endpoint",
            "endpoint removed"]


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
        if self.impact == "components rolled":
            return ("components rolled — copy by copy on the same fleet, no new EndpointConfig"
                    + (f", because {'; '.join(self.because)}" if self.because else ""))
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
    if impact.impact == "no change":
        _component_rollouts(stack, impact, fleet)
    impact.in_place = _categories(stack, exclude=fleet, endpoint_id=logical_id)
    if impact.impact == "no change" and (impact.in_place or stack.changed):
        impact.impact = "in place"
        impact.in_place = impact.in_place or ["template metadata"]
    return impact


def _component_rollouts(stack: StackDiff, impact: EndpointImpact, seen: set[str]) -> None:
    """Inference components whose Specification changes (a new Model, compute, startup parameters): SageMaker
    updates each in place with its rolling-update policy, copy by copy on the fleet that stays; not a fleet
    replacement (the EndpointConfig, the instances and the other components are untouched)."""
    resources = (stack.new or {}).get("Resources", {})
    for change in stack.resources:
        if change.type != "AWS::SageMaker::InferenceComponent" or change.action != "update":
            continue
        spec = [c for c in change.changes if c.top == "Specification"]
        if not spec:
            continue
        props = resources.get(change.logical_id, {}).get("Properties", {})
        name = props.get("InferenceComponentName", change.logical_id)
        impact.impact = "components rolled"
        impact.because.append(f"{name}: " + "; ".join(_root_causes(stack, change, spec, seen)))
        policy = props.get("DeploymentConfig", {})
        rolling = policy.get("RollingUpdatePolicy", {})
        batch = rolling.get("MaximumBatchSize", {})
        alarms = policy.get("AutoRollbackConfiguration", {}).get("Alarms", [])
        text = (f"{name}: {batch.get('Value', '?')} {'copy' if batch.get('Type') == 'COPY_COUNT' else '%'} at a time, "
                f"{rolling.get('WaitIntervalInSeconds', '?')} s apart" if rolling else
                f"{name}: SageMaker's default rolling update")
        text += f", rolled back by {len(alarms)} alarm(s)" if alarms else ", no alarm rolls it back"
        impact.traffic = "; ".join(filter(None, [impact.traffic, text]))


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
        return f"{env.group(1)} {plain(change.old)}→{plain(change.new)}"
    if path.endswith("ModelDataUrl") or path.endswith("ModelDataSource"):
        # ModelDataUrl is a model.tar.gz, ModelDataSource an uncompressed prefix: a switch removes one, adds the other.
        kind = "uncompressed model data" if path.endswith("ModelDataSource") else "model.tar.gz"
        if change.old is MISSING:
            return f"{kind} added ({_artifact(change.new)})"
        if change.new is MISSING:
            return f"{kind} removed (was {_artifact(change.old)})"
        return f"model artifact changed ({_artifact(change.old)} → {_artifact(change.new)})"
    if path.endswith(".Image"):
        return f"image {_image(change.old)} → {_image(change.new)}"
    if "InstancePools" in path:
        return "instance pools " + ("added" if change.old is MISSING else "removed" if change.new is MISSING else
                                    f"changed ({path.split('InstancePools', 1)[1].lstrip('.[0123456789]') or 'list'}: "
                                    f"{short(change.old)}→{short(change.new)})")
    if path.endswith("InstanceType"):
        return f"instance type {plain(change.old)}→{plain(change.new)}"
    if path.endswith("InitialInstanceCount"):
        return f"initial instance count {plain(change.old)}→{plain(change.new)}"
    if path == "KmsKeyId":
        return "volume KMS key " + ("added" if change.old is MISSING else "removed" if change.new is MISSING else "changed")
    if path == "EndpointName":
        return f"endpoint name {plain(change.old)}→{plain(change.new)}"
    if path.startswith("MetricsConfig"):
        what = {"EnableDetailedObservability": "detailed observability", "EnableEnhancedMetrics": "enhanced metrics",
                "MetricPublishFrequencyInSeconds": "metric publish interval (s)"}.get(path.rsplit(".", 1)[-1])
        if what:
            return f"{what} {plain(change.old)}→{plain(change.new)}"
        return "MetricsConfig " + ("added" if change.old is MISSING else "removed" if change.new is MISSING else
                                   "changed")
    return f"{path} {short(change.old)}→{short(change.new)}"


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


def _artifact(value: Any) -> str:
    if value is MISSING:
        return "(unset)"
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    match = re.search(r"([0-9a-f]{64})", text)
    if match:
        return match.group(1)[:12]
    return text.rsplit("/", 1)[-1][:60]


def _image(value: Any) -> str:
    return value.split("/", 1)[-1] if isinstance(value, str) else short(value)


def compare(old: dict[str, StackTemplate], new: dict[str, StackTemplate], old_label: str = "OLD",
            new_label: str = "NEW") -> Report:
    stacks = diff_assemblies(old, new)
    endpoints, others = impacts(stacks)
    return Report(old_label, new_label, stacks, endpoints, others)
