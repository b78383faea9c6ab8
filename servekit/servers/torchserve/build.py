"""The TorchServe artifact: the weights at the root (a Hugging Face folder, or a TorchScript model.pt) and
the handler as code/inference.py with its support module and pinned code/requirements.txt
(docs/torchserve.md)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from servekit.model_build import builder, handlers, identity, manifest
from servekit.model_build.archive import Content, FileHasher, tree_entries
from servekit.servers.torchserve.schema import TorchServeEndpointSpec


def plan(ep: TorchServeEndpointSpec, hasher: FileHasher) -> builder.Plan:
    model = ep.model
    source = model.source
    builder.check_example(source, "torchserve", "model.source")
    builder.check_path(source, "model.source", is_dir=source.kind == "huggingface")
    key = handlers.torchserve_handler(model)
    qa_source = source.kind == "huggingface" or (source.kind == "example" and source.name == "distilbert-qa")
    if key == "question-answering" and not qa_source:
        raise builder.BuildError(f"model.handler: question-answering needs a huggingface source (or example distilbert-qa), "
                                 f"not {source.kind}; use handler: vision or auto, or your own inference.py")
    if key == "vision" and qa_source:
        raise builder.BuildError("model.handler: vision needs a TorchScript model, not a Hugging Face one; use handler: "
                                 "question-answering or auto")
    builtin = key in handlers.HANDLER_FILES
    reqs = handlers.requirements_lines(key if builtin else "custom", model.requirements)
    handler_file = handlers.handler_path(key)
    support = handlers.support_paths(key)
    data = {
        "server": "torchserve",
        "source": identity.source_fingerprint(source, hasher),
        "handler": {"name": key if builtin else "custom", "sha256": hashlib.sha256(handler_file.read_bytes()).hexdigest(),
                    "support": {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in support.items()}},
        "requirements": reqs,
        "labels": model.labels,
    }

    def materialize(work: Path, say: builder.Progress) -> dict[str, Content]:
        entries: dict[str, Content] = {}
        if qa_source:
            folder = source.path if source.kind == "huggingface" else work / "hf"
            if source.kind == "example":
                builder.run_worker({"task": "example", "name": source.name, "out": str(folder)}, say)
            else:  # a user's folder: prove it loads offline, as the handler will load it
                builder.run_worker({"task": "verify_huggingface", "path": str(folder)}, say)
            entries.update(tree_entries(folder))
            if "code" in entries:
                raise builder.BuildError(f"{folder}: holds a code/ folder, which would clash with the handler's code/; "
                                         "remove it from the model folder")
        else:
            entries["model.pt"] = builder.torchscript_file(source, work, say)
            entries[builder.RECORDS] = {"model.pt": manifest.torchscript_record(entries["model.pt"],  # type: ignore[dict-item]
                                                                          builder.producer_torch(source))}
        if model.labels:
            entries["labels.json"] = (json.dumps(model.labels, ensure_ascii=False) + "\n").encode()
        entries["code/inference.py"] = handler_file
        entries.update(support)
        entries["code/requirements.txt"] = handlers.requirements_text(reqs)
        return entries

    return builder.Plan(builder.plan_identity(data), materialize, None)
