"""Loading servekit.yaml: parse() and load() raise ConfigError with one line per problem (field, value and
fix), the schema's and the semantic checks' together; local paths resolved against the file's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from servekit.config.document import ServekitConfig
from servekit.config.semantics import semantic_problems, semantics_beside_schema_errors, variant_field
from servekit.spec.errors import describe
from servekit.spec.sources import FOLDER_SOURCES


class ConfigError(Exception):
    """A servekit.yaml that must not reach CloudFormation. `problems` holds one line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))



def parse(data: Any, source: str = "servekit.yaml") -> ServekitConfig:
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping with `app` and `endpoints`; see docs/configuration.md"])
    try:
        config = ServekitConfig.model_validate(data)
    except ValidationError as err:
        problems = [line for e in err.errors() for line in describe(e, ServekitConfig)]
        raise ConfigError(source, problems + semantics_beside_schema_errors(data, err)) from None
    problems = semantic_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def load(path: str | Path) -> ServekitConfig:
    """Read and validate servekit.yaml. Relative model paths are resolved against the file's folder."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(str(path), [f"(file): cannot read it ({err.strerror}); pass the path of your servekit.yaml"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigError(str(path), [f"(yaml): not valid YAML at {where}: {getattr(err, 'problem', err)}; fix the syntax"]) from None
    config = resolve_paths(parse(data, str(path)), path.parent)
    problems = local_path_problems(config)
    if problems:
        raise ConfigError(str(path), problems)
    return config


def local_path_problems(config: ServekitConfig) -> list[str]:
    """Every local source path and handler file must exist before anything is built: one line for each that
    does not (paths are resolved against the config file's folder)."""
    places = [(f"endpoints[{i}] ({ep.name})", ep) for i, ep in enumerate(config.endpoints)]
    places += [(f"component_endpoints[{i}].components[{j}] ({c.name})", c.serve)
               for i, ce in enumerate(config.component_endpoints) for j, c in enumerate(ce.components)]
    out = []
    for where, ep in places:
        owners = [("", ep)] + [(f".{variant_field(ep, v.name)}", v) for v in
                               [*ep.variants, *([ep.shadow_variant] if ep.shadow_variant else [])]]
        for at, owner in owners:
            models = [(f"models[{j}] ({m.name})", m) for j, m in enumerate(getattr(owner, "models", None) or [])]
            if getattr(owner, "model", None) is not None:
                models.append(("model", owner.model))
            for field, model in models:
                out += _missing(f"{where}{at}.{field}", model)
    return out


def _missing(field: str, model: Any) -> list[str]:
    out = []
    path = getattr(getattr(model, "source", None), "path", None)
    if path is not None:
        folder = model.source.kind in FOLDER_SOURCES
        if not (path.is_dir() if folder else path.is_file()):
            what = "folder" if folder else "file"
            out.append(f"{field}.source.path: {str(path)!r} is not an existing {what}; give "
                       f"the path of the {model.source.kind} {what} (relative to servekit.yaml)")
    handler = getattr(model, "handler", "")
    if handler.endswith(".py") and not Path(handler).is_file():
        out.append(f"{field}.handler: {handler!r} is not an existing file; give the path "
                   "of your inference.py (relative to servekit.yaml)")
    return out


def resolve_paths(config: ServekitConfig, base: Path) -> ServekitConfig:
    """Make every local source path absolute, relative to the config file, so builds don't depend on cwd (the
    endpoints', their variants' and the inference components')."""

    def fix(source: Any) -> Any:
        update: dict[str, Any] = {}
        if hasattr(source, "path") and not source.path.is_absolute():
            update["path"] = (base / source.path).resolve()
        if hasattr(source, "import_root"):  # a state_dict's model class is imported from beside servekit.yaml
            update["import_root"] = (base / (source.import_root or ".")).resolve()
        return source.model_copy(update=update) if update else source

    def fix_model(model: Any) -> Any:
        # A server's model may have no `source` (what it serves is written in servekit.yaml itself).
        return model.model_copy(update={"source": fix(model.source)}) if hasattr(model, "source") else model

    def fix_models(owner: Any) -> Any:
        """An endpoint or a variant, with its model sources (and own handler file) made absolute."""
        if getattr(owner, "models", None):
            return owner.model_copy(update={"models": [fix_model(m) for m in owner.models]})
        if getattr(owner, "model", None) is None:
            return owner
        update: dict[str, Any] = {"source": fix(owner.model.source)} if hasattr(owner.model, "source") else {}
        handler = getattr(owner.model, "handler", None)
        if handler and handler.endswith(".py") and not Path(handler).is_absolute():
            update["handler"] = str((base / handler).resolve())  # the user's own inference.py
        return owner.model_copy(update={"model": owner.model.model_copy(update=update)})

    def fix_endpoint(ep: Any) -> Any:
        shadow = fix_models(ep.shadow_variant) if ep.shadow_variant is not None else None
        return fix_models(ep).model_copy(
            update={"variants": [fix_models(v) for v in ep.variants], "shadow_variant": shadow})

    fleets = [ce.model_copy(update={"components": [c.model_copy(update={"serve": fix_endpoint(c.serve)})
                                                   for c in ce.components]})
              for ce in config.component_endpoints]
    return config.model_copy(update={"endpoints": [fix_endpoint(ep) for ep in config.endpoints],
                                     "component_endpoints": fleets})
