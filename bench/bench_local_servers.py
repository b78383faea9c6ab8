"""Start-up time and latency of every local server on the embedded default's examples: the real Triton, the
real TorchServe (SageMaker PyTorch toolkit) and the TFS emulation (its handler over REST, then over gRPC).

    .venv/bin/python bench/bench_local_servers.py [--requests 200] [--config servekit.yaml] [--servers tfs,...]

Builds (or reuses) each endpoint's artifact with servekit.model_build, serves it, sends N sequential
requests of one instance each per payload and prints start-up seconds and p50/p99 latency. Figures, not
assertions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from servekit import bench, codecs, config
from servekit.model_build import build
from servekit.servers.tfs import local as tfs
from servekit.servers.torchserve import local as torchserve
from servekit.servers.triton import local as triton
from servekit.servers.triton.signature import TritonSignature

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def timed_requests(url: str, body: bytes, content_type: str, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            assert response.status == 200
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def tfs_body(artifact: Path, workdir: Path) -> np.ndarray:
    # One instance of the default model's input shape, read from its signature.
    import tarfile

    import tensorflow as tf

    with tarfile.open(artifact) as tar:
        tar.extractall(workdir / "peek", filter="data")
    models = tfs.find_models(workdir / "peek")
    name = next(iter(models))
    fn = tf.saved_model.load(str(models[name][max(models[name])])).signatures["serving_default"]
    (spec,) = fn.structured_input_signature[1].values()
    shape = [1 if d is None else d for d in spec.shape.as_list()]
    x = np.random.default_rng(0).random(shape).astype(spec.dtype.as_numpy_dtype)
    return x


def serve_cases(ep, artifact: Path, tmp_path: Path):
    """(label, start(workdir) -> LocalEndpoint, {payload: (body, content type)}) for each server run of `ep`."""
    if ep.server == "triton":
        signature = TritonSignature.from_artifact(artifact, ep.model.name)
        x = {s.name: np.random.default_rng(0).random((1, *[max(d, 1) for d in s.dims])).astype(s.numpy_dtype)
             for s in signature.inputs}
        cases = {"KServe JSON": codecs.encode_kserve_json(x, signature=signature),
                 "binary+json": codecs.encode_kserve_binary(x, signature=signature)}
        yield "Triton 2.44 (python backend, CPU)", lambda work: triton.start(ep, artifact, workdir=work,
                                                                            progress=lambda _: None), cases
    elif ep.server == "tfs":
        x = tfs_body(artifact, tmp_path / "tfs-peek")
        cases = {"JSON instances": codecs.encode_json({"instances": x}), "x-npy": codecs.encode_npy(x)}
        for protocol in ("rest", "grpc"):
            tuned = bench.with_setting(ep, ("tuning", "handler_protocol"), protocol)
            yield (f"TFS emulation (TensorFlow, CPU), handler over {protocol}",
                   lambda work, tuned=tuned: tfs.start(tuned, artifact, workdir=work, progress=lambda _: None), cases)
    elif ep.server == "torchserve":
        body = (ROOT / "examples" / f"{ep.name}.json").read_bytes()
        yield ("TorchServe 0.12 (sagemaker-pytorch-inference, CPU)",
               lambda work: torchserve.start(ep, artifact, workdir=work, progress=lambda _: None),
               {"JSON": (body, "application/json")})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--config", default="servekit.yaml")
    parser.add_argument("--cache-dir", default=".servekit/cache")
    parser.add_argument("--servers", default="triton,tfs,torchserve", help="comma-separated subset")
    args = parser.parse_args()
    cfg = config.load(args.config)
    servers = args.servers.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for ep in cfg.endpoints:
            if ep.server not in servers:
                continue
            artifact = build(ep, cache_dir=Path(args.cache_dir)).path
            for run, (label, start, cases) in enumerate(serve_cases(ep, artifact, tmp_path)):
                with start(tmp_path / f"{ep.name}-{run}") as local:
                    for case, (body, ctype) in cases.items():
                        timed_requests(local.invocations_url, body, ctype, 5)  # warm-up
                        lat = timed_requests(local.invocations_url, body, ctype, args.requests)
                        print(json.dumps({
                            "server": label, "endpoint": ep.name, "payload": case, "body_bytes": len(body),
                            "startup_s": round(local.startup_seconds, 2), "p50_ms": round(percentile(lat, 50), 2),
                            "p99_ms": round(percentile(lat, 99), 2), "mean_ms": round(statistics.fmean(lat), 2),
                            "requests": args.requests,
                        }), flush=True)


if __name__ == "__main__":
    main()
