"""synth's table of what deploys: each endpoint (or inference component) read back from the synthesized
templates (server, image, instances, GPU AMI, tuning, volume key), so the table shows the templates, not the
config."""

from __future__ import annotations

import json
from pathlib import Path

from servekit import images, registry


def endpoint_rows(assembly: Path) -> list[dict[str, str]]:
    """What each synthesized endpoint is, read back from the templates (so the table shows what deploys)."""
    rows = []
    for template_path in sorted(assembly.glob("*.template.json")):
        template = json.loads(template_path.read_text())
        resources = template.get("Resources", {})
        models = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Model"]
        configs = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
        if not models or not configs:
            continue
        components = {k: r for k, r in resources.items() if r["Type"] == "AWS::SageMaker::InferenceComponent"}
        if components:
            rows += _component_rows(template_path.name.removesuffix(".template.json"), resources, components,
                                    configs[0])
            continue
        container = models[0]["Properties"]["PrimaryContainer"]
        variant = configs[0]["Properties"]["ProductionVariants"][0]
        server = template.get("Outputs", {}).get("Server", {}).get("Value", "?")
        env = container.get("Environment", {})
        rows.append({
            "stack": template_path.name.removesuffix(".template.json"),
            "server": server,
            "image": container["Image"].split("/", 1)[-1],
            "instance": _capacity(variant),
            "gpu_ami": _ami(configs[0], variant),
            "tuning": summarize_tuning(server, env),
            "volume_key": _volume_key(configs[0]["Properties"], variant),
        })
    return rows


def _component_rows(stack: str, resources: dict, components: dict, config: dict) -> list[dict]:
    """One row per inference component: its model's image and tuning, the fleet's instances, its copies."""
    variant = config["Properties"]["ProductionVariants"][0]
    rows = []
    for component in components.values():
        props = component["Properties"]
        # One Specification, or one per fleet type (instance pools): the first type's is shown.
        spec = props.get("Specification") or props["Specifications"][0]
        model = resources[spec["ModelName"]["Fn::GetAtt"][0]]
        container = model["Properties"]["PrimaryContainer"]
        server = component.get("Metadata", {}).get("servekit:server", "?")
        compute = spec["ComputeResourceRequirements"]
        rows.append({
            "stack": f"{stack} / {props['InferenceComponentName']}",
            "server": server,
            "image": container["Image"].split("/", 1)[-1],
            "instance": f"{_capacity(variant)}, {props['RuntimeConfig']['CopyCount']} cop(ies) of "
                        f"{compute['NumberOfCpuCoresRequired']:g} cores, {compute['MinMemoryRequiredInMb']} MB"
                        + (f", {compute['NumberOfAcceleratorDevicesRequired']} GPU"
                           if compute.get("NumberOfAcceleratorDevicesRequired") else ""),
            "gpu_ami": _ami(config, variant),
            "tuning": summarize_tuning(server, container.get("Environment", {})),
            "volume_key": _volume_key(config["Properties"], variant),
        })
    return rows


def _capacity(variant: dict) -> str:
    serverless = variant.get("ServerlessConfig")
    if serverless:  # a serverless variant has no instances
        return f"serverless {serverless['MemorySizeInMB']} MB x{serverless['MaxConcurrency']} concurrent"
    pools = variant.get("InstancePools")
    if pools:  # the types it may run on, first choice first (a pool with its own Model marked *)
        order = sorted(pools, key=lambda p: p["Priority"])
        types = " > ".join(p["InstanceType"] + ("*" if "ModelNameOverride" in p else "") for p in order)
        return f"{types} x{variant['InitialInstanceCount']}"
    return f"{variant['InstanceType']} x{variant['InitialInstanceCount']}"


def _ami(config: dict, variant: dict) -> str:
    ami = variant.get("InferenceAmiVersion")
    if ami is None:
        return "default"
    picked = config.get("Metadata", {}).get("servekit:inference-ami-picked", {}).get(variant["VariantName"])
    return f"{ami} (picked by servekit: {picked.split(': ', 1)[1]})" if picked else ami


def _volume_key(config: dict, variant: dict) -> str:
    if "KmsKeyId" in config:
        return "yes"
    if "ServerlessConfig" in variant:
        return "no (serverless)"
    first = min(variant.get("InstancePools") or [{}], key=lambda p: p.get("Priority", 0)).get("InstanceType")
    facts = images.instance_facts(variant.get("InstanceType") or first or "")
    return "no (NVMe)" if facts and facts.nvme else "no"


def summarize_tuning(server: str, env: dict[str, str]) -> str:
    columns = registry.get(server).tuning_columns if server in registry.names() else ()
    return " ".join(f"{label}={env[key]}" for key, label in columns if key in env)
