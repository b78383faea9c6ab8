"""The Triton artifact: a model repository, <model>/config.pbtxt and <model>/<version>/model.pt|onnx|plan,
the config checked against Triton's load rules and against the exported model (docs/triton.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from servekit.model_build import builder, identity, manifest
from servekit.model_build.archive import Content, FileHasher
from servekit.servers.triton import model_config as triton_config
from servekit.servers.triton import onnx_scalars
from servekit.servers.triton.schema import TritonEndpointSpec


def plan(ep: TritonEndpointSpec, hasher: FileHasher) -> builder.Plan:
    """`model`, and with an ensemble its members and the ensemble's own config, into one model repository."""
    ensemble = ep.ensemble
    members = [ep.model, *(ensemble.members if ensemble is not None else ())]
    data: dict[str, Any] = {"server": "triton", **_identity(ep.model, hasher)}
    if ensemble is not None:  # only when set: an artifact built before ensembles keeps its identity
        data["ensemble"] = {**ensemble.model_dump(mode="json", exclude={"members"}),
                            "members": [_identity(m, hasher) for m in ensemble.members]}

    def materialize(work: Path, say: builder.Progress) -> dict[str, Content]:
        entries: dict[str, Content] = {}
        records: dict[str, Any] = {}
        for member in members:
            member_entries, member_records = _model_entries(ep, member, work / member.name, say)
            entries.update(member_entries)
            records.update(member_records)
        if ensemble is not None:
            text = triton_config.render_ensemble(ensemble, min(m.max_batch_size for m in members))
            entries[f"{ensemble.name}/config.pbtxt"] = text.encode()
            entries[f"{ensemble.name}/1"] = None  # Triton needs a version folder, empty for an ensemble
        entries[builder.RECORDS] = records  # type: ignore[assignment]
        return entries

    return builder.Plan(builder.plan_identity(data), materialize, ep.served_model_name)


def _identity(model: Any, hasher: FileHasher) -> dict[str, Any]:
    for _, source, where in _versions(model):
        builder.check_example(source, "triton", where)
        builder.check_path(source, where, is_dir=False)
        if source.kind == "onnx" and model.format != "onnx":
            raise builder.BuildError(f"model.format: {model.format!r} with an onnx source ({where}); set format: onnx "
                                     "(and onnx_tensorrt_accelerator for TensorRT at load)")
    data = {
        "model": model.model_dump(mode="json", exclude={"source", "more_versions", *_unset_since_format_3(model)}),
        "source": identity.source_fingerprint(model.source, hasher, needs=_needs(model, model.source)),
    }
    if onnx_scalars.wrap_candidates(model):  # the build may add a Reshape to the graph: its code is an input
        data["onnx_scalars"] = identity.digest((Path(onnx_scalars.__file__).read_bytes().decode(),))
    if model.more_versions:  # only when set: an artifact built before them keeps its identity
        data["more_versions"] = [{"version": v.version, "source": identity.source_fingerprint(
            v.source, hasher, needs=_needs(model, v.source))} for v in model.more_versions]
    return data


def _versions(model: Any) -> list[tuple[int, Any, str]]:
    return [(model.version, model.source, "model.source"),
            *((v.version, v.source, f"model.more_versions (version {v.version}).source") for v in model.more_versions)]


def _model_entries(ep: TritonEndpointSpec, model: Any, work: Path,
                   say: builder.Progress) -> tuple[dict[str, Content], dict[str, Any]]:
    """One model's folder: its config.pbtxt (checked against Triton's load rules) and a file per version."""
    text = triton_config.render(model)
    problems = triton_config.config_problems(triton_config.parse(text), "model", instance_type=ep.instance_type)
    if problems:
        raise builder.BuildError(f"endpoint {ep.name}: the Triton config of {model.name} breaks Triton's load rules",
                                 problems)
    entries: dict[str, Content] = {f"{model.name}/config.pbtxt": text.encode()}
    records: dict[str, Any] = {}
    versions = _versions(model)
    for version, source, _ in versions:
        folder = work / f"version-{version}"  # each version's exports apart
        folder.mkdir(parents=True, exist_ok=True)
        if len(versions) > 1:
            say(f"{model.name}: version {version}")
        model_file, record = _model_file(ep, model, source, folder, say)
        file_name = f"{model.name}/{version}/{triton_config.model_file_name(model)}"
        entries[file_name] = model_file
        records[file_name] = record
    return entries, records


def _needs(model: Any, source: Any) -> tuple[str, ...]:
    if model.format == "onnx" and source.kind != "onnx":
        return ("onnx",)
    return ("tensorrt",) if model.format == "tensorrt" else ()


def _model_file(ep: TritonEndpointSpec, model: Any, source: Any, work: Path,
                say: builder.Progress) -> tuple[Path, dict[str, Any]]:
    """One version's model file in the model's format, checked against the config (the model file is the truth),
    and its manifest record."""
    # The exports and runs below feed the model itself: the shapes it takes (reshape when set, else dims).
    tensors = {label: [{**t.model_dump(), "dims": t.model_dims} for t in getattr(model, label)]
               for label in ("inputs", "outputs")}
    plan_record: dict[str, Any] = {}
    if model.format == "onnx":
        if source.kind == "onnx":
            model_file = source.path
            scalars = onnx_scalars.scalar_inputs(model_file, onnx_scalars.wrap_candidates(model))
            if scalars:
                say(f"{model.name}: the ONNX model has {', '.join(scalars)} as a scalar, which Triton cannot pass "
                    "to or from a model that does not batch: adding a Reshape between [1] and the scalar")
                model_file = work / "model.onnx"
                onnx_scalars.wrap(source.path, scalars, model_file)
        else:
            model_file = work / "model.onnx"
            builder.run_worker({"task": "onnx", "path": str(builder.torchscript_file(source, work, say)), **tensors,
                                "max_batch_size": model.max_batch_size, "out": str(model_file)}, say)
        problems = triton_config.onnx_problems(model, model_file)
    elif model.format == "torchscript":
        model_file = builder.torchscript_file(source, work, say)
        facts = builder.run_worker({"task": "inspect_torchscript", "path": str(model_file), "inputs": tensors["inputs"],
                                    "max_batch_size": model.max_batch_size}, say)
        problems = triton_config.torchscript_problems(model, facts)
        if not problems:
            warn_if_stateful(model, model_file, tensors["inputs"], say)
    else:
        if importlib.util.find_spec("torch_tensorrt") is None:
            raise builder.BuildError(
                "model.format: tensorrt needs torch-tensorrt and a CUDA GPU on the build machine, and torch_tensorrt "
                "is not importable here; use format: onnx with onnx_tensorrt_accelerator (Triton's ONNX Runtime "
                "builds the TensorRT engine at load, on the serving GPU) or install torch-tensorrt on a GPU build "
                "machine"
            )
        ts = builder.torchscript_file(source, work, say)
        facts = builder.run_worker({"task": "inspect_torchscript", "path": str(ts), "inputs": tensors["inputs"],
                                    "max_batch_size": model.max_batch_size}, say)
        problems = triton_config.torchscript_problems(model, facts)
        if not problems:
            model_file = work / "model.plan"
            plan_record = builder.run_worker({"task": "tensorrt", "path": str(ts), "inputs": tensors["inputs"],
                                              "max_batch_size": model.max_batch_size,
                                              "min_batch": model.tensorrt.min_batch,
                                              "opt_batch": model.tensorrt.opt_batch,
                                              "precisions": model.tensorrt.precisions, "out": str(model_file)}, say)
    if problems:
        raise builder.BuildError(f"endpoint {ep.name}: the Triton config does not match the exported model (the model "
                                 "file is the truth)", problems)
    if model.format == "onnx":
        return model_file, manifest.onnx_record(model_file)
    if model.format == "torchscript":
        return model_file, manifest.torchscript_record(model_file, builder.producer_torch(source))
    return model_file, {"format": "tensorrt_plan", **plan_record}


# Model keys added after identity format 3 enter the identity only when set: an artifact built before them keeps
# its identity (and its template its asset hash) until the user sets one.
_ADDED_SINCE_FORMAT_3 = ("warmup", "response_cache", "version_policy_specific")


def warn_if_stateful(model: Any, model_file: Path, inputs: list[dict[str, Any]], say: builder.Progress) -> None:
    """Run the model twice on the same random tensors (servekit.model_build.user_worker): a model that answers them
    differently keeps state between calls, which Triton keeps per model instance, not per client."""
    from servekit.model_build.torch_io import PROBE_SIZE

    shapes = [([1] if model.max_batch_size > 0 else []) + [PROBE_SIZE if d == -1 else d for d in t["dims"]]
              for t in inputs]
    facts = builder.run_worker({"task": "describe_torchscript", "path": str(model_file), "shapes": shapes,
                                "dtypes": [t["data_type"] for t in inputs]}, say, module=builder.USER_WORKER)
    if facts.get("stateful"):
        say(f"warning: {model.name}: forward() answered the same input differently on a second call: the model keeps "
            "state between calls, shared by every client of a model instance; a model fed a stream one chunk at a "
            "time needs Triton's sequence batching (sequence_batching in config.pbtxt, which servekit does not write "
            "yet) so each stream keeps its own state")


def _unset_since_format_3(model: Any) -> set[str]:
    return {name for name in _ADDED_SINCE_FORMAT_3
            if getattr(model, name) == type(model).model_fields[name].get_default(call_default_factory=True)}
