"""The load generator: aiohttp clients at a concurrency or an open-loop rate, bounded by Limits."""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass
from typing import Any

from servekit.bench.common import (
    ERROR_SAMPLE_CHARS,
    HARD_LIMITS,
    BenchError,
    ProgressFn,
)
from servekit.bench.payloads import (
    Payload,
)
from servekit.bench.stats import (
    StepResult,
)
from servekit.bench.target import (
    Target,
)


@dataclass(frozen=True)
class Limits:
    """How long each step runs. A step ends at `duration_s` or after `requests` requests, whichever comes
    first; in-flight requests then finish (at most `timeout_s` later)."""

    duration_s: float = 10.0
    requests: int | None = None
    warmup_s: float = 2.0
    timeout_s: float = 30.0
    max_in_flight: int = 1024  # open loop: beyond this, a due request is counted as an error, not sent

    def checked(self) -> Limits:
        problems = []
        if not 0 < self.duration_s <= HARD_LIMITS["duration_s"]:
            problems.append(f"--duration {self.duration_s:g}: use 0 < seconds <= {HARD_LIMITS['duration_s']:g}")
        if self.requests is not None and not 0 < self.requests <= HARD_LIMITS["requests"]:
            problems.append(f"--requests {self.requests}: use 1..{HARD_LIMITS['requests']}")
        if not 0 <= self.warmup_s <= HARD_LIMITS["duration_s"]:
            problems.append(f"--warmup {self.warmup_s:g}: use 0..{HARD_LIMITS['duration_s']:g} seconds")
        if not 0 < self.timeout_s <= HARD_LIMITS["timeout_s"]:
            problems.append(f"--timeout {self.timeout_s:g}: use 0 < seconds <= {HARD_LIMITS['timeout_s']:g}")
        if problems:
            raise BenchError("; ".join(problems))
        return self


class _Recorder:
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.errors: collections.Counter[str] = collections.Counter()
        self.samples: dict[str, str] = {}
        self.last_end = 0.0

    def add(self, latency_s: float, end: float, error: str | None, detail: str | None) -> None:
        self.last_end = max(self.last_end, end)
        if error is None:
            self.latencies_ms.append(latency_s * 1000.0)
        else:
            self.errors[error] += 1
            if detail and error not in self.samples:
                self.samples[error] = detail[:ERROR_SAMPLE_CHARS]

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def sample(self) -> str | None:
        return "; ".join(f"{k}: {v}" for k, v in self.samples.items()) or None


async def _send(session: Any, target: Target, payload: Payload, recorder: _Recorder, started: float | None = None):
    """One request; the latency runs from `started` (the scheduled time in an open loop) to the last byte."""
    import aiohttp

    headers = payload.headers
    if target.sign is not None:
        headers = target.sign(target.url, payload.body, headers)
    begin = time.perf_counter() if started is None else started
    error = detail = None
    try:
        async with session.post(target.url, data=payload.body, headers=headers) as response:
            body = await response.read()
            if response.status != 200:
                error, detail = f"HTTP {response.status}", body[:ERROR_SAMPLE_CHARS].decode(errors="replace")
    except TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as err:
        error, detail = type(err).__name__, str(err)
    except OSError as err:
        error, detail = type(err).__name__, str(err)
    end = time.perf_counter()
    recorder.add(end - begin, end, error, detail)


async def _closed_loop(session: Any, target: Target, payload: Payload, concurrency: int, deadline: float,
                       max_requests: int | None, recorder: _Recorder) -> None:
    issued = 0

    async def slot() -> None:
        nonlocal issued
        while time.perf_counter() < deadline and (max_requests is None or issued < max_requests):
            issued += 1
            await _send(session, target, payload, recorder)

    await asyncio.gather(*(slot() for _ in range(concurrency)))


async def _open_loop(session: Any, target: Target, payload: Payload, rate: float, start: float, deadline: float,
                     max_requests: int | None, max_in_flight: int, recorder: _Recorder) -> None:
    in_flight: set[asyncio.Task] = set()
    index = 0
    while max_requests is None or index < max_requests:
        due = start + index / rate
        if due >= deadline:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        index += 1
        if len(in_flight) >= max_in_flight:
            recorder.add(0.0, time.perf_counter(), "not sent: in-flight cap", f"{max_in_flight} requests in flight")
            continue
        task = asyncio.create_task(_send(session, target, payload, recorder, started=due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.gather(*in_flight)


async def _ticker(phase: str, recorder: _Recorder, began: float, progress: ProgressFn, stop: asyncio.Event) -> None:
    while not stop.is_set():
        progress(phase, recorder.ok, recorder.failed, time.perf_counter() - began)
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except TimeoutError:
            pass
    progress(phase, recorder.ok, recorder.failed, time.perf_counter() - began)


async def run_step_async(
    target: Target, payload: Payload, *, concurrency: int | None = None, rate: float | None = None,
    limits: Limits = Limits(), variant: str = "", progress: ProgressFn | None = None,
) -> StepResult:
    """Warm up, then measure one step: `concurrency` requests in flight, or `rate` requests per second."""
    import aiohttp

    if (concurrency is None) == (rate is None):
        raise BenchError("give a step either a concurrency or a rate")
    if concurrency is not None and not 1 <= concurrency <= HARD_LIMITS["concurrency"]:
        raise BenchError(f"concurrency {concurrency}: use 1..{HARD_LIMITS['concurrency']}")
    if rate is not None and not 0 < rate <= HARD_LIMITS["rate"]:
        raise BenchError(f"rate {rate:g}: use 0 < requests/s <= {HARD_LIMITS['rate']:g}")
    connections = concurrency if concurrency is not None else limits.max_in_flight
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    timeout = aiohttp.ClientTimeout(total=limits.timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def phase(name: str, seconds: float, max_requests: int | None) -> tuple[_Recorder, float]:
            recorder = _Recorder()
            began = time.perf_counter()
            stop = asyncio.Event()
            ticker = asyncio.create_task(_ticker(name, recorder, began, progress, stop)) if progress else None
            deadline = began + seconds
            if concurrency is not None:
                await _closed_loop(session, target, payload, concurrency, deadline, max_requests, recorder)
            else:
                await _open_loop(session, target, payload, rate, began, deadline, max_requests,
                                 limits.max_in_flight, recorder)
            stop.set()
            if ticker is not None:
                await ticker
            return recorder, began

        if limits.warmup_s > 0:
            await phase("warm-up", limits.warmup_s, None)
        recorder, began = await phase("measure", limits.duration_s, limits.requests)
    duration = max(recorder.last_end - began, 1e-9) if recorder.last_end else 0.0
    return StepResult.from_samples(
        latencies_ms=recorder.latencies_ms, error_kinds=recorder.errors, duration_s=duration, variant=variant,
        payload=payload.name, concurrency=concurrency, rate=rate, error_sample=recorder.sample(),
    )


def run_step(target: Target, payload: Payload, **kwargs: Any) -> StepResult:
    """run_step_async in its own event loop (what the CLI and the bench/ scripts call)."""
    return asyncio.run(run_step_async(target, payload, **kwargs))
