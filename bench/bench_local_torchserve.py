"""TorchServe batching: throughput at concurrency 16 with SAGEMAKER_TS_BATCH_SIZE 1 vs 8, through the stock toolkit
path and through servekit's handler (`tuning.batched_forward: true` routes each batch to the handler's handle()).

    .venv/bin/python bench/bench_local_torchserve.py [--duration 15] [--warmup 3] [--concurrency 16] [--omp-threads 1]

Two examples, each served by the real local TorchServe (the SageMaker PyTorch toolkit's own entry): the
question-answering model (JSON, examples/question-answering.json) and the resnet example on the vision handler
(one 1x3x224x224 float32 image as x-npy). Four configurations each, made from servekit.yaml's endpoint with
servekit.bench.with_setting (model_copy + validation): batch_size 1 and 8 x batched_forward false and true.
The load is servekit bench's (servekit.bench.run_step). Start-up and sequential latency: bench_serving_overhead.py.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servekit import bench, config, local  # noqa: E402
from servekit.model_build import build  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def examples(cfg: config.ServekitConfig) -> list[tuple[str, object, str]]:
    qa = next(e for e in cfg.endpoints if e.name == "question-answering")
    vision = qa.model_copy(update={"name": "resnet-torchserve", "model": qa.model.model_copy(update={
        "source": config.ExampleSource(kind="example", name="resnet"), "handler": "vision"})})
    return [("question-answering (tiny DistilBERT)", qa, "json"), ("resnet, vision handler", vision, "x-npy")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", default="", help="question-answering or resnet")
    parser.add_argument("--cache-dir", default=str(REPO / ".servekit" / "cache"))
    parser.add_argument("--omp-threads", type=int, default=0, help="tuning.omp_num_threads of the TorchServe "
                        "workers (0: unset, torch's default of one per core)")
    args = parser.parse_args()
    load = os.getloadavg()
    cfg = config.load(REPO / "servekit.yaml")
    limits = bench.Limits(duration_s=args.duration, warmup_s=args.warmup, timeout_s=120)
    rows = [["model", "batch_size", "handler path", f"req/s at c={args.concurrency}", "p50 ms", "p99 ms", "errors"]]
    summary = []
    with tempfile.TemporaryDirectory(prefix="servekit-bench-ts-") as tmp:
        for label, base, encoding in examples(cfg):
            if args.only and args.only not in base.name:
                continue
            artifact = build(base, cache_dir=Path(args.cache_dir)).path
            (payload,) = bench.choose_payloads(bench.payloads_for(base, artifact), [encoding])
            throughput = {}
            for batched in (False, True):
                for batch_size in (1, 8):
                    endpoint = bench.with_setting(base, ("tuning", "batch_size"), batch_size)
                    endpoint = bench.with_setting(endpoint, ("tuning", "batched_forward"), batched)
                    endpoint = bench.with_setting(endpoint, ("tuning", "omp_num_threads"), args.omp_threads or None)
                    path = "servekit handle() (batched_forward)" if batched else "stock toolkit (per request)"
                    work = Path(tmp) / f"{base.name}-{batch_size}-{batched}"
                    with local.start(endpoint, artifact, workdir=work, progress=lambda _m: None) as server:
                        r = bench.run_step(bench.local_target(server.url), payload, concurrency=args.concurrency,
                                           limits=limits, variant=f"batch_size={batch_size}")
                    throughput[(batched, batch_size)] = r.throughput_rps
                    rows.append([label, str(batch_size), path, f"{r.throughput_rps:.1f}", bench.format_ms(r.p50_ms),
                                 bench.format_ms(r.p99_ms), f"{r.errors}" + (f" ({r.error_sample})" if r.errors else "")])
                    print(" | ".join(rows[-1]), flush=True)
            for batched in (False, True):
                gain = throughput[(batched, 8)] / throughput[(batched, 1)] if throughput[(batched, 1)] else float("nan")
                summary.append(f"{label}, {'servekit handle()' if batched else 'stock toolkit'}: batch 8 gives "
                               f"{gain:.2f}x the throughput of batch 1")
    print()
    print(bench.markdown_table(rows))
    print()
    print("\n".join(summary))
    print(f"TorchServe worker intra-op threads: {args.omp_threads or 'default'}")
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after "
          "(the load generator and TorchServe share the cores)")


if __name__ == "__main__":
    main()
