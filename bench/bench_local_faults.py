"""Each local server under sustained load, then stopped by each signal under load.

    .venv/bin/python bench/bench_local_faults.py [--seconds 60] [--concurrency 32] [--stop-concurrency 16]
                                                 [--servers torchserve,triton,tfs] [--out .servekit/bench/faults]

1. Sustained load: the embedded default's endpoint of each server (question-answering on the real
   TorchServe, resnet on the real tritonserver with binary+json, image-classifier on the TFS emulation) is
   built, served, and sent its example request for --seconds at --concurrency (servekit.bench, closed loop).
   Printed: requests, errors (any non-200 or transport failure), throughput and latency.
2. Stop under load: `servekit serve <endpoint>` (TorchServe and Triton), busy at --stop-concurrency, is sent
   SIGINT (to its process group, as Ctrl-C), SIGTERM, SIGHUP or SIGKILL; printed are the seconds until no
   process of that server is left and its port is closed.

Writes faults.json and faults.png (stop seconds per server and signal) under --out. Figures, not assertions:
the integration tests (tests/integration/test_serve_signals.py) check the bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from servekit import bench, config, local
from servekit.local.process import free_port, http_status
from servekit.model_build import build

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = {"torchserve": "question-answering", "triton": "resnet", "tfs": "image-classifier"}
PAYLOAD = {"torchserve": "json", "triton": "binary+json", "tfs": "json"}
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]


def payload_of(server: str, endpoint, artifact: Path) -> bench.Payload:
    payloads = bench.payloads_for(endpoint, artifact)
    return next((p for p in payloads if p.name == PAYLOAD[server]), payloads[0])


def sustained(server: str, endpoint, artifact: Path, seconds: float, concurrency: int, workdir: Path) -> dict:
    payload = payload_of(server, endpoint, artifact)
    with local.start(endpoint, artifact, workdir=workdir, progress=lambda m: None) as served:
        result = bench.run_step(bench.local_target(served.url), payload, concurrency=concurrency,
                                limits=bench.Limits(duration_s=seconds, warmup_s=2.0))
    return {"server": server, "endpoint": endpoint.name, "payload": payload.name, "concurrency": concurrency,
            "seconds": round(result.duration_s, 1), "requests": result.requests, "errors": result.errors,
            "throughput_rps": round(result.throughput_rps, 1), "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
            "error_kinds": result.error_kinds}


def server_processes(workdir: Path) -> int:
    count = 0
    for process in psutil.process_iter(["cmdline", "cwd", "status"]):
        if process.info["status"] != psutil.STATUS_ZOMBIE and (
                str(workdir) in " ".join(process.info["cmdline"] or ()) or str(workdir) in (process.info["cwd"] or "")):
            count += 1
    return count


def stop_under_load(server: str, endpoint, artifact: Path, signum: int, concurrency: int, workdir: Path) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (workdir.parent / f"{workdir.name}.out").open("w") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "servekit.cli", "serve", endpoint.name, "--port", str(port),
             "--workdir", str(workdir)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while http_status(f"{url}/ping") != 200:
        if serve.poll() is not None or time.monotonic() > deadline:
            serve.kill()
            raise SystemExit(f"{endpoint.name}: servekit serve did not become healthy")
        time.sleep(0.5)
    payload = payload_of(server, endpoint, artifact)
    load = threading.Thread(target=bench.run_step, args=(bench.local_target(url), payload), daemon=True,
                            kwargs={"concurrency": concurrency, "limits": bench.Limits(duration_s=30, warmup_s=0)})
    load.start()
    time.sleep(3.0)  # the load is running
    processes = server_processes(workdir)
    started = time.monotonic()
    if signum == signal.SIGINT:
        os.killpg(serve.pid, signum)
    else:
        os.kill(serve.pid, signum)
    while (server_processes(workdir) or http_status(f"{url}/ping") is not None) and time.monotonic() - started < 120:
        time.sleep(0.05)
    seconds = time.monotonic() - started
    left = server_processes(workdir)
    if serve.poll() is None:
        serve.wait(timeout=60)
    load.join(timeout=60)
    return {"server": server, "signal": signal.Signals(signum).name, "processes": processes,
            "stop_seconds": round(seconds, 2), "left_after": left}


def plot(stops: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = sorted({s["server"] for s in stops})
    names = [s.name for s in SIGNALS]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / max(len(servers), 1)
    for i, server in enumerate(servers):
        values = [next((s["stop_seconds"] for s in stops if s["server"] == server and s["signal"] == n), 0)
                  for n in names]
        ax.bar([x + i * width for x in range(len(names))], values, width, label=server)
    ax.set_xticks([x + width * (len(servers) - 1) / 2 for x in range(len(names))], names)
    ax.set_ylabel("seconds until every process is gone")
    ax.set_title("servekit serve stopped under load")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stop-concurrency", type=int, default=16)
    parser.add_argument("--servers", default="torchserve,triton,tfs")
    parser.add_argument("--cache-dir", default=".servekit/cache")
    parser.add_argument("--out", default=".servekit/bench/faults")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cfg = config.load(ROOT / "servekit.yaml")
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    built = {}
    for server in servers:
        endpoint = next(e for e in cfg.endpoints if e.name == ENDPOINTS[server])
        built[server] = (endpoint, build(endpoint, cache_dir=Path(args.cache_dir)).path)

    loads = []
    print(f"1. {args.seconds:.0f} s at concurrency {args.concurrency}")
    print(f"{'server':11} {'endpoint':19} {'payload':12} {'requests':>9} {'errors':>7} {'req/s':>7} {'p50 ms':>8} "
          f"{'p99 ms':>8}")
    for server in servers:
        endpoint, artifact = built[server]
        row = sustained(server, endpoint, artifact, args.seconds, args.concurrency, out / f"{server}-load")
        loads.append(row)
        print(f"{server:11} {row['endpoint']:19} {row['payload']:12} {row['requests']:>9} {row['errors']:>7} "
              f"{row['throughput_rps']:>7.1f} {row['p50_ms'] or 0:>8.1f} {row['p99_ms'] or 0:>8.1f}"
              + (f"  {row['error_kinds']}" if row["errors"] else ""), flush=True)

    stops = []
    print(f"\n2. stop under load (concurrency {args.stop_concurrency})")
    print(f"{'server':11} {'signal':8} {'processes':>9} {'stop s':>7} {'left':>5}")
    for server in [s for s in servers if s != "tfs"]:
        endpoint, artifact = built[server]
        for signum in SIGNALS:
            row = stop_under_load(server, endpoint, artifact, signum, args.stop_concurrency,
                                  out / f"{server}-{signal.Signals(signum).name}")
            stops.append(row)
            print(f"{server:11} {row['signal']:8} {row['processes']:>9} {row['stop_seconds']:>7.2f} "
                  f"{row['left_after']:>5}", flush=True)

    (out / "faults.json").write_text(json.dumps({"load": loads, "stop": stops}, indent=2) + "\n")
    if stops:
        plot(stops, out / "faults.png")
    print(f"\nwrote {out / 'faults.json'}" + (f" and {out / 'faults.png'}" if stops else ""))


if __name__ == "__main__":
    main()
