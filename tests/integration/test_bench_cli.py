"""`servekit bench` as a user runs it: the question-answering artifact in real TorchServe, two short steps, and the
JSON, CSV and PNG it writes. Counts and files only: speed is measured in bench/, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from servekit import bench
from servekit.local.process import http_status

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_when_bench_runs_against_local_torchserve_then_it_reports_each_step_in_json_csv_and_png(tmp_path):
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "servekit.cli", "bench", "question-answering", "--concurrency", "1,2",
         "--duration", "3", "--warmup", "1", "--output-dir", str(out), "--workdir", str(tmp_path / "server")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "servekit bench question-answering (torchserve, local)" in run.stdout
    assert "healthy" in run.stderr and "payload json: application/json" in run.stderr

    data = json.loads((out / "bench.json").read_text())
    assert data["endpoint"] == "question-answering" and data["server"] == "torchserve"
    assert data["machine_at_start"]["cpu_count"] >= 1 and len(data["machine_at_end"]["load_average"]) == 3
    (variant,) = data["variants"]
    assert variant["target"] == "local" and variant["emulated"] is False
    assert [s["step"] for s in data["steps"]] == ["c=1", "c=2"]
    for s in data["steps"]:
        assert s["ok"] > 0 and s["errors"] == 0 and s["payload"] == "json"
        assert 0 < s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"] <= s["max_ms"]
        assert s["throughput_rps"] > 0

    rows = bench.read_csv(out / "bench.csv")
    assert [r["step"] for r in rows] == ["c=1", "c=2"]
    assert [int(r["ok"]) for r in rows] == [s["ok"] for s in data["steps"]]

    from matplotlib import image

    png = out / "bench.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.imread(str(png)).shape[1] > 400

    # The server was stopped at the end of the run.
    assert http_status(f"{variant['url'].removesuffix('/invocations')}/ping") is None


def test_when_bench_runs_against_the_tfs_emulation_then_each_step_gives_the_handlers_own_time(tmp_path):
    """The emulation times its handler, its TensorFlow Serving and the model's run (GET /servekit/timings), so a
    user tuning code/inference.py sees the handler's cost apart from the model's. Values are not asserted (the
    emulation's clock, on a shared machine): only that they are there and consistent."""
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "servekit.cli", "bench", "image-classifier", "--concurrency", "1", "--encoding",
         "x-npy", "--duration", "3", "--warmup", "1", "--output-dir", str(out), "--workdir", str(tmp_path / "server")],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "the handler's own" in run.stderr
    (step,) = json.loads((out / "bench.json").read_text())["steps"]
    timings = step["server_ms"]
    assert set(timings) == {"handler_ms", "tfs_ms", "model_ms", "handler_own_ms"}
    assert 0 < timings["model_ms"] <= timings["tfs_ms"] <= timings["handler_ms"]
    assert timings["handler_own_ms"] == pytest.approx(timings["handler_ms"] - timings["tfs_ms"], abs=0.01)
