"""The real tritonserver judges every Triton artifact servekit builds, before `build` returns and before synth
writes a template: the artifact's repository, with stand-ins in place of the model files (the python backend
loading no weights and answering zeros, so model_warmup runs too), loaded in explicit mode as the container's serve
script loads it (`--load-model=<served model>`). It costs one tritonserver start, a few seconds, whatever the model's
size, and is cached by the artifact's identity (a marker beside it), so an unchanged artifact is never checked twice.

What it catches is what Triton's core refuses at load: ensemble batch sizes and tensor shapes, scheduling, version
policies, reshape rules, and the config's own consistency. What it cannot catch is what only the image's backend
checks (libtorch, onnxruntime, TensorRT read the file): the build compares the config with the model file for those.
The tritonserver is the [local] extra's (nvidia-pytriton 0.5.5: Triton 2.44); without it the check is skipped, and
the build says which artifacts went unchecked.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from servekit.local.process import ServerProcess, ServerStartError, free_port
from servekit.servers.triton import local

TRITON_VERSION = "2.44 (nvidia-pytriton 0.5.5)"
STARTUP_SECONDS = 120.0  # generous: Triton starts the python backend's stubs for every model instance
# tritonserver's last words when a model of --load-model fails: "error: creating server: Invalid argument - load
# failed for model '<repo>::<model>': version 1 is at UNAVAILABLE state: <reason>;"
FAILED = re.compile(r"load failed for model '(?:[^']*::)?([^']+)': (?:version \d+ is at UNAVAILABLE state: )?(.+?);?$")
ENSEMBLE_REASON = re.compile(r"ensemble (\S+) ")


def unavailable() -> str | None:
    """Why no load check can run here (the [local] extra's tritonserver is absent), or None."""
    try:
        local.pytriton_dist()
    except local.TritonLocalError as err:
        return str(err)
    return None


def problems(endpoint: Any, artifact: Path) -> list[str]:
    """Load the artifact's repository in tritonserver; [] when it loads, else one line per failure: the servekit.yaml
    field it comes from, Triton's words, and the fix."""
    dist = local.pytriton_dist()
    with tempfile.TemporaryDirectory(prefix="servekit-load-check-") as tmp:
        work = Path(tmp)
        source = local.extract(Path(artifact), work / "artifact")
        repo = work / "model_repository"
        repo.mkdir()
        try:
            local.build_repository(source, repo, weights=False)
        except local.TritonLocalError as err:
            return [f"model: {err}"]
        backends = local._prepare_backends(dist, work)
        env = endpoint.tuning.to_environment(endpoint.served_model_name)
        port = free_port()
        command = [str(dist / "bin" / "tritonserver"),
                   *local.server_args(env, repo=repo, backends=backends, port=port, caches=dist / "caches")]
        server = ServerProcess(name=f"tritonserver load check ({endpoint.name})", command=command,
                               log_path=work / "tritonserver.log", env={**env, **local.server_env(dist)}, cwd=work)
        try:
            server.start_healthy(f"http://127.0.0.1:{port}/ping", STARTUP_SECONDS)
        except ServerStartError:
            return _explain(endpoint, (work / "tritonserver.log").read_text(errors="replace"))
        finally:
            server.stop()
            shutil.rmtree(work / "artifact", ignore_errors=True)
    return []


def _explain(endpoint: Any, log: str) -> list[str]:
    """Triton's refusals, each against the servekit.yaml field of the model it names."""
    found = []
    for line in log.splitlines():
        if "load failed for model" in line or ("failed to load" in line and "E" == line[:1]):
            match = FAILED.search(line.strip())
            if match:  # model namespacing names each model <repository>::<model>: the repository is servekit's
                found.append((match.group(1), re.sub(r"\S*::", "", match.group(2)).strip()))
    if not found:
        tail = " | ".join(line.strip() for line in log.splitlines()[-5:] if line.strip())
        return [f"model: tritonserver {TRITON_VERSION} did not start on the artifact ({tail[-600:]}); fix what it "
                "names, or run `servekit serve` to see its whole log"]
    out = []
    for model, reason in dict(found).items():
        out.append(f"{field_of(endpoint, model, reason)}: tritonserver {TRITON_VERSION} refuses to load {model!r}: "
                   f"{reason}; fix it there (validate checks what it can; Triton has the last word)")
    return out


# Triton's words -> the part of a model's servekit.yaml block they are about.
PARTS = (("model input", "inputs"), ("model output", "outputs"), ("input ", "inputs"), ("output ", "outputs"),
         ("preferred batch size", "dynamic_batching"), ("dynamic batching", "dynamic_batching"),
         ("instance group", "instance_group"), ("version policy", "version_policy_specific"),
         ("warmup", "warmup"), ("response cache", "response_cache"))


def field_of(endpoint: Any, model: str, reason: str = "") -> str:
    """The servekit.yaml field a refusal of `model` is about: in `model`, `ensemble` or `ensemble.members[i]`, and
    the part Triton's words name; a user's own archive is `model.source`."""
    if endpoint.model.source.kind == "archive":
        return f"model.source ({endpoint.model.source.path.name}, model {model!r})"
    ensemble = getattr(endpoint, "ensemble", None)
    block = "model"
    if ensemble is not None:
        if model == ensemble.name:
            return "ensemble.steps" if "ensemble tensor" in reason else "ensemble"
        block = next((f"ensemble.members[{i}]" for i, m in enumerate(ensemble.members) if m.name == model), "model")
    lowered = reason.lower()
    part = next((p for words, p in PARTS if words in lowered), None)
    return f"{block}.{part}" if part else block
