"""`servekit init [FOLDER] [--model PATH]`: make a folder of the user's own repository a servekit project.

It writes what a CDK project needs and nothing that points into site-packages or servekit's repository:
- servekit.yaml, a commented starter naming its JSON Schema for the YAML language server; with --model, its endpoint
  is written from what the model file itself says (servekit.describe), so the first config is right, not guessed;
- servekit.schema.json (`servekit schema` prints it again after an upgrade);
- cdk.json, whose app runs servekit's app module (`python3 -O -m servekit.app`), with servekit's feature flags;
- .gitignore lines for `.servekit/` and `cdk.out/`.
A file that exists is never overwritten (servekit.yaml gets the new endpoint only when asked with --add).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from servekit import project
from servekit.config.json_schema import MODELINE, SCHEMA_FILE, json_schema_text

# The interpreter of the user's environment (the one servekit is installed in, active when cdk runs).
CDK_APP = "python3 -O -m servekit.app"
GITIGNORE_LINES = (".servekit/", "cdk.out/")

HEADER = f"""{MODELINE}
# servekit.yaml: the SageMaker endpoints of this project.
#   servekit validate         check this file (one line per problem: the field, the value, the fix)
#   servekit build / serve / invoke / bench ENDPOINT    the artifact, run in its real model server here
#   servekit synth            build and synthesize CloudFormation into cdk.out/ (then `cdk deploy --app cdk.out`)
# Every key, with its default: servekit's docs/configuration.md; your own model: docs/bring-your-own-model.md.
# Add an endpoint for a model file you have with `servekit init --add --model PATH`: it reads the model's inputs
# and outputs.
"""

STARTER_ENDPOINTS = """endpoints:
  # A small ResNet-style CNN made on the spot (nothing is downloaded), served by NVIDIA Triton: replace it with
  # your own model (`servekit init --add --model model.onnx`, then remove this one).
  - name: resnet
    server: triton
    instance_type: ml.g5.xlarge
    model:
      name: resnet
      source: {kind: example, name: resnet}
      format: torchscript
      max_batch_size: 8
      inputs:
        - {name: input__0, data_type: TYPE_FP32, dims: [3, 224, 224]}
      outputs:
        - {name: output__0, data_type: TYPE_FP32, dims: [10]}
"""


class InitError(Exception):
    """A model servekit cannot describe, or a project it must not overwrite: one line with the fix."""


def endpoint_name(path: Path) -> str:
    """An endpoint name (^[a-z][a-z0-9-]{0,39}$) from a model file's name."""
    name = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "model"
    if not name[0].isalpha():
        name = f"m-{name}"
    return name[:40].rstrip("-")


def app_block(name: str) -> str:
    app = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "app"
    if not app[0].isalpha():
        app = f"app-{app}"
    return (f"app:\n  name: {app[:20].rstrip('-')}        # stacks and endpoints are named <name>-<env_name>-<endpoint>\n"
            "  env_name: dev\n  region: us-east-1\n\n")


def endpoint_yaml(endpoint: dict[str, Any], comment: str) -> str:
    body = yaml.safe_dump([endpoint], sort_keys=False, default_flow_style=None, width=110)
    return "".join(f"  # {line}\n" for line in comment.splitlines()) + "".join(f"  {line}\n" for line in
                                                                               body.splitlines())


def run(folder: Path, *, model: Path | None, add: bool, input_shapes: list[list[int]],
        say: Callable[[str], None]) -> list[Path]:
    """Write the project's files into `folder`; returns those written."""
    from servekit import describe

    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / project.CONFIG_NAME
    written: list[Path] = []
    endpoint_text = None
    if model is not None:
        described = describe.describe(model.resolve(), input_shapes=input_shapes, say=say)
        source = described.endpoint["model"]["source"] if "model" in described.endpoint else \
            described.endpoint["models"][0]["source"]
        source["path"] = _relative(model.resolve(), folder)
        described.endpoint["name"] = _unique(endpoint_name(model), model, _endpoint_names(config))
        endpoint_text = endpoint_yaml(described.endpoint, described.comment)
    if config.exists():
        if not add or endpoint_text is None:
            raise InitError(f"{config} exists; servekit init does not overwrite it. Add an endpoint for a model "
                            "with `servekit init --add --model PATH`, or init another folder")
        text = config.read_text()
        config.write_text(text + ("" if text.endswith("\n") else "\n") + endpoint_text)
        written.append(config)
    else:
        config.write_text(HEADER + app_block(folder.name)
                          + (f"endpoints:\n{endpoint_text}" if endpoint_text else STARTER_ENDPOINTS))
        written.append(config)
    schema = folder / SCHEMA_FILE
    schema.write_text(json_schema_text())  # servekit's own file: refreshed on every init
    written.append(schema)
    cdk_json = folder / "cdk.json"
    if not cdk_json.exists():
        cdk_json.write_text(json.dumps({"app": CDK_APP, "output": "cdk.out", "context": project.CDK_CONTEXT},
                                       indent=2) + "\n")
        written.append(cdk_json)
    gitignore = folder / ".gitignore"
    present = gitignore.read_text().splitlines() if gitignore.exists() else []
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if missing:
        prefix = "" if not present or gitignore.read_text().endswith("\n") else "\n"
        with gitignore.open("a") as f:
            f.write(prefix + "# servekit: the artifact cache and local servers, and the synthesized assembly\n"
                    + "".join(f"{line}\n" for line in missing))
        written.append(gitignore)
    return written


def _endpoint_names(config: Path) -> set[str]:
    try:
        data = yaml.safe_load(config.read_text()) if config.is_file() else None
    except yaml.YAMLError:
        return set()
    return {e.get("name") for e in (data or {}).get("endpoints") or [] if isinstance(e, dict)}


def _unique(name: str, model: Path, taken: set[str]) -> str:
    """`name`, or with the file's kind (det-pt beside det) or a number added when servekit.yaml has it already."""
    candidates = [name, f"{name}-{model.suffix.lstrip('.').lower()}" if model.suffix else name,
                  *(f"{name}-{i}" for i in range(2, 100))]
    return next(c[:40] for c in candidates if c[:40] not in taken)


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)
