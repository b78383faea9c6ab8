"""The TFS artifact: each SavedModel at <model>/<version>/ (exported from Keras or an example when needed,
checked for serving_default), servekit's handler as code/inference.py (docs/tfs.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servekit.model_build import builder, handlers, identity
from servekit.model_build.archive import Content, FileHasher, tree_entries
from servekit.servers.tfs.schema import TfsEndpointSpec
from servekit.spec import sources


def plan(ep: TfsEndpointSpec, hasher: FileHasher) -> builder.Plan:
    for i, m in enumerate(ep.models):
        field = f"models[{i}] ({m.name}).source"
        if m.name == "code":
            raise builder.BuildError(f"models[{i}].name: 'code' collides with the handler's code/ folder; rename the model")
        builder.check_example(m.source, "tfs", field)
        builder.check_path(m.source, field, is_dir=m.source.kind == "saved_model")
        if m.source.kind == "saved_model" and not (m.source.path / "saved_model.pb").is_file():
            raise builder.BuildError(f"{field}.path: {m.source.path} holds no saved_model.pb; point it at the SavedModel "
                                     "folder (the one with saved_model.pb and variables/)")
    reqs = handlers.requirements_lines("tfs", [])
    data = {
        "server": "tfs",
        "models": [{"name": m.name, "version": m.version, "source": identity.source_fingerprint(m.source, hasher)}
                   for m in ep.models],
        "handler": identity.handler_digest("tfs"),
        "requirements": reqs,
    }

    def materialize(work: Path, say: builder.Progress) -> dict[str, Content]:
        entries: dict[str, Content] = {}
        given = [str(m.source.path) for m in ep.models if isinstance(m.source, sources.SavedModelSource)]
        producers: dict[str, str] = {}
        if given:
            checked = builder.run_worker({"task": "check_saved_model", "paths": given}, say)
            signatures, producers = checked["signatures"], checked.get("tensorflow", {})
            for path, names in signatures.items():
                if "serving_default" not in names:
                    raise builder.BuildError(f"SavedModel {path} has no serving_default signature (it has "
                                             f"{', '.join(names) or 'none'}); TFS answers /invocations with serving_default "
                                             "— re-export it with signatures={'serving_default': ...}")
        records = {}
        for m in ep.models:
            folder = saved_model_folder(m.source, work / f"model-{m.name}", say)
            entries.update(tree_entries(folder, f"{m.name}/{m.version}"))
            producer = producers.get(str(m.source.path)) if given and hasattr(m.source, "path") else None
            records[f"{m.name}/{m.version}/saved_model.pb"] = {
                "format": "saved_model",
                "tensorflow": producer if isinstance(m.source, sources.SavedModelSource) else builder.tensorflow_here()}
        entries[builder.RECORDS] = records  # type: ignore[assignment]
        entries["code/inference.py"] = handlers.handler_path("tfs")
        entries["code/requirements.txt"] = handlers.requirements_text(reqs)
        return entries

    return builder.Plan(builder.plan_identity(data), materialize, ep.default_model_name)


def saved_model_folder(source: Any, out: Path, say: builder.Progress) -> Path:
    if isinstance(source, sources.ExampleSource):
        builder.run_worker({"task": "example", "name": source.name, "out": str(out)}, say)
        return out
    if isinstance(source, sources.KerasSource):
        builder.run_worker({"task": "keras", "path": str(source.path), "out": str(out),
                            "import_root": str(source.import_root or "")}, say, module=builder.USER_WORKER)
        return out
    return source.path
