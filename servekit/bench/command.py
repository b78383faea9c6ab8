"""`servekit bench`'s arguments and the run: plan, payloads, servers, steps, reports."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from servekit import codecs, local, naming, project
from servekit import config as cfg
from servekit.bench.common import (
    EXAMPLES_DIR,
    HARD_LIMITS,
    BenchError,
)
from servekit.bench.load import (
    Limits,
    run_step,
)
from servekit.bench.payloads import (
    Payload,
    custom_payload,
    payloads_for,
)
from servekit.bench.report import (
    comparison_table,
    format_ms,
    machine_facts,
    plot,
    recommend,
    results_table,
    server_time_line,
    step_label,
    write_csv,
    write_json,
)
from servekit.bench.stats import (
    StepResult,
    per_request_ms,
)
from servekit.bench.sweep import (
    parse_numbers,
    parse_sweep,
    with_setting,
)
from servekit.bench.target import (
    Target,
    deployed_target,
    local_target,
    sagemaker_endpoint_name,
    server_timings,
)


def add_arguments(p: Any) -> None:
    """The `servekit bench` options (servekit/cli.py adds the subcommand)."""
    p.add_argument("endpoint")
    p.add_argument("--config", help="servekit.yaml; default: the one in the current folder or the nearest above it")
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
    p.add_argument("--cache-dir", help="default: .servekit/cache beside servekit.yaml")
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
    # The plan and what is measured, in order; the steps and the report are _target, _run_steps and _report.
    try:
        plan = plan_from_args(args)
        sweep = parse_sweep(endpoint, plan.sweep_text, problems_of=cfg.endpoint_problems) if plan.sweep_text else None
    except BenchError as err:
        errors.print(f"servekit bench: {err}", markup=False)
        return 2
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    here = project.of(args.config)
    out_dir = Path(args.output_dir).resolve() if args.output_dir else \
        here.root / ".servekit" / "bench" / f"{args.endpoint.replace('/', '--')}-{stamp}"
    workdir = Path(args.workdir or out_dir / "server").resolve()
    say = lambda m: errors.print(m, markup=False)  # noqa: E731
    running = None if (args.url or args.deployed or sweep) else local.running_url(here.serve_dir(args.endpoint))
    if running:  # the project's `servekit serve` of this endpoint: bench it rather than start a second server
        say(f"benching the `servekit serve {args.endpoint}` running at {running}")
        args.url = running
    example = here.root / "examples" / f"{endpoint.name}.json"
    if not args.data and example.is_file() and example.parent.resolve() != EXAMPLES_DIR.resolve():
        say(f"request body: the project's {example}")  # a user project's example, as `servekit verify` reads it
        args.data = str(example)

    variants = [("", endpoint)] if sweep is None else [
        (sweep.label(i), with_setting(endpoint, sweep.path, v, problems_of=cfg.endpoint_problems)) for i, v in enumerate(sweep.values)]
    note = endpoint.plugin.sweep_note
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
            server, target, info = _target(args, config, endpoint, ep, artifact,
                                           workdir / (f"v{index}" if sweep else "base"), say)
            meta["variants"].append({"variant": variant, **info})
            stopped_early = _run_steps(plan, variant, base_payloads, server, target, budget, results, say, console)
            if stopped_early:
                break
        except BenchError as err:
            errors.print(f"servekit bench: {err}", markup=False)
            return 2
        except KeyboardInterrupt:
            stopped_early = "interrupted"
            break
        finally:
            if server is not None:
                server.stop()
    return _report(results, meta, plan, sweep, endpoint, out_dir, stopped_early, console, errors)


def _target(args: Any, config: Any, endpoint: Any, ep: Any, artifact: Path | None, workdir: Path,
            say: Callable[[str], None]) -> tuple[Any, Any, dict[str, Any]]:
    """(the local server started here or None, the target requests go to, what the report says of it) for one
    variant `ep` of `endpoint`: the deployed endpoint, a URL, or its server started on this machine."""
    if args.deployed:
        fleet, _, component = args.endpoint.partition("/")  # `<component endpoint>/<component>`
        name = sagemaker_endpoint_name(config, fleet)
        target = deployed_target(config.app.region, name, component=naming.inference_component_name(
            name, component) if component else None)
        return None, target, {"target": "deployed", "url": target.url}
    if args.url:
        target = local_target(args.url)
        return None, target, {"target": "url", "url": target.url}
    variant_artifact = artifact if ep is endpoint else _artifact_for(ep, args, say)
    server, target = _start_local(ep, variant_artifact, workdir, say)
    if server.emulated:
        say(f"note: {ep.name} runs in an EMULATION of {ep.server} here; its figures are not the real server's")
    return server, target, {"target": "local", "url": server.url, "emulated": server.emulated,
                            "differences": server.differences, "startup_seconds": round(server.startup_seconds, 2)}


def _run_steps(plan: Any, variant: str, payloads: list[Any], server: Any, target: Any, budget: float,
               results: list[StepResult], say: Callable[[str], None], console: Any) -> str | None:
    """Every step of every payload against `target`, with a progress bar each; the results are appended to
    `results`. Returns why it stopped early, or None."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
                        TimeElapsedColumn(), console=console)
    with progress:
        for payload in payloads:
            for concurrency, rate in plan.steps:
                if time.monotonic() > budget:
                    return f"--max-total-seconds {plan.max_total_s:g} reached"
                label = " ".join(x for x in (variant, payload.name,
                                             f"c={concurrency}" if rate is None else f"rate={rate:g}/s") if x)
                task = progress.add_task(label, total=plan.limits.duration_s, status="starting")

                def update(phase: str, ok: int, failed: int, elapsed: float, task: int = task) -> None:
                    rps = ok / elapsed if elapsed > 0 else 0.0
                    progress.update(task, completed=min(elapsed, plan.limits.duration_s) if phase == "measure" else 0,
                                    status=f"{phase}: {ok} ok, {failed} errors, {rps:.1f} req/s")

                timed = server is not None and server.emulated  # the TFS emulation says where its time goes
                before = server_timings(server.url) if timed else None
                result = run_step(target, payload, concurrency=concurrency, rate=rate, limits=plan.limits,
                                  variant=variant, progress=update)
                if timed:
                    result.server_ms = per_request_ms(before, server_timings(server.url))
                    if result.server_ms:
                        say(f"{label}: {server_time_line(result.server_ms)}")
                progress.update(task, completed=plan.limits.duration_s,
                                status=f"done: {result.throughput_rps:.1f} req/s, p99 {format_ms(result.p99_ms)} ms, "
                                       f"{result.errors} errors")
                results.append(result)
    return None


def _report(results: list[StepResult], meta: dict[str, Any], plan: Any, sweep: Any, endpoint: Any, out_dir: Path,
            stopped_early: str | None, console: Any, errors: Any) -> int:
    """The tables, the recommendation and the files; the exit status (0 when every step got an answer 200)."""
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
            console.print(f"errors in {step_label(r)}: {r.error_sample}", markup=False)
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
