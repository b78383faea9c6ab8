"""Serve a TorchServe artifact on this machine with the same stack the PyTorch DLC runs.

The container's entry point is `sagemaker_pytorch_serving_container.serving.main()` (SageMaker PyTorch
inference toolkit): it writes a TorchServe config file, pip-installs code/requirements.txt and runs
`torchserve --start --models model=<base>/model` with its own handler service. We run that very function,
in a small launcher process (`python -m servekit.servers.torchserve.local`, see `_launch`), with the endpoint's
environment and three local patches, each for a quirk of running outside a container:

- the config path is a module constant fixed at /etc/sagemaker-ts.properties: patched to a file in workdir
  (TS_CONFIG_FILE in the environment names the same file, which the torchserve CLI also reads);
- after starting TorchServe the toolkit looks for *the* TorchServe java process on the whole machine with
  psutil and refuses when there are two (another test, another user): patched to find the one in our
  process group;
- code/requirements.txt is pip-installed at start: skipped when every requirement is already satisfied
  here (said in the output), else installed into workdir/requirements (never into this virtualenv).

Ports: inference (SAGEMAKER_BIND_TO_PORT; the toolkit puts the management API on the same port), metrics
(TS_METRICS_ADDRESS) and TorchServe's two gRPC ports are free loopback ports, so several servers can run at once.
TorchServe's pid file and java temp dir live under workdir (TMPDIR/TEMP): with the default /tmp pid file,
`torchserve --start` refuses to start while another TorchServe runs.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from servekit.local.endpoint import LocalEndpoint
from servekit.local.process import ServerProcess, free_port
from servekit.model_build import archive

if TYPE_CHECKING:
    from servekit.servers.torchserve.schema import TorchServeEndpointSpec

TS_JAVA_CLASS = "org.pytorch.serve.ModelServer"
STARTUP_TIMEOUT_SECONDS = 180.0
_REQUIREMENTS_MODE_ENV = "SERVEKIT_TS_REQUIREMENTS"  # "skip" or "target:<dir>", read by _launch


def start(
    endpoint: TorchServeEndpointSpec,
    artifact_path: str | Path,
    *,
    workdir: str | Path,
    port: int | None = None,
    progress: Callable[[str], None] = print,
) -> LocalEndpoint:
    """Untar `artifact_path` into `workdir`/model and serve it with the toolkit's own entry point.

    Returns once GET /ping answers 200 (raises ServerStartError with the log's tail otherwise).
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    model_dir = workdir / "model"
    progress(f"[{endpoint.name}] unpacking {artifact_path} into {model_dir}")
    unpack(artifact_path, model_dir)
    if not (model_dir / "code" / "inference.py").is_file():
        progress(f"[{endpoint.name}] warning: the artifact has no code/inference.py; the toolkit's default "
                 "handler (torch.jit.load of model.pt, tensors in and out) will answer")

    env = environment(endpoint, workdir, port=port or free_port())
    requirements = model_dir / "code" / "requirements.txt"
    note = _requirements_note(requirements, workdir, env)
    if note:
        progress(f"[{endpoint.name}] {note}")

    log_path = workdir / "logs" / "server.log"
    server = ServerProcess(
        name=f"torchserve[{endpoint.name}]",
        command=[sys.executable, "-m", "servekit.servers.torchserve.local"],
        log_path=log_path,
        env=env,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{env['SAGEMAKER_BIND_TO_PORT']}"
    progress(f"[{endpoint.name}] starting TorchServe (sagemaker-pytorch-inference "
             f"{_version('sagemaker-pytorch-inference')}, torchserve {_version('torchserve')}) at {url}; "
             f"log {log_path}")
    seconds = server.start_healthy(f"{url}/ping", timeout_seconds=STARTUP_TIMEOUT_SECONDS)
    progress(f"[{endpoint.name}] healthy in {seconds:.1f} s at {url}")
    return LocalEndpoint(
        url=url,
        server=server,
        emulated=False,
        differences=differences(env, note),
        startup_seconds=seconds,
    )


def unpack(artifact_path: str | Path, model_dir: Path) -> None:
    """Extract model.tar.gz into a fresh `model_dir` (what SageMaker does into /opt/ml/model)."""
    if model_dir.exists():
        shutil.rmtree(model_dir)
    archive.unpack(Path(artifact_path), model_dir)


def environment(endpoint: TorchServeEndpointSpec, workdir: Path, *, port: int) -> dict[str, str]:
    """The container environment of `endpoint`, plus what running it here needs."""
    bin_dir = str(Path(sys.executable).parent)
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**endpoint.tuning.to_environment("inference.py"), **endpoint.model.environment}
    env.update({
        "SAGEMAKER_BASE_DIR": str(workdir),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MULTI_MODEL": "false",
        # Bind to loopback (the toolkit writes 0.0.0.0); TorchServe's TS_* variables override its file.
        "TS_INFERENCE_ADDRESS": f"http://127.0.0.1:{port}",
        "TS_MANAGEMENT_ADDRESS": f"http://127.0.0.1:{port}",
        "TS_METRICS_ADDRESS": f"http://127.0.0.1:{free_port()}",
        "TS_GRPC_INFERENCE_ADDRESS": "127.0.0.1",
        "TS_GRPC_MANAGEMENT_ADDRESS": "127.0.0.1",
        "TS_GRPC_INFERENCE_PORT": str(free_port()),
        "TS_GRPC_MANAGEMENT_PORT": str(free_port()),
        "TS_CONFIG_FILE": str(workdir / "sagemaker-ts.properties"),
        "TMPDIR": str(tmp),
        "TEMP": str(tmp),
        "LOG_LOCATION": str(workdir / "logs"),
        "METRICS_LOCATION": str(workdir / "logs"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    })
    return env


def differences(env: dict[str, str], requirements_note: str | None) -> list[str]:
    lines = [
        f"TorchServe {_version('torchserve')} with sagemaker-pytorch-inference {_version('sagemaker-pytorch-inference')}, "
        f"torch {_version('torch')} and Python {sys.version.split()[0]} from this environment, not the DLC image's",
        f"binds {env['TS_INFERENCE_ADDRESS']} (container: 0.0.0.0:8080); metrics at {env['TS_METRICS_ADDRESS']} "
        "(container: 8082)",
        f"TorchServe config at {env['TS_CONFIG_FILE']} (container: /etc/sagemaker-ts.properties)",
    ]
    if requirements_note:
        lines.append(requirements_note)
    try:
        import torch

        if not torch.cuda.is_available():
            lines.append("CPU only here: no CUDA device")
    except ImportError:  # pragma: no cover - torch is a dependency of the toolkit
        pass
    return lines


def _requirements_note(requirements: Path, workdir: Path, env: dict[str, str]) -> str | None:
    if not requirements.is_file():
        return None
    missing = unsatisfied_requirements(requirements)
    if not missing:
        env[_REQUIREMENTS_MODE_ENV] = "skip"
        return ("code/requirements.txt not pip-installed: every requirement in it is already satisfied here "
                "(the container pip-installs it at start)")
    target = workdir / "requirements"
    env[_REQUIREMENTS_MODE_ENV] = f"target:{target}"
    return f"code/requirements.txt: {', '.join(missing)} not satisfied here; pip installs them into {target}"


def unsatisfied_requirements(path: Path) -> list[str]:
    """The lines of a requirements file that this interpreter does not satisfy (options count as unsatisfied)."""
    from packaging.requirements import InvalidRequirement, Requirement

    missing = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            missing.append(line)
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            missing.append(f"{line} (have {installed})")
    return missing


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


# ---------------------------------------------------------------------------------------------
# The launcher: runs in the server's own process group, started by ServerProcess.
# ---------------------------------------------------------------------------------------------
def _launch() -> None:
    import psutil
    from retrying import retry
    from sagemaker_inference import model_server
    from sagemaker_pytorch_serving_container import serving
    from sagemaker_pytorch_serving_container import torchserve as toolkit

    config_file = os.environ["TS_CONFIG_FILE"]
    toolkit.TS_CONFIG_FILE = config_file
    print(f"servekit: toolkit config path patched to {config_file}", flush=True)

    @retry(stop_max_delay=10 * 1000)
    def retrieve_our_ts_server_process() -> psutil.Process:
        group = os.getpgrp()
        ours = []
        for process in psutil.process_iter():
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                if TS_JAVA_CLASS in process.cmdline() and os.getpgid(process.pid) == group:
                    ours.append(process)
            except (psutil.Error, ProcessLookupError):
                continue
        if len(ours) != 1:
            raise RuntimeError(f"expected one TorchServe java process in process group {group}, found {len(ours)}")
        return ours[0]

    toolkit._retrieve_ts_server_process = retrieve_our_ts_server_process

    mode = os.environ.get(_REQUIREMENTS_MODE_ENV, "")
    install = model_server._install_requirements

    def install_requirements() -> None:
        if mode == "skip":
            print("servekit: code/requirements.txt already satisfied here; pip install skipped", flush=True)
            return
        if mode.startswith("target:"):
            import subprocess

            target = mode.removeprefix("target:")
            print(f"servekit: pip install -r code/requirements.txt --target {target}", flush=True)
            subprocess.check_call([sys.executable, "-m", "pip", "install", "--no-input", "--target", target,
                                   "-r", model_server.REQUIREMENTS_PATH])
            os.environ["PYTHONPATH"] = f"{target}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
            return
        install()

    model_server._install_requirements = install_requirements
    serving.main()


if __name__ == "__main__":
    _launch()
