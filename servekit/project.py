"""A servekit project: the folder that holds servekit.yaml, wherever the command runs from.

Everything a command writes belongs to that folder, not to the current one or to where servekit is installed:
the artifact cache (`.servekit/cache/`), the local servers' folders (`.servekit/serve/<endpoint>/`) and the cloud
assembly (`cdk.out/`). Paths inside servekit.yaml are resolved against it (servekit.config.loading), and a
`state_dict` model class beside it is imported from it.

The CDK app runs here too, without the CDK CLI: `synth_environment` gives it the context the CLI would give
(cdk.json's `context`, cdk.context.json, and the CLI's own defaults), so `servekit synth` and `cdk synth` write the
same templates.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "servekit.yaml"

# The feature flags of a servekit project's cdk.json (`servekit init` writes them; the embedded default's cdk.json
# holds the same, a unit test keeps the two equal).
CDK_CONTEXT: dict[str, object] = {
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/core:defaultCrossStackReferences": "strong",
    "@aws-cdk/core:checkSecretUsage": True,
    "@aws-cdk/core:target-partitions": ["aws", "aws-cn"],
    "@aws-cdk/aws-kms:applyImportedAliasPermissionsToPrincipal": True,
    "@aws-cdk/aws-iam:standardizedServicePrincipals": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
    "@aws-cdk/core:validateSnapshotRemovalPolicy": True,
    "@aws-cdk/aws-kms:reduceCrossAccountRegionPolicyScope": True,
    "@aws-cdk/aws-iam:oidcRejectUnauthorizedConnections": True,
    "aws:cdk:disable-stack-trace": True,
}

# What the CDK CLI adds to every app's context unless its settings say otherwise (aws-cdk 2.1148.1,
# node_modules/aws-cdk/lib/index.js `contextFromSettings`): path metadata, asset metadata, version reporting and
# bundling of every stack. Its `failSynthOnValidationErrors: false` is left out on purpose: the CLI reads the
# validation report itself afterwards, while here the app must fail on a cdk-nag finding by itself.
CLI_DEFAULT_CONTEXT: dict[str, object] = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
}

# jsii (aws-cdk-lib's runtime) prints a banner per process on Node 20, which is past its end of life but is the
# Node this project's machines have; the synth output is unaffected.
JSII_ENV = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "20"}


@dataclass(frozen=True)
class Project:
    """One servekit.yaml and the folder servekit keeps its files in: the nearest folder at or above the config
    that holds a cdk.json (a config in a subfolder, such as a test fixture, shares its project's cache and cdk.out),
    else the config's own folder."""

    config: Path  # absolute

    @property
    def root(self) -> Path:
        for folder in self.config.parents:
            if (folder / "cdk.json").is_file():
                return folder
        return self.config.parent

    @property
    def cache_dir(self) -> Path:
        """The artifact cache (keyed by identity)."""
        return self.root / ".servekit" / "cache"

    @property
    def assembly_dir(self) -> Path:
        return self.root / "cdk.out"

    def serve_dir(self, endpoint: str) -> Path:
        """Where `servekit serve` unpacks an endpoint and writes its log and its address (server.json)."""
        return self.root / ".servekit" / "serve" / endpoint.replace("/", "--")


def find_config(given: str | Path | None, cwd: Path | None = None) -> Path:
    """servekit.yaml as given, else the nearest one in the current folder or above it (as git finds .git), else
    `./servekit.yaml` (whose absence the loader reports with the fix)."""
    cwd = cwd or Path.cwd()
    if given is not None:
        return (cwd / given).resolve()
    for folder in (cwd, *cwd.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate.resolve()
    return (cwd / CONFIG_NAME).resolve()


def of(config: str | Path | None, cwd: Path | None = None) -> Project:
    return Project(find_config(config, cwd))


def cdk_context(root: Path) -> dict[str, object]:
    """The context the CDK CLI would give an app in `root`: cdk.json's `context` (servekit's flags when there is no
    cdk.json), then cdk.context.json, then the CLI's defaults for what neither sets."""
    context: dict[str, object] = dict(CLI_DEFAULT_CONTEXT)
    cdk_json = root / "cdk.json"
    settings = json.loads(cdk_json.read_text()) if cdk_json.is_file() else {"context": CDK_CONTEXT}
    context.update(settings.get("context", {}))
    cached = root / "cdk.context.json"
    if cached.is_file():
        context.update(json.loads(cached.read_text()))
    return context


def synth_environment(project: Project, output: Path) -> dict[str, str]:
    """The environment `servekit synth` runs servekit.app in: the CDK CLI's CDK_OUTDIR and CDK_CONTEXT_JSON."""
    context = cdk_context(project.root)
    # Relative to the project, where the app runs: the pipeline's synth step uses it as it is.
    context["config"] = str(project.config.relative_to(project.root))
    return {**os.environ, **JSII_ENV, "CDK_OUTDIR": str(output), "CDK_CONTEXT_JSON": json.dumps(context)}


def cdk_cli(root: Path) -> Path | None:
    """The user's CDK CLI, for deploy and diff against an account: the project's node_modules, else `cdk` on PATH."""
    local = root / "node_modules" / ".bin" / "cdk"
    if local.exists():
        return local
    found = shutil.which("cdk")
    return Path(found) if found else None


CDK_CLI_HINT = ("install the CDK CLI in the project (`npm install aws-cdk@2`, then `npx cdk ...`) or globally "
                "(`npm install -g aws-cdk@2`); servekit synth itself does not need it")
