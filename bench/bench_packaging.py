"""Packaging throughput of servekit's deterministic archive writer vs `tar -czf`, and example build times.

    .venv/bin/python bench/bench_packaging.py [--size-mb 500] [--skip-examples]

Writes a weights-like file (float32 from a normal distribution, which gzip shrinks only a little, as
real weights) of --size-mb MB, packages it with servekit.model_build.archive.write_archive and with
`tar -czf` (gzip level 6), with one thread and with every core, at levels 6 and 1, and prints MB/s, the ratio to
tar and whether the threads changed the bytes (they must not). Then builds each example of servekit.yaml cold (empty
cache) and cached, and prints build times and archive sizes. Figures, not a timed test.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servekit import config, servers  # noqa: E402
from servekit.bench import machine_facts, markdown_table  # noqa: E402
from servekit.model_build import build  # noqa: E402
from servekit.model_build.archive import COMPRESS_LEVEL, write_archive  # noqa: E402


def make_weights(path: Path, size_mb: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    chunk = 1 << 18  # float32 values per chunk: 1 MiB
    with open(path, "wb") as f:
        for _ in range(size_mb * 1_000_000 // (chunk * 4) + 1):
            f.write(rng.normal(0, 0.02, chunk).astype(np.float32).tobytes())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--skip-examples", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        src = tmp_path / "src"
        src.mkdir()
        weights = src / "model.pt"
        make_weights(weights, args.size_mb)
        size = weights.stat().st_size / 1e6
        rows = [["packager", "level", "threads", "seconds", "MB/s", "x tar -czf", "archive MB", "sha256 (first 12)"]]
        start = time.perf_counter()
        subprocess.run(["tar", "-czf", str(tmp_path / "tar.tar.gz"), "-C", str(src), "model.pt"], check=True)
        tar_s = time.perf_counter() - start
        rows.append(["tar -czf", "6", "1", f"{tar_s:.1f}", f"{size / tar_s:.1f}", "1.00",
                     f"{(tmp_path / 'tar.tar.gz').stat().st_size / 1e6:.1f}", ""])
        cores = len(os.sched_getaffinity(0))
        digests: dict[int, set[str]] = {}
        for level in (6, 1):
            for workers in sorted({1, cores}):
                dest = tmp_path / f"servekit-{level}-{workers}.tar.gz"
                start = time.perf_counter()
                write_archive({"model.pt": weights}, dest, compresslevel=level, workers=workers)
                took = time.perf_counter() - start
                digest = hashlib.sha256(dest.read_bytes()).hexdigest()
                digests.setdefault(level, set()).add(digest)
                rows.append([f"servekit archive.py{' (default)' if level == COMPRESS_LEVEL and workers == cores else ''}",
                             str(level), str(workers), f"{took:.1f}", f"{size / took:.1f}", f"{tar_s / took:.2f}",
                             f"{dest.stat().st_size / 1e6:.1f}", digest[:12]])
                dest.unlink()
        print(markdown_table(rows))
        facts = machine_facts()
        print(f"machine: {facts['cpu_count']} cores, load average {facts['load_average'][0]:.2f}")
        for level, found in digests.items():
            print(f"level {level}: {'one archive' if len(found) == 1 else 'DIFFERENT archives'} whatever the threads")
        if args.skip_examples:
            return
        cfg = config.load(Path(__file__).resolve().parents[1] / "servekit.yaml")
        cache = tmp_path / "cache"
        rows = [["endpoint", "server", "example", "cold s", "cached s", "archive KB"]]
        for ep in cfg.endpoints:
            start = time.perf_counter()
            artifact = build(ep, cache_dir=cache)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            build(ep, cache_dir=cache)
            cached = time.perf_counter() - start
            source = servers.get(ep.server).models(ep)[0][1].source
            rows.append([ep.name, ep.server, getattr(source, "name", source.kind), f"{cold:.1f}", f"{cached:.4f}",
                         f"{artifact.size_bytes / 1e3:.0f}"])
        print()
        print(markdown_table(rows))


if __name__ == "__main__":
    main()
