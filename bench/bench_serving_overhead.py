"""Serving overhead: p50 latency through each local server vs calling the same model in-process, per example model.

    .venv/bin/python bench/bench_serving_overhead.py [--requests 300] [--rounds 3] [--only torchserve,triton,tfs]
                                                     [--omp-threads 1]

For every example of servekit.yaml (and the resnet example on TorchServe's vision handler), in the same run:
- in-process: the artifact's own code called in this process on the same request body, with nothing between:
  TorchServe: the handler's input_fn -> predict_fn -> output_fn (code/inference.py of the artifact, as the toolkit
  calls it); Triton: servekit.codecs decode -> the TorchScript model.pt -> encode; TFS: decode -> the SavedModel's
  serving_default -> JSON;
- through the server: `servekit bench`'s load generator (servekit.bench.run_step, aiohttp) at concurrency 1;
- the HTTP floor: GET /ping on a kept-alive connection (what the server's front answers without the model).
In-process calls and server requests alternate in rounds, so machine noise hits both alike. Overhead = server p50 -
in-process p50. Target: TorchServe within 3 ms. `--omp-threads N` runs both sides with N intra-op threads
(tuning.omp_num_threads=N, OMP_NUM_THREADS in the TorchServe workers; torch.set_num_threads(N) here). Figures, not assertions.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servekit import bench, codecs, config, local  # noqa: E402
from servekit.model_build import build  # noqa: E402
from servekit.servers.triton.signature import TritonSignature  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 3.0


def untar(artifact: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(artifact) as tar:
        tar.extractall(dest, filter="data")
    return dest


# ---------------------------------------------------------------------------------------------
# The same model, in this process
# ---------------------------------------------------------------------------------------------
def torchserve_inprocess(artifact: Path, work: Path, payload: bench.Payload) -> Callable[[], object]:
    """The artifact's code/inference.py, called as the toolkit calls it (JSON arrives as str, others as bytearray)."""
    model_dir = untar(artifact, work / "inprocess-model")
    spec = importlib.util.spec_from_file_location(f"inference_{work.name}", model_dir / "code" / "inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.model_fn(str(model_dir))
    data = payload.body.decode() if payload.content_type == codecs.JSON else bytearray(payload.body)

    def call() -> object:
        return module.output_fn(module.predict_fn(module.input_fn(data, payload.content_type), model), payload.accept)

    return call


def triton_inprocess(artifact: Path, work: Path, payload: bench.Payload, model_name: str) -> Callable[[], object]:
    import torch

    root = untar(artifact, work / "inprocess-model")
    version = sorted((p for p in (root / model_name).iterdir() if p.is_dir()), key=lambda p: int(p.name))[-1]
    model = torch.jit.load(str(version / "model.pt"), map_location="cpu").eval()
    signature = TritonSignature.from_file(root / model_name / "config.pbtxt")
    names = [s.name for s in signature.inputs]
    binary = codecs.header_size(payload.content_type) is not None

    def call() -> object:
        inputs = codecs.decode_kserve_request(payload.body, payload.content_type)
        with torch.inference_mode():
            output = model(*[torch.from_numpy(np.array(inputs[n])) for n in names])
        outputs = {signature.outputs[0].name: output.numpy()}
        return (codecs.encode_kserve_binary(outputs) if binary else codecs.encode_kserve_json(outputs))

    return call


def tfs_inprocess(artifact: Path, work: Path, payload: bench.Payload, model_name: str) -> Callable[[], object]:
    import tensorflow as tf

    from servekit.servers.tfs.local import find_models

    models = find_models(untar(artifact, work / "inprocess-model"))
    function = tf.saved_model.load(str(models[model_name][max(models[model_name])])).signatures["serving_default"]
    (name, spec), = function.structured_input_signature[1].items()

    def call() -> object:
        if payload.content_type == codecs.NPY:
            x = codecs.decode_npy(payload.body)
        else:
            x = json.loads(payload.body)["instances"]
        outputs = function(**{name: tf.constant(np.asarray(x, dtype=spec.dtype.as_numpy_dtype))})
        return json.dumps({"predictions": next(iter(outputs.values())).numpy().tolist()})

    return call


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------
def timed_calls(call: Callable[[], object], count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def ping_latencies(url: str, count: int) -> list[float]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    out = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            connection.request("GET", "/ping")
            response = connection.getresponse()
            response.read()
            if response.will_close:
                connection.close()
            out.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return out


def cases(cfg: config.ServekitConfig, only: list[str]) -> list[tuple[str, object]]:
    """(label, endpoint) for each example model and server to measure."""
    out = []
    by_name = {e.name: e for e in cfg.endpoints}
    if "torchserve" in only:
        qa = by_name["question-answering"]
        out.append(("TorchServe, question-answering (tiny DistilBERT)", qa))
        vision = qa.model_copy(update={"name": "resnet-torchserve", "model": qa.model.model_copy(update={
            "source": config.ExampleSource(kind="example", name="resnet"), "handler": "vision"})})
        out.append(("TorchServe, resnet (vision handler)", vision))
    if "triton" in only:
        out.append(("Triton 2.44 (python backend), resnet", by_name["resnet"]))
    if "tfs" in only:
        out.append(("TFS EMULATION, efficientnetv2", by_name["image-classifier"]))
    return out


def measure(label: str, endpoint, work: Path, cache: Path, requests: int, rounds: int) -> list[dict]:
    artifact = build(endpoint, cache_dir=cache).path
    payloads = bench.payloads_for(endpoint, artifact)
    rows = []
    server = local.start(endpoint, artifact, workdir=work / "server", progress=lambda _m: None)
    with server:
        target = bench.local_target(server.url)
        for payload in payloads:
            if endpoint.server == "torchserve":
                call = torchserve_inprocess(artifact, work / payload.name.replace("+", "_"), payload)
            elif endpoint.server == "triton":
                call = triton_inprocess(artifact, work / payload.name.replace("+", "_"), payload, endpoint.model.name)
            else:
                call = tfs_inprocess(artifact, work / payload.name, payload, endpoint.default_model_name)
            per_round = max(1, requests // rounds)
            timed_calls(call, 5)  # warm-up
            inproc, served, p99s, pings = [], [], [], []
            for _ in range(rounds):
                inproc.extend(timed_calls(call, per_round))
                result = bench.run_step(target, payload, concurrency=1, limits=bench.Limits(
                    duration_s=bench.HARD_LIMITS["duration_s"], requests=per_round, warmup_s=0.5, timeout_s=60))
                if result.errors:
                    raise RuntimeError(f"{label} {payload.name}: {result.error_kinds} {result.error_sample}")
                served.append(result.p50_ms)
                p99s.append(result.p99_ms)
                pings.extend(ping_latencies(server.url, 50))
            in_p50 = bench.percentile(inproc, 50)
            server_p50 = statistics.median(served)
            rows.append({"server": label, "payload": payload.name, "bytes": len(payload.body),
                         "startup_s": server.startup_seconds, "inprocess_p50_ms": in_p50, "server_p50_ms": server_p50,
                         "overhead_ms": server_p50 - in_p50, "server_p99_ms": statistics.median(p99s),
                         "ping_p50_ms": bench.percentile(pings, 50), "emulated": server.emulated,
                         "torchserve": endpoint.server == "torchserve"})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def report(rows: list[dict]) -> str:
    table = [["server, model", "payload", "bytes", "start-up s", "in-process p50 ms", "server p50 ms",
              "overhead ms", "server p99 ms", "GET /ping p50 ms"]]
    for r in rows:
        table.append([r["server"], r["payload"], f"{r['bytes']:,}", f"{r['startup_s']:.1f}",
                      f"{r['inprocess_p50_ms']:.2f}", f"{r['server_p50_ms']:.2f}", f"{r['overhead_ms']:+.2f}",
                      f"{r['server_p99_ms']:.1f}", f"{r['ping_p50_ms']:.2f}"])
    return bench.markdown_table(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per payload, in-process and through the server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="torchserve,triton,tfs")
    parser.add_argument("--config", default=str(REPO / "servekit.yaml"))
    parser.add_argument("--cache-dir", default=str(REPO / ".servekit" / "cache"))
    parser.add_argument("--omp-threads", type=int, default=0, help="intra-op threads on both sides (0: defaults)")
    args = parser.parse_args()
    load = os.getloadavg()
    cfg = config.load(args.config)
    rows = []
    if args.omp_threads:
        import torch

        torch.set_num_threads(args.omp_threads)
        print(f"intra-op threads: {args.omp_threads} in-process and in the TorchServe worker (tuning.omp_num_threads)")
    with tempfile.TemporaryDirectory(prefix="servekit-overhead-") as tmp:
        for index, (label, endpoint) in enumerate(cases(cfg, args.only.split(","))):
            if endpoint.server == "torchserve":
                endpoint = bench.with_setting(endpoint, ("tuning", "omp_num_threads"), args.omp_threads or None)
            rows += measure(label, endpoint, Path(tmp) / str(index), Path(args.cache_dir), args.requests, args.rounds)
    print()
    print(report(rows))
    for r in rows:
        if r["torchserve"]:
            verdict = "met" if r["overhead_ms"] <= TARGET_MS else "MISSED"
            print(f"target: {r['server']} ({r['payload']}) p50 within {TARGET_MS:g} ms of in-process: "
                  f"{r['overhead_ms']:+.2f} ms ({verdict})")
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after; "
          "client, server and in-process calls share the cores")


if __name__ == "__main__":
    main()
