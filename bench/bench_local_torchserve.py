"""TorchServe locally (the toolkit's own stack): start-up time, p50/p99 of sequential requests, and whether
TorchServe batching helps with the toolkit's stock handler versus servekit's batched `handle`.

    .venv/bin/python bench/bench_local_torchserve.py [--requests 200] [--skip-batching]

Prints figures; asserts nothing. Uses the embedded servekit.yaml's question-answering endpoint (built by
model_build) and a small TorchScript CNN served with the vision handler.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from servekit import config
from servekit.local import torchserve
from servekit.model_build.builder import build

REPO = Path(__file__).resolve().parents[1]
QA_BODY = json.dumps({"question": "what is the capital of france?", "context": "paris is the capital of france."})


def post(url: str, body: bytes, content_type: str) -> float:
    started = time.perf_counter()
    request = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(response.status)
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, mean {statistics.fmean(ordered) * 1000:.1f} ms"


def sequential(name: str, served, body: bytes, content_type: str, count: int) -> None:
    for _ in range(5):  # warm-up
        post(served.url, body, content_type)
    samples = [post(served.url, body, content_type) for _ in range(count)]
    print(f"{name}: start-up {served.startup_seconds:.1f} s; {count} sequential requests: {percentiles(samples)}")


class SmallCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(64, 128, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        )
        self.head = torch.nn.Linear(128, 10)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def vision_endpoint(root: Path, batch_size: int) -> config.TorchServeEndpoint:
    path = root / "cnn.pt"
    if not path.exists():
        torch.manual_seed(0)
        torch.jit.trace(SmallCnn().eval(), torch.zeros(1, 3, 64, 64)).save(str(path))
    return config.TorchServeEndpoint.model_validate({
        "server": "torchserve", "name": "bench-vision", "instance_type": "ml.m5.xlarge",
        "model": {"source": {"kind": "torchscript", "path": str(path)}, "handler": "vision"},
        "tuning": {"batch_size": batch_size, "max_batch_delay_ms": 5},
    })


def start_with(endpoint, artifact, workdir: Path, extra_env: dict[str, str]):
    """torchserve.start with extra container environment (what a config field would add)."""
    original = torchserve.environment

    def environment(*args, **kwargs):
        env = original(*args, **kwargs)
        env.update(extra_env)
        return env

    torchserve.environment = environment
    try:
        return torchserve.start(endpoint, artifact, workdir=workdir, progress=lambda _m: None)
    finally:
        torchserve.environment = original


def throughput(served, body: bytes, clients: int, total: int) -> str:
    for _ in range(5):
        post(served.url, body, "application/x-npy")
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        samples = list(pool.map(lambda _i: post(served.url, body, "application/x-npy"), range(total)))
    elapsed = time.perf_counter() - started
    return f"{total / elapsed:.0f} req/s, {percentiles(samples)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--skip-batching", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="servekit-bench-ts-") as tmp:
        root = Path(tmp)
        cfg = config.load(REPO / "servekit.yaml")
        qa = next(e for e in cfg.endpoints if isinstance(e, config.TorchServeEndpoint))
        artifact = build(qa, cache_dir=root / "cache")
        with torchserve.start(qa, artifact.path, workdir=root / "qa", progress=lambda _m: None) as served:
            sequential("question-answering (tiny DistilBERT)", served, QA_BODY.encode(), "application/json", args.requests)

        image = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
        buffer = io.BytesIO()
        np.save(buffer, image, allow_pickle=False)
        body = buffer.getvalue()
        endpoint = vision_endpoint(root, 1)
        artifact = build(endpoint, cache_dir=root / "cache")
        with torchserve.start(endpoint, artifact.path, workdir=root / "v1", progress=lambda _m: None) as served:
            sequential("vision (3x64x64 CNN)", served, body, "application/x-npy", args.requests)
            if not args.skip_batching:
                print(f"  batch_size 1, stock toolkit handler, 16 clients: {throughput(served, body, 16, 400)}")
        if args.skip_batching:
            return
        endpoint = vision_endpoint(root, 8)
        artifact = build(endpoint, cache_dir=root / "cache")
        for label, env in (("stock toolkit handler", {}),
                           ("servekit handle (TS_DEFAULT_SERVICE_HANDLER=inference:handle)",
                            {"TS_DEFAULT_SERVICE_HANDLER": "inference:handle"})):
            with start_with(endpoint, artifact.path, root / f"v8-{len(env)}", env) as served:
                print(f"  batch_size 8 (max delay 5 ms), {label}, 16 clients: {throughput(served, body, 16, 400)}")


if __name__ == "__main__":
    main()
