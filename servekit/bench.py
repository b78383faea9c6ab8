"""`servekit bench <endpoint>`: load-test an endpoint, locally or deployed, and compare tuning values.

    servekit bench question-answering                                  # local TorchServe, concurrency 1,4,16
    servekit bench resnet --concurrency 1,8 --duration 20              # local Triton, every encoding
    servekit bench question-answering --rate 5,10 --requests 200       # open loop at a fixed request rate
    servekit bench question-answering --sweep batch_size=1,8 --p99-budget-ms 500
    servekit bench resnet --sweep preferred_batch_size=[4],[4,8] --concurrency 4,16
    servekit bench question-answering --url http://127.0.0.1:8080      # a server that already runs
    servekit bench question-answering --deployed                       # the SageMaker endpoint (SigV4)

What it does, in order:
- target: the endpoint's artifact is built (or taken from the cache) and served by `servekit.local.start`
  (the real TorchServe or Triton, or the TFS emulation, labelled so); or `--url` names a running server; or
  `--deployed` calls `<app>-<env>-<endpoint>` through SageMaker's runtime API, each request signed with SigV4
  by botocore with the credentials the AWS CLI would use;
- payloads: the endpoint's example request (examples/<endpoint>.json, or examples/question-answering.json for
  the question-answering handler) or, without one, a deterministic input made from the model's signature
  (Triton's config.pbtxt, the SavedModel's serving_default, 1x3x224x224 for the vision handler), sent in every
  encoding the server takes: JSON and x-npy (TorchServe vision, TFS), KServe JSON and Triton binary+json
  (servekit.codecs). `--encoding` picks some; `--data` sends your own file instead;
- steps: a closed loop at each `--concurrency` (N requests in flight, each sent when the previous one of its
  slot answers) or an open loop at each `--rate` (requests/s on a fixed schedule; latency counts from the
  scheduled time, so a slow server cannot hide its queueing), each after a warm-up whose answers are not
  counted, each ending at `--duration` seconds or `--requests` requests, whichever comes first;
- report: throughput (answers 200 per second), p50/p90/p99/max latency (ms, of answers 200) and errors (any
  other status, timeouts, refused connections, by kind) per step: a table on the terminal, bench.json,
  bench.csv and bench.png (latency and throughput against concurrency or rate) in the output folder;
- `--sweep key=v1,v2,...`: the local server is restarted with each value (the endpoint config copied with
  pydantic's model_copy and validated again), the steps are run for each, the results are shown side by
  side, and with `--p99-budget-ms` the value with the highest throughput whose p99 fits the budget with no
  errors is recommended.

Bounded: every step stops by itself (duration and request count, both capped: HARD_LIMITS), requests time
out (`--timeout`), in-flight requests are capped, and the whole run stops at `--max-total-seconds`.
Load is only ever sent to the one target named: the local server on 127.0.0.1, `--url`, or the deployed endpoint.

The helpers here (percentile, run_step, payloads, tables, plot) are shared with the scripts in bench/.
"""

from __future__ import annotations

import asyncio
import collections
import csv
import datetime as dt
import json
import math
import os
import platform
import sys
import tarfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from servekit import codecs, naming, servers

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"

# Nothing a user types can make a run unbounded: these cap every option.
HARD_LIMITS = {
    "duration_s": 600.0,  # per step
    "requests": 1_000_000,  # per step
    "concurrency": 1024,
    "rate": 10_000.0,  # requests per second
    "steps": 64,  # steps x payloads x sweep values
    "total_s": 4 * 3600.0,  # the whole run
    "timeout_s": 600.0,  # per request
}
DEFAULT_IMAGE_SHAPE = (1, 3, 224, 224)
ERROR_SAMPLE_CHARS = 300

SignFn = Callable[[str, bytes, dict[str, str]], dict[str, str]]
ProgressFn = Callable[[str, int, int, float], None]  # phase, ok, errors, elapsed seconds


class BenchError(Exception):
    """A run that cannot start as asked; the message says what to change."""


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------
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


CSV_COLUMNS = ["variant", "payload", "step", "concurrency", "rate", "requests", "ok", "errors", "duration_s",
               "throughput_rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "error_kinds"]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"


# ---------------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Payload:
    """One request body and its headers. `name` is the encoding (json, x-npy, kserve-json, binary+json)."""

    name: str
    body: bytes
    content_type: str
    accept: str = codecs.JSON
    description: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "Accept": self.accept}


def image(shape: Sequence[int] = DEFAULT_IMAGE_SHAPE, dtype: Any = np.float32, seed: int = 0) -> np.ndarray:
    """A deterministic input of `shape`: uniform [0, 1) floats, small integers, or b"servekit" strings."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.random(tuple(shape), dtype=np.float64).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 100, tuple(shape)).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, tuple(shape)).astype(bool)
    return np.full(tuple(shape), b"servekit", dtype=object)


def image_payloads(array: np.ndarray, *, json_key: str | None = None) -> list[Payload]:
    """JSON (nested lists, optionally under `json_key`, as the reference chapter sends images) and x-npy."""
    value = {json_key: array} if json_key else array
    body, ctype = codecs.encode_json(value)
    npy, npy_type = codecs.encode_npy(array)
    shape = "x".join(str(d) for d in array.shape)
    return [
        Payload("json", body, ctype, description=f"{shape} {array.dtype} as nested JSON lists"),
        Payload("x-npy", npy, npy_type, description=f"{shape} {array.dtype} as numpy .npy bytes"),
    ]


def triton_payloads(signature: codecs.TritonSignature, *, inputs: dict[str, np.ndarray] | None = None,
                    batch: int = 1, source: str = "") -> list[Payload]:
    """KServe JSON and binary+json of the same tensors: `inputs` (e.g. the example file's), or deterministic ones of
    one request of `batch` items (-1 dims become 16)."""
    if inputs is None:
        inputs = {
            spec.name: image([16 if d == -1 else d for d in signature.full_shape(spec, batch)],
                             object if spec.datatype == "BYTES" else spec.numpy_dtype)
            for spec in signature.inputs
        }
    shapes = ", ".join(f"{n} {'x'.join(map(str, a.shape))} {signature.input(n).datatype}" for n, a in inputs.items())
    shapes += f" from {source}" if source else ""
    payloads = []
    try:
        body, ctype = codecs.encode_kserve_json(inputs, signature=signature)
        payloads.append(Payload("kserve-json", body, ctype, description=f"{shapes}, KServe v2 JSON"))
    except codecs.CodecError:
        pass  # FP16/BF16 inputs travel in binary only
    body, ctype = codecs.encode_kserve_binary(inputs, signature=signature)
    payloads.append(Payload("binary+json", body, ctype, description=f"{shapes}, Triton binary+json"))
    return payloads


def example_array(body: bytes, key: str | None) -> np.ndarray | None:
    """The numeric tensor of a JSON example (nested lists, or under `key`) as float32, or None when it is not one."""
    try:
        value = json.loads(body)
        if key is not None and isinstance(value, dict):
            value = value.get(key)
        array = np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError):
        return None
    return array if array.ndim >= 1 and array.size > 0 else None


def example_file(endpoint: Any, handler: str | None) -> Path | None:
    candidates = [EXAMPLES_DIR / f"{endpoint.name}.json"]
    if handler == "question-answering":
        candidates.append(EXAMPLES_DIR / "question-answering.json")
    return next((p for p in candidates if p.is_file()), None)


def tfs_input(artifact: Path, model_name: str) -> np.ndarray:
    """One instance for `model_name`'s serving_default signature, read from saved_model.pb in the artifact
    (TensorFlow's protos: imports TensorFlow, a few seconds)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    with tarfile.open(artifact) as tar:
        members = sorted(
            (m for m in tar.getmembers() if m.isfile() and m.name.removeprefix("./").startswith(f"{model_name}/")
             and m.name.endswith("/saved_model.pb")),
            key=lambda m: int(m.name.removeprefix("./").split("/")[1]) if m.name.split("/")[-2].isdigit() else 0,
        )
        if not members:
            raise BenchError(f"{artifact}: no {model_name}/<version>/saved_model.pb; pass --data with a request body")
        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString(tar.extractfile(members[-1]).read())
    signature = proto.meta_graphs[0].signature_def.get("serving_default")
    if signature is None or len(signature.inputs) != 1:
        raise BenchError(f"{model_name}: serving_default is missing or takes several inputs; pass --data")
    (tensor,) = signature.inputs.values()
    dims = [d.size for d in tensor.tensor_shape.dim]
    shape = [1 if i == 0 and d == -1 else (16 if d == -1 else d) for i, d in enumerate(dims)]
    return image(shape, tf.dtypes.as_dtype(tensor.dtype).as_numpy_dtype)


def payloads_for(endpoint: Any, artifact: Path | None) -> list[Payload]:
    """The endpoint's example request in every encoding its server takes (see the module docstring): the example
    file examples/<endpoint>.json when there is one, else a deterministic input of the model's signature. Each
    server's payloads.py says which (servekit/servers/<server>/payloads.py)."""
    return servers.get(endpoint.server).payloads(endpoint, artifact)


def vision_shape(endpoint: Any) -> tuple[int, ...]:
    shape = os.environ.get("SERVEKIT_INPUT_SHAPE")
    if shape:
        return (1, *[int(d) for d in shape.split(",")])
    return DEFAULT_IMAGE_SHAPE


def custom_payload(path: Path, content_type: str, accept: str) -> Payload:
    try:
        body = path.read_bytes()
    except OSError as err:
        raise BenchError(f"--data {path}: {err.strerror}") from None
    return Payload("custom", body, content_type, accept, description=str(path))


# ---------------------------------------------------------------------------------------------
# Targets: where requests go, and how they are signed
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """`url` is the full /invocations URL; `sign` (deployed endpoints) returns the headers to send."""

    url: str
    label: str
    sign: SignFn | None = None


def sagemaker_endpoint_name(config: Any, endpoint_name: str) -> str:
    """The endpoint's name as the stacks give it: `<app>-<env>-<endpoint>`."""
    return naming.endpoint_name(config.app, endpoint_name)


def deployed_target(region: str, endpoint_name: str, *, credentials: Any = None) -> Target:
    """SageMaker runtime's InvokeEndpoint URL for the region (botocore's endpoint rules) and a SigV4 signer."""
    from urllib.parse import quote

    import botocore.session

    session = botocore.session.get_session()
    client = session.create_client("sagemaker-runtime", region_name=region)
    url = f"{client.meta.endpoint_url}/endpoints/{quote(endpoint_name, safe='')}/invocations"
    if credentials is None:
        credentials = session.get_credentials()
    if credentials is None:
        raise BenchError("--deployed: no AWS credentials found; configure them as for the AWS CLI "
                         "(AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role)")
    return Target(url=url, label=f"deployed {endpoint_name} ({region})", sign=sigv4_signer(region, credentials))


def sigv4_signer(region: str, credentials: Any, service: str = "sagemaker") -> SignFn:
    """Headers that sign one POST with AWS Signature V4 (botocore's own signer; refreshable credentials are
    re-read on each signature). InvokeEndpoint's signing service is `sagemaker`."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    auth = SigV4Auth(credentials, service, region)

    def sign(url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        auth.add_auth(request)
        return dict(request.headers.items())

    return sign


# ---------------------------------------------------------------------------------------------
# The load generator
# ---------------------------------------------------------------------------------------------
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


def local_target(url: str) -> Target:
    """A server at `url` (http://host:port, with or without /invocations)."""
    url = url.rstrip("/")
    if not url.endswith("/invocations"):
        url += "/invocations"
    return Target(url=url, label=url)


# ---------------------------------------------------------------------------------------------
# Parsing the command line's lists
# ---------------------------------------------------------------------------------------------
def split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside [...] or {...}: "1,[4,8],8" -> ["1", "[4,8]", "8"]."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth < 0:
                raise BenchError(f"{text!r}: a closing bracket without an opening one")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise BenchError(f"{text!r}: an opening bracket is never closed")
    parts.append("".join(current).strip())
    if any(not p for p in parts):
        raise BenchError(f"{text!r}: an empty value between commas")
    return parts


def parse_numbers(text: str, what: str, kind: type = int) -> list:
    try:
        values = [kind(v) for v in split_top_level(text)]
    except ValueError:
        raise BenchError(f"{what} {text!r}: expected comma-separated {kind.__name__}s, e.g. 1,4,16") from None
    return values


# ---------------------------------------------------------------------------------------------
# Sweeps: the same endpoint with one tuning value changed
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sweep:
    key: str  # as typed
    path: tuple[str, ...]  # resolved, e.g. ("tuning", "batch_size")
    raw_values: tuple[str, ...]
    values: tuple[Any, ...]

    def label(self, index: int) -> str:
        return f"{self.key}={self.raw_values[index]}"


def _model_class(annotation: Any) -> type | None:
    """The pydantic model class inside an annotation (X, X | None, Annotated[X, ...]), or None."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    found = [c for c in (_model_class(a) for a in getattr(annotation, "__args__", ()) or ()) if c is not None]
    return found[0] if len(found) == 1 else None


def _paths(cls: type, prefix: tuple[str, ...] = (), depth: int = 3) -> Iterable[tuple[str, ...]]:
    for name, info in cls.model_fields.items():
        yield (*prefix, name)
        child = _model_class(info.annotation)
        if child is not None and depth > 1:
            yield from _paths(child, (*prefix, name), depth - 1)


def resolve_key(endpoint: Any, key: str) -> tuple[str, ...]:
    """The field path a sweep key names: a dotted path (`model.instance_group.count`), an alias, or a bare field
    name looked up in `tuning`, then in `model`, then on the endpoint itself."""
    cls = type(endpoint)
    all_paths = set(_paths(cls))
    alias = servers.get(endpoint.server).sweep_aliases.get(key, "")
    if alias is None:
        raise BenchError(f"--sweep {key}: ambiguous on {endpoint.server}; sweep min_workers or max_workers "
                         "(tuning.max_workers), one at a time")
    if alias:
        key = alias
    if "." in key:
        path = tuple(key.split("."))
        if path not in all_paths:
            raise BenchError(f"--sweep {key}: {cls.__name__} has no such field; fields: "
                             + ", ".join(sorted(".".join(p) for p in all_paths if len(p) <= 2)))
        return path
    for root in ("tuning", "model"):
        matches = sorted(p for p in all_paths if p[0] == root and p[-1] == key)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise BenchError(f"--sweep {key}: ambiguous; name one of " + ", ".join(".".join(p) for p in matches))
    if (key,) in all_paths:
        return (key,)
    tuning = sorted(p[-1] for p in all_paths if p[0] == "tuning" and len(p) == 2)
    raise BenchError(f"--sweep {key}: no such setting on a {endpoint.server} endpoint; tuning fields: "
                     + ", ".join(tuning) + " (or a dotted path such as model.max_batch_size)")


def parse_sweep(endpoint: Any, text: str) -> Sweep:
    """`key=v1,v2,...` -> a Sweep whose values are YAML scalars or lists (8, true, [4,8])."""
    import yaml

    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise BenchError(f"--sweep {text!r}: write key=value1,value2,... (e.g. batch_size=1,8)")
    key = key.strip()
    raw = split_top_level(values)
    if len(raw) > HARD_LIMITS["steps"]:
        raise BenchError(f"--sweep: {len(raw)} values; at most {HARD_LIMITS['steps']}")
    parsed = []
    for value in raw:
        try:
            parsed.append(yaml.safe_load(value))
        except yaml.YAMLError:
            raise BenchError(f"--sweep {key}: value {value!r} is not a YAML scalar or list") from None
    path = resolve_key(endpoint, key)
    for value in parsed:  # fail before any server starts
        with_setting(endpoint, path, value)
    return Sweep(key=key, path=path, raw_values=tuple(raw), values=tuple(parsed))


def with_setting(endpoint: Any, path: Sequence[str], value: Any) -> Any:
    """A copy of `endpoint` with the field at `path` set to `value` (model_copy down the path, creating a
    missing sub-block such as dynamic_batching with its defaults), validated again as a whole: a value the
    schema refuses raises BenchError with the schema's message."""
    from pydantic import ValidationError

    def put(obj: Any, cls: type, rest: Sequence[str]) -> Any:
        name = rest[0]
        if len(rest) == 1:
            return obj.model_copy(update={name: value})
        child_cls = _model_class(cls.model_fields[name].annotation)
        child = getattr(obj, name)
        if child is None:
            try:
                child = child_cls()
            except ValidationError:
                raise BenchError(f"--sweep {'.'.join(path)}: {name} is not set in the config and has required "
                                 "fields; set it in servekit.yaml first") from None
        return obj.model_copy(update={name: put(child, child_cls, rest[1:])})

    from servekit import config as cfg

    changed = put(endpoint, type(endpoint), list(path))
    try:
        checked = type(endpoint).model_validate(changed.model_dump())
    except ValidationError as err:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or '(endpoint)'}: {e['msg'].removeprefix('Value error, ')}"
                 for e in err.errors()]
        raise BenchError(f"--sweep {'.'.join(path)}={value!r} is not a valid {endpoint.server} setting: "
                         + "; ".join(lines)) from None
    # The checks `validate` runs after the schema (image versions, GPU-only settings, GPU compatibility).
    problems = cfg.endpoint_problems(checked)
    if problems:
        raise BenchError(f"--sweep {'.'.join(path)}={value!r} is not a valid {endpoint.server} setting: "
                         + "; ".join(problems))
    return checked


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
                              f"{low.p99_ms:.1f} ms ({_where(low)}). Raise the budget or use a larger instance")
    best = max(fitting, key=lambda r: (r.throughput_rps, -r.p99_ms))
    return Recommendation(best.variant, best, f"{_where(best)}: {best.throughput_rps:.1f} req/s with p99 "
                          f"{best.p99_ms:.1f} ms and no errors{budget}")


def _where(r: StepResult) -> str:
    return ", ".join(p for p in (r.variant, r.payload, r.step) if p)


# ---------------------------------------------------------------------------------------------
# Reports: terminal table, JSON, CSV, PNG
# ---------------------------------------------------------------------------------------------
def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


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
            r.payload, r.step, str(r.requests), f"{r.throughput_rps:.1f}", _ms(r.p50_ms), _ms(r.p90_ms),
            _ms(r.p99_ms), _ms(r.max_ms), errors]
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
                         f"{r.throughput_rps:.1f} | {_ms(r.p50_ms)} | {_ms(r.p99_ms)} | {r.errors}")
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


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------
def add_arguments(p: Any) -> None:
    """The `servekit bench` options (servekit/cli.py adds the subcommand)."""
    p.add_argument("endpoint")
    p.add_argument("--config", default="servekit.yaml")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--concurrency", default=None, help="closed loop: requests in flight per step, e.g. 1,4,16 "
                      "(default 1,4,16)")
    mode.add_argument("--rate", default=None, help="open loop: requests per second per step, e.g. 5,10,20")
    p.add_argument("--duration", type=float, default=None, help="seconds per step (default 10; with --requests "
                   f"alone, the request count ends the step, within {HARD_LIMITS['duration_s']:g} s)")
    p.add_argument("--requests", type=int, default=None, help="requests per step (the step ends at whichever of "
                   "--duration and --requests comes first)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each step (default 2)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    p.add_argument("--encoding", default=None, help="payload encodings to send, e.g. binary+json (default: all the "
                   "server takes: json, x-npy, kserve-json, binary+json)")
    p.add_argument("--data", help="send this request body instead of the example")
    p.add_argument("--content-type", default=codecs.JSON, help="with --data")
    p.add_argument("--accept", default=codecs.JSON, help="with --data")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", help="a server that already runs (http://127.0.0.1:8080); nothing is started")
    where.add_argument("--deployed", action="store_true", help="the SageMaker endpoint <app>-<env>-<endpoint>, "
                       "SigV4-signed with your AWS credentials")
    p.add_argument("--sweep", help="key=v1,v2,...: restart the local server with each value, e.g. batch_size=1,8, "
                   "max_workers=1,2, batched_forward=false,true, omp_num_threads=1,2, preferred_batch_size=[4],[4,8], "
                   "instance_count=1,2")
    p.add_argument("--p99-budget-ms", type=float, default=None, help="recommend the highest throughput whose p99 "
                   "fits this budget")
    p.add_argument("--output-dir", help="where bench.json, bench.csv and bench.png go "
                   "(default .servekit/bench/<endpoint>-<time>)")
    p.add_argument("--cache-dir", default=".servekit/cache")
    p.add_argument("--workdir", help="where local servers run (default .servekit/bench/<endpoint>-<time>/server)")
    p.add_argument("--max-total-seconds", type=float, default=3600.0, help="stop the whole run after this long "
                   "(default 3600)")


@dataclass
class Plan:
    """Everything a run needs, checked before anything starts."""

    steps: list[tuple[int | None, float | None]]
    limits: Limits
    encodings: list[str] | None
    sweep_text: str | None
    p99_budget_ms: float | None
    max_total_s: float


def plan_from_args(args: Any) -> Plan:
    if args.rate:
        steps = [(None, float(r)) for r in parse_numbers(args.rate, "--rate", float)]
    else:
        steps = [(int(c), None) for c in parse_numbers(args.concurrency or "1,4,16", "--concurrency", int)]
    for concurrency, rate in steps:
        if concurrency is not None and not 1 <= concurrency <= HARD_LIMITS["concurrency"]:
            raise BenchError(f"--concurrency {concurrency}: use 1..{HARD_LIMITS['concurrency']}")
        if rate is not None and not 0 < rate <= HARD_LIMITS["rate"]:
            raise BenchError(f"--rate {rate:g}: use 0 < requests/s <= {HARD_LIMITS['rate']:g}")
    duration = args.duration
    if duration is None:  # a request count alone governs, within the hard cap
        duration = HARD_LIMITS["duration_s"] if args.requests is not None else 10.0
    limits = Limits(duration_s=duration, requests=args.requests, warmup_s=args.warmup, timeout_s=args.timeout).checked()
    if args.p99_budget_ms is not None and args.p99_budget_ms <= 0:
        raise BenchError("--p99-budget-ms: use a positive number of milliseconds")
    if args.sweep and (args.url or args.deployed):
        raise BenchError("--sweep restarts the local server with each value; it cannot change a server given by "
                         "--url or a deployed endpoint")
    if not 0 < args.max_total_seconds <= HARD_LIMITS["total_s"]:
        raise BenchError(f"--max-total-seconds: use 0 < seconds <= {HARD_LIMITS['total_s']:g}")
    encodings = [e.strip() for e in args.encoding.split(",")] if args.encoding else None
    return Plan(steps=steps, limits=limits, encodings=encodings, sweep_text=args.sweep,
                p99_budget_ms=args.p99_budget_ms, max_total_s=args.max_total_seconds)


def choose_payloads(available: list[Payload], encodings: list[str] | None) -> list[Payload]:
    if not encodings:
        return available
    names = [p.name for p in available]
    unknown = [e for e in encodings if e not in names]
    if unknown:
        raise BenchError(f"--encoding {','.join(unknown)}: this endpoint's payloads are {', '.join(names)}")
    return [p for p in available if p.name in encodings]


def run_command(args: Any, config: Any, endpoint: Any, *, console: Any, errors: Any) -> int:
    """`servekit bench`: returns the exit status (0 when every step got at least one answer 200)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    try:
        plan = plan_from_args(args)
        sweep = parse_sweep(endpoint, plan.sweep_text) if plan.sweep_text else None
    except BenchError as err:
        errors.print(f"servekit bench: {err}", markup=False)
        return 2
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = Path(args.output_dir or f".servekit/bench/{endpoint.name}-{stamp}").resolve()
    workdir = Path(args.workdir or out_dir / "server").resolve()
    say = lambda m: errors.print(m, markup=False)  # noqa: E731

    variants = [("", endpoint)] if sweep is None else [
        (sweep.label(i), with_setting(endpoint, sweep.path, v)) for i, v in enumerate(sweep.values)]
    note = servers.get(endpoint.server).sweep_note
    if sweep is not None and note:
        say(f"note: {note}")
    total_steps = len(variants) * len(plan.steps)
    budget = time.monotonic() + plan.max_total_s
    results: list[StepResult] = []
    meta: dict[str, Any] = {
        "servekit_bench": 1, "endpoint": endpoint.name, "server": endpoint.server,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine_at_start": machine_facts(),
        "limits": asdict(plan.limits), "mode": "rate" if plan.steps[0][0] is None else "concurrency",
        "sweep": None if sweep is None else {"key": sweep.key, "path": ".".join(sweep.path),
                                             "values": list(sweep.raw_values)},
        "p99_budget_ms": plan.p99_budget_ms, "variants": [],
    }

    try:
        remote = bool(args.url or args.deployed)
        artifact = None if (args.data and remote) else _artifact_for(endpoint, args, say)
        base_payloads = ([custom_payload(Path(args.data), args.content_type, args.accept)] if args.data
                         else choose_payloads(payloads_for(endpoint, artifact), plan.encodings))
        if total_steps * len(base_payloads) > HARD_LIMITS["steps"]:
            raise BenchError(f"{total_steps * len(base_payloads)} steps (values x steps x payloads); at most "
                             f"{HARD_LIMITS['steps']}: use fewer values, steps or --encoding")
    except BenchError as err:
        errors.print(f"servekit bench: {err}", markup=False)
        return 2
    except Exception as err:  # a build or codec problem: one line, no traceback
        from servekit import model_build

        if isinstance(err, model_build.BuildError | codecs.CodecError):
            errors.print(f"servekit bench: {endpoint.name}: {err}", markup=False)
            return 2
        raise

    for p in base_payloads:
        say(f"payload {p.name}: {p.content_type}, {len(p.body)} bytes ({p.description})")
    stopped_early = None
    for index, (variant, ep) in enumerate(variants):
        if time.monotonic() > budget:
            stopped_early = f"--max-total-seconds {plan.max_total_s:g} reached before {variant or 'the run'}"
            break
        server = None
        try:
            if args.deployed:
                target = deployed_target(config.app.region, sagemaker_endpoint_name(config, ep.name))
                info = {"target": "deployed", "url": target.url}
            elif args.url:
                target = local_target(args.url)
                info = {"target": "url", "url": target.url}
            else:
                variant_artifact = artifact if ep is endpoint else _artifact_for(ep, args, say)
                server, target = _start_local(ep, variant_artifact, workdir / (f"v{index}" if sweep else "base"), say)
                info = {"target": "local", "url": server.url, "emulated": server.emulated,
                        "differences": server.differences, "startup_seconds": round(server.startup_seconds, 2)}
                if server.emulated:
                    say(f"note: {ep.name} runs in an EMULATION of {ep.server} here; its figures are not the real "
                        "server's")
            meta["variants"].append({"variant": variant, **info})
            progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
                                TimeElapsedColumn(), console=console)
            with progress:
                for payload in base_payloads:
                    for concurrency, rate in plan.steps:
                        if time.monotonic() > budget:
                            stopped_early = f"--max-total-seconds {plan.max_total_s:g} reached"
                            break
                        label = " ".join(x for x in (variant, payload.name,
                                                     f"c={concurrency}" if rate is None else f"rate={rate:g}/s") if x)
                        task = progress.add_task(label, total=plan.limits.duration_s, status="starting")

                        def update(phase: str, ok: int, failed: int, elapsed: float, task: int = task,
                                   progress: Any = progress) -> None:
                            rps = ok / elapsed if elapsed > 0 else 0.0
                            progress.update(task, completed=min(elapsed, plan.limits.duration_s)
                                            if phase == "measure" else 0,
                                            status=f"{phase}: {ok} ok, {failed} errors, {rps:.1f} req/s")

                        result = run_step(target, payload, concurrency=concurrency, rate=rate, limits=plan.limits,
                                          variant=variant, progress=update)
                        progress.update(task, completed=plan.limits.duration_s,
                                        status=f"done: {result.throughput_rps:.1f} req/s, p99 {_ms(result.p99_ms)} ms, "
                                               f"{result.errors} errors")
                        results.append(result)
        except BenchError as err:
            errors.print(f"servekit bench: {err}", markup=False)
            return 2
        except KeyboardInterrupt:
            stopped_early = "interrupted"
            break
        finally:
            if server is not None:
                server.stop()

    meta["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta["machine_at_end"] = machine_facts()
    meta["stopped_early"] = stopped_early
    rec = recommend(results, plan.p99_budget_ms) if results else None
    meta["recommendation"] = None if rec is None else {"variant": rec.variant, "reason": rec.reason,
                                                       "step": rec.step.row() if rec.step else None}
    where = meta["variants"][0]["target"] if meta["variants"] else "?"
    if any(v.get("emulated") for v in meta["variants"]):
        where += ", EMULATION"
    title = f"servekit bench {endpoint.name} ({endpoint.server}, {where})"
    console.print(results_table(results, title))
    if sweep is not None:
        console.print(comparison_table(results, f"{sweep.key}: side by side"))
    if rec is not None and (sweep is not None or plan.p99_budget_ms is not None):
        what = f"recommended: {rec.variant}" if sweep is not None and rec.step else "recommended"
        console.print(f"{what} — {rec.reason}", markup=False)
    for r in results:
        if r.error_sample:
            console.print(f"errors in {_where(r)}: {r.error_sample}", markup=False)
    load = meta["machine_at_end"]["load_average"]
    console.print(f"machine: {meta['machine_at_end']['cpu_count']} cores, load average {load[0]:.2f} {load[1]:.2f} "
                  f"{load[2]:.2f} (the load generator shares them with the server: compare runs on the same machine)",
                  markup=False)
    if results:
        files = [write_json(out_dir / "bench.json", results, meta), write_csv(out_dir / "bench.csv", results),
                 plot(out_dir / "bench.png", results, title)]
        console.print("wrote " + ", ".join(str(f) for f in files), markup=False)
    if stopped_early:
        errors.print(f"servekit bench: stopped early: {stopped_early}", markup=False)
    return 0 if results and all(r.ok > 0 for r in results) and not stopped_early else 1


def _artifact_for(endpoint: Any, args: Any, say: Callable[[str], None]) -> Path | None:
    from servekit import model_build

    artifact = model_build.build(endpoint, cache_dir=Path(args.cache_dir), progress=say)
    if isinstance(artifact, model_build.RemoteArtifact):
        if not (args.url or args.deployed):
            raise BenchError(f"{endpoint.name} uses {artifact.uri}, which is in S3; bench a local source, or use "
                             "--url/--deployed")
        return None
    return artifact.path


def _start_local(endpoint: Any, artifact: Path, workdir: Path, say: Callable[[str], None]) -> tuple[Any, Target]:
    from servekit import local

    server = local.start(endpoint, artifact, workdir=workdir, progress=say)
    return server, local_target(server.url)
