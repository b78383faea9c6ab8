"""Statistics of one load step (StepResult) and percentiles."""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default).
    NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class StepResult:
    """One measured step. Latencies are of the answers with status 200, in milliseconds; throughput is those
    answers per second of the step's wall time (first send to last answer)."""

    variant: str  # the sweep value ("batch_size=8"), or "" without a sweep
    payload: str  # encoding: json, x-npy, kserve-json, binary+json, custom
    concurrency: int | None
    rate: float | None
    requests: int
    ok: int
    errors: int
    duration_s: float
    throughput_rps: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_sample: str | None = None
    server_ms: dict[str, float] | None = None  # where the server's time went, when it says (per_request_ms)

    @classmethod
    def from_samples(
        cls, *, latencies_ms: Sequence[float], error_kinds: collections.Counter | dict[str, int], duration_s: float,
        variant: str = "", payload: str = "", concurrency: int | None = None, rate: float | None = None,
        error_sample: str | None = None,
    ) -> StepResult:
        errors = int(sum(error_kinds.values()))
        ok = len(latencies_ms)

        def stat(value: float) -> float | None:
            return None if math.isnan(value) else round(value, 3)

        return cls(
            variant=variant, payload=payload, concurrency=concurrency, rate=rate,
            requests=ok + errors, ok=ok, errors=errors, duration_s=round(duration_s, 3),
            throughput_rps=round(ok / duration_s, 3) if duration_s > 0 else 0.0,
            p50_ms=stat(percentile(latencies_ms, 50)), p90_ms=stat(percentile(latencies_ms, 90)),
            p99_ms=stat(percentile(latencies_ms, 99)), max_ms=stat(max(latencies_ms, default=math.nan)),
            mean_ms=stat(sum(latencies_ms) / ok if ok else math.nan),
            error_kinds=dict(sorted(error_kinds.items())), error_sample=error_sample,
        )

    @property
    def load(self) -> float:
        """The x axis: concurrency in a closed loop, the offered rate in an open loop."""
        return float(self.concurrency if self.concurrency is not None else self.rate or 0.0)

    @property
    def step(self) -> str:
        return f"c={self.concurrency}" if self.concurrency is not None else f"rate={_num(self.rate)}/s"

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def row(self) -> dict[str, Any]:
        """A flat record (bench.json's steps, bench.csv's rows)."""
        data = asdict(self)
        data["step"] = self.step
        return data


def per_request_ms(before: dict[str, dict[str, float]] | None,
                   after: dict[str, dict[str, float]] | None) -> dict[str, float] | None:
    """Mean milliseconds per request of each kind of the server's own timings (the TFS emulation's "handler",
    "tfs", "model"; servekit.servers.tfs.emulation.Timings) between two snapshots, and `handler_own_ms`: the
    handler's time less TensorFlow Serving's, which is what tuning the handler can change. None without both."""
    if before is None or after is None:
        return None
    out: dict[str, float] = {}
    for kind, now in after.items():
        then = before.get(kind, {"count": 0, "seconds": 0.0})
        count = now["count"] - then["count"]
        if count > 0:
            out[f"{kind}_ms"] = round((now["seconds"] - then["seconds"]) * 1000 / count, 3)
    if "handler_ms" in out and "tfs_ms" in out:
        out["handler_own_ms"] = round(out["handler_ms"] - out["tfs_ms"], 3)
    return out or None


CSV_COLUMNS = ["variant", "payload", "step", "concurrency", "rate", "requests", "ok", "errors", "duration_s",
               "throughput_rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "error_kinds"]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"
