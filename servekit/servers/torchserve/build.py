"""The TorchServe artifact: the weights at the root (a Hugging Face folder, or a TorchScript model.pt) and
the handler as code/inference.py with its support module and pinned code/requirements.txt
(docs/torchserve.md)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from servekit.model_build import builder, handlers, identity, manifest
from servekit.model_build.archive import Content, FileHasher, tree_entries
from servekit.servers.torchserve.schema import TorchServeEndpointSpec

SIGNATURE = "servekit-handler.json"  # the tensor handler reads it (handlers/torchserve_tensor.py)
# handler: auto tries a TorchScript file without input_shape on one 224x224 RGB image, the vision handler's input.
IMAGE_PROBE_SHAPE = [1, 3, 224, 224]
FLOAT_TYPES = ("TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_BF16")


def plan(ep: TorchServeEndpointSpec, hasher: FileHasher) -> builder.Plan:
    model = ep.model
    source = model.source
    builder.check_example(source, "torchserve", "model.source")
    builder.check_path(source, "model.source", is_dir=source.kind == "huggingface")
    key = handlers.torchserve_handler(model)
    qa_source = source.kind == "huggingface" or (source.kind == "example" and source.name == "distilbert-qa")
    if key == "question-answering" and not qa_source:
        raise builder.BuildError(f"model.handler: question-answering needs a huggingface source (or example "
                                 f"distilbert-qa), not {source.kind}; use handler: vision, tensor or auto, or your own "
                                 "inference.py")
    if key in ("vision", "tensor") and qa_source:
        raise builder.BuildError(f"model.handler: {key} needs a TorchScript model, not a Hugging Face one; use handler: "
                                 "question-answering or auto")
    user_file = None if key in handlers.HANDLER_FILES or key == "auto" else Path(key)
    packaged = "custom" if user_file else key  # the handler file servekit ships for this choice
    reqs = handlers.requirements_lines("tensor" if key == "auto" else packaged, model.requirements)
    if key == "auto":
        handler: dict = {"name": "auto", "candidates": {k: _sha(handlers.handler_path(k))
                                                        for k in handlers.AUTO_BY_RUNNING}}
    else:
        handler = {"name": packaged, "sha256": _sha(handlers.handler_path(packaged))}
        if user_file:
            handler["user_sha256"] = _sha(user_file)
    support = handlers.support_paths("tensor" if key == "auto" else packaged)
    handler["support"] = {name: _sha(path) for name, path in support.items()}
    data = {
        "server": "torchserve",
        "source": identity.source_fingerprint(source, hasher),
        "handler": handler,
        "requirements": reqs,
        "labels": model.labels,
    }
    # Keys that change what the build checks or writes, only when set (earlier identities stay as they were).
    data.update({k: v for k, v in (("input_shape", model.input_shape), ("output_names", model.output_names)) if v})
    runs_model = not qa_source and key in ("auto", "vision", "tensor")
    if runs_model:
        data["checked_by_running"] = identity.code_digest("user_worker.py")

    def materialize(work: Path, say: builder.Progress) -> dict[str, Content]:
        entries: dict[str, Content] = {}
        chosen = packaged
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
            if runs_model:
                chosen, signature = choose_handler(key, model, _run(entries["model.pt"], model, key, say), say)
                if chosen == "tensor" and ep.tuning.batched_forward:
                    raise builder.BuildError(
                        "tuning.batched_forward: the tensor handler has no batched handle(data, context); TorchServe "
                        "would find no entry point. Set batched_forward: false (the toolkit calls it once per "
                        "request), or serve a one-output classifier with handler: vision")
                if signature is not None:
                    entries[SIGNATURE] = (json.dumps(signature, sort_keys=True) + "\n").encode()
        if model.labels:
            entries["labels.json"] = (json.dumps(model.labels, ensure_ascii=False) + "\n").encode()
        entries["code/inference.py"] = handlers.handler_path(chosen)
        entries.update(handlers.support_paths(chosen))
        if user_file:
            entries[handlers.USER_HANDLER] = user_file
        entries["code/requirements.txt"] = handlers.requirements_text(reqs)
        return entries

    return builder.Plan(builder.plan_identity(data), materialize, None)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def probe_shape(model: Any, key: str) -> list[int] | None:
    """The input shape the build runs the model on: model.input_shape, a state_dict's example_input_shape, or for
    handler: auto the vision handler's image; None when there is none to try."""
    if model.input_shape:
        return list(model.input_shape)
    if model.source.kind == "state_dict":
        return list(model.source.example_input_shape)
    return IMAGE_PROBE_SHAPE if key == "auto" else None


def _run(path: Path, model: Any, key: str, say: builder.Progress) -> dict[str, Any]:
    shape = probe_shape(model, key)
    facts = builder.run_worker({"task": "describe_torchscript", "path": str(path), "shapes": [shape] if shape else [],
                                "dtypes": ["TYPE_FP32"]}, say, module=builder.USER_WORKER)
    facts["shape"] = shape
    return facts


def choose_handler(key: str, model: Any, facts: dict[str, Any], say: builder.Progress) -> tuple[str, dict | None]:
    """The handler for what the model did at build (servekit.model_build.user_worker.describe_torchscript), and the
    tensor handler's signature; a model no handler can serve rightly is refused with the fix."""
    arguments = facts["arguments"]
    others = [a for a in arguments if a["type"] not in ("Tensor", "Optional[Tensor]")]
    if others:
        listed = ", ".join(f"{a['name']}: {a['type']}" for a in others)
        raise builder.BuildError(
            f"model.source: forward() takes {listed} beside its tensors; a request carries tensors only, so no "
            "handler can pass that value. Wrap the model so the value is fixed (docs/bring-your-own-model.md, "
            "\"Arguments that are not tensors\") and export the wrapper as TorchScript, or serve it with your own "
            "inference.py that supplies it")
    shape = facts["shape"]
    if "error" in facts:
        raise builder.BuildError(
            f"model.input_shape: forward() fails on a float32 tensor of shape {shape} ({facts['error']}); set "
            "model.input_shape to the shape one request's tensor has (batch first)"
            + ("; or name the handler (tensor, vision, or your own inference.py)" if key == "auto" else ""))
    if len(arguments) != 1 and shape is not None:
        raise builder.BuildError(
            f"model.handler: forward() takes {len(arguments)} tensors ({', '.join(a['name'] for a in arguments)}); "
            "servekit runs it at build with one. Use handler: tensor with model.input_shape unset (requests name each "
            "input in KServe v2 JSON), or serve it on Triton, whose config lists every input")
    outputs = facts.get("outputs")
    if outputs is not None and any("python_type" in o for o in outputs):
        kinds = sorted({o["python_type"] for o in outputs if "python_type" in o})
        raise builder.BuildError(f"model.source: forward() returns {', '.join(kinds)} beside tensors; the handlers "
                                 "send tensors only: return tensors, or serve it with your own inference.py")
    if facts.get("stateful"):
        say("warning: forward() answered the same input differently on a second call: the model keeps state between "
            "calls, so answers depend on which worker and instance serve a request (each keeps its own); a model "
            "fed a stream one chunk at a time needs its state kept per stream: Triton's sequence batching (server: "
            "triton) routes a sequence to one instance")
    classifier = (outputs is not None and len(outputs) == 1 and len(outputs[0]["shape"]) == 2
                  and outputs[0]["shape"][1] > 1 and outputs[0]["dtype"] in FLOAT_TYPES)
    shapes = [o["shape"] for o in outputs] if outputs is not None else None
    if key == "auto":
        chosen = "vision" if classifier and not model.output_names else "tensor"
        say(f"handler: auto chose {chosen}: forward() on {shape} returns {shapes}"
            + (" (one [batch, classes] output)" if chosen == "vision" else ""))
    else:
        chosen = key
    if chosen == "vision" and outputs is not None and not classifier:
        raise builder.BuildError(f"model.handler: vision reads one [batch, classes] output as class scores, but "
                                 f"forward() on {shape} returns {shapes}; use handler: tensor (every output, named) or "
                                 "auto")
    if model.output_names and outputs is not None and len(model.output_names) != len(outputs):
        raise builder.BuildError(f"model.output_names: names {len(model.output_names)} outputs but forward() returns "
                                 f"{len(outputs)} ({shapes}); list one name per output")
    if chosen != "tensor":
        return chosen, None
    names = list(model.output_names or ([f"output__{i}" for i in range(len(outputs))] if outputs is not None else []))
    return chosen, {"inputs": [a["name"] for a in arguments], "outputs": names,
                    "stateful": bool(facts.get("stateful"))}
