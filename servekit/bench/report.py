"""Reports of a run: the recommendation, terminal tables, JSON, CSV and PNG, the machine's facts."""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servekit.bench.stats import (
    CSV_COLUMNS,
    StepResult,
    _num,
)


@dataclass(frozen=True)
class Recommendation:
    variant: str
    step: StepResult | None
    reason: str


def recommend(results: Sequence[StepResult], p99_budget_ms: float | None) -> Recommendation:
    """The variant (sweep value) and step with the highest throughput among error-free steps whose p99 fits the
    budget (ties: the lower p99). Without a budget: the highest throughput among error-free steps."""
    clean = [r for r in results if r.errors == 0 and r.ok > 0 and r.p99_ms is not None]
    fitting = [r for r in clean if p99_budget_ms is None or r.p99_ms <= p99_budget_ms]
    budget = f" (p99 budget {p99_budget_ms:g} ms)" if p99_budget_ms is not None else ""
    if not fitting:
        if not clean:
            return Recommendation("", None, "no step ran without errors; nothing to recommend")
        low = min(clean, key=lambda r: r.p99_ms)
        return Recommendation("", None, f"no step keeps p99 within {p99_budget_ms:g} ms; the lowest p99 was "
                              f"{low.p99_ms:.1f} ms ({step_label(low)}). Raise the budget or use a larger instance")
    best = max(fitting, key=lambda r: (r.throughput_rps, -r.p99_ms))
    return Recommendation(best.variant, best, f"{step_label(best)}: {best.throughput_rps:.1f} req/s with p99 "
                          f"{best.p99_ms:.1f} ms and no errors{budget}")


def step_label(r: StepResult) -> str:
    return ", ".join(p for p in (r.variant, r.payload, r.step) if p)


def format_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def server_time_line(server_ms: dict[str, float]) -> str:
    """Where the server's time went per request, in words (the TFS emulation's timings, warm-up included)."""
    parts = []
    if "handler_ms" in server_ms:
        parts.append(f"handler {server_ms['handler_ms']:.1f} ms/request")
    if "tfs_ms" in server_ms:
        parts.append(f"TensorFlow Serving {server_ms['tfs_ms']:.1f} ms (the model's run {server_ms.get('model_ms', 0):.1f} ms)")
    if "handler_own_ms" in server_ms:
        parts.append(f"the handler's own {server_ms['handler_own_ms']:.1f} ms")
    return ", ".join(parts) + " (means, the emulation's clock)"


def results_table(results: Sequence[StepResult], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    show_variant = any(r.variant for r in results)
    columns = (["value"] if show_variant else []) + ["payload", "step", "requests", "req/s", "p50 ms", "p90 ms",
                                                     "p99 ms", "max ms", "errors"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("value", "payload", "step") else "right")
    for r in results:
        errors = str(r.errors) + (f" ({_kinds(r.error_kinds)})" if r.errors else "")
        cells = ([r.variant] if show_variant else []) + [
            r.payload, r.step, str(r.requests), f"{r.throughput_rps:.1f}", format_ms(r.p50_ms), format_ms(r.p90_ms),
            format_ms(r.p99_ms), format_ms(r.max_ms), errors]
        table.add_row(*cells)
    return table


def comparison_table(results: Sequence[StepResult], title: str) -> Any:
    """Sweep values side by side: one row per payload and step, per value `req/s | p50 | p99 | errors`."""
    from rich.table import Table

    variants = list(dict.fromkeys(r.variant for r in results))
    rows = list(dict.fromkeys((r.payload, r.step) for r in results))
    by_key = {(r.variant, r.payload, r.step): r for r in results}
    table = Table(title=title)
    table.add_column("payload")
    table.add_column("step")
    for variant in variants:
        table.add_column(f"{variant}\nreq/s | p50 | p99 ms | err", justify="right")
    for payload, step in rows:
        cells = [payload, step]
        for variant in variants:
            r = by_key.get((variant, payload, step))
            cells.append("-" if r is None else
                         f"{r.throughput_rps:.1f} | {format_ms(r.p50_ms)} | {format_ms(r.p99_ms)} | {r.errors}")
        table.add_row(*cells)
    return table


def _kinds(kinds: dict[str, int]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in kinds.items())


def write_json(path: Path, results: Sequence[StepResult], meta: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**meta, "steps": [r.row() for r in results]}, indent=2, default=str) + "\n")
    return path


def write_csv(path: Path, results: Sequence[StepResult]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in results:
            row = r.row()
            row["error_kinds"] = _kinds(r.error_kinds)
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def plot(path: Path, results: Sequence[StepResult], title: str) -> Path:
    """Latency (p50 solid, p99 dashed) and throughput against concurrency (or offered rate), one line per
    sweep value and payload. Written with matplotlib's Agg canvas (no display needed)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5), layout="constrained")
    latency, throughput = figure.subplots(1, 2)
    closed = any(r.concurrency is not None for r in results)
    xlabel = "concurrency (requests in flight)" if closed else "offered rate (requests/s)"
    series: dict[str, list[StepResult]] = {}
    for r in results:
        series.setdefault(" ".join(p for p in (r.variant, r.payload) if p) or "requests", []).append(r)
    for index, (name, points) in enumerate(series.items()):
        points = sorted(points, key=lambda r: r.load)
        color = f"C{index % 10}"
        xs = [r.load for r in points]
        p50 = [math.nan if r.p50_ms is None else r.p50_ms for r in points]
        p99 = [math.nan if r.p99_ms is None else r.p99_ms for r in points]
        latency.plot(xs, p50, marker="o", color=color, label=f"{name} p50")
        latency.plot(xs, p99, marker="^", linestyle="--", color=color, label=f"{name} p99")
        throughput.plot(xs, [r.throughput_rps for r in points], marker="o", color=color, label=name)
    for axes, ylabel in ((latency, "latency (ms)"), (throughput, "throughput (answers 200 per s)")):
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.grid(True, alpha=0.3)
        loads = sorted({r.load for r in results})
        if len(loads) > 1 and loads[0] > 0 and loads[-1] / loads[0] >= 8:
            axes.set_xscale("log", base=2)
        axes.set_xticks(loads, [_num(x) for x in loads])
        axes.legend(fontsize="small")
    latency.set_ylim(bottom=0)
    throughput.set_ylim(bottom=0)
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


def machine_facts() -> dict[str, Any]:
    """What the figures depend on: cores, load average, platform, versions."""
    from importlib import metadata

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "?"

    load1, load5, load15 = os.getloadavg()
    return {
        "cpu_count": os.cpu_count(), "load_average": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "platform": platform.platform(), "python": sys.version.split()[0], "aiohttp": version("aiohttp"),
    }


def markdown_table(rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured table; the first row is the header (used by the scripts in bench/)."""
    text = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(text[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in text]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
